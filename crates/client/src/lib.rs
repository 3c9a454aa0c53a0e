//! Blocking OAuth 2.0 client library for devauth: everything `devauth login`,
//! `token`, `status`, `logout` and `run` do, minus the command line.
//!
//! No async runtime: each module does one thing with plain blocking I/O
//! (ureq for HTTP), so the client starts fast and the token fast path
//! ([`session::fresh_access_token`] with a still-valid token) never builds an
//! HTTP client at all.
//!
//! D-Bus only for the OS keyring (the Secret Service, [`store::keyring`]):
//! opening the store to write ([`ProfileStore::open_default`]) probes for a
//! Secret Service, and a profile whose secrets live there reads them through
//! it. Reading a file-backed profile (on a server, in a container, in CI)
//! never touches D-Bus.
//!
//! | module | concern |
//! |---|---|
//! | [`clock`] | time and sleeping, passed in (tests drive them) and a cancellation flag |
//! | [`http`] | the ureq agent: OAuth JSON replies, transport errors sorted into kinds |
//! | [`discovery`] | RFC 8414 / OIDC discovery, issuer check, endpoint overrides |
//! | [`provider`] | presets for GitHub, Google, Microsoft Entra, GitLab, AWS (`--provider`), and what their errors mean |
//! | [`sso_oidc`] | AWS IAM Identity Center / Builder ID: the device grant in SSO OIDC's JSON wire format |
//! | [`poll`] | the device-flow poller as a pure state machine (RFC 8628 §3.4, §3.5) |
//! | [`device`] | device authorization request + the polling loop over [`poll`] |
//! | [`mcp_proxy`] | `devauth mcp proxy`: stdio JSON-RPC ↔ Streamable HTTP with a fresh token |
//! | [`mcp`] | how to log in to a remote MCP server: its 401, RFC 9728 metadata, its authorization server |
//! | [`loopback`] | `--web`: authorization code + PKCE on a 127.0.0.1 redirect (RFC 8252) |
//! | [`refresh`], [`revoke`], [`client_credentials`] | one grant or endpoint each |
//! | [`token_input`] | what `login --with-token` reads on stdin |
//! | [`headless`] | whether a browser can open here |
//! | [`account`] | who the tokens belong to, for display |
//! | [`safe_text`] | server-supplied text made safe to print (no terminal escapes) |
//! | [`atomic_file`] | the one atomic, durable, 0600 file write every crate uses |
//! | [`store`] | profiles and the credential store (0600 files, atomic writes, locks) |
//! | [`session`] | "give me a valid access token": read, lock, re-read, refresh, write |
//! | [`screen`] | the login screen on stderr: code, QR, clipboard, countdown |
//!
//! Errors are one typed enum, [`Error`], whose [`Error::kind`] tells a caller
//! (the binary's exit codes, the agent) what happened without parsing text.
#![forbid(unsafe_code)]

pub mod account;
pub mod atomic_file;
pub mod client_credentials;
pub mod clock;
pub mod device;
pub mod discovery;
pub mod error;
pub mod headless;
pub mod http;
mod kind;
pub mod loopback;
pub mod mcp;
pub mod mcp_proxy;
pub mod poll;
pub mod provider;
pub mod refresh;
pub mod revoke;
pub mod safe_text;
pub mod screen;
pub mod session;
pub mod sso_oidc;
pub mod store;
pub mod token_input;

pub use error::Error;
pub use kind::ErrorKind;
pub use store::{Profile, ProfileState, ProfileStore, StoreError};
