//! The real `devauth serve --demo` in a temp data folder, on an ephemeral
//! loopback port, with short-lived access tokens; plus a confidential client
//! (`devauth admin client add` on the same data folder) for introspection.

use std::process::Stdio;
use std::time::Duration;

use super::child::Guarded;
use super::command;
use super::http::Introspector;

/// How long the server may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running `devauth serve`, stopped on drop.
pub struct Server {
    /// The issuer and base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The `demo` user's password, as printed once by `--demo`.
    pub demo_password: String,
    /// A confidential client allowed to introspect.
    pub introspector: Introspector,
    process: Guarded,
    _data: tempfile::TempDir,
}

impl Server {
    /// Starts a server whose access tokens live `access_token_ttl` seconds.
    pub fn start(access_token_ttl: u32) -> Self {
        Self::start_with(access_token_ttl, |_| Vec::new())
    }

    /// [`Server::start`], with `setup(data_dir)` run first (the `devauth
    /// admin` commands a test needs before the server opens the database);
    /// it returns extra `serve` flags.
    pub fn start_with(access_token_ttl: u32, setup: impl FnOnce(&str) -> Vec<String>) -> Self {
        let data = tempfile::tempdir().expect("temp data folder");
        let dir = data.path().join("server");
        let dir = dir.to_str().expect("utf-8 temp path");
        let extra = setup(dir);

        // The introspecting client, created before the server opens the database.
        let out = command::run(command::bare().args([
            "admin",
            "--data-dir",
            dir,
            "client",
            "add",
            "e2e-introspector",
            "--name",
            "E2E introspection",
            "--introspect",
        ]));
        assert_eq!(out.code, 0, "admin client add: {}", out.stderr);
        let secret = out.stdout.trim().to_owned();
        assert!(!secret.is_empty(), "admin client add printed no secret");

        let child = command::bare()
            .args([
                "serve",
                "--demo",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                dir,
                "--access-token-ttl",
                &access_token_ttl.to_string(),
                "--poll-interval",
                "1",
                "--device-rate-limit",
                "0",
            ])
            .args(&extra)
            .env("DEVAUTH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start devauth serve");
        let mut process = Guarded::new(child, "devauth serve");
        let url = process.wait_for_line(START_LIMIT, |line| {
            let rest = line.split_once("devauth serve: listening on ")?.1;
            Some(rest.split_whitespace().next()?.to_owned())
        });
        // Printed last, after "listening", in a box: `│ user `demo`, password X │`.
        let demo_password = process.wait_for_line(START_LIMIT, |line| {
            line.split_once("user `demo`, password ")
                .map(|(_, p)| p.trim_end_matches(['│', ' ']).trim().to_owned())
        });
        assert!(url.starts_with("http://127.0.0.1:"), "listening on {url}");
        Self {
            url,
            demo_password,
            introspector: Introspector {
                id: "e2e-introspector".to_owned(),
                secret,
            },
            process,
            _data: data,
        }
    }

    /// The server's log so far (for failure messages), without the line
    /// that carries the demo password.
    pub fn log(&self) -> String {
        self.process
            .transcript()
            .lines()
            .filter(|l| !l.contains("`demo`, password"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// RFC 7662 introspection of `token`.
    pub fn introspect(&self, token: &str) -> serde_json::Value {
        self.introspector.introspect(&self.url, token)
    }
}
