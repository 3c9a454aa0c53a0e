//! The guard's key handling against a JWKS it does not control: a token
//! signed with a key published after start verifies (an unknown `kid`
//! refetches at once), made-up `kid`s cannot make it fetch more than once
//! per `MIN_REFETCH`, and HMAC or `none` tokens never verify. The JWKS is
//! served from 127.0.0.1 by a stand-in whose content the test changes.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devauth_guard::Config;
use devauth_guard::jwks::Keys;
use devauth_guard::verify::{Rejection, Seen, verify};

const ISSUER: &str = "https://issuer.test";
const RESOURCE: &str = "https://tools.test/mcp";

struct Key {
    kid: String,
    pair: EcdsaKeyPair,
}

impl Key {
    fn new(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            pair: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        }
    }

    fn jwk(&self) -> serde_json::Value {
        // Uncompressed point: 0x04 || x || y.
        let point = self.pair.public_key().as_ref();
        serde_json::json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        })
    }

    fn token(&self, kid: &str, aud: &str) -> String {
        let der = self.pair.to_pkcs8v1().unwrap();
        let key = jsonwebtoken::EncodingKey::from_ec_der(der.as_ref());
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        // The time jsonwebtoken checks `exp` against.
        let now = jsonwebtoken::get_current_timestamp();
        let claims = serde_json::json!({
            "iss": ISSUER, "aud": aud, "sub": "alice", "scope": "mcp:tools",
            "iat": now, "exp": now + 600,
        });
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }
}

/// Serves `doc` as the JWKS; counts fetches.
fn jwks_server(doc: Arc<Mutex<String>>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap_or(0) == 0 || l.trim().is_empty() {
                    break;
                }
            }
            counted.fetch_add(1, Ordering::SeqCst);
            let body = doc.lock().unwrap().clone();
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, hits)
}

fn set(doc: &Mutex<String>, keys: &[&Key]) {
    let jwks = serde_json::json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() });
    *doc.lock().unwrap() = jwks.to_string();
}

#[tokio::test]
async fn a_key_published_after_start_verifies_and_made_up_kids_fetch_once() {
    let (a, b) = (Key::new("a"), Key::new("b"));
    let doc = Arc::new(Mutex::new(String::new()));
    set(&doc, &[&a]);
    let (url, hits) = jwks_server(doc.clone());
    let mut config = Config::new(ISSUER, RESOURCE, "http://127.0.0.1:9/mcp").unwrap();
    config.required_scopes = vec!["mcp:tools".into()];
    let keys = Keys::fetch(ISSUER, Some(&url), Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let bearer = |t: String| format!("Bearer {t}");

    let ok = verify(
        &keys,
        &config,
        &Seen::default(),
        Some(&bearer(a.token("a", RESOURCE))),
    )
    .await;
    assert_eq!(ok.unwrap().subject, "alice");

    // The issuer rotates: key b appears; a token signed with it verifies,
    // after one fetch.
    set(&doc, &[&a, &b]);
    let ok = verify(
        &keys,
        &config,
        &Seen::default(),
        Some(&bearer(b.token("b", RESOURCE))),
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Made-up kids: refused, and no fetch within MIN_REFETCH.
    for i in 0..20 {
        let r = verify(
            &keys,
            &config,
            &Seen::default(),
            Some(&bearer(a.token(&format!("bogus-{i}"), RESOURCE))),
        )
        .await;
        assert!(matches!(r, Err(Rejection::Invalid(_))), "{r:?}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // A kid that names key a but is signed by b: the signature decides.
    let r = verify(
        &keys,
        &config,
        &Seen::default(),
        Some(&bearer(b.token("a", RESOURCE))),
    )
    .await;
    assert_eq!(r, Err(Rejection::Invalid("the signature does not verify")));
    // Another audience.
    let r = verify(
        &keys,
        &config,
        &Seen::default(),
        Some(&bearer(a.token("a", "https://other.test"))),
    )
    .await;
    assert_eq!(
        r,
        Err(Rejection::Invalid("the token is for another resource"))
    );
}

#[tokio::test]
async fn hmac_and_unsigned_tokens_never_verify() {
    let a = Key::new("a");
    let doc = Arc::new(Mutex::new(String::new()));
    set(&doc, &[&a]);
    let (url, _) = jwks_server(doc);
    let config = Config::new(ISSUER, RESOURCE, "http://127.0.0.1:9/mcp").unwrap();
    let keys = Keys::fetch(ISSUER, Some(&url), Duration::from_secs(300))
        .await
        .unwrap();
    let claims =
        format!(r#"{{"iss":"{ISSUER}","aud":"{RESOURCE}","sub":"mallory","exp":9999999999}}"#);
    // HS256 keyed with the public JWK's text: the classic confusion attack.
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("a".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &serde_json::from_str::<serde_json::Value>(&claims).unwrap(),
        &jsonwebtoken::EncodingKey::from_secret(a.jwk().to_string().as_bytes()),
    )
    .unwrap();
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"a"}"#),
        URL_SAFE_NO_PAD.encode(&claims)
    );
    for t in [hs, none] {
        let r = verify(
            &keys,
            &config,
            &Seen::default(),
            Some(&format!("Bearer {t}")),
        )
        .await;
        assert!(matches!(r, Err(Rejection::Invalid(_))), "{r:?}");
    }
}
