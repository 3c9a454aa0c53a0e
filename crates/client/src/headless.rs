//! Whether a browser can open on this machine.
//!
//! A browser is assumed unavailable when any of these hold (first match is
//! the reason shown): an SSH session (`SSH_CONNECTION`, `SSH_TTY`), a CI
//! runner (`CI` and friends), a container (`/.dockerenv`,
//! `/run/.containerenv`), no graphical display on Linux (`DISPLAY`,
//! `WAYLAND_DISPLAY` both unset), or no terminal on stdin/stderr. `$BROWSER`
//! set explicitly overrides the container, display and terminal checks (dev
//! containers set it to a helper that opens the host's browser), not SSH or CI.

use std::path::Path;

/// Why no browser will be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Headless {
    /// Logged in over SSH.
    Ssh,
    /// A CI runner (the variable that says so).
    Ci(&'static str),
    /// Inside a container.
    Container,
    /// No graphical display.
    NoDisplay,
    /// No terminal attached.
    NoTty,
}

impl std::fmt::Display for Headless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ssh => f.write_str("this is an SSH session"),
            Self::Ci(var) => write!(f, "this looks like CI (${var} is set)"),
            Self::Container => f.write_str("this is a container"),
            Self::NoDisplay => f.write_str("there is no graphical display"),
            Self::NoTty => f.write_str("no terminal is attached"),
        }
    }
}

/// What detection looks at; [`SystemProbe`] reads the real machine.
pub trait Probe {
    /// An environment variable, when set and not empty.
    fn var(&self, name: &str) -> Option<String>;
    /// Whether a file exists.
    fn exists(&self, path: &Path) -> bool;
    /// Whether stdin and stderr are terminals.
    fn is_tty(&self) -> bool;
}

/// The real environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemProbe;

impl Probe for SystemProbe {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn is_tty(&self) -> bool {
        use std::io::IsTerminal as _;
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }
}

const CI_VARS: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "JENKINS_URL",
    "TF_BUILD",
    "CIRCLECI",
];

/// `Some(reason)` when no browser should be opened.
pub fn detect(probe: &dyn Probe) -> Option<Headless> {
    if probe.var("SSH_CONNECTION").is_some() || probe.var("SSH_TTY").is_some() {
        return Some(Headless::Ssh);
    }
    if let Some(var) = CI_VARS.iter().find(|v| probe.var(v).is_some()) {
        return Some(Headless::Ci(var));
    }
    // An explicit $BROWSER in a container is a forwarding helper (VS Code
    // dev containers set one); trust it.
    let explicit_browser = probe.var("BROWSER").is_some();
    if !explicit_browser
        && (probe.exists(Path::new("/.dockerenv")) || probe.exists(Path::new("/run/.containerenv")))
    {
        return Some(Headless::Container);
    }
    if cfg!(all(unix, not(target_os = "macos")))
        && !explicit_browser
        && probe.var("DISPLAY").is_none()
        && probe.var("WAYLAND_DISPLAY").is_none()
    {
        return Some(Headless::NoDisplay);
    }
    if !explicit_browser && !probe.is_tty() {
        return Some(Headless::NoTty);
    }
    None
}

/// Opens `url` in a browser; `false` when that failed.
pub fn open_browser(url: &str) -> bool {
    webbrowser::open(url).is_ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Fake {
        vars: HashMap<&'static str, &'static str>,
        files: Vec<&'static str>,
        tty: bool,
    }

    impl Probe for Fake {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).map(|v| v.to_string())
        }
        fn exists(&self, path: &Path) -> bool {
            self.files.iter().any(|f| Path::new(f) == path)
        }
        fn is_tty(&self) -> bool {
            self.tty
        }
    }

    fn fake(vars: &[(&'static str, &'static str)], files: &[&'static str], tty: bool) -> Fake {
        Fake {
            vars: vars.iter().copied().collect(),
            files: files.to_vec(),
            tty,
        }
    }

    #[test]
    fn reasons_in_order() {
        let desktop = [("DISPLAY", ":0")];
        assert_eq!(detect(&fake(&desktop, &[], true)), None);
        assert_eq!(
            detect(&fake(
                &[("DISPLAY", ":0"), ("SSH_TTY", "/dev/pts/1")],
                &[],
                true
            )),
            Some(Headless::Ssh)
        );
        assert_eq!(
            detect(&fake(
                &[("DISPLAY", ":0"), ("GITHUB_ACTIONS", "true")],
                &[],
                true
            )),
            Some(Headless::Ci("GITHUB_ACTIONS"))
        );
        assert_eq!(
            detect(&fake(&desktop, &["/.dockerenv"], true)),
            Some(Headless::Container)
        );
        assert_eq!(detect(&fake(&desktop, &[], false)), Some(Headless::NoTty));
        assert_eq!(
            detect(&fake(&[("BROWSER", "/helper.sh")], &["/.dockerenv"], false)),
            None
        );
        assert_eq!(
            detect(&fake(
                &[("BROWSER", "x"), ("SSH_CONNECTION", "a b c d")],
                &[],
                true
            )),
            Some(Headless::Ssh)
        );
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert_eq!(detect(&fake(&[], &[], true)), Some(Headless::NoDisplay));
            assert_eq!(detect(&fake(&[("BROWSER", "firefox")], &[], true)), None);
        }
    }
}
