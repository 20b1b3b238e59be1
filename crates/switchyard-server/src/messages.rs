//! The Anthropic Messages API ingress, `POST /v1/messages`: Anthropic-shaped requests are
//! translated into chat calls ([`request`]), sent through the same dispatch as
//! `/v1/chat/completions` (routing, timeouts, error classes), and answered in Anthropic's shapes:
//! a Messages response ([`response`]) or its event stream ([`stream`]).
//!
//! Failures answer with Anthropic's error body and the status [`ApiError`] gives them;
//! [`anthropic_error`] is the one mapping, used for answers and for `error` events mid-stream.

pub mod native;
mod request;
mod response;
mod stream;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;
use switchyard_providers::native::NativeApi;
use switchyard_wire::RawExtra;
use switchyard_wire::anthropic::{ErrorBody, MessagesRequest};

use crate::body::JsonBody;
use crate::caller::Caller;
use crate::dispatch::unary::unary;
use crate::dispatch::{self, ChatOutcome, Dispatched};
use crate::error::ApiError;
use crate::routes::tag_route;
use crate::state::AppState;

/// The route of the ingress.
pub const MESSAGES_PATH: &str = "/v1/messages";

/// The route of token counting (<https://platform.claude.com/docs/api/beta/messages/count_tokens>).
pub const COUNT_TOKENS_PATH: &str = "/v1/messages/count_tokens";

/// Whether `path` belongs to the Anthropic ingress: `/v1/messages` and everything under it.
pub fn is_anthropic_path(path: &str) -> bool {
    path.strip_prefix(MESSAGES_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `POST /v1/messages`: a Messages response, or its event stream when `stream` is true.
/// Passed through as it came to a model group whose deployments all speak the Messages API
/// ([`crate::native::serves_natively`]); translated to a chat call otherwise.
pub async fn create_message(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RawExtra>,
) -> Result<Response, ApiError> {
    let request: MessagesRequest = crate::native::typed(&body)?;
    if crate::native::serves_natively(&state, &caller, &request.model, NativeApi::Messages) {
        let user = request.metadata.and_then(|m| m.user_id);
        let call = native::call(request.model, request.max_tokens, user, body, &headers);
        let Dispatched { route, outcome } = unary(&state, call, &headers, caller).await?;
        let mut response = native::respond(outcome, route.answered_by());
        tag_route(&mut response, &route);
        return Ok(response);
    }
    let requested_model = request.model.clone();
    let chat = request::to_chat_request(request)?;
    let Dispatched { route, outcome } = dispatch::chat(&state, chat, &headers, caller).await?;
    let mut response = match outcome {
        ChatOutcome::Complete(answer) => Json(response::to_messages_response(
            *answer,
            &route.answered_by(),
        )?)
        .into_response(),
        ChatOutcome::Stream(chunks) => {
            stream::sse_response(route.answered_by(), chunks, requested_model)
        }
    };
    tag_route(&mut response, &route);
    Ok(response)
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": n}`, counted by the provider where it
/// has a token counter (Anthropic deployments), else estimated by the gateway
/// ([`native::estimated_tokens`]); [`native::TOKEN_COUNT_HEADER`] says which. The key's
/// model allow-list and request limits apply; nothing is charged.
pub async fn count_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RawExtra>,
) -> Result<Response, ApiError> {
    let call = native::CountTokens::new(body, &headers)?;
    let Dispatched { route, outcome } = unary(&state, call, &headers, caller).await?;
    let source = if outcome.exact { "exact" } else { "estimate" };
    let mut response = Json(json!({ "input_tokens": outcome.input_tokens })).into_response();
    response
        .headers_mut()
        .insert(native::TOKEN_COUNT_HEADER, HeaderValue::from_static(source));
    tag_route(&mut response, &route);
    Ok(response)
}

/// `response` as a client of Anthropic's API expects it: a failure ([`ApiError`] in its
/// extensions) answers with Anthropic's error body instead of OpenAI's. Status and headers
/// (`Retry-After`) stay as [`ApiError`] set them. Applied under `/v1/messages` to every answer,
/// the gateway's own refusals included (`app::edge::AnthropicErrors`).
pub(crate) fn in_anthropic_shape(mut response: Response) -> Response {
    let Some(err) = response.extensions_mut().remove::<ApiError>() else {
        return response;
    };
    let (mut parts, _openai_body) = response.into_parts();
    let body = serde_json::to_vec(&anthropic_error(&err)).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Anthropic's error body for a gateway error: the type follows the HTTP status the error
/// answers with, as <https://docs.claude.com/en/api/errors> pairs them (400
/// `invalid_request_error`, also for "other 4XX status codes not listed"; 401
/// `authentication_error`; 402 `billing_error`; 403 `permission_error`; 404
/// `not_found_error`; 413 `request_too_large`; 429 `rate_limit_error`; 500 `api_error`; 529
/// `overloaded_error`) and as the SDK's error union adds it (`timeout_error`, the 504 of its
/// `GatewayTimeoutError`). A 503 (no deployment available, an upstream overloaded) is the
/// gateway temporarily unable to serve: `overloaded_error`; other 5xx are `api_error`.
pub fn anthropic_error(err: &ApiError) -> ErrorBody {
    let kind = match err.status {
        StatusCode::UNAUTHORIZED => "authentication_error",
        StatusCode::PAYMENT_REQUIRED => "billing_error",
        StatusCode::FORBIDDEN => "permission_error",
        StatusCode::NOT_FOUND => "not_found_error",
        StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
        StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
        StatusCode::GATEWAY_TIMEOUT => "timeout_error",
        StatusCode::SERVICE_UNAVAILABLE => "overloaded_error",
        _ if err.code == Some(switchyard_providers::ErrorClass::Overloaded.as_str()) => {
            "overloaded_error"
        }
        status if status.is_server_error() => "api_error",
        _ => "invalid_request_error",
    };
    ErrorBody::new(kind, err.message.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_providers::{ErrorClass, ProviderError};

    // Types and statuses from https://docs.anthropic.com/en/api/errors.
    #[test]
    fn gateway_errors_take_the_anthropic_type_of_their_status() {
        let upstream = |class| ApiError::from_provider("d", &ProviderError::new(class, "x"));
        let cases = [
            (ApiError::invalid_request("bad"), "invalid_request_error"),
            (ApiError::invalid_json("eof"), "invalid_request_error"),
            (ApiError::unauthorized("no key"), "authentication_error"),
            (ApiError::model_not_found("m"), "not_found_error"),
            (ApiError::payload_too_large(10), "request_too_large"),
            (upstream(ErrorClass::RateLimited), "rate_limit_error"),
            (upstream(ErrorClass::Overloaded), "overloaded_error"),
            (upstream(ErrorClass::UpstreamServer), "api_error"),
            (
                upstream(ErrorClass::ContextWindowExceeded),
                "invalid_request_error",
            ),
            (
                ApiError::upstream_timeout("d", std::time::Duration::from_secs(1)),
                "timeout_error",
            ),
            (upstream(ErrorClass::Timeout), "timeout_error"),
            (
                ApiError::method_not_allowed(&http::Method::GET, "/v1/messages"),
                "invalid_request_error",
            ),
            (
                ApiError::route_not_found(&http::Method::POST, "/v1/messages/batches"),
                "not_found_error",
            ),
            (ApiError::forbidden("no"), "permission_error"),
            (ApiError::internal("boom"), "api_error"),
        ];
        for (err, kind) in cases {
            let body = anthropic_error(&err);
            assert_eq!(body.kind, "error");
            assert_eq!(body.error.kind, kind, "{err:?}");
            assert_eq!(body.error.message, err.message);
        }
    }

    #[test]
    fn every_path_under_messages_is_the_anthropic_ingress() {
        for path in [
            "/v1/messages",
            "/v1/messages/",
            "/v1/messages/count_tokens",
            "/v1/messages/x/y",
        ] {
            assert!(is_anthropic_path(path), "{path}");
        }
        for path in ["/v1/messagesx", "/v1/chat/completions", "/messages"] {
            assert!(!is_anthropic_path(path), "{path}");
        }
    }
}
