//! The login screen in a real terminal: `devauth login` inside tmux (80
//! columns), captured with `capture-pane`. Skips when tmux is absent, unless
//! DEVAUTH_REQUIRE_SERVICES=1.

use crate::client_support;

use std::process::Command;
use std::time::Duration;

use client_support::{Config, Poll, Server, USER_CODE};

fn tmux_available() -> bool {
    let ok = devauth_testkit::runs_ok("tmux", &["-V"]);
    devauth_testkit::require_service("tmux", (!ok).then_some("it is not installed"))
}

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    fn capture(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-J", "-t", "s"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// Starts `devauth login` in a detached tmux pane `width` columns wide and
/// returns the pane once the countdown shows (with the server kept alive).
fn login_in_tmux(width: u16) -> (String, Server, Tmux, tempfile::TempDir) {
    let server = Server::start(Config {
        polls: vec![Poll::Pending; 200],
        expires_in: 120,
        ..Default::default()
    });
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: format!("devauth-test-{}-{width}", std::process::id()),
    };
    let script = format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY -u DEVAUTH_TOKEN DEVAUTH_HOME='{}' TERM=xterm-256color '{}' login --issuer '{}'; sleep 30",
        home.path().display(),
        client_support::bin().display(),
        server.url
    );
    let started = tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "s",
            "-x",
            &width.to_string(),
            "-y",
            "60",
            &script,
        ])
        .status()
        .unwrap();
    assert!(started.success());
    let mut screen = String::new();
    for _ in 0..100 {
        screen = tmux.capture();
        if screen.contains("Waiting for approval") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(screen.contains("Waiting for approval"), "{screen}");
    (screen, server, tmux, home)
}

fn qr_rows(screen: &str) -> usize {
    screen
        .lines()
        .filter(|l| l.contains('█') || l.contains('▀') || l.contains('▄'))
        .count()
}

#[test]
fn login_screen_in_tmux_shows_qr_and_code() {
    if !tmux_available() {
        return;
    }
    let (screen, server, _tmux, _home) = login_in_tmux(80);
    assert!(
        screen.contains(&format!("{}/verify", server.url)),
        "{screen}"
    );
    assert!(screen.contains(USER_CODE), "{screen}");
    assert!(
        screen.contains("B C D F - G H J K"),
        "spaced code: {screen}"
    );
    assert!(qr_rows(&screen) >= 15, "a QR block: {screen}");
    assert!(
        screen.lines().all(|l| l.chars().count() <= 80),
        "fits 80 columns"
    );
    assert!(screen.contains("left"), "countdown: {screen}");
}

#[test]
fn narrow_terminal_gets_no_qr_but_the_code() {
    if !tmux_available() {
        return;
    }
    let (screen, _server, _tmux, _home) = login_in_tmux(50);
    assert_eq!(qr_rows(&screen), 0, "no QR under 60 columns: {screen}");
    assert!(screen.contains(USER_CODE), "{screen}");
}
