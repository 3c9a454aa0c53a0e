//! The three refresh wire formats against a local server: success, rotation,
//! and every failure class.

use devauth_testkit::refresh_server;

use std::path::PathBuf;
use std::time::Duration;

use crate::now;
use devauth_import::refresh::{self, Endpoints, Http};
use devauth_import::{Credential, FailureClass, Kind, Mode, SourceRef, rfc3339};
use devauth_proto::Secret;
use refresh_server::RefreshServer;

fn cred(kind: Kind, refresh: &str, server: &str) -> Credential {
    Credential {
        kind,
        mode: Mode::Own,
        source: SourceRef::AwsSso {
            file: PathBuf::from("/nonexistent"),
        },
        access_token: Secret::new("old-at"),
        refresh_token: Some(Secret::new(refresh)),
        expires_at: Some(now()),
        region: Some("eu-west-1".into()),
        start_url: None,
        client_id: Some("cid".into()),
        client_secret: Some(Secret::new("csecret")),
        registration_expires_at: rfc3339::parse("2026-01-01T00:00:00Z"),
        token_endpoint: Some(format!("{server}/oauth/token")),
        profile_arn: None,
        scopes: vec!["openid".into()],
    }
}

fn endpoints(server: &RefreshServer) -> Endpoints {
    Endpoints {
        sso_oidc: Some(server.url()),
        kiro_auth: Some(format!("{}/", server.url())),
    }
}

const KINDS: [Kind; 5] = [
    Kind::KiroSocial,
    Kind::BuilderId,
    Kind::IdentityCenter,
    Kind::AwsSso,
    Kind::ExternalIdp,
];

#[test]
fn default_endpoints_follow_each_tool() {
    let e = Endpoints::default();
    assert_eq!(
        e.create_token_url("eu-west-1").unwrap(),
        "https://oidc.eu-west-1.amazonaws.com/token"
    );
    // The region comes from another tool's files: it may not steer the
    // refresh token to another host.
    let err = e.create_token_url("eu-west-1.evil.example/x").unwrap_err();
    assert_eq!(err.class, FailureClass::Permanent);
    // Nor may the endpoint variable send it over plain HTTP off this machine.
    let plain = Endpoints {
        sso_oidc: Some("http://sso.example".into()),
        kiro_auth: None,
    };
    assert_eq!(
        plain.create_token_url("eu-west-1").unwrap_err().class,
        FailureClass::Permanent
    );
    let plain = Endpoints {
        sso_oidc: None,
        kiro_auth: Some("http://kiro.example".into()),
    };
    assert_eq!(
        plain.kiro_refresh_url("us-east-1").unwrap_err().class,
        FailureClass::Permanent
    );
    assert_eq!(
        e.kiro_refresh_url("us-east-1").unwrap(),
        "https://prod.us-east-1.auth.desktop.kiro.dev/refreshToken"
    );
    assert_eq!(
        e.kiro_refresh_url("us-east-1.attacker.example#")
            .unwrap_err()
            .class,
        FailureClass::Permanent
    );
}

#[test]
fn every_kind_refreshes_and_rotates() {
    let server = RefreshServer::start(Duration::ZERO);
    let http = Http::new(Duration::from_secs(10));
    for (i, kind) in KINDS.into_iter().enumerate() {
        let c = cred(kind, &format!("ok.k{i}.0"), &server.url());
        let r = refresh::refresh(&c, &http, &endpoints(&server), now()).unwrap();
        assert_eq!(r.access_token.expose(), format!("at.k{i}.1"), "{kind:?}");
        assert_eq!(
            r.refresh_token.as_ref().unwrap().expose(),
            format!("ok.k{i}.1")
        );
        assert_eq!(r.expires_at, Some(now() + time::Duration::hours(1)));
        assert_eq!(r.profile_arn.is_some(), kind == Kind::KiroSocial);
        // the old refresh token is spent
        let again = refresh::refresh(&c, &http, &endpoints(&server), now()).unwrap_err();
        assert_eq!(again.class, FailureClass::Permanent, "{kind:?}");
    }
    let stats = server.stats();
    assert_eq!(
        stats.malformed, 0,
        "every request had its wire format's fields"
    );
    assert_eq!(stats.by_path["/token"], 6);
    assert_eq!(stats.by_path["/refreshToken"], 2);
    assert_eq!(stats.by_path["/oauth/token"], 2);
    assert!(stats.client_ids.contains("cid"));
}

#[test]
fn an_absent_refresh_token_keeps_the_old_one() {
    let server = RefreshServer::start(Duration::ZERO);
    let http = Http::default();
    let c = cred(Kind::AwsSso, "norot.n.0", &server.url());
    let r = refresh::refresh(&c, &http, &endpoints(&server), now()).unwrap();
    assert!(r.refresh_token.is_none());
    let applied = r.apply(&c);
    assert_eq!(applied.refresh_token.unwrap().expose(), "norot.n.0");
    assert_eq!(applied.access_token.expose(), "at.n.1");
}

#[test]
fn failures_are_classified() {
    let server = RefreshServer::start(Duration::ZERO);
    let http = Http::new(Duration::from_secs(10));
    for kind in KINDS {
        for (token, want) in [
            ("perm", FailureClass::Permanent),
            ("exp", FailureClass::Permanent),
            ("client", FailureClass::Permanent),
            ("temp1", FailureClass::Temporary),
            ("slow1", FailureClass::Temporary),
            ("throttle1", FailureClass::Temporary),
        ] {
            let rt = format!("{token}.{kind:?}{token}.0");
            let c = cred(kind, &rt, &server.url());
            let err = refresh::refresh(&c, &http, &endpoints(&server), now()).unwrap_err();
            assert_eq!(err.class, want, "{kind:?} {token}: {err}");
            assert!(!err.to_string().contains(&rt), "no token in {err}");
            assert!(!err.to_string().contains("csecret"));
        }
    }
    // a rejected Kiro refresh token has no OAuth code, only a 401
    let c = cred(Kind::KiroSocial, "perm.kr.0", &server.url());
    let err = refresh::refresh(&c, &http, &endpoints(&server), now()).unwrap_err();
    assert!(err.reason.contains("Kiro rejected"), "{err}");
    // CreateToken names the AWS error
    let c = cred(Kind::BuilderId, "exp.aws.0", &server.url());
    let err = refresh::refresh(&c, &http, &endpoints(&server), now()).unwrap_err();
    assert!(err.reason.contains("expired_token"), "{err}");
    // 429 carries Retry-After
    let c = cred(Kind::AwsSso, "throttle1.ra.0", &server.url());
    let err = refresh::refresh(&c, &http, &endpoints(&server), now()).unwrap_err();
    assert_eq!(err.retry_after, Some(Duration::from_secs(1)));
}

#[test]
fn network_failures_are_temporary() {
    // a port nobody listens on
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = Endpoints {
        sso_oidc: Some(format!("http://127.0.0.1:{port}")),
        kiro_auth: Some(format!("http://127.0.0.1:{port}")),
    };
    let http = Http::new(Duration::from_secs(5));
    for kind in KINDS {
        let c = cred(kind, "ok.n.0", &format!("http://127.0.0.1:{port}"));
        let err = refresh::refresh(&c, &http, &dead, now()).unwrap_err();
        assert_eq!(err.class, FailureClass::Temporary, "{kind:?}: {err}");
    }

    // a server that accepts and never answers: a timeout
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let http = Http::new(Duration::from_millis(300));
    let c = cred(Kind::AwsSso, "ok.t.0", &url);
    let err = refresh::refresh(
        &c,
        &http,
        &Endpoints {
            sso_oidc: Some(url.clone()),
            kiro_auth: None,
        },
        now(),
    )
    .unwrap_err();
    assert_eq!(err.class, FailureClass::Temporary, "{err}");
    drop(silent);
}

#[test]
fn an_expired_registration_fails_permanently_without_a_request() {
    let server = RefreshServer::start(Duration::ZERO);
    let mut c = cred(Kind::IdentityCenter, "ok.r.0", &server.url());
    c.registration_expires_at = Some(now() - time::Duration::seconds(1));
    let err = refresh::refresh(&c, &Http::default(), &endpoints(&server), now()).unwrap_err();
    assert_eq!(err.class, FailureClass::Permanent);
    assert!(err.reason.contains("registration"));
    let mut c = cred(Kind::AwsSso, "ok.r.0", &server.url());
    c.refresh_token = None;
    let err = refresh::refresh(&c, &Http::default(), &endpoints(&server), now()).unwrap_err();
    assert_eq!(err.class, FailureClass::Permanent);
    for kind in [Kind::BuilderId, Kind::KiroSocial] {
        let mut c = cred(kind, "ok.r.0", &server.url());
        c.region = Some("us-east-1.attacker.example#".into());
        let err = refresh::refresh(&c, &Http::default(), &Endpoints::default(), now()).unwrap_err();
        assert_eq!(err.class, FailureClass::Permanent, "{kind:?}: {err}");
        assert!(err.reason.contains("region"), "{kind:?}: {err}");
    }
    assert_eq!(server.total(), 0);
}
