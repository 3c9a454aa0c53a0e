//! The `devauth` binary (work in progress).
fn main() {}
