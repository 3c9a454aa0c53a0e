//! The OS keyring backend against a real Secret Service: Debian's
//! gnome-keyring-daemon on a private session bus (its own dbus-daemon, temp
//! HOME and XDG folders, so the user's keyring is never touched), driven
//! through the real `devauth` binary. Skips with a reason when the daemons
//! are not installed, unless `DEVAUTH_REQUIRE_SERVICES=1`.

use crate::client_support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use client_support::{Config, Server, devauth, expire_access_token, run};
use serde_json::Value;

/// A private session bus with an unlocked gnome-keyring on it; both
/// daemons are killed on drop.
struct Keyring {
    dir: tempfile::TempDir,
    address: String,
    children: Vec<Child>,
}

impl Drop for Keyring {
    fn drop(&mut self) {
        // the keyring first, then its bus
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn have(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(tool).is_file()))
}

/// Starts the daemons, or `None` (after printing why) when they are not
/// installed and services are not required.
fn start_keyring() -> Option<Keyring> {
    let tools = [
        "dbus-daemon",
        "dbus-send",
        "gnome-keyring-daemon",
        "secret-tool",
    ];
    let missing = tools.iter().find(|t| !have(t)).map(|t| {
        format!(
            "{t} is not installed (apt-get install gnome-keyring dbus-daemon dbus-bin libsecret-tools)"
        )
    });
    if !devauth_testkit::require_service("a Secret Service keyring", missing.as_deref()) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    for sub in ["home", "data", "config", "run"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        dir.path().join("run"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let mut kr = Keyring {
        address: String::new(),
        children: Vec::new(),
        dir,
    };
    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .arg(format!(
            "--address=unix:path={}",
            kr.dir.path().join("bus").display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = bus.stdout.take().unwrap();
    kr.children.push(bus);
    // The address is printed once the bus listens.
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    kr.address = line.trim().to_owned();
    assert!(kr.address.starts_with("unix:"), "dbus-daemon said {line:?}");

    let mut keyring = kr
        .env(&mut Command::new("gnome-keyring-daemon"))
        .args(["--foreground", "--unlock", "--components=secrets"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // --unlock reads the login keyring's password from stdin until EOF.
    let mut stdin = keyring.stdin.take().unwrap();
    stdin.write_all(b"test-keyring-password").unwrap();
    drop(stdin);
    kr.children.push(keyring);

    // Wait (bounded) until the Secret Service name is owned on the bus.
    for _ in 0..200 {
        let out = kr
            .env(&mut Command::new("dbus-send"))
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
            return Some(kr);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("gnome-keyring-daemon never registered org.freedesktop.secrets on the bus");
}

impl Keyring {
    /// Points a command at this bus and at temp HOME/XDG folders.
    fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        let d = self.dir.path();
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", d.join("home"))
            .env("XDG_DATA_HOME", d.join("data"))
            .env("XDG_CONFIG_HOME", d.join("config"))
            .env("XDG_RUNTIME_DIR", d.join("run"))
    }

    /// `devauth` with this bus. The probe gets a generous deadline so a
    /// loaded machine cannot turn the automatic choice into the file.
    fn devauth(&self, home: &Path) -> Command {
        let mut cmd = devauth(home);
        self.env(&mut cmd).env("DEVAUTH_KEYRING_PROBE_MS", "30000");
        cmd
    }

    /// The secret stored for profile `name`, looked up with libsecret's
    /// own tool (not our code); `None` when there is no entry.
    fn lookup(&self, name: &str) -> Option<String> {
        let out = self
            .env(&mut Command::new("secret-tool"))
            .args(["lookup", "service", "devauth", "username", name])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && !text.is_empty()).then_some(text)
    }
}

/// `devauth login --with-token --profile NAME` with a JSON token response
/// on stdin; returns (exit code, stderr).
fn login_with_token(mut cmd: Command, profile: &str, access: &str, refresh: &str) -> (i32, String) {
    let json = format!(
        r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":3600,"refresh_token":"{refresh}"}}"#
    );
    let out = devauth_testkit::run_with_stdin(
        cmd.args(["login", "--with-token", "--profile", profile]),
        json.as_bytes(),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status_json(mut cmd: Command, profile: &str) -> Value {
    let (code, out, err) = run(cmd.args(["status", "--json", "--profile", profile]));
    assert!(code == 0 || code == 3, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                found.push(path);
            }
        }
    }
    found
}

/// A fresh random-looking token (RandomState is seeded randomly).
fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let n = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{prefix}-{n:016x}")
}

#[test]
fn keyring_holds_the_secrets_when_a_secret_service_answers() {
    let Some(kr) = start_keyring() else { return };
    let home = tempfile::tempdir().unwrap();
    let access = unique("kr-access");
    let refresh = unique("kr-refresh");

    // unset DEVAUTH_STORE + a Secret Service on the bus: the keyring
    let (code, err) = login_with_token(kr.devauth(home.path()), "default", &access, &refresh);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(&access), "{err}");
    let v = status_json(kr.devauth(home.path()), "default");
    assert_eq!(v["logged_in"], true);
    assert_eq!(v["store"]["backend"], "keyring", "{v}");
    assert_eq!(v["refresh_token"], "ok", "{v}");
    let (code, text, _) = run(kr.devauth(home.path()).arg("status"));
    assert_eq!(code, 0);
    assert!(text.contains("(keyring)"), "{text}");

    // no secret on disk; the file is the index with the marker
    for secret in [&access, &refresh] {
        assert_eq!(files_containing(home.path(), secret), Vec::<PathBuf>::new());
    }
    let file: Value =
        serde_json::from_slice(&std::fs::read(home.path().join("profiles/default.json")).unwrap())
            .unwrap();
    assert_eq!(file["secrets"], "keyring", "{file}");
    assert!(file["tokens"].get("access_token").is_none(), "{file}");
    // the secrets are in the Secret Service, as libsecret sees it
    let stored = kr.lookup("default").expect("a keyring entry for `default`");
    assert!(stored.contains(&access) && stored.contains(&refresh));

    // token reads them back
    let (code, out, err) = run(kr.devauth(home.path()).arg("token"));
    assert_eq!((code, out.trim()), (0, access.as_str()), "{err}");
    let (code, out, err) = run(kr.devauth(home.path()).args([
        "run",
        "--",
        "sh",
        "-c",
        "printf %s \"$DEVAUTH_TOKEN\"",
    ]));
    assert_eq!((code, out.as_str()), (0, access.as_str()), "{err}");

    // the keyring gone: a clear error, not a hang and not a secret
    let mut dead = kr.devauth(home.path());
    dead.env(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", home.path().join("no-bus").display()),
    );
    let (code, out, err) = run(dead.arg("token"));
    assert_eq!(code, 1, "{out} {err}");
    assert!(out.is_empty());
    assert!(err.contains("keyring"), "{err}");
    assert!(!err.contains(&access));

    // logout deletes the keyring entry and the file
    let (code, _, err) = run(kr.devauth(home.path()).args(["logout", "--no-revoke"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(kr.lookup("default"), None);
    assert!(!home.path().join("profiles/default.json").exists());
    let (code, _, err) = run(kr.devauth(home.path()).arg("token"));
    assert_eq!(code, 3, "{err}");

    // DEVAUTH_STORE=file forces the file even with a keyring answering
    let file_access = unique("file-access");
    let mut cmd = kr.devauth(home.path());
    cmd.env("DEVAUTH_STORE", "file");
    let (code, err) = login_with_token(cmd, "f", &file_access, "r-f");
    assert_eq!(code, 0, "{err}");
    assert_eq!(kr.lookup("f"), None);
    assert_eq!(
        files_containing(home.path(), &file_access),
        [home.path().join("profiles/f.json")]
    );
    assert_eq!(
        status_json(kr.devauth(home.path()), "f")["store"]["backend"],
        "file"
    );
    let (code, out, _) = run(kr.devauth(home.path()).args(["token", "--profile", "f"]));
    assert_eq!((code, out.trim()), (0, file_access.as_str()));

    // DEVAUTH_STORE=keyring moves it into the keyring; =file moves it back
    let moved = unique("moved-access");
    let mut cmd = kr.devauth(home.path());
    cmd.env("DEVAUTH_STORE", "keyring");
    let (code, err) = login_with_token(cmd, "f", &moved, "r-f2");
    assert_eq!(code, 0, "{err}");
    assert!(kr.lookup("f").is_some_and(|s| s.contains(&moved)));
    assert!(files_containing(home.path(), &moved).is_empty());
    assert!(files_containing(home.path(), &file_access).is_empty());
    assert_eq!(
        status_json(kr.devauth(home.path()), "f")["store"]["backend"],
        "keyring"
    );
    let back = unique("back-access");
    let mut cmd = kr.devauth(home.path());
    cmd.env("DEVAUTH_STORE", "file");
    let (code, err) = login_with_token(cmd, "f", &back, "r-f3");
    assert_eq!(code, 0, "{err}");
    assert_eq!(kr.lookup("f"), None, "the old keyring copy is deleted");
    let (code, out, _) = run(kr.devauth(home.path()).args(["token", "--profile", "f"]));
    assert_eq!((code, out.trim()), (0, back.as_str()));

    // profiles --json lists both kinds with their backend
    let k = unique("k-access");
    let (code, err) = login_with_token(kr.devauth(home.path()), "k", &k, "r-k");
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(kr.devauth(home.path()).args(["profiles", "--json"]));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let backends: Vec<(String, String)> = v["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["profile"].as_str().unwrap().to_owned(),
                p["store"]["backend"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        backends,
        [("f".into(), "file".into()), ("k".into(), "keyring".into())]
    );
}

#[test]
fn a_device_flow_login_in_the_keyring_refreshes_in_place() {
    let Some(kr) = start_keyring() else { return };
    let server = Server::start(Config::default());
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = run(kr
        .devauth(home.path())
        .args(["login", "--issuer", &server.url]));
    assert_eq!(code, 0, "{err}");
    let (code, first, err) = run(kr.devauth(home.path()).arg("token"));
    assert_eq!(code, 0, "{err}");
    let first = first.trim().to_owned();
    assert!(server.is_valid_access(&first));
    assert!(files_containing(home.path(), &first).is_empty());

    // expired: `token` refreshes under the lock and writes back to the keyring
    expire_access_token(home.path(), "default");
    let (code, second, err) = run(kr.devauth(home.path()).arg("token"));
    assert_eq!(code, 0, "{err}");
    let second = second.trim().to_owned();
    assert_ne!(first, second);
    assert!(server.is_valid_access(&second));
    assert!(kr.lookup("default").is_some_and(|s| s.contains(&second)));
    assert!(files_containing(home.path(), &second).is_empty());
    let v = status_json(kr.devauth(home.path()), "default");
    assert_eq!(v["store"]["backend"], "keyring");
    assert_eq!(v["access_token"]["valid"], true);

    // logout revokes with the secrets read from the keyring, then deletes them
    let (code, _, err) = run(kr.devauth(home.path()).arg("logout"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("revoked"), "{err}");
    assert!(!server.is_valid_access(&second));
    assert_eq!(kr.lookup("default"), None);
}

#[test]
fn without_a_session_bus_the_file_is_used_and_keyring_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let dead = format!("unix:path={}", home.path().join("no-bus").display());
    let with_dead_bus = || {
        let mut cmd = devauth(home.path());
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &dead);
        cmd
    };

    // unset DEVAUTH_STORE: falls back to the file
    let access = unique("nobus-access");
    let (code, err) = login_with_token(with_dead_bus(), "default", &access, "r");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        status_json(with_dead_bus(), "default")["store"]["backend"],
        "file"
    );
    assert_eq!(
        files_containing(home.path(), &access),
        [home.path().join("profiles/default.json")]
    );
    let (code, out, _) = run(with_dead_bus().arg("token"));
    assert_eq!((code, out.trim()), (0, access.as_str()));

    // no bus variable at all: the file too
    let mut cmd = devauth(home.path());
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS");
    let (code, err) = login_with_token(cmd, "plain", "p-access", "r");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        status_json(with_dead_bus(), "plain")["store"]["backend"],
        "file"
    );

    // DEVAUTH_STORE=keyring: one clear sentence, nothing written
    let mut cmd = with_dead_bus();
    cmd.env("DEVAUTH_STORE", "keyring");
    let (code, err) = login_with_token(cmd, "k", "k-access", "r");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("keyring") && err.contains("DEVAUTH_STORE=file"),
        "{err}"
    );
    assert!(!err.contains("k-access"));
    assert!(!home.path().join("profiles/k.json").exists());

    // an unknown value is a usage error
    let mut cmd = with_dead_bus();
    cmd.env("DEVAUTH_STORE", "vault");
    let (code, _, err) = run(cmd.arg("token"));
    assert_eq!(code, 2, "{err}");
}
