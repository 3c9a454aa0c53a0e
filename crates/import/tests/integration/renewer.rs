//! `devauth token`'s path for an imported profile: the client's
//! `fresh_access_token` with [`AnyRenewer`]'s import side, on the client's
//! real profile store and lock.

use devauth_testkit::fixtures;
use devauth_testkit::refresh_server;

use std::time::Duration;

use devauth_client::ErrorKind;
use devauth_client::clock::{Clock, MockClock};
use devauth_client::session::fresh_access_token;
use devauth_client::store::{ProfileState, ProfileStore};
use devauth_import::follow::Refresher;
use devauth_import::kiro::{self, KiroDb};
use devauth_import::refresh::{Endpoints, Http};
use devauth_import::renewer::ImportRenewer;
use devauth_import::{Mode, profile, rfc3339};
use fixtures::*;
use refresh_server::RefreshServer;

fn setup(
    token: &str,
) -> (
    tempfile::TempDir,
    ProfileStore,
    std::path::PathBuf,
    MockClock,
) {
    let dir = tempfile::tempdir().unwrap();
    let clock = MockClock::new(rfc3339::parse("2030-01-01T00:00:00Z").unwrap());
    let db = dir.path().join("kiro/data.sqlite3");
    create_kiro_db(&db);
    put_auth(
        &db,
        "kirocli:social:token",
        &social_token(Casing::Snake, token, "2030-01-01T00:00:30Z"),
    );
    let cred = kiro::adopt(
        &db,
        &KiroDb::new(&db).read().unwrap(),
        Mode::Follow,
        clock.now(),
    )
    .unwrap();
    let store = ProfileStore::open(&dir.path().join("devauth")).unwrap();
    store
        .save(&profile::new_profile("kiro", &cred, clock.now()))
        .unwrap();
    (dir, store, db, clock)
}

fn renewer(server: &RefreshServer) -> ImportRenewer {
    ImportRenewer {
        refresher: Refresher {
            http: Http::new(Duration::from_secs(10)),
            endpoints: Endpoints {
                sso_oidc: None,
                kiro_auth: Some(server.url()),
            },
        },
        min_valid: Duration::from_secs(60),
    }
}

#[test]
fn devauth_token_refreshes_an_imported_profile_through_the_client() {
    let server = RefreshServer::start(Duration::ZERO);
    let (_dir, store, db, clock) = setup("ok.t.0");
    let r = renewer(&server);
    let p = fresh_access_token(&store, "kiro", Duration::from_secs(60), &clock, &r).unwrap();
    assert_eq!(p.tokens.access_token.expose(), "at.t.1");
    assert_eq!(
        store
            .load("kiro")
            .unwrap()
            .unwrap()
            .tokens
            .refresh_token
            .unwrap()
            .expose(),
        "ok.t.1"
    );
    assert_eq!(
        get_auth(&db, "kirocli:social:token").unwrap()["refresh_token"],
        "ok.t.1"
    );
    // fresh now: no second request
    fresh_access_token(&store, "kiro", Duration::from_secs(60), &clock, &r).unwrap();
    assert_eq!(server.total(), 1);
}

#[test]
fn a_dead_imported_login_becomes_needs_login_after_one_source_reread() {
    let server = RefreshServer::start(Duration::ZERO);
    let (_dir, store, _db, clock) = setup("perm.d.0");
    let r = renewer(&server);
    let err = fresh_access_token(&store, "kiro", Duration::from_secs(60), &clock, &r).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsLogin);
    assert!(matches!(
        store.load("kiro").unwrap().unwrap().state,
        ProfileState::NeedsLogin { .. }
    ));
    assert_eq!(
        server.total(),
        1,
        "the source held the same dead token: no retry"
    );
    // and it fails fast from now on
    let err = fresh_access_token(&store, "kiro", Duration::from_secs(60), &clock, &r).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NeedsLogin);
    assert_eq!(server.total(), 1);
}

#[test]
fn a_flaky_server_leaves_the_profile_usable() {
    let server = RefreshServer::start(Duration::ZERO);
    let (_dir, store, _db, clock) = setup("temp1.f.0");
    let r = renewer(&server);
    let err = fresh_access_token(&store, "kiro", Duration::from_secs(60), &clock, &r).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(
        store.load("kiro").unwrap().unwrap().state,
        ProfileState::Active
    );
    let p = fresh_access_token(&store, "kiro", Duration::from_secs(60), &clock, &r).unwrap();
    assert_eq!(p.tokens.access_token.expose(), "at.f.1");
}
