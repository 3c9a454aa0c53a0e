//! The server's integration tests, one binary (one link, one process; no
//! test here changes process-wide state such as the environment or the
//! working directory). A module per area:
//!
//! - `http_oauth`: the OAuth endpoints over real HTTP, on each storage
//!   combination, with injected store faults;
//! - `pages_authorize`, `pages_device`: the browser pages driven by a
//!   cookie-aware HTTP client; `pages_browser`: the same in headless Chromium;
//! - `stores`: the storage conformance suite (`devauth_testkit::store_suite`)
//!   on every combination, plus outages of private Redis and PostgreSQL.
//!
//! Support modules: `backends` (the `on_each_backend!` macro), `support`
//! (the HTTP tests' server), `pages_support` (the page tests' server and
//! browser).

#[macro_use]
mod backends;
mod pages_support;
mod support;

mod http_oauth;
mod pages_authorize;
mod pages_browser;
mod pages_device;
mod stores;
