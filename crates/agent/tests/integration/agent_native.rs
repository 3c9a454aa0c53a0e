//! The agent keeps the client's own profiles fresh too (a `devauth login`
//! with a refresh token), with the same classification: a rotation is
//! stored, a rejected refresh token ends in `needs-login`.

use devauth_testkit::refresh_server;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use devauth_agent::State;
use devauth_agent::backend::Backend;
use devauth_agent::metrics::Metrics;
use devauth_agent::pass::{self, Config};
use devauth_agent::profiles::ProfileBackend;
use devauth_client::clock::MockClock;
use devauth_client::store::{Profile, ProfileState, ProfileStore, Source, Tokens};
use devauth_import::follow::Refresher;
use devauth_import::rfc3339;
use devauth_proto::Secret;
use refresh_server::RefreshServer;

fn login(
    store: &ProfileStore,
    name: &str,
    refresh: &str,
    server: &RefreshServer,
    now: time::OffsetDateTime,
) {
    let tokens = Tokens {
        access_token: Secret::new("at"),
        token_type: "Bearer".into(),
        expires_at: Some(now + time::Duration::seconds(30)),
        refresh_token: Some(Secret::new(refresh)),
        id_token: None,
    };
    let mut p = Profile::new(name, Source::DeviceCode, tokens, now);
    p.client_id = Some("devauth-cli".into());
    p.endpoints.token = Some(format!("{}/oauth/token", server.url()));
    store.save(&p).unwrap();
}

#[test]
fn device_flow_profiles_are_refreshed_and_dead_ones_marked() {
    let start = rfc3339::parse("2030-01-01T00:00:00Z").unwrap();
    let clock = MockClock::new(start);
    let dir = tempfile::tempdir().unwrap();
    let store = ProfileStore::open(dir.path()).unwrap();
    let server = RefreshServer::start(Duration::ZERO);
    login(&store, "good", "ok.g.0", &server, start);
    login(&store, "dead", "perm.d.0", &server, start);
    login(&store, "flaky", "temp1.f.0", &server, start);
    let backend = ProfileBackend {
        store: store.clone(),
        refresher: Refresher::default(),
        only: None,
    };
    let metrics = Metrics::default();
    let stop = AtomicBool::new(false);
    let (s, _) = pass::run(&backend, &clock, &Config::default(), &metrics, &stop);
    assert_eq!(
        (s.refreshed, s.needs_login, s.temporary),
        (1, 1, 1),
        "{s:?}"
    );

    let good = store.load("good").unwrap().unwrap();
    assert_eq!(good.tokens.access_token.expose(), "at.g.1");
    assert_eq!(good.tokens.refresh_token.unwrap().expose(), "ok.g.1");
    assert!(matches!(
        store.load("dead").unwrap().unwrap().state,
        ProfileState::NeedsLogin { .. }
    ));
    assert_eq!(
        backend.load_status("flaky").unwrap().unwrap().state,
        State::Expiring
    );
    assert_eq!(
        store.load("flaky").unwrap().unwrap().state,
        ProfileState::Active
    );

    clock.advance_secs(60);
    let (s, _) = pass::run(&backend, &clock, &Config::default(), &metrics, &stop);
    assert_eq!((s.refreshed, s.still_needs_login), (1, 1), "{s:?}");
    assert_eq!(server.family("d"), 1, "a dead token is tried once");
    assert_eq!(server.stats().reused, 0);
}
