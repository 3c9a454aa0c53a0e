//! The tests' local refresh server as a program, for `bench/agent.sh`:
//! speaks AWS SSO OIDC CreateToken (`/token`), Kiro's refresh
//! (`/refreshToken`) and RFC 6749 (`/oauth/token`) on 127.0.0.1, prints
//! `http://127.0.0.1:PORT` on stdout, then serves until killed, printing its
//! counters on stderr every second when they changed.
//!
//! `cargo run --release -p devauth-import --example refresh_server [ADDR]`

use devauth_testkit::refresh_server;

use std::io::Write;
use std::time::Duration;

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let server = refresh_server::RefreshServer::start_on(&addr, Duration::ZERO);
    println!("{}", server.url());
    let _ = std::io::stdout().flush();
    let mut last = usize::MAX;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let s = server.stats();
        let total: usize = s.by_path.values().sum();
        if total != last {
            eprintln!(
                "requests {total}, reused refresh tokens {}, most in flight {}",
                s.reused, s.max_in_flight
            );
            last = total;
        }
    }
}
