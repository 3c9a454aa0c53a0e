//! The login screen, written to stderr (stdout stays for data).
//!
//! Shows the verification URI and the user code (always both, RFC 8628
//! §3.3), the code letter-spaced and bold on a terminal; a QR code of
//! `verification_uri_complete` when stderr is a terminal at least
//! [`QR_MIN_COLUMNS`] wide; an OSC 52 clipboard copy of that link on
//! terminals (wrapped in tmux's passthrough inside tmux); and while polling a
//! one-line countdown with a reminder in the last minute ([`Countdown`]).
//! Text from the server is stripped of control characters first.

use std::cell::Cell;
use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use devauth_proto::device::DeviceAuthorizationResponse;

use crate::clock::{Cancelled, Sleeper};
use crate::device::PollObserver;
use crate::safe_text::sanitize;

/// Narrowest terminal that gets a QR code.
pub const QR_MIN_COLUMNS: u16 = 60;

/// How to draw: decided once from the terminal and the flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenOptions {
    /// stderr is a terminal (bold, spinner, redraws).
    pub tty: bool,
    /// Terminal width, when known.
    pub columns: Option<u16>,
    /// Draw a QR code (off with `--no-qr`).
    pub qr: bool,
    /// How to copy to the clipboard, if at all.
    pub clipboard: Clipboard,
}

/// OSC 52 clipboard support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clipboard {
    /// Not a capable terminal.
    Off,
    /// Plain OSC 52.
    Osc52,
    /// OSC 52 wrapped in tmux's DCS passthrough.
    Tmux,
}

impl ScreenOptions {
    /// Looks at stderr and the environment.
    pub fn detect(no_qr: bool) -> Self {
        use std::io::IsTerminal as _;
        let tty = std::io::stderr().is_terminal();
        let columns = terminal_size::terminal_size_of(std::io::stderr())
            .map(|(w, _)| w.0)
            .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok());
        let term = std::env::var("TERM").unwrap_or_default();
        let clipboard = if !tty || term.is_empty() || term == "dumb" {
            Clipboard::Off
        } else if std::env::var_os("TMUX").is_some() {
            Clipboard::Tmux
        } else {
            Clipboard::Osc52
        };
        Self {
            tty,
            columns,
            qr: !no_qr,
            clipboard,
        }
    }

    fn show_qr(&self) -> bool {
        self.qr && self.tty && self.columns.is_some_and(|c| c >= QR_MIN_COLUMNS)
    }
}

/// The code with spaces between letters: `B C D F - G H J K`.
pub fn spaced(code: &str) -> String {
    let mut out = String::new();
    for (i, c) in code.chars().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// A QR code of `data` as text: Dense1x2 half blocks with a quiet zone,
/// drawn light-on-dark so it scans on dark terminals.
pub fn qr(data: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// The escape sequence that copies `text` to the clipboard.
pub fn osc52(text: &str, mode: Clipboard) -> Option<String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
    match mode {
        Clipboard::Off => None,
        Clipboard::Osc52 => Some(format!("\x1b]52;c;{b64}\x07")),
        Clipboard::Tmux => Some(format!("\x1bPtmux;\x1b\x1b]52;c;{b64}\x07\x1b\\")),
    }
}

/// Draws the "open this page, enter this code" screen.
pub fn show_code(
    out: &mut dyn Write,
    auth: &DeviceAuthorizationResponse,
    opts: &ScreenOptions,
) -> std::io::Result<()> {
    let uri = sanitize(&auth.verification_uri);
    let code = sanitize(&auth.user_code);
    let complete = auth.verification_uri_complete.as_deref().map(sanitize);
    writeln!(out, "To log in, open this page in a browser on any device:")?;
    writeln!(out)?;
    writeln!(out, "    {uri}")?;
    writeln!(out)?;
    writeln!(out, "and enter the code {code}")?;
    if opts.tty {
        writeln!(out)?;
        writeln!(out, "    \x1b[1m{}\x1b[0m", spaced(&code))?;
    }
    writeln!(out)?;
    if let Some(complete) = &complete {
        if opts.show_qr()
            && let Some(qr) = qr(complete)
        {
            writeln!(out, "Or scan this QR code with a phone:")?;
            writeln!(out, "{qr}")?;
        }
        writeln!(out, "Direct link (code included): {complete}")?;
        if let Some(seq) = osc52(complete, opts.clipboard) {
            write!(out, "{seq}")?;
            writeln!(
                out,
                "(The direct link was copied to your clipboard, if your terminal allows it.)"
            )?;
        }
        writeln!(out)?;
    }
    if let Some(message) = auth.message.as_deref().map(sanitize)
        && !message.trim().is_empty()
    {
        writeln!(out, "The provider says: {}", message.trim())?;
        writeln!(out)?;
    }
    out.flush()
}

/// Formats a duration as `m:ss`.
pub fn mmss(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

/// A [`Sleeper`] + [`PollObserver`] that draws a countdown while waiting.
///
/// On a terminal: one line redrawn every second with a spinner and the time
/// left, a reminder in the last minute. Elsewhere: one line when waiting
/// starts and one when less than a minute is left.
pub struct Countdown<'a, S: Sleeper> {
    inner: S,
    out: std::cell::RefCell<&'a mut dyn Write>,
    tty: bool,
    left: Cell<Duration>,
    frame: Cell<usize>,
    announced: Cell<bool>,
    reminded: Cell<bool>,
    /// The last poll could not reach the server (it is being retried).
    unreachable: Cell<bool>,
    /// "Cannot reach the server" was printed (without a terminal) since the
    /// server last answered.
    said_unreachable: Cell<bool>,
}

impl<'a, S: Sleeper> Countdown<'a, S> {
    const FRAMES: [&'static str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

    /// Wraps a sleeper, drawing on `out`.
    pub fn new(inner: S, out: &'a mut dyn Write, tty: bool) -> Self {
        Self {
            inner,
            out: std::cell::RefCell::new(out),
            tty,
            left: Cell::new(Duration::ZERO),
            frame: Cell::new(0),
            announced: Cell::new(false),
            reminded: Cell::new(false),
            unreachable: Cell::new(false),
            said_unreachable: Cell::new(false),
        }
    }

    fn draw(&self) {
        let left = self.left.get();
        let mut out = self.out.borrow_mut();
        let last_minute = left < Duration::from_secs(60);
        if self.tty {
            let f = Self::FRAMES[self.frame.get() % Self::FRAMES.len()];
            self.frame.set(self.frame.get() + 1);
            let note = if last_minute {
                " — less than a minute left, approve now!"
            } else {
                ""
            };
            let what = if self.unreachable.get() {
                "Cannot reach the server, retrying…"
            } else {
                "Waiting for approval…"
            };
            let _ = write!(out, "\r\x1b[2K{f} {what} {} left{note}", mmss(left));
        } else if self.unreachable.get() && !self.said_unreachable.get() {
            self.said_unreachable.set(true);
            let _ = writeln!(
                out,
                "Cannot reach the server; retrying ({} left)…",
                mmss(left)
            );
        } else if !self.announced.get() {
            self.announced.set(true);
            let _ = writeln!(out, "Waiting for approval ({} left)…", mmss(left));
        } else if last_minute && !self.reminded.get() {
            self.reminded.set(true);
            let _ = writeln!(out, "Less than a minute left to approve the code.");
        }
        let _ = out.flush();
    }

    /// Clears the countdown line (before printing the result).
    pub fn finish(&self) {
        if self.tty {
            let mut out = self.out.borrow_mut();
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
        }
    }
}

impl<S: Sleeper> PollObserver for Countdown<'_, S> {
    fn waiting(&self, _wait: Duration, left: Duration) {
        self.left.set(left);
        self.draw();
    }

    fn reachable(&self, reachable: bool) {
        if reachable && self.unreachable.get() && !self.tty {
            let _ = writeln!(
                self.out.borrow_mut(),
                "The server answers again; waiting for approval."
            );
            self.said_unreachable.set(false);
        }
        self.unreachable.set(!reachable);
    }
}

impl<S: Sleeper> Sleeper for Countdown<'_, S> {
    fn sleep(&self, duration: Duration) -> Result<(), Cancelled> {
        let mut remaining = duration;
        let tick = Duration::from_secs(1);
        while !remaining.is_zero() {
            let step = remaining.min(tick);
            self.inner.sleep(step)?;
            remaining -= step;
            self.left.set(self.left.get().saturating_sub(step));
            self.draw();
        }
        Ok(())
    }

    fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> DeviceAuthorizationResponse {
        serde_json::from_value(serde_json::json!({
            "device_code": "secret-device-code",
            "user_code": "BCDF-GHJK",
            "verification_uri": "https://id.example/device",
            "verification_uri_complete": "https://id.example/device?user_code=BCDF-GHJK",
            "expires_in": 600
        }))
        .unwrap()
    }

    fn render(opts: &ScreenOptions) -> String {
        let mut buf = Vec::new();
        show_code(&mut buf, &auth(), opts).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn the_providers_message_is_shown_without_escapes() {
        let mut a = auth();
        a.message = Some("To sign in, use a web browser\u{1b}[2J to open the page.".into());
        let mut buf = Vec::new();
        let opts = ScreenOptions {
            tty: false,
            columns: None,
            qr: false,
            clipboard: Clipboard::Off,
        };
        show_code(&mut buf, &a, &opts).unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains("The provider says: To sign in"), "{s}");
        assert!(!s.contains('\u{1b}'), "{s:?}");
    }

    #[test]
    fn plain_screen_has_uri_and_code_and_no_escapes() {
        let s = render(&ScreenOptions {
            tty: false,
            columns: None,
            qr: true,
            clipboard: Clipboard::Off,
        });
        assert!(s.contains("https://id.example/device\n"));
        assert!(s.contains("BCDF-GHJK"));
        assert!(!s.contains('\x1b'));
        assert!(!s.contains('█'), "no QR without a terminal");
        assert!(!s.contains("secret-device-code"));
    }

    #[test]
    fn terminal_screen_has_qr_bold_code_and_clipboard() {
        let opts = ScreenOptions {
            tty: true,
            columns: Some(80),
            qr: true,
            clipboard: Clipboard::Tmux,
        };
        let s = render(&opts);
        assert!(s.contains("\x1b[1mB C D F - G H J K\x1b[0m"));
        assert!(s.contains('█') && s.contains('▀'));
        assert!(s.contains("\x1bPtmux;\x1b\x1b]52;c;"));
        let narrow = render(&ScreenOptions {
            columns: Some(40),
            ..opts.clone()
        });
        assert!(!narrow.contains('▀'));
        let no_qr = render(&ScreenOptions { qr: false, ..opts });
        assert!(!no_qr.contains('▀'));
    }

    #[test]
    fn hostile_server_text_is_defanged() {
        let mut a = auth();
        a.user_code = "BCDF\x1b]52;c;ZXZpbA==\x07".into();
        let mut buf = Vec::new();
        show_code(
            &mut buf,
            &a,
            &ScreenOptions {
                tty: false,
                columns: None,
                qr: false,
                clipboard: Clipboard::Off,
            },
        )
        .unwrap();
        assert!(!String::from_utf8(buf).unwrap().contains('\x1b'));
    }

    #[test]
    fn countdown_reminds_in_the_last_minute() {
        let mut buf = Vec::new();
        {
            let time = crate::clock::mock::clock();
            let c = Countdown::new(&time, &mut buf, false);
            c.waiting(Duration::from_secs(5), Duration::from_secs(62));
            c.sleep(Duration::from_secs(5)).unwrap();
        }
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains("Waiting for approval (1:02 left)"));
        assert!(s.contains("Less than a minute left"));
    }

    #[test]
    fn countdown_says_when_the_server_cannot_be_reached() {
        for tty in [false, true] {
            let mut buf = Vec::new();
            {
                let time = crate::clock::mock::clock();
                let c = Countdown::new(&time, &mut buf, tty);
                c.waiting(Duration::from_secs(5), Duration::from_secs(300));
                c.reachable(false);
                c.waiting(Duration::from_secs(5), Duration::from_secs(295));
                c.reachable(false);
                c.waiting(Duration::from_secs(5), Duration::from_secs(290));
                c.reachable(true);
                c.waiting(Duration::from_secs(5), Duration::from_secs(285));
            }
            let s = String::from_utf8(buf).unwrap();
            assert!(s.contains("Cannot reach the server"), "{s}");
            let last = s.rsplit('\r').next().unwrap_or(&s);
            if tty {
                assert!(last.contains("Waiting for approval"), "{s:?}");
            } else {
                assert_eq!(s.matches("Cannot reach the server").count(), 1, "{s}");
                assert!(s.contains("The server answers again"), "{s}");
            }
        }
    }
}
