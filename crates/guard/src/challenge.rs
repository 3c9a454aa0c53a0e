//! The answers a refused request gets (RFC 6750 §3, RFC 9728 §5.1):
//!
//! | rejection | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no token | 401 | `Bearer resource_metadata="…"` (+ `scope` when scopes are required) |
//! | invalid token | 401 | `Bearer error="invalid_token", error_description="…", resource_metadata="…"` |
//! | missing scope | 403 | `Bearer error="insufficient_scope", scope="…", resource_metadata="…"` |
//!
//! An MCP client follows `resource_metadata` to this resource's metadata,
//! and from there to the authorization server.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::Config;
use crate::verify::Rejection;

/// The response for `rejection`.
pub fn response(config: &Config, rejection: &Rejection) -> Response {
    let mut params = Vec::new();
    let status = match rejection {
        Rejection::Missing => StatusCode::UNAUTHORIZED,
        Rejection::Invalid(why) => {
            params.push(r#"error="invalid_token""#.to_owned());
            params.push(format!(r#"error_description="{why}""#));
            StatusCode::UNAUTHORIZED
        }
        Rejection::InsufficientScope => {
            params.push(r#"error="insufficient_scope""#.to_owned());
            StatusCode::FORBIDDEN
        }
    };
    if !config.required_scopes.is_empty() {
        params.push(format!(r#"scope="{}""#, config.required_scopes.join(" ")));
    }
    params.push(format!(r#"resource_metadata="{}""#, config.metadata_url()));
    let value = format!("Bearer {}", params.join(", "));
    let mut resp = (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({
            "error": match rejection {
                Rejection::Missing => "unauthorized",
                Rejection::Invalid(_) => "invalid_token",
                Rejection::InsufficientScope => "insufficient_scope",
            },
            "resource_metadata": config.metadata_url(),
        })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_name_the_metadata_and_the_scope() {
        let mut c = Config::new(
            "https://auth.example.com",
            "https://tools.example.com/mcp",
            "http://127.0.0.1:3000/mcp",
        )
        .unwrap();
        let r = response(&c, &Rejection::Missing);
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer resource_metadata="https://tools.example.com/.well-known/oauth-protected-resource/mcp""#
        );
        c.required_scopes = vec!["mcp:tools".into()];
        let r = response(&c, &Rejection::InsufficientScope);
        assert_eq!(r.status(), 403);
        let v = r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(v.contains(r#"error="insufficient_scope""#) && v.contains(r#"scope="mcp:tools""#));
    }
}
