//! Harness for the end-to-end tests: the real `devauth serve` and client
//! commands as child processes (killed on drop), and a minimal HTTP client
//! to check things at the server. Headless Chromium playing the person and
//! the guarded child process are `devauth_testkit`'s.

pub mod command;
pub mod http;
pub mod jwt;
pub mod login;
pub mod server;
