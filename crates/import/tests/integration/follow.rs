//! Follow and own modes against real fixture sources: our refresh lands in
//! kiro-cli's row (unknown fields kept), a login kiro-cli refreshed
//! meanwhile is used without a request, and a race is lost gracefully.

use devauth_testkit::fixtures;
use devauth_testkit::refresh_server;

use std::sync::Arc;
use std::time::Duration;

use crate::{REG_OK, now};
use devauth_import::follow::{self, Outcome, Refresher};
use devauth_import::kiro::{self, KiroDb};
use devauth_import::refresh::{Endpoints, Http};
use devauth_import::{Credential, Mode, aws_sso};
use fixtures::*;
use refresh_server::RefreshServer;

const SOON: &str = "2025-06-01T12:01:00Z";
const MIN_VALID: Duration = Duration::from_secs(300);

fn refresher(server: &RefreshServer) -> Refresher {
    Refresher {
        http: Http::new(Duration::from_secs(10)),
        endpoints: Endpoints {
            sso_oidc: Some(server.url()),
            kiro_auth: Some(server.url()),
        },
    }
}

fn adopt(db: &std::path::Path, mode: Mode) -> Credential {
    kiro::adopt(db, &KiroDb::new(db).read().unwrap(), mode, now()).unwrap()
}

#[test]
fn follow_writes_back_into_kiro_cli_keeping_unknown_fields_and_casing() {
    let server = RefreshServer::start(Duration::ZERO);
    for casing in [Casing::Snake, Casing::Camel] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data.sqlite3");
        create_kiro_db(&db);
        let id = format!("{casing:?}");
        put_auth(
            &db,
            "kirocli:odic:token",
            &odic_token(casing, &format!("ok.{id}.0"), SOON, None),
        );
        put_auth(
            &db,
            "kirocli:odic:device-registration",
            &registration(casing, "cid", REG_OK),
        );
        let reg_before = get_auth(&db, "kirocli:odic:device-registration");
        let cred = adopt(&db, Mode::Follow);

        let out = refresher(&server).step(&cred, now(), MIN_VALID).unwrap();
        let Outcome::Refreshed(new) = out else {
            panic!("expected a refresh")
        };
        assert_eq!(new.access_token.expose(), format!("at.{id}.1"));
        assert_eq!(
            new.refresh_token.as_ref().unwrap().expose(),
            format!("ok.{id}.1")
        );

        let row = get_auth(&db, "kirocli:odic:token").unwrap();
        let (at, rt, exp) = match casing {
            Casing::Snake => ("access_token", "refresh_token", "expires_at"),
            Casing::Camel => ("accessToken", "refreshToken", "expiresAt"),
        };
        assert_eq!(row[at], format!("at.{id}.1"), "{row}");
        assert_eq!(row[rt], format!("ok.{id}.1"));
        assert_eq!(row[exp], "2025-06-01T13:00:00Z");
        assert_eq!(
            row.as_object().unwrap().len(),
            8,
            "no field added or lost: {row}"
        );
        let key = if casing == Casing::Snake {
            "future_field"
        } else {
            "futureField"
        };
        assert_eq!(row[key], "kept");
        assert_eq!(
            get_auth(&db, "kirocli:odic:device-registration"),
            reg_before
        );

        // kiro-cli can still read what we wrote, and so can we
        let again = adopt(&db, Mode::Follow);
        assert_eq!(again.refresh_token, new.refresh_token);
    }
    assert_eq!(server.stats().reused, 0);
}

#[test]
fn a_row_kiro_cli_refreshed_meanwhile_is_used_without_a_request() {
    let server = RefreshServer::start(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let db = kiro_db_with_social_login(dir.path(), "ok.s.0", SOON);
    let cred = adopt(&db, Mode::Follow);
    // kiro-cli refreshes on its own
    put_auth(
        &db,
        "kirocli:social:token",
        &social_token(Casing::Snake, "ok.s.7", "2025-06-01T13:00:00Z"),
    );

    let out = refresher(&server).step(&cred, now(), MIN_VALID).unwrap();
    let Outcome::TookSource(theirs) = out else {
        panic!("expected kiro-cli's login")
    };
    assert_eq!(theirs.refresh_token.unwrap().expose(), "ok.s.7");
    assert_eq!(server.total(), 0, "no request when the source is fresher");
    assert_eq!(
        get_auth(&db, "kirocli:social:token").unwrap()["refresh_token"],
        "ok.s.7"
    );
}

#[test]
fn a_race_with_kiro_cli_keeps_kiro_clis_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = kiro_db_with_social_login(dir.path(), "ok.r.0", SOON);
    let cred = adopt(&db, Mode::Follow);
    // while our request is in flight, kiro-cli writes its own refresh
    let hook_db = db.clone();
    let server = RefreshServer::start_with_hook(Arc::new(move |_token: &str| {
        put_auth(
            &hook_db,
            "kirocli:social:token",
            &social_token(Casing::Snake, "theirs.r.9", "2025-06-01T13:00:00Z"),
        );
    }));
    let out = refresher(&server).step(&cred, now(), MIN_VALID).unwrap();
    let Outcome::TookSource(theirs) = out else {
        panic!("kiro-cli's write must win")
    };
    assert_eq!(theirs.refresh_token.unwrap().expose(), "theirs.r.9");
    let row = get_auth(&db, "kirocli:social:token").unwrap();
    assert_eq!(
        row["refresh_token"], "theirs.r.9",
        "our write must not clobber theirs"
    );
    assert_eq!(server.total(), 1);
}

#[test]
fn own_mode_never_touches_the_source() {
    let server = RefreshServer::start(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let db = kiro_db_with_social_login(dir.path(), "ok.o.0", SOON);
    let before = get_auth(&db, "kirocli:social:token");
    let cred = adopt(&db, Mode::Own);
    let out = refresher(&server).step(&cred, now(), MIN_VALID).unwrap();
    let Outcome::Refreshed(new) = out else {
        panic!()
    };
    assert_eq!(new.refresh_token.unwrap().expose(), "ok.o.1");
    assert!(
        new.profile_arn.unwrap().ends_with("/o"),
        "Kiro's new profileArn is kept"
    );
    assert_eq!(get_auth(&db, "kirocli:social:token"), before);
}

#[test]
fn aws_sso_follow_rewrites_the_cache_file_atomically() {
    use std::os::unix::fs::PermissionsExt;
    let server = RefreshServer::start(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let file = aws_cache_file(&cache, "corp", "ok.corp.0", SOON, REG_OK);
    aws_cache_file(&cache, "other", "ok.other.0", SOON, REG_OK);
    std::fs::write(
        cache.join("botocore-client-id-eu-west-1.json"),
        r#"{"clientId":"x","clientSecret":"y","expiresAt":"2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    std::fs::write(cache.join("broken.json"), "{").unwrap();

    let scan = aws_sso::scan(&cache).unwrap();
    assert_eq!(scan.entries.len(), 2, "registrations are not logins");
    assert_eq!(scan.skipped.len(), 1, "the broken file is reported");
    let entry = scan.entries.iter().find(|e| e.path == file).unwrap();
    let cred = entry.adopt(Mode::Follow, now()).unwrap();

    let out = refresher(&server).step(&cred, now(), MIN_VALID).unwrap();
    assert!(matches!(out, Outcome::Refreshed(_)));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["accessToken"], "at.corp.1");
    assert_eq!(doc["refreshToken"], "ok.corp.1");
    assert_eq!(doc["expiresAt"], "2025-06-01T13:00:00Z");
    assert_eq!(doc["cliField"], "kept");
    assert_eq!(doc["clientSecret"], "secret-corp");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let leftovers: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".devauth-"))
        .collect();
    assert!(leftovers.is_empty());

    // an expired registration cannot be adopted
    let old = aws_cache_file(&cache, "old", "ok.old.0", SOON, "2025-01-01T00:00:00Z");
    let entry = aws_sso::CacheEntry::read(&old).unwrap().unwrap();
    assert!(entry.adopt(Mode::Follow, now()).is_err());
}

#[test]
fn after_a_permanent_failure_the_source_is_read_once_for_a_new_login() {
    let server = RefreshServer::start(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let db = kiro_db_with_social_login(dir.path(), "perm.p.0", SOON);
    let cred = adopt(&db, Mode::Own);
    let err = refresher(&server)
        .step(&cred, now(), MIN_VALID)
        .unwrap_err();
    assert_eq!(err.class(), devauth_import::FailureClass::Permanent);
    assert!(
        follow::reread_after_failure(&cred, now())
            .unwrap()
            .is_none(),
        "same dead token"
    );
    // the person logs in again
    put_auth(
        &db,
        "kirocli:social:token",
        &social_token(Casing::Snake, "ok.p.0", "2025-06-01T13:00:00Z"),
    );
    let fresh = follow::reread_after_failure(&cred, now()).unwrap().unwrap();
    assert_eq!(fresh.refresh_token.unwrap().expose(), "ok.p.0");
    assert_eq!(fresh.mode, Mode::Own);
}
