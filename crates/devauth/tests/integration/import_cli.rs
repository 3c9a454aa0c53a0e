//! `devauth import` through the real binary, with a temporary HOME (where
//! the fixture kiro-cli database and AWS cache live) and DEVAUTH_HOME.

use devauth_testkit::fixtures;
use devauth_testkit::refresh_server;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fixtures::*;
use refresh_server::RefreshServer;

struct Env {
    _dir: tempfile::TempDir,
    home: PathBuf,
    devauth_home: PathBuf,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let devauth_home = dir.path().join("devauth");
        std::fs::create_dir_all(&home).unwrap();
        Self {
            home,
            devauth_home,
            _dir: dir,
        }
    }

    fn kiro_db(&self) -> PathBuf {
        self.home.join(".local/share/kiro-cli/data.sqlite3")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("DEVAUTH_HOME", &self.devauth_home)
            .output()
            .unwrap()
    }

    fn credential(&self, profile: &str) -> Option<serde_json::Value> {
        let path = self
            .devauth_home
            .join("profiles")
            .join(format!("{profile}.json"));
        let text = std::fs::read_to_string(path).ok()?;
        Some(serde_json::from_str(&text).unwrap())
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn imports_kiro_cli_from_its_default_place() {
    let env = Env::new();
    create_kiro_db(&env.kiro_db());
    put_auth(
        &env.kiro_db(),
        "kirocli:odic:token",
        &odic_token(
            Casing::Snake,
            "ok.k.0",
            "2099-01-01T00:00:00.5Z",
            Some("https://corp.awsapps.com/start"),
        ),
    );
    put_auth(
        &env.kiro_db(),
        "kirocli:odic:device-registration",
        &registration(Casing::Snake, "cid", "2099-06-01T00:00:00Z"),
    );
    let before = std::fs::read(env.kiro_db()).unwrap();

    let out = env.run(&["import", "kiro-cli", "--profile", "work"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "stdout is for data");
    let err = stderr(&out);
    assert!(err.contains("IAM Identity Center"), "{err}");
    assert!(err.contains("profile work"), "{err}");
    assert!(err.contains("mode follow"), "{err}");
    assert!(
        !err.contains("ok.k.0") && !err.contains("secret-of-cid"),
        "no secret printed: {err}"
    );

    let p = env.credential("work").unwrap();
    assert_eq!(p["source"]["kind"], "imported");
    assert_eq!(p["source"]["tool"], "kiro-cli");
    assert_eq!(p["state"]["state"], "active");
    assert_eq!(p["tokens"]["refresh_token"], "ok.k.0");
    assert_eq!(p["client_id"], "cid");
    let meta = &p["extra"]["import"];
    assert_eq!(meta["kind"], "identity-center");
    assert_eq!(meta["mode"], "follow");
    assert_eq!(meta["source"]["key"], "kirocli:odic:token");
    assert!(
        meta.get("refresh_token").is_none(),
        "each secret is stored once"
    );
    let dir = env.devauth_home.join("profiles");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("work.json")), 0o600);
    assert_eq!(
        std::fs::read(env.kiro_db()).unwrap(),
        before,
        "import only reads kiro-cli's database"
    );
}

#[test]
fn own_mode_says_kiro_cli_must_log_in_again() {
    let env = Env::new();
    let db = env.home.join("elsewhere/data.sqlite3");
    create_kiro_db(&db);
    put_auth(
        &db,
        "kirocli:social:token",
        &social_token(Casing::Camel, "ok.s.0", "2099-01-01T00:00:00Z"),
    );
    let out = env.run(&[
        "import",
        "kiro-cli",
        "--db",
        db.to_str().unwrap(),
        "--mode",
        "own",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("kiro-cli will have to log in again"), "{err}");
    let p = env.credential("default").unwrap();
    assert_eq!(p["extra"]["import"]["mode"], "own");
    assert_eq!(p["extra"]["import"]["kind"], "kiro-social");
}

#[test]
fn a_bad_source_writes_nothing_and_says_what_to_do() {
    let env = Env::new();
    let out = env.run(&["import", "kiro-cli"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("not found") && err.contains("log in with kiro-cli"),
        "{err}"
    );
    assert!(env.credential("default").is_none());

    create_kiro_db(&env.kiro_db());
    let conn = rusqlite::Connection::open(env.kiro_db()).unwrap();
    conn.execute(
        "INSERT INTO auth_kv VALUES ('kirocli:social:token', '{not json')",
        [],
    )
    .unwrap();
    let out = env.run(&["import", "kiro-cli"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("malformed JSON"), "{}", stderr(&out));
    assert!(env.credential("default").is_none());

    conn.execute("DELETE FROM auth_kv", []).unwrap();
    put_auth(
        &env.kiro_db(),
        "kirocli:odic:token",
        &odic_token(Casing::Snake, "ok.x.0", "2099-01-01T00:00:00Z", None),
    );
    put_auth(
        &env.kiro_db(),
        "kirocli:odic:device-registration",
        &registration(Casing::Snake, "cid", "2001-01-01T00:00:00Z"),
    );
    let out = env.run(&["import", "kiro-cli"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("registration"), "{}", stderr(&out));
    assert!(env.credential("default").is_none());

    let out = env.run(&["import", "kiro-cli", "--profile", "../evil"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn imports_the_aws_sso_cache() {
    let env = Env::new();
    let cache = env.home.join(".aws/sso/cache");
    aws_cache_file(
        &cache,
        "corp",
        "ok.c.0",
        "2099-01-01T00:00:00Z",
        "2099-06-01T00:00:00Z",
    );
    aws_cache_file(
        &cache,
        "lab",
        "ok.l.0",
        "2099-01-01T00:00:00Z",
        "2099-06-01T00:00:00Z",
    );

    let out = env.run(&["import", "aws-sso"]);
    assert_eq!(out.status.code(), Some(2), "two logins need a choice");
    assert!(stderr(&out).contains("--start-url"), "{}", stderr(&out));

    let out = env.run(&[
        "import",
        "aws-sso",
        "--start-url",
        "https://lab.awsapps.com/start",
        "--profile",
        "lab",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        env.credential("lab").unwrap()["tokens"]["refresh_token"],
        "ok.l.0"
    );

    let out = env.run(&["import", "aws-sso", "--all", "--mode", "own"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        env.credential("aws-corp").unwrap()["extra"]["import"]["kind"],
        "aws-sso"
    );
    assert_eq!(
        env.credential("aws-lab").unwrap()["extra"]["import"]["mode"],
        "own"
    );
    assert!(
        stderr(&out).contains("the AWS CLI will have to log in again"),
        "{}",
        stderr(&out)
    );

    let out = env.run(&["import", "aws-sso", "--cache-dir", "/nonexistent/cache"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("aws sso login"), "{}", stderr(&out));
}

/// `devauth token` renews an adopted login with its tool's own wire format
/// (here AWS SSO OIDC CreateToken), and the next call uses the cached result.
#[test]
fn devauth_token_refreshes_an_imported_login_the_tools_way() {
    let env = Env::new();
    let server = RefreshServer::start(std::time::Duration::ZERO);
    aws_cache_file(
        &env.home.join(".aws/sso/cache"),
        "corp",
        "ok.t.0",
        "2020-01-01T00:00:00Z",
        "2099-06-01T00:00:00Z",
    );
    let out = env.run(&[
        "import",
        "aws-sso",
        "--mode",
        "own",
        "--profile",
        "aws-corp",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let token = |env: &Env| {
        Command::new(bin())
            .args(["token", "--profile", "aws-corp"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &env.home)
            .env("DEVAUTH_HOME", &env.devauth_home)
            .env("AWS_ENDPOINT_URL_SSO_OIDC", server.url())
            .output()
            .unwrap()
    };
    let out = token(&env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "at.t.1");
    assert_eq!(server.stats().by_path.get("/token"), Some(&1));
    assert_eq!(
        env.credential("aws-corp").unwrap()["tokens"]["refresh_token"],
        "ok.t.1"
    );

    let out = token(&env);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "at.t.1");
    assert_eq!(server.total(), 1, "a fresh token is not refreshed again");
}

#[test]
fn a_devauth_login_is_never_replaced_by_an_import() {
    let env = Env::new();
    // a profile made by `devauth login --with-token`
    let out = devauth_testkit::run_with_stdin(
        Command::new(bin())
            .args(["login", "--with-token"])
            .env_clear()
            .env("HOME", &env.home)
            .env("DEVAUTH_HOME", &env.devauth_home),
        b"plain-access-token\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    create_kiro_db(&env.kiro_db());
    put_auth(
        &env.kiro_db(),
        "kirocli:social:token",
        &social_token(Casing::Snake, "ok.s.0", "2099-01-01T00:00:00Z"),
    );
    let before = env.credential("default").unwrap();
    let out = env.run(&["import", "kiro-cli"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("holds a devauth login"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.credential("default").unwrap(), before);
}

/// The binary under test.
fn bin() -> PathBuf {
    crate::devauth_bin()
}
