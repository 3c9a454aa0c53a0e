//! Harness for the end-to-end tests: the real `devauth serve` and client
//! commands as child processes (killed on drop), headless Chromium playing
//! the person, and a minimal HTTP client to check things at the server.

pub mod browser;
pub mod child;
pub mod command;
pub mod http;
pub mod jwt;
pub mod login;
pub mod server;
