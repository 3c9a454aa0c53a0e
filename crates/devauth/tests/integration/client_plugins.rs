//! The token where it is used (issue 13): `devauth token --format`,
//! `devauth git-credential` driven by the real `git` (credential fill, and a
//! clone over HTTP from a local server that demands the token), and
//! `devauth kubectl-credential` consumed by client-go's Python port
//! (`kubernetes` from PyPI) against a local stand-in API server. Every
//! server is on 127.0.0.1; tests that need python's `kubernetes` skip with a
//! reason when it is missing, and fail under `DEVAUTH_REQUIRE_SERVICES=1`.

use crate::client_support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use client_support::{Config, Server, bin, devauth, login, profile_file, run};

/// A logged-in `default` profile; its access token.
fn logged_in(home: &Path) -> (Server, String) {
    let server = Server::start(Config::default());
    login(home, &server);
    let token = profile_file(home, "default")["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (server, token)
}

fn with_stdin(cmd: &mut Command, input: &str) -> (i32, String, String) {
    let out = devauth_testkit::run_with_stdin(cmd, input.as_bytes());
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn token_formats_for_scripts() {
    let home = tempfile::tempdir().unwrap();
    let (_server, token) = logged_in(home.path());
    let (code, out, _) = run(devauth(home.path()).args(["token", "--format", "header"]));
    assert_eq!((code, out), (0, format!("Authorization: Bearer {token}\n")));
    let (code, out, _) = run(devauth(home.path()).args(["token", "--format", "json"]));
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["access_token"], token.as_str());
    assert_eq!(j["token_type"], "Bearer");
    assert_eq!(j["profile"], "default");
    assert!(j["expires_in"].as_i64().unwrap() > 0);
    assert!(j["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(j["scopes"].is_array());
    // env: a shell reads it back exactly.
    let (code, out, _) = run(devauth(home.path()).args(["token", "--format", "env"]));
    assert_eq!(code, 0);
    let echoed = Command::new("sh")
        .args(["-c", &format!("{out}\nprintf %s \"$DEVAUTH_TOKEN\"")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&echoed.stdout), token);
    // DEVAUTH_TOKEN (the CI path) in every shape, with no store touched.
    let empty = tempfile::tempdir().unwrap();
    let (code, out, _) = run(devauth(empty.path())
        .args(["token", "--format", "header"])
        .env("DEVAUTH_TOKEN", "it's-ci"));
    assert_eq!((code, out.as_str()), (0, "Authorization: Bearer it's-ci\n"));
    let (_, out, _) = run(devauth(empty.path())
        .args(["token", "--format", "env"])
        .env("DEVAUTH_TOKEN", "it's-ci"));
    assert_eq!(out, "DEVAUTH_TOKEN='it'\\''s-ci'\n");
}

#[test]
fn git_credential_protocol() {
    let home = tempfile::tempdir().unwrap();
    let (_server, token) = logged_in(home.path());
    let request = "protocol=https\nhost=git.example.test\n\n";
    let (code, out, _) = with_stdin(
        devauth(home.path()).args(["git-credential", "get"]),
        request,
    );
    assert_eq!(code, 0);
    assert!(out.contains("username=x-access-token\n"), "{out}");
    assert!(out.contains(&format!("password={token}\n")), "{out}");
    assert!(out.contains("password_expiry_utc="), "{out}");
    // git 2.46+ announces bearer support: the token goes out as one.
    let (_, out, _) = with_stdin(
        devauth(home.path()).args(["git-credential", "get"]),
        "capability[]=authtype\nprotocol=https\nhost=git.example.test\n\n",
    );
    assert!(out.contains("authtype=Bearer\n"), "{out}");
    assert!(out.contains(&format!("credential={token}\n")), "{out}");
    assert!(!out.contains("password="), "{out}");
    // store and erase: devauth owns the credential.
    for op in ["store", "erase"] {
        let (code, out, _) = with_stdin(
            devauth(home.path()).args(["git-credential", op]),
            "protocol=https\nhost=x\nusername=u\npassword=p\n\n",
        );
        assert_eq!((code, out.as_str()), (0, ""), "{op}");
    }
    // No login: git is told to stop, and the person what to run.
    let empty = tempfile::tempdir().unwrap();
    let (code, out, err) = with_stdin(
        devauth(empty.path()).args(["git-credential", "--profile", "work", "get"]),
        request,
    );
    assert_eq!((code, out.as_str()), (0, "quit=1\n"));
    assert!(err.contains("devauth login --profile work"), "{err}");
    let (code, _, _) = with_stdin(devauth(home.path()).args(["git-credential", "nope"]), "");
    assert_eq!(code, 2);
}

/// `git` with no user or system config, and the helper set to devauth.
fn git(home: &Path, helper_home: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("DEVAUTH_HOME", helper_home)
        .env_remove("DEVAUTH_TOKEN")
        .args([
            "-c",
            "credential.helper=",
            "-c",
            &format!("credential.helper=!{} git-credential", bin().display()),
            "-c",
            "protocol.version=2",
        ]);
    cmd
}

fn git_available() -> bool {
    let ok = devauth_testkit::runs_ok("git", &["--version"]);
    devauth_testkit::require_service("git", (!ok).then_some("it is not installed"))
}

#[test]
fn real_git_fills_credentials_from_the_helper() {
    if !git_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (_server, token) = logged_in(home.path());
    let (code, out, err) = with_stdin(
        git(home.path(), home.path()).args(["credential", "fill"]),
        "protocol=https\nhost=git.example.test\npath=repo.git\n\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("host=git.example.test"), "{out}");
    assert!(out.contains(&format!("password={token}")), "{out}");
}

/// A one-repository smart-HTTP git server (`git http-backend` as CGI) that
/// answers 401 unless the request carries `token` (Basic password or Bearer).
fn git_server(root: &Path, token: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(50) {
            let Ok(conn) = conn else { continue };
            let _ = serve_git(conn, &root, &token);
        }
    });
    base
}

fn serve_git(mut conn: TcpStream, root: &Path, token: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end().to_owned();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let authorized = header("authorization").is_some_and(|a| {
        if let Some(b) = a.strip_prefix("Bearer ") {
            return b == token;
        }
        a.strip_prefix("Basic ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|d| String::from_utf8(d).ok())
            .is_some_and(|up| up.split_once(':').is_some_and(|(_, p)| p == token))
    });
    if !authorized {
        conn.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    let mut body = vec![
        0u8;
        header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0)
    ];
    reader.read_exact(&mut body)?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env(
            "HTTP_CONTENT_ENCODING",
            header("content-encoding").unwrap_or_default(),
        )
        .env("GIT_PROTOCOL", header("git-protocol").unwrap_or_default())
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    cgi.stdin.take().unwrap().write_all(&body)?;
    let out = cgi.wait_with_output()?;
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            out.stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        })
        .unwrap_or((0, 0));
    let (cgi_head, rest) = out.stdout.split_at(split.0);
    let payload = &rest[split.1.min(rest.len())..];
    let cgi_head = String::from_utf8_lossy(cgi_head);
    let mut status = "200 OK".to_owned();
    let mut response = String::new();
    for h in cgi_head.lines() {
        if let Some(s) = h.strip_prefix("Status:") {
            status = s.trim().to_owned();
        } else if !h.is_empty() {
            response.push_str(h);
            response.push_str("\r\n");
        }
    }
    conn.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        )
        .as_bytes(),
    )?;
    conn.write_all(payload)
}

#[test]
fn real_git_clones_with_the_token_and_fails_without_it() {
    if !git_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (_server, token) = logged_in(home.path());
    // A bare repository with one commit.
    let root = home.path().join("srv");
    let work = home.path().join("work");
    let sh = |args: &[&str], dir: &Path| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("HOME", home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.test")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.test")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    sh(&["init", "-q", "-b", "main"], &work);
    std::fs::write(work.join("README"), "hello from devauth\n").unwrap();
    sh(&["add", "README"], &work);
    sh(&["commit", "-q", "-m", "first"], &work);
    sh(
        &["clone", "-q", "--bare", work.to_str().unwrap(), "repo.git"],
        &root,
    );
    let base = git_server(&root, token.clone());

    let dest = home.path().join("clone");
    let out = git(home.path(), home.path())
        .args([
            "clone",
            "-q",
            &format!("{base}/repo.git"),
            dest.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("README")).unwrap(),
        "hello from devauth\n"
    );

    // Without a login the helper says so and git fails at once.
    let nobody = tempfile::tempdir().unwrap();
    let dest = home.path().join("clone2");
    let out = git(home.path(), nobody.path())
        .args([
            "clone",
            "-q",
            &format!("{base}/repo.git"),
            dest.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("devauth login"), "{err}");
}

#[test]
fn kubectl_exec_credential_shapes() {
    let home = tempfile::tempdir().unwrap();
    let (_server, token) = logged_in(home.path());
    let (code, out, _) = run(devauth(home.path()).arg("kubectl-credential"));
    assert_eq!(code, 0);
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(c["kind"], "ExecCredential");
    assert_eq!(c["status"]["token"], token.as_str());
    assert!(
        c["status"]["expirationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let info = r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{"interactive":false}}"#;
    let (_, out, _) = run(devauth(home.path())
        .arg("kubectl-credential")
        .env("KUBERNETES_EXEC_INFO", info));
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["apiVersion"], "client.authentication.k8s.io/v1beta1");
    // Not logged in: exit 3 and the command to run, never a login flow.
    let empty = tempfile::tempdir().unwrap();
    let (code, out, err) = run(devauth(empty.path()).arg("kubectl-credential"));
    assert_eq!((code, out.as_str()), (3, ""));
    assert!(err.contains("no token for kubectl"), "{err}");
    assert!(
        err.contains("run `devauth login --issuer URL` first"),
        "{err}"
    );
    // Another profile: the command to run names it.
    let (code, _, err) =
        run(devauth(empty.path()).args(["kubectl-credential", "--profile", "prod"]));
    assert_eq!(code, 3);
    assert!(
        err.contains("run `devauth login --issuer URL --profile prod` first"),
        "{err}"
    );
}

fn python_kubernetes() -> bool {
    let ok = devauth_testkit::runs_ok("python3", &["-c", "import kubernetes"]);
    devauth_testkit::require_service(
        "python's kubernetes package",
        (!ok).then_some("it is missing (pip install kubernetes)"),
    )
}

#[test]
fn client_go_python_port_uses_the_exec_plugin() {
    if !python_kubernetes() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (_server, token) = logged_in(home.path());
    // A stand-in API server: lists namespaces for the right bearer token only.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let expected = format!("Bearer {token}");
    std::thread::spawn(move || {
        for conn in listener.incoming().take(20) {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut auth = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line.trim_end().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("authorization:") {
                    let _ = v;
                    auth = line.split_once(':').unwrap().1.trim().to_owned();
                }
                line.clear();
            }
            let (status, body) = if auth == expected {
                (
                    "200 OK",
                    r#"{"kind":"NamespaceList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"devauth-ok"}}]}"#,
                )
            } else {
                (
                    "401 Unauthorized",
                    r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":401}"#,
                )
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {api}\n\
             contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: me\ncurrent-context: ctx\n\
             users:\n- name: me\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n\
             \x20     command: {}\n      args: [kubectl-credential]\n      interactiveMode: Never\n\
             \x20     env:\n      - name: DEVAUTH_HOME\n        value: {}\n",
            bin().display(),
            home.path().display()
        ),
    )
    .unwrap();
    let script = format!(
        "from kubernetes import client, config\n\
         config.load_kube_config(config_file={:?})\n\
         print(','.join(n.metadata.name for n in client.CoreV1Api().list_namespace().items))\n",
        kubeconfig.display().to_string()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "devauth-ok");
}
