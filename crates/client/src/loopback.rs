//! `devauth login --web`: the authorization code grant with PKCE S256 on a
//! loopback redirect (RFC 8252 §7.3, RFC 7636).
//!
//! [`Loopback::prepare`] binds `127.0.0.1` on an ephemeral port and builds
//! the authorization URL with a fresh `state` and code verifier;
//! [`Loopback::finish`] serves the one redirect, checks `state` in constant
//! time, and exchanges the code. Only `GET /callback` is answered; anything
//! else gets 404 and waiting goes on.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use devauth_proto::token::TokenResponse;
use devauth_proto::{ErrorCode, Secret, pkce};
use subtle::ConstantTimeEq as _;

use crate::Error;
use crate::clock::Sleeper;
use crate::http::{ClientAuth, Http, OAuthReply};

/// A prepared browser login: listening, URL ready.
#[derive(Debug)]
pub struct Loopback {
    listener: TcpListener,
    redirect_uri: String,
    url: String,
    state: Secret,
    verifier: Secret,
    resource: Option<String>,
}

fn random_b64(n: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::Loopback(format!("no randomness available ({e})")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

impl Loopback {
    /// Binds the redirect listener and builds the authorization URL.
    pub fn prepare(
        authorization_endpoint: &str,
        client_id: &str,
        scope: &str,
    ) -> Result<Self, Error> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Error::Loopback(format!("cannot listen on 127.0.0.1 ({e})")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Loopback(e.to_string()))?
            .port();
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw)
            .map_err(|e| Error::Loopback(format!("no randomness available ({e})")))?;
        let verifier = pkce::verifier_from_random(&raw);
        let state = Secret::new(random_b64(16)?);
        let mut url = url::Url::parse(authorization_endpoint).map_err(|e| Error::BadUrl {
            url: authorization_endpoint.to_owned(),
            detail: e.to_string(),
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", state.expose())
            .append_pair("code_challenge", &pkce::challenge_s256(verifier.expose()))
            .append_pair("code_challenge_method", pkce::S256);
        if scope.split(' ').any(|s| s == "offline_access") {
            // OIDC Core §11: offline_access needs an explicit consent prompt,
            // or providers drop it and issue no refresh token.
            url.query_pairs_mut().append_pair("prompt", "consent");
        }
        Ok(Self {
            listener,
            redirect_uri,
            url: url.into(),
            state,
            verifier,
            resource: None,
        })
    }

    /// Asks for a token for `resource` (RFC 8707), in the authorization
    /// request and again in the code exchange.
    #[must_use]
    pub fn for_resource(mut self, resource: &str) -> Self {
        if let Ok(mut url) = url::Url::parse(&self.url) {
            url.query_pairs_mut().append_pair("resource", resource);
            self.url = url.into();
        }
        self.resource = Some(resource.to_owned());
        self
    }

    /// The URL to open in the browser.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The redirect URI registered in the request.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits (up to `timeout`) for the browser to come back, then exchanges the code.
    pub fn finish(
        self,
        http: &Http,
        token_endpoint: &str,
        client_id: &str,
        sleeper: &dyn Sleeper,
        timeout: Duration,
    ) -> Result<TokenResponse, Error> {
        let code = self.wait_for_code(sleeper, timeout)?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", self.verifier.expose()),
        ];
        if let Some(r) = &self.resource {
            form.push(("resource", r));
        }
        match http.post_oauth::<TokenResponse>(
            token_endpoint,
            ClientAuth::Public(client_id),
            &form,
        )? {
            OAuthReply::Ok(t) => Ok(t),
            OAuthReply::Err(e) => Err(Error::oauth(e)),
        }
    }

    fn wait_for_code(&self, sleeper: &dyn Sleeper, timeout: Duration) -> Result<Secret, Error> {
        self.listener
            .set_nonblocking(true)
            .map_err(|e| Error::Loopback(e.to_string()))?;
        let slice = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Some(result) = self.handle(stream) {
                        return result;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if waited >= timeout {
                        return Err(Error::Loopback(
                            "the browser did not come back in time".into(),
                        ));
                    }
                    sleeper.sleep(slice).map_err(|_| Error::Cancelled)?;
                    waited += slice;
                }
                Err(e) => return Err(Error::Loopback(e.to_string())),
            }
        }
    }

    /// Serves one request; `None` to keep waiting.
    fn handle(&self, mut stream: TcpStream) -> Option<Result<Secret, Error>> {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut line = String::new();
        BufReader::new(&stream)
            .take(8192)
            .read_line(&mut line)
            .ok()?;
        let target = line.split(' ').nth(1).unwrap_or("/");
        let parsed = url::Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
        if parsed.path() != "/callback" {
            let _ = respond(&mut stream, "404 Not Found", "Not found.");
            return None;
        }
        let get = |k: &str| {
            parsed
                .query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        let state_ok = get("state")
            .is_some_and(|s| bool::from(s.as_bytes().ct_eq(self.state.expose().as_bytes())));
        if !state_ok {
            let _ = respond(
                &mut stream,
                "400 Bad Request",
                "This login link is not the one devauth started. Close this tab.",
            );
            return Some(Err(Error::Loopback(
                "the state parameter did not match".into(),
            )));
        }
        if let Some(err) = get("error") {
            let _ = respond(
                &mut stream,
                "200 OK",
                "Login cancelled. You can close this tab.",
            );
            return Some(Err(if ErrorCode::parse(&err) == ErrorCode::AccessDenied {
                Error::Denied
            } else {
                Error::Loopback(format!(
                    "the server answered {}",
                    crate::safe_text::sanitize(&err)
                ))
            }));
        }
        match get("code") {
            Some(code) => {
                let _ = respond(
                    &mut stream,
                    "200 OK",
                    "Logged in. You can close this tab and return to the terminal.",
                );
                Some(Ok(Secret::new(code)))
            }
            None => {
                let _ = respond(&mut stream, "400 Bad Request", "No code in the redirect.");
                Some(Err(Error::Loopback("the redirect carried no code".into())))
            }
        }
    }
}

use std::io::Read as _;

fn respond(stream: &mut TcpStream, status: &str, text: &str) -> std::io::Result<()> {
    let body = format!("<!doctype html><meta charset=utf-8><title>devauth</title><p>{text}</p>");
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ThreadSleeper;

    fn get(url: &str) -> String {
        let u = url::Url::parse(url).unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", u.port().unwrap())).unwrap();
        let target = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        };
        write!(s, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    fn state_of(lb: &Loopback) -> String {
        url::Url::parse(lb.url())
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned()
    }

    #[test]
    fn url_has_pkce_and_state() {
        let lb = Loopback::prepare("https://id.example/authorize", "cli", "openid").unwrap();
        let u = url::Url::parse(lb.url()).unwrap();
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(
            q["code_challenge"],
            pkce::challenge_s256(lb.verifier.expose())
        );
        assert_eq!(q["redirect_uri"], lb.redirect_uri());
        assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"));
        assert!(q["state"].len() >= 22);
        assert!(!q.contains_key("prompt"));
        let lb = Loopback::prepare("https://id.example/a", "cli", "openid offline_access").unwrap();
        assert!(lb.url().contains("prompt=consent"));
    }

    #[test]
    fn code_is_returned_only_with_the_right_state() {
        let lb = Loopback::prepare("https://id.example/authorize", "cli", "openid").unwrap();
        let base = lb.redirect_uri().to_owned();
        let state = state_of(&lb);
        let t = std::thread::spawn(move || {
            assert!(get(&format!("{base}/../favicon.ico")).contains("404"));
            get(&format!("{base}?code=c1&state={state}"))
        });
        let code = lb
            .wait_for_code(&ThreadSleeper::default(), Duration::from_secs(20))
            .unwrap();
        assert_eq!(code.expose(), "c1");
        assert!(t.join().unwrap().contains("Logged in"));

        let lb = Loopback::prepare("https://id.example/authorize", "cli", "openid").unwrap();
        let base = lb.redirect_uri().to_owned();
        let t = std::thread::spawn(move || get(&format!("{base}?code=c1&state=forged")));
        let err = lb
            .wait_for_code(&ThreadSleeper::default(), Duration::from_secs(20))
            .unwrap_err();
        assert!(matches!(err, Error::Loopback(_)));
        assert!(t.join().unwrap().contains("400"));
    }

    #[test]
    fn denial_in_the_browser_is_denied() {
        let lb = Loopback::prepare("https://id.example/authorize", "cli", "openid").unwrap();
        let base = lb.redirect_uri().to_owned();
        let state = state_of(&lb);
        let t =
            std::thread::spawn(move || get(&format!("{base}?error=access_denied&state={state}")));
        let err = lb
            .wait_for_code(&ThreadSleeper::default(), Duration::from_secs(20))
            .unwrap_err();
        assert!(matches!(err, Error::Denied));
        t.join().unwrap();
    }
}
