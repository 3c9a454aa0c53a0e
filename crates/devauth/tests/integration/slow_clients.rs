//! `devauth serve` against clients that try to hold it, as an attacker
//! would (issue 12 item 3): trickled headers, a trickled body, idle
//! keep-alive sockets, more sockets than the connection cap, and a slow
//! client at shutdown. The server runs with short limits so each test ends
//! quickly; every loop is bounded and only 127.0.0.1 is contacted.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use devauth_testkit::TestServer;

const LIMITS: &[&str] = &[
    "--header-timeout",
    "1",
    "--body-timeout",
    "2",
    "--idle-timeout",
    "2",
    "--max-connections",
    "8",
    "--shutdown-timeout",
    "1",
];

fn start(home: &std::path::Path) -> TestServer {
    crate::start_serve(
        home,
        &[&["--listen", "127.0.0.1:0"], LIMITS].concat(),
        &[],
        Duration::from_secs(60),
    )
}

fn addr(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

fn connect(s: &TestServer) -> TcpStream {
    let c = TcpStream::connect(addr(s)).expect("connect");
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    c
}

/// Whether the server closed `c` (EOF or reset) within `patience`, reading
/// and discarding whatever it sent.
fn closed_within(c: &mut TcpStream, patience: Duration) -> (bool, String) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < patience {
        match c.read(&mut buf) {
            Ok(0) => return (true, String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (true, String::from_utf8_lossy(&got).into_owned()),
        }
    }
    (false, String::from_utf8_lossy(&got).into_owned())
}

/// A plain request on a fresh connection; the status code.
fn healthz(s: &TestServer) -> u16 {
    let mut c = connect(s);
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (_, text) = closed_within(&mut c, Duration::from_secs(10));
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn trickled_headers_are_cut_off() {
    let home = tempfile::tempdir().unwrap();
    let s = start(home.path());
    let mut c = connect(&s);
    // One byte of headers every 300 ms never completes a request.
    let head =
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut cut = false;
    for byte in head.iter().cycle().take(200) {
        if c.write_all(&[*byte]).is_err() {
            cut = true;
            break;
        }
        let (closed, _) = closed_within(&mut c, Duration::from_millis(300));
        if closed {
            cut = true;
            break;
        }
    }
    assert!(cut, "a connection trickling its headers was held for 60 s");
    assert_eq!(healthz(&s), 200, "the server still answers others");
}

#[test]
fn a_trickled_body_is_cut_off_even_though_bytes_keep_coming() {
    let home = tempfile::tempdir().unwrap();
    let s = start(home.path());
    let mut c = connect(&s);
    c.write_all(
        b"POST /oauth/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n",
    )
    .unwrap();
    let mut sent = 0;
    let mut answer = String::new();
    let mut cut = false;
    // A byte every 200 ms: 1000 bytes would take 200 s.
    while sent < 1000 {
        if c.write_all(b"a").is_err() {
            cut = true;
            break;
        }
        sent += 1;
        let (closed, text) = closed_within(&mut c, Duration::from_millis(200));
        answer.push_str(&text);
        if closed {
            cut = true;
            break;
        }
    }
    assert!(cut, "a trickled body was accepted in full ({sent} bytes)");
    assert!(sent < 100, "cut only after {sent} bytes");
    assert!(
        answer.starts_with("HTTP/1.1 4"),
        "refused, not served: {answer:?}"
    );
    assert_eq!(healthz(&s), 200);
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let home = tempfile::tempdir().unwrap();
    let s = start(home.path());
    let mut c = connect(&s);
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // The answer arrives and the connection stays open for the next request…
    let mut first = [0u8; 12];
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // …until it has been idle for the idle timeout.
    let (closed, _) = closed_within(&mut c, Duration::from_secs(30));
    assert!(closed, "an idle keep-alive connection was kept for 30 s");
}

#[test]
fn sockets_beyond_the_cap_are_closed_and_the_server_keeps_serving() {
    let home = tempfile::tempdir().unwrap();
    let s = start(home.path());
    // Eight sockets that started a request and went quiet hold every slot…
    let mut held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut c = connect(&s);
            c.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // …so the next is closed at once instead of queueing forever,
    let mut extra = connect(&s);
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    let (closed, text) = closed_within(&mut extra, Duration::from_secs(5));
    assert!(
        closed && text.is_empty(),
        "over the cap: closed unanswered ({text:?})"
    );
    // and once the header timeout frees the slots, requests are served again.
    let start = Instant::now();
    let mut status = 0;
    while start.elapsed() < Duration::from_secs(20) && status != 200 {
        status = healthz(&s);
    }
    assert_eq!(status, 200);
    for c in &mut held {
        let (closed, _) = closed_within(c, Duration::from_secs(5));
        assert!(closed, "held sockets were cut by the header timeout");
    }
}

#[test]
fn shutdown_does_not_wait_forever_for_a_slow_client() {
    let home = tempfile::tempdir().unwrap();
    // The body may take an hour: only the shutdown deadline (1 s) ends it.
    let mut s = crate::start_serve(
        home.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--body-timeout",
            "3600",
            "--shutdown-timeout",
            "1",
        ],
        &[],
        Duration::from_secs(60),
    );
    let mut c = connect(&s);
    // A request whose body never finishes (the body timeout is longer than
    // the shutdown deadline).
    c.write_all(
        b"POST /oauth/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nab",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let status = s.terminate_within(Duration::from_secs(30));
    let status = status.expect("devauth serve exits at its shutdown deadline");
    assert!(status.success(), "{status:?}");
    let (closed, _) = closed_within(&mut c, Duration::from_secs(5));
    assert!(closed);
}
