//! The agent over 1,000 adopted profiles against a local refresh server that
//! fails some permanently and some temporarily: the permanent ones end in
//! `needs-login` after exactly one re-read of their source, the temporary
//! ones recover after backing off, no refresh token is used twice, nothing is
//! refreshed twice for one expiry, and the concurrency limit holds.

use devauth_testkit::fixtures;
use devauth_testkit::refresh_server;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use devauth_agent::backend::{Backend, Done, Failure, StoreError};
use devauth_agent::metrics::Metrics;
use devauth_agent::pass::{self, Config};
use devauth_agent::profiles::ProfileBackend;
use devauth_agent::{State, Status};
use devauth_client::clock::{Clock, MockClock};
use devauth_client::store::{ProfileState, ProfileStore};
use devauth_import::follow::Refresher;
use devauth_import::profile;
use devauth_import::refresh::{Endpoints, Http};
use devauth_import::{Mode, aws_sso, rfc3339};
use refresh_server::RefreshServer;
use time::OffsetDateTime;

/// Counts source re-reads per profile around the real backend.
struct Counting {
    inner: ProfileBackend,
    rereads: Mutex<HashMap<String, usize>>,
}

impl Backend for Counting {
    fn profiles(&self) -> Result<Vec<String>, StoreError> {
        self.inner.profiles()
    }
    fn expires_at(&self, name: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        self.inner.expires_at(name)
    }
    fn refresh(&self, name: &str, now: OffsetDateTime, t: Duration) -> Result<Done, Failure> {
        self.inner.refresh(name, now, t)
    }
    fn reread_source(&self, name: &str, now: OffsetDateTime) -> Result<bool, Failure> {
        *self
            .rereads
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default() += 1;
        self.inner.reread_source(name, now)
    }
    fn needs_login(&self, name: &str) -> bool {
        self.inner.needs_login(name)
    }
    fn mark_needs_login(&self, name: &str, reason: &str, now: OffsetDateTime) {
        self.inner.mark_needs_login(name, reason, now)
    }
    fn load_status(&self, name: &str) -> Result<Option<Status>, StoreError> {
        self.inner.load_status(name)
    }
    fn save_status(&self, name: &str, s: &Status) -> Result<(), StoreError> {
        self.inner.save_status(name, s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// refreshes fine
    Ok,
    /// valid for hours: must not be touched
    Fresh,
    /// dead refresh token; the source holds the same one
    Dead(&'static str),
    /// dead, and the other tool rotated the source to another dead token
    DeadRotated,
    /// dead, but the person logged in again: the source holds a good login
    Healed,
    /// fails temporarily this many times first
    Flaky(&'static str, u32),
}

fn plan(i: usize) -> Plan {
    match i % 20 {
        0 | 10 => Plan::Dead("perm"),
        1 => Plan::Dead("exp"),
        2 => Plan::Dead("client"),
        3 => Plan::DeadRotated,
        4 => Plan::Healed,
        5 | 15 => Plan::Flaky("temp2", 2),
        6 => Plan::Flaky("throttle1", 1),
        7 => Plan::Flaky("slow1", 1),
        19 => Plan::Fresh,
        _ => Plan::Ok,
    }
}

const PROFILES: usize = 1000;
const CONCURRENCY: usize = 8;

#[test]
fn a_thousand_profiles() {
    let start = rfc3339::parse("2030-01-01T00:00:00Z").unwrap();
    let clock = MockClock::new(start);
    let soon = rfc3339::format(start + time::Duration::seconds(60));
    let later = rfc3339::format(start + time::Duration::hours(5));
    let reg = rfc3339::format(start + time::Duration::days(60));

    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("sso-cache");
    let store = ProfileStore::open(&dir.path().join("devauth")).unwrap();
    let server = RefreshServer::start(Duration::from_millis(2));

    // adopt 1,000 logins from an AWS SSO cache, half followed, half owned
    let mut files: HashMap<String, PathBuf> = HashMap::new();
    for i in 0..PROFILES {
        let name = format!("p{i:04}");
        let behaviour = match plan(i) {
            Plan::Ok | Plan::Fresh | Plan::Healed => "ok",
            Plan::Dead(b) => b,
            Plan::DeadRotated => "perm",
            Plan::Flaky(b, _) => b,
        };
        let expires = if plan(i) == Plan::Fresh {
            &later
        } else {
            &soon
        };
        let token = match plan(i) {
            Plan::Healed => format!("perm.{name}.0"),
            _ => format!("{behaviour}.{name}.0"),
        };
        let file = fixtures::aws_cache_file(&cache, &name, &token, expires, &reg);
        let entry = aws_sso::CacheEntry::read(&file).unwrap().unwrap();
        let mode = if i % 2 == 0 { Mode::Own } else { Mode::Follow };
        let cred = entry.adopt(mode, clock.now()).unwrap();
        store
            .save(&profile::new_profile(&name, &cred, clock.now()))
            .unwrap();
        files.insert(name, file);
    }
    // after the import, the other tool moves on for some of them
    for i in 0..PROFILES {
        let name = format!("p{i:04}");
        let token = match plan(i) {
            Plan::DeadRotated => format!("perm.{name}-rotated.0"),
            Plan::Healed => format!("ok.{name}-relogin.0"),
            _ => continue,
        };
        fixtures::aws_cache_file(&cache, &name, &token, &soon, &reg);
    }

    let backend = Counting {
        inner: ProfileBackend {
            store: store.clone(),
            refresher: Refresher {
                http: Http::new(Duration::from_secs(20)),
                endpoints: Endpoints {
                    sso_oidc: Some(server.url()),
                    kiro_auth: None,
                },
            },
            only: None,
        },
        rereads: Mutex::new(HashMap::new()),
    };
    let cfg = Config {
        threshold: Duration::from_secs(300),
        concurrency: CONCURRENCY,
        ..Config::default()
    };
    let metrics = Metrics::default();
    let stop = AtomicBool::new(false);
    let count = |f: &dyn Fn(Plan) -> bool| (0..PROFILES).filter(|i| f(plan(*i))).count();

    // pass 1
    let (s1, events1) = pass::run(&backend, &clock, &cfg, &metrics, &stop);
    let dead = count(&|p| matches!(p, Plan::Dead(_) | Plan::DeadRotated));
    let flaky = count(&|p| matches!(p, Plan::Flaky(..)));
    let ok = count(&|p| p == Plan::Ok);
    assert_eq!(s1.profiles, PROFILES);
    assert_eq!(s1.needs_login, dead, "{s1:?}");
    assert_eq!(s1.temporary, flaky, "{s1:?}");
    assert_eq!(s1.refreshed, ok, "{s1:?}");
    assert_eq!(s1.recovered, count(&|p| p == Plan::Healed), "{s1:?}");
    assert_eq!(s1.fresh, count(&|p| p == Plan::Fresh), "{s1:?}");
    let stats = server.stats();
    assert!(
        stats.max_in_flight <= CONCURRENCY,
        "{} in flight",
        stats.max_in_flight
    );
    assert!(
        stats.max_in_flight >= 2,
        "the pass ran refreshes in parallel"
    );
    assert_eq!(stats.malformed, 0);

    // every state change was announced, each once
    let needs_login_events = events1
        .iter()
        .filter(|e| e.state == State::NeedsLogin)
        .count();
    assert_eq!(needs_login_events, dead);

    let rereads = backend.rereads.lock().unwrap().clone();
    for i in 0..PROFILES {
        let name = format!("p{i:04}");
        let p = plan(i);
        let st = backend.load_status(&name).unwrap();
        match p {
            Plan::Dead(_) | Plan::DeadRotated => {
                let st = st.unwrap();
                assert_eq!(st.state, State::NeedsLogin, "{name} {p:?}");
                let stored = store.load(&name).unwrap().unwrap();
                assert!(
                    matches!(stored.state, ProfileState::NeedsLogin { .. }),
                    "{name}: `devauth token` sees needs-login too"
                );
                assert!(st.last_error.is_some());
                assert_eq!(rereads.get(&name), Some(&1), "{name}: exactly one re-read");
            }
            Plan::Healed => {
                assert_eq!(st.unwrap().state, State::Active, "{name}");
                assert_eq!(rereads.get(&name), Some(&1), "{name}");
                let cred = store.load(&name).unwrap().unwrap().tokens;
                assert_eq!(
                    cred.refresh_token.unwrap().expose(),
                    format!("ok.{name}-relogin.1")
                );
            }
            Plan::Flaky(..) => {
                let st = st.unwrap();
                assert_eq!(st.state, State::Expiring, "{name}: the token still works");
                assert!(st.next_attempt.unwrap() > clock.now());
                assert_eq!(rereads.get(&name), None);
            }
            Plan::Ok => assert_eq!(st.unwrap().state, State::Active, "{name}"),
            Plan::Fresh => assert_eq!(server.family(&name), 0, "{name} was fresh"),
        }
    }
    // requests per family: one for each dead token, one per rotation
    for i in 0..PROFILES {
        let name = format!("p{i:04}");
        match plan(i) {
            Plan::Dead(_) => assert_eq!(server.family(&name), 1, "{name}"),
            // own mode: the stale copy fails, then the rotated source fails once;
            // follow mode: only the source's token is ever used
            Plan::DeadRotated => {
                let own = i % 2 == 0;
                assert_eq!(server.family(&name), usize::from(own), "{name}");
                let rotated = format!("{name}-rotated");
                assert_eq!(server.family(&rotated), 1, "{name}");
            }
            Plan::Ok | Plan::Flaky(..) => assert_eq!(server.family(&name), 1, "{name}"),
            _ => {}
        }
    }

    // pass 2 at the same instant: nothing is due, nothing is asked twice
    let before = server.total();
    let (s2, events2) = pass::run(&backend, &clock, &cfg, &metrics, &stop);
    assert_eq!(server.total(), before, "{s2:?}");
    assert_eq!(s2.still_needs_login, dead);
    assert_eq!(s2.waiting, flaky);
    assert!(events2.is_empty(), "{events2:?}");

    // the backoffs pass: throttled and slowed-down ones recover, temp2 fails once more
    clock.advance_secs(40);
    let (s3, _) = pass::run(&backend, &clock, &cfg, &metrics, &stop);
    assert_eq!(
        s3.refreshed,
        count(&|p| matches!(p, Plan::Flaky(_, 1))),
        "{s3:?}"
    );
    assert_eq!(
        s3.temporary,
        count(&|p| matches!(p, Plan::Flaky(_, 2))),
        "{s3:?}"
    );
    clock.advance_secs(120);
    let (s4, events4) = pass::run(&backend, &clock, &cfg, &metrics, &stop);
    assert_eq!(
        s4.refreshed,
        count(&|p| matches!(p, Plan::Flaky(_, 2))),
        "{s4:?}"
    );
    assert!(
        events4
            .iter()
            .all(|e| e.state == State::Active && e.previous == Some(State::Expiring))
    );

    for i in 0..PROFILES {
        let name = format!("p{i:04}");
        if let Plan::Flaky(_, n) = plan(i) {
            let st = backend.load_status(&name).unwrap().unwrap();
            assert_eq!(st.state, State::Active, "{name} recovered");
            assert_eq!(st.failures, 0);
            assert_eq!(server.family(&name), n as usize + 1, "{name}");
            let cred = store.load(&name).unwrap().unwrap().tokens;
            let refreshed_at = if n == 1 {
                start + time::Duration::seconds(40)
            } else {
                clock.now()
            };
            assert_eq!(
                cred.expires_at,
                Some(refreshed_at + time::Duration::hours(1))
            );
        }
        // followed logins were written back into the AWS cache
        if i % 2 == 1 && matches!(plan(i), Plan::Ok | Plan::Flaky(..)) {
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&files[&name]).unwrap()).unwrap();
            assert!(
                doc["refreshToken"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!(".{name}.1")),
                "{doc}"
            );
            assert_eq!(doc["accessToken"], format!("at.{name}.1"));
            assert_eq!(doc["cliField"], "kept");
        }
    }

    let stats = server.stats();
    assert_eq!(stats.reused, 0, "no refresh token was used twice");
    assert!(stats.max_in_flight <= CONCURRENCY);
    // a dead profile is never retried
    let rereads = backend.rereads.lock().unwrap();
    assert!(rereads.values().all(|n| *n == 1));
    let text = metrics.render(clock.now());
    assert!(
        text.contains(&format!(
            "devauth_agent_profiles{{state=\"needs-login\"}} {dead}"
        )),
        "{text}"
    );
    assert!(text.contains("devauth_agent_refresh_failures_total{class=\"permanent\"}"));
}
