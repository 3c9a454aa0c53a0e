//! Server-rendered verification pages: what a person uses in a real browser.
//!
//! | route | file |
//! |---|---|
//! | `GET /device` | [`device_show`]: code entry form, `?user_code=` pre-fills |
//! | `POST /device` | [`device_submit`]: checks the code, then login or confirm |
//! | `GET /device/confirm` | [`confirm_show`]: client, scopes, code, IP, user agent, age |
//! | `POST /device/confirm` | [`confirm_submit`]: `action=approve` / `action=deny` |
//! | `GET /login`, `POST /login` | [`login_show`], [`login_submit`] |
//! | `POST /logout` | [`logout`] |
//! | `GET /oauth/authorize`, `POST /oauth/authorize` | [`authorize_show`], [`authorize_submit`] (loopback + PKCE) |
//! | `GET /assets/devauth.css` | [`stylesheet`] |
//!
//! Invariants, kept by every handler:
//! * the pages work without JavaScript; forms use the contract's field names
//!   (`user_code`, `username`, `password`, `action`);
//! * every form post needs a live session and its CSRF token (constant-time
//!   compare) and, when the browser sends `Origin`, our own origin;
//! * code entry and login are rate limited per session and per IP
//!   ([`throttle`]); nothing tells an unknown code from an expired or used one;
//! * every response is `no-store`, unframeable and script-free ([`headers`]);
//! * bad input is a readable 400 page and an unreachable store a 503 page
//!   ([`error`]), never a bare 500 or a panic; no secret reaches a page or a log.
//!
//! The client IP comes from [`crate::client_addr`] (the TCP peer, or the
//! client a trusted proxy names): serve the router with connect info, as
//! [`crate::listener::serve`] does.

pub mod authorize_request;
pub mod authorize_show;
pub mod authorize_submit;
pub mod confirm_show;
pub mod confirm_submit;
pub mod device_code;
pub mod device_show;
pub mod device_submit;
pub mod error;
pub mod form;
pub mod headers;
pub mod home;
pub mod login_show;
pub mod login_submit;
pub mod logout;
pub mod redirect;
pub mod session;
pub mod stylesheet;
pub mod throttle;
pub mod view;

use axum::routing::{get, post};

use crate::state::AppState;

/// Routes of the HTML pages.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(home::handler))
        .route(
            "/device",
            get(device_show::handler).post(device_submit::handler),
        )
        .route(
            "/device/confirm",
            get(confirm_show::handler).post(confirm_submit::handler),
        )
        .route(
            "/login",
            get(login_show::handler).post(login_submit::handler),
        )
        .route("/logout", post(logout::handler))
        .route(
            "/oauth/authorize",
            get(authorize_show::handler).post(authorize_submit::handler),
        )
        .route("/assets/devauth.css", get(stylesheet::handler))
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::map_response(headers::secure))
}

async fn wrong_method() -> error::PageError {
    error::PageError::WrongMethod
}
