//! Who may call: the master key, sent as `Authorization: Bearer ...` (or `x-api-key` /
//! `api-key`, as Anthropic and Azure clients send it), compared in constant time. A request let
//! through carries its [`Caller`] in its extensions.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Middleware: lets a request through when the gateway is open or the key matches, with its
/// [`Caller`] in the extensions.
pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    match check(state.master_key(), request.headers()) {
        Ok(()) => {
            let key_id = match state.master_key() {
                Some(_) => Caller::MASTER,
                None => Caller::OPEN,
            };
            request.extensions_mut().insert(Caller::with_key_id(key_id));
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

fn check(master_key: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = master_key else {
        return Ok(());
    };
    let Some(presented) = presented_key(headers) else {
        return Err(ApiError::unauthorized(
            "no API key: send it as `Authorization: Bearer <key>`",
        ));
    };
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("the API key is not valid"))
    }
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
    fn open_gateway_lets_everyone_in() {
        assert!(check(None, &HeaderMap::new()).is_ok());
    }

    #[test]
    fn the_key_is_accepted_in_each_header_clients_use() {
        let key = Some("sk-secret");
        assert!(check(key, &headers("authorization", "Bearer sk-secret")).is_ok());
        assert!(check(key, &headers("authorization", "bearer  sk-secret ")).is_ok());
        assert!(check(key, &headers("x-api-key", "sk-secret")).is_ok());
        assert!(check(key, &headers("api-key", "sk-secret")).is_ok());
    }

    #[test]
    fn missing_wrong_or_malformed_keys_are_refused_without_echoing_them() {
        let key = Some("sk-secret");
        for h in [
            HeaderMap::new(),
            headers("authorization", "Bearer sk-secrets"),
            headers("authorization", "Basic sk-secret"),
            headers("authorization", "sk-secret"),
            headers("x-api-key", "sk-secre"),
        ] {
            let err = check(key, &h).expect_err("refused");
            assert_eq!(err.status, http::StatusCode::UNAUTHORIZED);
            assert!(!err.message.contains("sk-secre"), "{}", err.message);
        }
    }
}
