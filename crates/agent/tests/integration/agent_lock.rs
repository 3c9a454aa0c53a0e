//! The agent and `devauth token` share each profile's lock: a refresh that
//! had to wait for it re-reads the profile and, finding it refreshed by the
//! holder, sends nothing.

use devauth_testkit::fixtures;
use devauth_testkit::refresh_server;

use std::time::Duration;

use devauth_agent::backend::{Backend, Done};
use devauth_agent::profiles::ProfileBackend;
use devauth_client::store::ProfileStore;
use devauth_import::follow::Refresher;
use devauth_import::refresh::{Endpoints, Http};
use devauth_import::{Mode, aws_sso, profile, rfc3339};
use devauth_proto::Secret;
use refresh_server::RefreshServer;

#[test]
fn a_refresh_that_waited_for_the_lock_finds_the_work_done() {
    let now = rfc3339::parse("2030-01-01T00:00:00Z").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = fixtures::aws_cache_file(
        &dir.path().join("sso"),
        "corp",
        "ok.l.0",
        "2030-01-01T00:01:00Z",
        "2030-02-01T00:00:00Z",
    );
    let cred = aws_sso::CacheEntry::read(&file)
        .unwrap()
        .unwrap()
        .adopt(Mode::Own, now)
        .unwrap();
    let store = ProfileStore::open(&dir.path().join("devauth")).unwrap();
    store
        .save(&profile::new_profile("corp", &cred, now))
        .unwrap();
    let server = RefreshServer::start(Duration::ZERO);
    let backend = ProfileBackend {
        store: store.clone(),
        refresher: Refresher {
            http: Http::new(Duration::from_secs(10)),
            endpoints: Endpoints {
                sso_oidc: Some(server.url()),
                kiro_auth: None,
            },
        },
        only: None,
    };

    // "devauth token" holds the lock and refreshes meanwhile
    let lock = store.lock("corp").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let done = backend.refresh("corp", now, Duration::from_secs(300));
            tx.send(done).unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "the agent must wait for the lock"
        );
        let mut p = lock.load().unwrap().unwrap();
        p.tokens.access_token = Secret::new("from-devauth-token");
        p.tokens.expires_at = Some(now + time::Duration::hours(1));
        lock.save(&p).unwrap();
        drop(lock);
        let done = rx.recv_timeout(Duration::from_secs(30)).unwrap().unwrap();
        assert_eq!(
            done,
            Done::AlreadyFresh(Some(now + time::Duration::hours(1)))
        );
    });
    assert_eq!(server.total(), 0, "nothing was sent");
    assert_eq!(
        store
            .load("corp")
            .unwrap()
            .unwrap()
            .tokens
            .access_token
            .expose(),
        "from-devauth-token"
    );
}
