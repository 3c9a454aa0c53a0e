//! The devauth authorization server, built around the OAuth 2.0 Device
//! Authorization Grant (RFC 8628).
//!
//! Layout (each module opens with its own notes):
//! * [`model`] — domain types and their state machines, no I/O;
//! * [`store`] — the storage traits and their backends (SQLite by default);
//! * [`routes`] — one file per OAuth/JSON endpoint;
//! * [`pages`] — the server-rendered verification pages a person uses;
//! * [`state`] — what every handler reaches ([`state::AppState`]);
//! * [`app`] — the router: every route and page over that state;
//! * [`config`] — settings resolved from flags and environment;
//! * [`client_addr`] — the client's IP (trusted proxies) and user agent;
//! * [`clock`] — injected time;
//! * [`password`] — argon2id hashing of people's passwords;
//! * [`keys`] — signing keys, JWKS, access and ID tokens;
//! * [`listener`] — serving connections with timeouts and a connection cap;
//! * [`random`] — CSPRNG secrets, ids and user codes;
//! * [`rate_limit`] — sliding-window limits over the flow store;
//! * [`registration`] — the rules of dynamic client registration (RFC 7591);
//! * [`metadata_document`] — client ID metadata documents, fetched behind an SSRF fence;
//! * [`client_cache`] — a short-lived cache of client records in front of the store;
//! * [`audit`], [`metrics`], [`sweeper`], [`setup`] — audit trail, Prometheus
//!   metrics, the background sweeper, first-start provisioning.
//!
//! [`state::AppState::new`] + [`state::AppState::init`] and [`app::router`]
//! assemble the server; the `devauth serve` command only parses flags and
//! calls them.

pub mod app;
pub mod audit;
pub mod client_addr;
pub mod client_cache;
pub mod clock;
pub mod config;
pub mod keys;
pub mod listener;
pub mod metadata_document;
pub mod metrics;
pub mod model;
pub mod pages;
pub mod password;
pub mod random;
pub mod rate_limit;
pub mod registration;
pub mod routes;
pub mod setup;
pub mod state;
pub mod store;
pub mod sweeper;
