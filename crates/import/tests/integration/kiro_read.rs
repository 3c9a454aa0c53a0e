//! Reading kiro-cli's database: every login kind in both casings, which row
//! wins, and a clear error (with nothing written) for everything that can be
//! wrong with the file.

use devauth_testkit::fixtures;

use std::path::Path;
use std::time::Duration;

use crate::{REG_OK, now};
use devauth_import::kiro::{self, KiroDb};
use devauth_import::{ImportError, Kind, Mode, SourceRef, rfc3339};
use fixtures::*;
use serde_json::json;

fn adopt(db: &Path) -> Result<devauth_import::Credential, ImportError> {
    let snapshot = KiroDb::new(db).read()?;
    kiro::adopt(db, &snapshot, Mode::Follow, now())
}

const LATER: &str = "2025-06-01T13:00:00.123456789Z";

#[test]
fn each_kind_in_both_casings() {
    for casing in [Casing::Snake, Casing::Camel] {
        let dir = tempfile::tempdir().unwrap();

        let social = dir.path().join("social/data.sqlite3");
        create_kiro_db(&social);
        put_auth(
            &social,
            "kirocli:social:token",
            &social_token(casing, "ok.s.0", LATER),
        );
        let c = adopt(&social).unwrap();
        assert_eq!(c.kind, Kind::KiroSocial, "{casing:?}");
        assert_eq!(c.refresh_token.as_ref().unwrap().expose(), "ok.s.0");
        assert_eq!(c.access_token.expose(), "at-for-ok.s.0");
        assert_eq!(c.expires_at, rfc3339::parse(LATER));
        assert_eq!(c.expires_at.unwrap().nanosecond(), 123_456_789);
        assert_eq!(
            c.region.as_deref(),
            Some("us-east-1"),
            "null region → default"
        );
        assert!(
            c.profile_arn
                .as_deref()
                .unwrap()
                .ends_with("profile/SOCIAL")
        );
        assert_eq!(
            c.source,
            SourceRef::KiroCli {
                db: social.clone(),
                key: "kirocli:social:token".into()
            }
        );

        let builder = dir.path().join("builder/data.sqlite3");
        create_kiro_db(&builder);
        put_auth(
            &builder,
            "kirocli:odic:token",
            &odic_token(casing, "ok.b.0", LATER, None),
        );
        put_auth(
            &builder,
            "kirocli:odic:device-registration",
            &registration(casing, "cid-b", REG_OK),
        );
        let c = adopt(&builder).unwrap();
        assert_eq!(c.kind, Kind::BuilderId, "{casing:?}");
        assert_eq!(c.client_id.as_deref(), Some("cid-b"));
        assert_eq!(
            c.client_secret.as_ref().unwrap().expose(),
            "secret-of-cid-b"
        );
        assert_eq!(c.region.as_deref(), Some("eu-central-1"));
        assert_eq!(c.registration_expires_at, rfc3339::parse(REG_OK));
        assert_eq!(c.scopes.len(), 2);

        let builder_url = dir.path().join("builder-url/data.sqlite3");
        create_kiro_db(&builder_url);
        put_auth(
            &builder_url,
            "kirocli:odic:token",
            &odic_token(
                casing,
                "ok.b.0",
                LATER,
                Some("https://view.awsapps.com/start/"),
            ),
        );
        put_auth(
            &builder_url,
            "kirocli:odic:device-registration",
            &registration(casing, "cid-b", REG_OK),
        );
        assert_eq!(adopt(&builder_url).unwrap().kind, Kind::BuilderId);

        let idc = dir.path().join("idc/data.sqlite3");
        create_kiro_db(&idc);
        put_auth(
            &idc,
            "kirocli:odic:token",
            &odic_token(
                casing,
                "ok.i.0",
                LATER,
                Some("https://my-org.awsapps.com/start"),
            ),
        );
        put_auth(
            &idc,
            "kirocli:odic:device-registration",
            &registration(casing, "cid-i", REG_OK),
        );
        put_state(
            &idc,
            "api.codewhisperer.profile",
            &json!({"arn": "arn:aws:codewhisperer:eu-central-1:1:profile/IDC", "profile_name": "x"}),
        );
        let c = adopt(&idc).unwrap();
        assert_eq!(c.kind, Kind::IdentityCenter, "{casing:?}");
        assert_eq!(
            c.start_url.as_deref(),
            Some("https://my-org.awsapps.com/start")
        );
        assert!(
            c.profile_arn.as_deref().unwrap().ends_with("profile/IDC"),
            "profile ARN from the state table"
        );

        let ext = dir.path().join("ext/data.sqlite3");
        create_kiro_db(&ext);
        put_auth(
            &ext,
            "kirocli:external-idp:token",
            &external_idp_token(casing, "ok.e.0", LATER, "http://127.0.0.1:9/oauth/token"),
        );
        let c = adopt(&ext).unwrap();
        assert_eq!(c.kind, Kind::ExternalIdp, "{casing:?}");
        assert_eq!(
            c.token_endpoint.as_deref(),
            Some("http://127.0.0.1:9/oauth/token")
        );
        assert_eq!(c.client_id.as_deref(), Some("external-client"));

        let legacy = dir.path().join("amazon-q/data.sqlite3");
        create_kiro_db(&legacy);
        put_auth(
            &legacy,
            "codewhisperer:odic:token",
            &odic_token(casing, "ok.l.0", LATER, None),
        );
        put_auth(
            &legacy,
            "codewhisperer:odic:device-registration",
            &registration(casing, "cid-l", REG_OK),
        );
        let c = adopt(&legacy).unwrap();
        assert_eq!(c.kind, Kind::BuilderId);
        assert_eq!(c.client_id.as_deref(), Some("cid-l"));
    }
}

#[test]
fn the_login_that_expires_last_wins_then_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = kiro_db_with_social_login(dir.path(), "ok.s.0", "2025-06-01T12:30:00Z");
    // same instant written with an offset and nine fraction digits, one ns later
    put_auth(
        &db,
        "kirocli:odic:token",
        &odic_token(
            Casing::Camel,
            "ok.o.0",
            "2025-06-01T14:30:00.000000001+02:00",
            None,
        ),
    );
    put_auth(
        &db,
        "kirocli:odic:device-registration",
        &registration(Casing::Snake, "cid", REG_OK),
    );
    put_auth(
        &db,
        "codewhisperer:odic:token",
        &odic_token(Casing::Snake, "ok.l.0", "2025-06-01T11:00:00Z", None),
    );
    assert_eq!(
        adopt(&db).unwrap().refresh_token.unwrap().expose(),
        "ok.o.0"
    );

    // a tie goes to the better key
    put_auth(
        &db,
        "kirocli:social:token",
        &social_token(Casing::Snake, "ok.s.0", "2025-06-01T12:30:00.000000001Z"),
    );
    assert_eq!(
        adopt(&db).unwrap().refresh_token.unwrap().expose(),
        "ok.s.0"
    );

    // a row with null tokens is no login at all
    put_auth(
        &db,
        "kirocli:social:token",
        &json!({"access_token": null, "refresh_token": null, "expires_at": "2030-01-01T00:00:00Z"}),
    );
    assert_eq!(
        adopt(&db).unwrap().refresh_token.unwrap().expose(),
        "ok.o.0"
    );
}

#[test]
fn locate_prefers_kiro_cli_then_amazon_q() {
    let home = tempfile::tempdir().unwrap();
    let found = kiro::locate(home.path());
    assert!(
        found.ends_with("kiro-cli/data.sqlite3"),
        "{}",
        found.display()
    );
    let all = kiro::candidates(home.path());
    assert!(all[1].ends_with("amazon-q/data.sqlite3"));
    create_kiro_db(&all[1]);
    assert_eq!(kiro::locate(home.path()), all[1]);
    create_kiro_db(&all[0]);
    assert_eq!(kiro::locate(home.path()), all[0]);
}

#[test]
fn a_read_holds_no_lock_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = kiro_db_with_social_login(dir.path(), "ok.s.0", LATER);
    let before = get_auth(&db, "kirocli:social:token");
    adopt(&db).unwrap();
    // kiro-cli can take a write lock at once
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;").unwrap();
    assert_eq!(get_auth(&db, "kirocli:social:token"), before);
}

#[test]
fn errors_are_clear_and_name_no_secret() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("nope/data.sqlite3");
    let err = adopt(&missing).unwrap_err();
    assert!(matches!(err, ImportError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nope/data.sqlite3"));
    assert!(!missing.exists(), "a read must not create the database");

    let foreign = dir.path().join("foreign.sqlite3");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let err = adopt(&foreign).unwrap_err();
    assert!(matches!(err, ImportError::UnknownSchema { .. }), "{err}");

    let garbage = dir.path().join("garbage.sqlite3");
    std::fs::write(&garbage, "this is not sqlite at all, not even close.........................................................").unwrap();
    let err = adopt(&garbage).unwrap_err();
    assert!(matches!(err, ImportError::UnknownSchema { .. }), "{err}");

    let bad_columns = dir.path().join("columns.sqlite3");
    rusqlite::Connection::open(&bad_columns)
        .unwrap()
        .execute_batch("CREATE TABLE auth_kv (k TEXT, v TEXT)")
        .unwrap();
    let err = adopt(&bad_columns).unwrap_err();
    assert!(matches!(err, ImportError::UnknownSchema { .. }), "{err}");

    let malformed = dir.path().join("malformed.sqlite3");
    create_kiro_db(&malformed);
    let conn = rusqlite::Connection::open(&malformed).unwrap();
    conn.execute(
        "INSERT INTO auth_kv VALUES ('kirocli:social:token', '{\"refresh_token\": \"sekrit-rt')",
        [],
    )
    .unwrap();
    let err = adopt(&malformed).unwrap_err();
    assert!(matches!(err, ImportError::Malformed { .. }), "{err}");
    assert!(!err.to_string().contains("sekrit"), "{err}");

    let empty = dir.path().join("empty.sqlite3");
    create_kiro_db(&empty);
    let err = adopt(&empty).unwrap_err();
    assert!(matches!(err, ImportError::NoLogin { .. }), "{err}");

    let expired = dir.path().join("expired.sqlite3");
    create_kiro_db(&expired);
    put_auth(
        &expired,
        "kirocli:odic:token",
        &odic_token(Casing::Snake, "ok.x.0", LATER, None),
    );
    put_auth(
        &expired,
        "kirocli:odic:device-registration",
        &registration(Casing::Snake, "cid", "2025-05-01T00:00:00Z"),
    );
    let err = adopt(&expired).unwrap_err();
    assert!(
        matches!(err, ImportError::RegistrationExpired { .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("secret-of-cid"));

    let no_registration = dir.path().join("noreg.sqlite3");
    create_kiro_db(&no_registration);
    put_auth(
        &no_registration,
        "kirocli:odic:token",
        &odic_token(Casing::Snake, "ok.x.0", LATER, None),
    );
    assert!(matches!(
        adopt(&no_registration).unwrap_err(),
        ImportError::Malformed { .. }
    ));
}

#[test]
fn a_locked_database_is_reported_not_waited_on_forever() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.sqlite3");
    // a rollback-journal database, where a writer's exclusive lock blocks readers
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE auth_kv (key TEXT PRIMARY KEY, value TEXT);")
        .unwrap();
    put_auth(
        &db,
        "kirocli:social:token",
        &social_token(Casing::Snake, "ok.s.0", LATER),
    );
    conn.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    let err = KiroDb::new(&db)
        .with_busy_timeout(Duration::from_millis(50))
        .read()
        .unwrap_err();
    assert!(matches!(err, ImportError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("try again"));
    conn.execute_batch("COMMIT;").unwrap();
    assert!(KiroDb::new(&db).read().is_ok());
}
