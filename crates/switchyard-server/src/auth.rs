//! Who may call: the master key, sent as `Authorization: Bearer ...` (or `x-api-key` /
//! `api-key`, as Anthropic and Azure clients send it) and compared in constant time, or a
//! virtual key, looked up by its SHA-256 hash (the store holds only hashes). A request let
//! through carries its [`Caller`] in its extensions; what the caller may do in the admin API is
//! decided there (`admin/access.rs`). Keys of a `proxy_admin_viewer` may not call models.
//! [`RequireKeyLayer`] puts the check in front of a router's routes.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either, Ready, ready};
use http::{HeaderMap, header};
use subtle::ConstantTimeEq;
use tower::{Layer, Service};

use switchyard_store::UserRole;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::live::Live;
use crate::state::AppState;

/// Layer of [`RequireKey`].
#[derive(Debug, Clone)]
pub struct RequireKeyLayer {
    live: Live,
    model_calls: bool,
}

impl RequireKeyLayer {
    /// For the admin API: any valid key, whatever its role.
    pub fn any_role(live: Live) -> Self {
        Self {
            live,
            model_calls: false,
        }
    }

    /// For the model routes: a key whose user is a `proxy_admin_viewer` is refused with 403, as
    /// LiteLLM refuses that role every call that costs (`route_checks.py`,
    /// `_check_proxy_admin_viewer_access`; the role "cannot create keys",
    /// <https://docs.litellm.ai/docs/proxy/access_control>).
    pub fn model_calls(live: Live) -> Self {
        Self {
            live,
            model_calls: true,
        }
    }
}

impl<S> Layer<S> for RequireKeyLayer {
    type Service = RequireKey<S>;

    fn layer(&self, inner: S) -> RequireKey<S> {
        RequireKey {
            live: self.live.clone(),
            model_calls: self.model_calls,
            inner,
        }
    }
}

/// Lets a request through when the gateway is open, the master key matches, or a virtual key
/// is valid, with its [`Caller`] in the extensions; answers the refusal otherwise. The open
/// gateway and the master key are decided at once, with nothing boxed; a virtual key is looked
/// up (a cache, else the store) in a boxed future.
#[derive(Debug, Clone)]
pub struct RequireKey<S> {
    live: Live,
    model_calls: bool,
    inner: S,
}

/// What the services here answer with.
type Answer = Result<Response, Infallible>;

impl<S> Service<Request> for RequireKey<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Either<Ready<Answer>, S::Future>, BoxFuture<'static, Answer>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let state = self.live.current();
        let known = match decided_at_once(&state, request.headers()) {
            Some(known) => known,
            None => {
                // The service that was made ready goes into the future; a clone stays.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let model_calls = self.model_calls;
                return Either::Right(Box::pin(async move {
                    let caller = match presented_key(request.headers()) {
                        Some(key) => state.storage().caller(key).await,
                        None => Err(no_key()),
                    };
                    match admit(model_calls, caller) {
                        Ok(caller) => {
                            request.extensions_mut().insert(caller);
                            inner.call(request).await
                        }
                        Err(refusal) => Ok(refusal.into_response()),
                    }
                }));
            }
        };
        match admit(self.model_calls, known) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                Either::Left(Either::Right(self.inner.call(request)))
            }
            Err(refusal) => Either::Left(Either::Left(ready(Ok(refusal.into_response())))),
        }
    }
}

/// The caller when no lookup is needed: the gateway is open, no key was sent, or the master
/// key was. `None` for a virtual key.
fn decided_at_once(state: &AppState, headers: &HeaderMap) -> Option<Result<Caller, ApiError>> {
    let Some(expected) = state.master_key() else {
        return Some(Ok(Caller::open()));
    };
    let Some(presented) = presented_key(headers) else {
        return Some(Err(no_key()));
    };
    is_master(presented, expected).then(|| Ok(Caller::master()))
}

fn no_key() -> ApiError {
    ApiError::unauthorized("no API key: send it as `Authorization: Bearer <key>`")
}

/// The caller let through, or why it is refused.
fn admit(model_calls: bool, caller: Result<Caller, ApiError>) -> Result<Caller, ApiError> {
    let caller = caller?;
    if model_calls && caller.user_role == Some(UserRole::ProxyAdminViewer) {
        return Err(ApiError::forbidden(format!(
            "user not allowed to access this OpenAI routes, role= {}",
            UserRole::ProxyAdminViewer
        )));
    }
    Ok(caller)
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
