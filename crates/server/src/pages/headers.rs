//! Headers every page response carries: never cached (`no-store`), never
//! framed (`X-Frame-Options: DENY`, CSP `frame-ancestors 'none'`), no
//! `Referer` leaking codes in URLs, no MIME sniffing, and a CSP that allows
//! no script at all (the pages need none) and our own stylesheet only.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// The default policy: forms may post only to this server.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The policy of the consent page, whose form ends in a redirect to the
/// client (browsers apply `form-action` to redirects too).
pub fn csp_with_form_action(origin: &str) -> String {
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; \
         form-action 'self' {origin}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Adds the headers, keeping a CSP a handler already set.
pub async fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    response
}
