//! Who may call: the master key, sent as `Authorization: Bearer ...` (or `x-api-key` /
//! `api-key`, as Anthropic and Azure clients send it) and compared in constant time, or a
//! virtual key, looked up by its SHA-256 hash (the store holds only hashes). A request let
//! through carries its [`Caller`] in its extensions; what the caller may do in the admin API is
//! decided there (`admin/access.rs`). Keys of a `proxy_admin_viewer` may not call models.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use switchyard_store::UserRole;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Middleware: lets a request through when the gateway is open, the master key matches, or a
/// virtual key is valid, with its [`Caller`] in the extensions.
pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match authenticate(&state, request.headers()).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

/// Middleware for the model routes: [`require_key`], and a key whose user is a
/// `proxy_admin_viewer` is refused with 403, as LiteLLM refuses that role every call that costs
/// (`route_checks.py`, `_check_proxy_admin_viewer_access`; the role "cannot create keys",
/// <https://docs.litellm.ai/docs/proxy/access_control>).
pub async fn require_model_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match authenticate(&state, request.headers()).await {
        Ok(caller) if caller.user_role == Some(UserRole::ProxyAdminViewer) => {
            ApiError::forbidden(format!(
                "user not allowed to access this OpenAI routes, role= {}",
                UserRole::ProxyAdminViewer
            ))
            .into_response()
        }
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(expected) = state.master_key() else {
        return Ok(Caller::with_key_id(Caller::OPEN));
    };
    let Some(presented) = presented_key(headers) else {
        return Err(ApiError::unauthorized(
            "no API key: send it as `Authorization: Bearer <key>`",
        ));
    };
    if is_master(presented, expected) {
        return Ok(Caller::with_key_id(Caller::MASTER));
    }
    state.storage().caller(presented).await
}

/// Compares in constant time (for keys of one length).
pub(crate) fn is_master(presented: &str, expected: &str) -> bool {
    bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?.trim();
        let (scheme, key) = value.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| key.trim());
    }
    ["x-api-key", "api-key"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn the_key_is_read_from_each_header_clients_use() {
        for (name, value) in [
            ("authorization", "Bearer sk-secret"),
            ("authorization", "bearer  sk-secret "),
            ("x-api-key", "sk-secret"),
            ("api-key", "sk-secret"),
        ] {
            assert_eq!(presented_key(&headers(name, value)), Some("sk-secret"));
        }
        assert_eq!(
            presented_key(&headers("authorization", "Basic sk-secret")),
            None
        );
        assert_eq!(presented_key(&headers("authorization", "sk-secret")), None);
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }

    #[test]
    fn master_keys_match_exactly() {
        assert!(is_master("sk-secret", "sk-secret"));
        assert!(!is_master("sk-secrets", "sk-secret"));
        assert!(!is_master("sk-secre", "sk-secret"));
    }
}
