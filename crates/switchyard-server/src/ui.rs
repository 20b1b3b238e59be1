//! The admin web UI, served by the gateway itself under `/ui` (LiteLLM's path,
//! <https://docs.litellm.ai/docs/proxy/ui>; its login takes the master key, as LiteLLM's does
//! when `UI_PASSWORD` is unset): a page, its script and style
//! sheet embedded in the binary at build time ([`assets`]); a login that trades the master
//! key for a session ([`session`]); and `/ui/api/...`, the admin API (the same routes as
//! `/key/generate`, `/spend/logs`, ...) plus the UI's own views ([`config_view`],
//! [`overview`]), authorized by the session cookie together with its CSRF token, never by a
//! key.
//!
//! CSRF: the cookie is `SameSite=Strict` (a browser never sends it with a request another
//! site starts), every `/ui/api` call must also carry the session's CSRF token in a header
//! (which a cross-site form cannot set, and a cross-site script cannot read, CORS never
//! allowing credentials), and a request whose `Origin` names another host is refused. The
//! session cookie's path is `/ui`, so the admin API at its usual paths never sees it.

mod assets;
mod config_view;
mod overview;
mod session;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use serde::Deserialize;
use serde_json::json;

pub use session::{CSRF_HEADER, Sessions};

use crate::body::JsonBody;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::live::Live;

/// The UI's routes; `admin` is the admin API, served again under `/ui/api` for sessions.
pub fn routes(live: Live, admin: Router<Live>) -> Router<Live> {
    let api = admin
        .route("/config", get(config_view::show))
        .route("/overview", get(overview::show))
        .route_layer(from_fn_with_state(live, require_session));
    Router::new()
        .route("/ui", get(assets::page))
        .route("/ui/", get(assets::page))
        .route("/ui/app.js", get(assets::script))
        .route("/ui/app.css", get(assets::style))
        .route("/ui/login", post(login))
        .route("/ui/session", get(current_session))
        .route("/ui/logout", post(logout))
        .nest("/ui/api", api)
}

/// The body of `POST /ui/login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    master_key: String,
}

/// `POST /ui/login` with `{"master_key": "..."}` (JSON only: a cross-site form cannot send
/// it): opens a session and answers `{"csrf_token"}` with the session cookie. A wrong key is
/// 401; a gateway without a master key has no admin UI (403).
async fn login(
    State(live): State<Live>,
    uri: Uri,
    headers: HeaderMap,
    JsonBody(Login { master_key }): JsonBody<Login>,
) -> Response {
    if let Err(refusal) = same_origin(&headers, &uri) {
        return refusal.into_response();
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !is_json {
        return ApiError::unsupported_media_type(
            "send the master key as JSON: {\"master_key\": \"...\"}",
        )
        .into_response();
    }
    let state = live.current();
    let Some(expected) = state.master_key() else {
        return ApiError::forbidden(
            "the admin UI needs a master key: set general_settings.master_key",
        )
        .into_response();
    };
    if !crate::auth::is_master(&master_key, expected) {
        tracing::warn!("admin UI: a login with a wrong master key was refused");
        return ApiError::unauthorized("wrong master key").into_response();
    }
    let opened = match live.ui_sessions().open(expected).await {
        Ok(opened) => opened,
        Err(err) => {
            tracing::error!(error = %err, "admin UI: no session could be opened");
            return ApiError::internal("no session could be opened").into_response();
        }
    };
    with_cookie(
        Json(json!({"csrf_token": &*opened.csrf_token})).into_response(),
        &session::set_cookie(&opened.id),
    )
}

/// `GET /ui/session`: the CSRF token of the session the cookie names (so that a reloaded page
/// carries on), or 401. The cookie alone suffices, from the page's own origin only.
async fn current_session(State(live): State<Live>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(refusal) = same_origin(&headers, &uri) {
        return refusal.into_response();
    }
    match live.ui_sessions().of_request(&headers).await {
        Some((_, session)) if session.opened_with(live.current().master_key()) => {
            Json(json!({"csrf_token": &*session.csrf_token})).into_response()
        }
        _ => ApiError::unauthorized("no admin UI session: log in").into_response(),
    }
}

/// `POST /ui/logout` (with the CSRF token): ends the session and clears the cookie.
async fn logout(State(live): State<Live>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(refusal) = same_origin(&headers, &uri) {
        return refusal.into_response();
    }
    let Some((id, _)) = live.ui_sessions().authorize(&headers).await else {
        return ApiError::unauthorized("no admin UI session with this CSRF token").into_response();
    };
    live.ui_sessions().close(&id).await;
    with_cookie(
        StatusCode::NO_CONTENT.into_response(),
        &session::clear_cookie(),
    )
}

/// Middleware of `/ui/api`: lets through a request whose cookie names an open session opened
/// with the master key still configured and that carries that session's CSRF token, acting as
/// the master key; refuses any other with 401 (a request from another origin with 403).
async fn require_session(State(live): State<Live>, mut request: Request, next: Next) -> Response {
    if let Err(refusal) = same_origin(request.headers(), request.uri()) {
        return refusal.into_response();
    }
    let authorized = live
        .ui_sessions()
        .authorize(request.headers())
        .await
        .is_some_and(|(_, session)| session.opened_with(live.current().master_key()));
    if !authorized {
        return ApiError::unauthorized(
            "the admin UI's API needs a session cookie and its CSRF token in `x-switchyard-csrf`",
        )
        .into_response();
    }
    request.extensions_mut().insert(Caller::master());
    next.run(request).await
}

/// Refuses a request whose `Origin` is another host than the one it was sent to (its `Host`,
/// or over HTTP/2 its URI's authority); browsers send `Origin` with every `POST` and every
/// cross-origin `fetch`.
fn same_origin(headers: &HeaderMap, uri: &Uri) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(http::uri::Authority::as_str));
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    match (origin_host, host) {
        (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(ApiError::forbidden(
            "the admin UI answers only pages of its own origin",
        )),
    }
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), HeaderValue::from_static(value)))
            .collect()
    }

    #[test]
    fn only_the_pages_own_origin_is_let_through() {
        let path: Uri = "/ui/login".parse().expect("uri");
        let h2: Uri = "https://gw.example:8443/ui/login".parse().expect("uri");
        let own = headers(&[
            (header::HOST, "127.0.0.1:4000"),
            (header::ORIGIN, "http://127.0.0.1:4000"),
        ]);
        assert!(same_origin(&own, &path).is_ok());
        assert!(same_origin(&headers(&[(header::HOST, "127.0.0.1:4000")]), &path).is_ok());
        for other in ["http://127.0.0.1:4001", "http://evil.example", "null"] {
            let mut cross = own.clone();
            cross.insert(header::ORIGIN, HeaderValue::from_static(other));
            assert!(same_origin(&cross, &path).is_err(), "{other}");
        }
        // HTTP/2 has no Host header: the URI's authority stands for it.
        let origin = headers(&[(header::ORIGIN, "https://gw.example:8443")]);
        assert!(same_origin(&origin, &h2).is_ok());
        assert!(same_origin(&origin, &path).is_err());
    }
}
