//! The HTTP client: one ureq agent, OAuth replies read whatever the status.
//!
//! The agent is built with `http_status_as_error(false)`, so a 400 carrying an
//! RFC 6749 §5.2 JSON error is read like any other reply (ureq#997). Transport
//! failures are sorted once, here: TLS problems become [`Error::Tls`] (never
//! retried), everything else on the wire becomes [`Error::Unreachable`].
//!
//! Building an [`Http`] is cheap but not free; the token fast path never
//! builds one.

use std::time::Duration;

use devauth_proto::ErrorResponse;
use serde::de::DeserializeOwned;

use crate::Error;

/// A reply from an OAuth endpoint: success or an RFC 6749 §5.2 error.
#[derive(Debug)]
pub enum OAuthReply<T> {
    /// A 2xx reply, parsed.
    Ok(T),
    /// An error reply.
    Err(ErrorResponse),
}

/// A reply from a JSON API that is not OAuth-shaped (AWS SSO OIDC): the
/// status, the AWS error type header when present, and the body text.
#[derive(Debug)]
pub struct JsonReply {
    /// The HTTP status.
    pub status: u16,
    /// `x-amzn-ErrorType`, the exception name AWS puts in a header.
    pub error_type: Option<String>,
    /// The body (at most `Http::MAX_BODY` bytes).
    pub body: String,
}

/// Client authentication for a confidential client.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// A public client: `client_id` in the form.
    Public(&'a str),
    /// `client_secret_basic` (RFC 6749 §2.3.1).
    Basic(&'a str, &'a devauth_proto::Secret),
    /// `client_secret_post`.
    Post(&'a str, &'a devauth_proto::Secret),
}

/// The blocking HTTP client.
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    /// Largest body read from a server.
    const MAX_BODY: u64 = 1 << 20;

    /// A client with sane timeouts (10 s to connect, 30 s per request).
    pub fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent(concat!("devauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent }
    }

    /// GETs a JSON document; a non-2xx status is an error carrying the status.
    pub fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, Error> {
        let mut resp = self
            .agent
            .get(url)
            .header("Accept", "application/json")
            .call()
            .map_err(|e| transport(url, e))?;
        let status = resp.status().as_u16();
        tracing::debug!(target: "devauth::http", method = "GET", url, status);
        let body = read_body(url, status, resp.body_mut())?;
        if !(200..300).contains(&status) {
            return Err(Error::BadResponse {
                url: url.to_owned(),
                status,
                detail: "an error".into(),
            });
        }
        serde_json::from_str(&body).map_err(|e| not_json(url, status, &e))
    }

    /// POSTs a form to an OAuth endpoint and reads the JSON reply.
    pub fn post_oauth<T: DeserializeOwned>(
        &self,
        url: &str,
        auth: ClientAuth<'_>,
        form: &[(&str, &str)],
    ) -> Result<OAuthReply<T>, Error> {
        // Only the grant type is logged from the form: every other field may be a secret.
        let grant_type = form
            .iter()
            .find(|(k, _)| *k == "grant_type")
            .map(|(_, v)| *v);
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.agent.post(url).header("Accept", "application/json");
        match auth {
            ClientAuth::Public(id) => fields.push(("client_id", id)),
            ClientAuth::Post(id, secret) => {
                fields.push(("client_id", id));
                fields.push(("client_secret", secret.expose()));
            }
            ClientAuth::Basic(id, secret) => {
                req = req.header("Authorization", basic_header(id, secret.expose()));
            }
        }
        let mut resp = req.send_form(fields).map_err(|e| {
            tracing::debug!(target: "devauth::http", method = "POST", url, grant_type, error = %e, "no answer");
            transport(url, e)
        })?;
        let status = resp.status().as_u16();
        let body = read_body(url, status, resp.body_mut())?;
        if (200..300).contains(&status) {
            tracing::debug!(target: "devauth::http", method = "POST", url, grant_type, status);
            let value: serde_json::Value =
                serde_json::from_str(&body).map_err(|e| not_json(url, status, &e))?;
            // Some providers (GitHub) answer OAuth errors with 200: an
            // `error` member and no `access_token` is an error, whatever the
            // status, and is read like any other error below.
            if value.get("error").is_none() || value.get("access_token").is_some() {
                return serde_json::from_value(value)
                    .map(OAuthReply::Ok)
                    .map_err(|e| not_json(url, status, &e));
            }
        }
        match serde_json::from_str::<ErrorResponse>(&body) {
            Ok(err) => {
                tracing::debug!(
                    target: "devauth::http",
                    method = "POST",
                    url,
                    grant_type,
                    status,
                    error = err.error.as_str(),
                );
                Ok(OAuthReply::Err(err))
            }
            Err(_) => Err(Error::BadResponse {
                url: url.to_owned(),
                status,
                detail: "no OAuth error body".into(),
            }),
        }
    }

    /// POSTs a JSON body and returns the reply whatever its status. Only the
    /// URL and the status are logged: the body carries secrets both ways.
    pub fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<JsonReply, Error> {
        let mut resp = self
            .agent
            .post(url)
            .header("Accept", "application/json")
            .send_json(body)
            .map_err(|e| {
                tracing::debug!(target: "devauth::http", method = "POST", url, error = %e, "no answer");
                transport(url, e)
            })?;
        let status = resp.status().as_u16();
        tracing::debug!(target: "devauth::http", method = "POST", url, status);
        let error_type = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_body(url, status, resp.body_mut())?;
        Ok(JsonReply {
            status,
            error_type,
            body,
        })
    }

    /// Sends an MCP `initialize` without a token to `url` and returns the
    /// `WWW-Authenticate` of a 401 (`None` for any other answer): how an
    /// MCP server says where to log in.
    pub fn probe_bearer(&self, url: &str) -> Result<Option<String>, Error> {
        let body = serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "devauth", "version": env!("CARGO_PKG_VERSION")},
            },
        });
        let mut resp = self
            .agent
            .post(url)
            .header("Accept", "application/json, text/event-stream")
            .send_json(&body)
            .map_err(|e| transport(url, e))?;
        let status = resp.status().as_u16();
        tracing::debug!(target: "devauth::http", method = "POST", url, status, "probe");
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let _ = read_body(url, status, resp.body_mut());
        Ok(if status == 401 { challenge } else { None })
    }

    /// POSTs an empty body with a secret in one header (AWS's portal
    /// `Logout`) and returns the status.
    pub fn post_with_header(
        &self,
        url: &str,
        header: &str,
        secret: &devauth_proto::Secret,
    ) -> Result<u16, Error> {
        let mut resp = self
            .agent
            .post(url)
            .header(header, secret.expose())
            .send_empty()
            .map_err(|e| transport(url, e))?;
        let status = resp.status().as_u16();
        tracing::debug!(target: "devauth::http", method = "POST", url, status);
        let _ = read_body(url, status, resp.body_mut());
        Ok(status)
    }

    /// POSTs a form and returns only the status (RFC 7009 revocation).
    pub fn post_status(
        &self,
        url: &str,
        auth: ClientAuth<'_>,
        form: &[(&str, &str)],
    ) -> Result<(u16, Option<ErrorResponse>), Error> {
        match self.post_oauth::<serde_json::Value>(url, auth, form) {
            Ok(OAuthReply::Ok(_)) => Ok((200, None)),
            Ok(OAuthReply::Err(e)) => Ok((400, Some(e))),
            // RFC 7009 §2.2: the body of a 200 is ignored; it may be empty.
            Err(Error::BadResponse { status, .. }) if (200..300).contains(&status) => {
                Ok((status, None))
            }
            Err(e) => Err(e),
        }
    }
}

fn read_body(url: &str, status: u16, body: &mut ureq::Body) -> Result<String, Error> {
    body.with_config()
        .limit(Http::MAX_BODY)
        .read_to_string()
        .map_err(|e| match transport(url, e) {
            Error::Unreachable { url, detail } => Error::BadResponse {
                url,
                status,
                detail: format!("an unreadable body ({detail})"),
            },
            other => other,
        })
}

fn not_json(url: &str, status: u16, e: &serde_json::Error) -> Error {
    // Only the position: serde's message may quote a value, and values are tokens.
    Error::BadResponse {
        url: url.to_owned(),
        status,
        detail: format!(
            "a body that is not the expected JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
    }
}

fn basic_header(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    // RFC 6749 §2.3.1: form-urlencode each part before joining.
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Whether the TLS handshake failed because the first bytes were no TLS
/// record (rustls's `InvalidContentType`): the server speaks plain HTTP on
/// that port. rustls's error comes either as itself or inside the I/O error
/// of the TLS stream.
fn answered_plain_http(e: &ureq::Error) -> bool {
    use rustls::{Error as TlsError, InvalidMessage};
    let tls = match e {
        ureq::Error::Rustls(t) => Some(t),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<TlsError>()),
        _ => None,
    };
    matches!(
        tls,
        Some(TlsError::InvalidMessage(InvalidMessage::InvalidContentType))
    )
}

/// Sorts a ureq error into TLS (fail fast) or network (retryable).
fn transport(url: &str, e: ureq::Error) -> Error {
    if url.starts_with("https://") && answered_plain_http(&e) {
        return Error::PlainHttp {
            url: url.to_owned(),
            plain: format!("http://{}", &url["https://".len()..]),
        };
    }
    let url = url.to_owned();
    match e {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => Error::Tls {
            url,
            detail: e.to_string(),
        },
        ureq::Error::TlsRequired => Error::Tls {
            url,
            detail: "the server did not speak TLS".into(),
        },
        ureq::Error::Io(ref io) if io.kind() == std::io::ErrorKind::InvalidData => Error::Tls {
            url,
            detail: e.to_string(),
        },
        ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::RequireHttpsOnly(_) => {
            Error::BadUrl {
                url,
                detail: e.to_string(),
            }
        }
        other => Error::Unreachable {
            url,
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_encodes_parts() {
        // RFC 6749 §2.3.1 + RFC 7617: "a b:c:d" → "a+b:c%3Ad"
        assert_eq!(basic_header("a b", "c:d"), "Basic YStiOmMlM0Fk");
    }

    #[test]
    fn https_to_a_plain_http_server_says_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            use std::io::{Read as _, Write as _};
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            }
        });
        let err = Http::new()
            .get_json::<serde_json::Value>(&format!("https://127.0.0.1:{port}/x"))
            .unwrap_err();
        assert!(matches!(err, Error::PlainHttp { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains(&format!("did you mean http://127.0.0.1:{port}/x"))
        );
        assert_eq!(err.kind(), crate::ErrorKind::Usage);
    }

    #[test]
    fn refused_connection_is_unreachable() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = Http::new()
            .get_json::<serde_json::Value>(&format!("http://127.0.0.1:{port}/x"))
            .unwrap_err();
        assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
        assert!(err.is_transient());
    }
}
