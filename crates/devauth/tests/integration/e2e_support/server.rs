//! The real `devauth serve --demo` in a temp data folder, on an ephemeral
//! loopback port, with short-lived access tokens; plus a confidential client
//! (`devauth admin client add` on the same data folder) for introspection.
//! The process itself is a [`devauth_testkit::TestServer`].

use devauth_testkit::TestServer;

use super::command;
use super::http::Introspector;

/// A running `devauth serve --demo`, stopped on drop.
pub struct Server {
    /// The issuer and base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The `demo` user's password, as printed once by `--demo`.
    pub demo_password: String,
    /// A confidential client allowed to introspect.
    pub introspector: Introspector,
    process: TestServer,
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

        let process = crate::serve()
            .demo()
            .args([
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
            .start();
        let url = process.base.clone();
        assert!(url.starts_with("http://127.0.0.1:"), "listening on {url}");
        Self {
            url,
            demo_password: process.demo_password().to_owned(),
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
        self.process.log()
    }

    /// RFC 7662 introspection of `token`.
    pub fn introspect(&self, token: &str) -> serde_json::Value {
        self.introspector.introspect(&self.url, token)
    }
}
