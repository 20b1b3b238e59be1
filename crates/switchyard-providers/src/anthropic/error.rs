//! Classifying Anthropic's failures: error answers (`{"type": "error", "error": {"type",
//! "message"}}` with an HTTP status) and `error` events in the middle of a stream, as
//! <https://docs.anthropic.com/en/api/errors> documents them.

use std::time::Duration;

use switchyard_wire::anthropic::{ErrorBody, ErrorDetail};

use crate::http::{MAX_ERROR_BODY, UpstreamResponse, read_capped, retry_after, truncate};
use crate::{ErrorClass, ProviderError};

/// Reads an Anthropic error answer (status >= 400) into a classified error.
pub(crate) async fn error_from_response(response: UpstreamResponse) -> ProviderError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = read_capped(response, MAX_ERROR_BODY).await;
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(body) => classify(Some(status), &body.error, retry_after),
        Err(_) => {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            let message = if text.is_empty() {
                format!("upstream answered HTTP {status}")
            } else {
                format!("upstream answered HTTP {status}: {}", truncate(text, 300))
            };
            ProviderError::from_status(status, None, message, retry_after)
        }
    }
}

/// Classifies an Anthropic error by its documented type, falling back on the HTTP status for
/// types the documentation does not list. `status` is `None` for errors sent mid-stream.
pub(crate) fn classify(
    status: Option<u16>,
    error: &ErrorDetail,
    retry_after: Option<Duration>,
) -> ProviderError {
    let class = match (error.kind.as_str(), status) {
        ("rate_limit_error", _) | (_, Some(429)) => ErrorClass::RateLimited,
        ("overloaded_error", _) | (_, Some(529)) => ErrorClass::Overloaded,
        ("invalid_request_error", _) if says_prompt_is_too_long(&error.message) => {
            ErrorClass::ContextWindowExceeded
        }
        ("invalid_request_error" | "request_too_large", _) => ErrorClass::BadRequest,
        ("authentication_error", _) => ErrorClass::Authentication,
        ("permission_error", _) => ErrorClass::PermissionDenied,
        ("not_found_error", _) => ErrorClass::NotFound,
        ("api_error", _) => ErrorClass::UpstreamServer,
        (_, Some(status)) => {
            return ProviderError::from_status(status, None, error.message.clone(), retry_after);
        }
        (_, None) => ErrorClass::UpstreamServer,
    };
    ProviderError {
        class,
        status,
        message: error.message.clone(),
        retry_after,
    }
}

/// Anthropic reports an oversized prompt as an `invalid_request_error` whose message reads
/// `prompt is too long: N tokens > M maximum`.
fn says_prompt_is_too_long(message: &str) -> bool {
    let lowered = message.to_ascii_lowercase();
    lowered.contains("prompt is too long")
        || lowered.contains("context window")
        || lowered.contains("context length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(kind: &str, message: &str) -> ErrorDetail {
        ErrorDetail {
            kind: kind.to_owned(),
            message: message.to_owned(),
        }
    }

    // Fixtures copied from https://docs.anthropic.com/en/api/errors.
    #[test]
    fn documented_error_bodies_map_to_classes() {
        let cases = [
            (
                429,
                include_str!("../../tests/fixtures/anthropic/error_rate_limit.json"),
                ErrorClass::RateLimited,
            ),
            (
                529,
                include_str!("../../tests/fixtures/anthropic/error_overloaded.json"),
                ErrorClass::Overloaded,
            ),
            (
                400,
                include_str!("../../tests/fixtures/anthropic/error_invalid_request.json"),
                ErrorClass::BadRequest,
            ),
            (
                400,
                include_str!("../../tests/fixtures/anthropic/error_prompt_too_long.json"),
                ErrorClass::ContextWindowExceeded,
            ),
            (
                401,
                include_str!("../../tests/fixtures/anthropic/error_authentication.json"),
                ErrorClass::Authentication,
            ),
        ];
        for (status, fixture, class) in cases {
            let body: ErrorBody = serde_json::from_str(fixture).expect("fixture is an error body");
            let err = classify(Some(status), &body.error, None);
            assert_eq!(err.class, class, "{fixture}");
            assert_eq!(err.status, Some(status));
            assert_eq!(err.message, body.error.message);
        }
    }

    // Error types: https://docs.anthropic.com/en/api/errors; mid-stream errors carry no status
    // (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
    #[test]
    fn every_documented_type_has_a_class_even_without_a_status() {
        let cases = [
            ("rate_limit_error", ErrorClass::RateLimited),
            ("overloaded_error", ErrorClass::Overloaded),
            ("invalid_request_error", ErrorClass::BadRequest),
            ("request_too_large", ErrorClass::BadRequest),
            ("authentication_error", ErrorClass::Authentication),
            ("permission_error", ErrorClass::PermissionDenied),
            ("not_found_error", ErrorClass::NotFound),
            ("api_error", ErrorClass::UpstreamServer),
            ("something_new_error", ErrorClass::UpstreamServer),
        ];
        for (kind, class) in cases {
            assert_eq!(
                classify(None, &detail(kind, "x"), None).class,
                class,
                "{kind}"
            );
        }
    }

    // Statuses and `retry-after`: https://docs.anthropic.com/en/api/errors.
    #[test]
    fn undocumented_types_fall_back_on_the_status_and_keep_retry_after() {
        let wait = Some(Duration::from_secs(3));
        let err = classify(Some(503), &detail("billing_error", "pay"), wait);
        assert_eq!(err.class, ErrorClass::Overloaded);
        assert_eq!(err.retry_after, wait);
        let err = classify(Some(429), &detail("weird", "slow"), wait);
        assert_eq!(
            (err.class, err.retry_after),
            (ErrorClass::RateLimited, wait)
        );
    }
}
