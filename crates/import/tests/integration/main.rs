//! The import library's integration tests, one binary (one link, one
//! process; no test here changes process-wide state such as the environment
//! or the working directory). A module per area:
//!
//! - `kiro_read`: reading kiro-cli's database, and its errors;
//! - `refresh_wire`: the three refresh wire formats against a local server;
//! - `follow`: follow and own modes against fixture sources;
//! - `renewer`: `devauth token`'s path for an imported profile.

mod follow;
mod kiro_read;
mod refresh_wire;
mod renewer;

use devauth_import::rfc3339;
use time::OffsetDateTime;

/// The instant the fixtures are written against ("now" for every test).
fn now() -> OffsetDateTime {
    rfc3339::parse("2025-06-01T12:00:00Z").unwrap()
}

/// When a fixture's client registration ends: months after [`now`].
const REG_OK: &str = "2025-09-01T00:00:00Z";
