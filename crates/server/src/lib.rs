//! server (wip)
