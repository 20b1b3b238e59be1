//! Google's error answers classified: the body `{"error": {"code", "message", "status",
//! "details"}}` (<https://ai.google.dev/gemini-api/docs/troubleshooting>,
//! <https://cloud.google.com/apis/design/errors>) read into a [`ProviderError`], with the wait
//! Google asks for (a `Retry-After` header, else the `google.rpc.RetryInfo` detail).

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::http::{MAX_ERROR_BODY, UpstreamResponse, read_capped, retry_after, truncate};
use crate::{ErrorClass, ProviderError};

/// Longest message kept from an error body, in characters.
const MAX_MESSAGE_CHARS: usize = 500;

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: GoogleError,
}

/// `google.rpc.Status` as JSON.
#[derive(Debug, Deserialize)]
struct GoogleError {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<Value>,
}

/// Reads an error answer (HTTP status >= 400) into a classified error.
pub async fn error_from_response(response: UpstreamResponse) -> ProviderError {
    let status = response.status().as_u16();
    let header_wait = retry_after(response.headers());
    let body = read_capped(response, MAX_ERROR_BODY).await;
    let mut err = error_from_body(status, &body);
    if header_wait.is_some() {
        err.retry_after = header_wait;
    }
    err
}

/// Classifies an error body that came with HTTP `status`.
pub fn error_from_body(status: u16, body: &[u8]) -> ProviderError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => from_google_error(Some(status), error),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                format!("Gemini answered HTTP {status}")
            } else {
                format!("Gemini answered HTTP {status}: {}", shorten(text))
            };
            ProviderError {
                class: class_of(status, None, None, ""),
                status: Some(status),
                message,
                retry_after: None,
            }
        }
    }
}

/// The error of a stream event that holds `{"error": ...}` instead of an answer, if it does.
pub fn error_from_event(event: &Value) -> Option<ProviderError> {
    let error = serde_json::from_value::<GoogleError>(event.get("error")?.clone()).ok()?;
    let mut err = from_google_error(None, error);
    err.message = format!("Gemini reported an error mid-stream: {}", err.message);
    Some(err)
}

fn from_google_error(http_status: Option<u16>, error: GoogleError) -> ProviderError {
    let status = http_status.or(error.code);
    let reason = error.details.iter().find_map(|detail| {
        (detail.get("@type")?.as_str()? == "type.googleapis.com/google.rpc.ErrorInfo")
            .then(|| detail.get("reason")?.as_str())
            .flatten()
    });
    let message = error.message.unwrap_or_default();
    let class = class_of(
        status.unwrap_or(500),
        error.status.as_deref(),
        reason,
        &message,
    );
    let message = match (&error.status, message.trim()) {
        (Some(code), "") => code.clone(),
        (Some(code), text) => format!("{code}: {}", shorten(text)),
        (None, "") => "Gemini reported an error without a message".to_owned(),
        (None, text) => shorten(text).to_owned(),
    };
    ProviderError {
        class,
        status,
        message,
        retry_after: retry_delay(&error.details),
    }
}

/// The class of a Google error, by its canonical status name first and its HTTP status
/// otherwise. Google sends a bad API key as 400 `INVALID_ARGUMENT` with reason
/// `API_KEY_INVALID`, and a too-long prompt as 400 `INVALID_ARGUMENT` saying that the input
/// token count exceeds the maximum.
fn class_of(
    http_status: u16,
    status: Option<&str>,
    reason: Option<&str>,
    message: &str,
) -> ErrorClass {
    if reason == Some("API_KEY_INVALID") {
        return ErrorClass::Authentication;
    }
    let lowered = message.to_ascii_lowercase();
    let too_long = lowered.contains("input token count") && lowered.contains("exceeds the maximum");
    match status {
        Some("RESOURCE_EXHAUSTED") => ErrorClass::RateLimited,
        Some("UNAVAILABLE") => ErrorClass::Overloaded,
        Some("UNAUTHENTICATED") => ErrorClass::Authentication,
        // FAILED_PRECONDITION is how Google says the API is not available to this key (its
        // region, its billing): the deployment's problem, not the client's.
        Some("PERMISSION_DENIED" | "FAILED_PRECONDITION") => ErrorClass::PermissionDenied,
        Some("NOT_FOUND") => ErrorClass::NotFound,
        Some("INTERNAL" | "UNKNOWN" | "DATA_LOSS") => ErrorClass::UpstreamServer,
        Some("DEADLINE_EXCEEDED") => ErrorClass::Timeout,
        Some("INVALID_ARGUMENT" | "OUT_OF_RANGE") if too_long => ErrorClass::ContextWindowExceeded,
        Some("INVALID_ARGUMENT" | "OUT_OF_RANGE") => ErrorClass::BadRequest,
        _ => match http_status {
            429 => ErrorClass::RateLimited,
            503 => ErrorClass::Overloaded,
            401 => ErrorClass::Authentication,
            403 => ErrorClass::PermissionDenied,
            404 => ErrorClass::NotFound,
            408 | 504 => ErrorClass::Timeout,
            500..=599 => ErrorClass::UpstreamServer,
            _ if too_long => ErrorClass::ContextWindowExceeded,
            _ => ErrorClass::BadRequest,
        },
    }
}

/// The `retryDelay` of a `google.rpc.RetryInfo` detail: a protobuf duration such as `"37s"` or
/// `"45.837906927s"`.
fn retry_delay(details: &[Value]) -> Option<Duration> {
    details.iter().find_map(|detail| {
        if detail.get("@type")?.as_str()? != "type.googleapis.com/google.rpc.RetryInfo" {
            return None;
        }
        let seconds = detail
            .get("retryDelay")?
            .as_str()?
            .strip_suffix('s')?
            .parse::<f64>()
            .ok()?;
        (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
    })
}

fn shorten(text: &str) -> &str {
    truncate(text, MAX_MESSAGE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Error bodies as Google documents them:
    // https://ai.google.dev/gemini-api/docs/troubleshooting (status codes and names) and
    // https://cloud.google.com/apis/design/errors (google.rpc.Status, ErrorInfo, RetryInfo).
    #[test]
    fn documented_error_bodies_classify() {
        let cases = [
            (
                429,
                include_str!("../../tests/fixtures/gemini/error_rate_limited.json"),
                ErrorClass::RateLimited,
            ),
            (
                400,
                include_str!("../../tests/fixtures/gemini/error_api_key_invalid.json"),
                ErrorClass::Authentication,
            ),
            (
                400,
                include_str!("../../tests/fixtures/gemini/error_context_window.json"),
                ErrorClass::ContextWindowExceeded,
            ),
            (
                400,
                include_str!("../../tests/fixtures/gemini/error_invalid_argument.json"),
                ErrorClass::BadRequest,
            ),
            (
                503,
                include_str!("../../tests/fixtures/gemini/error_unavailable.json"),
                ErrorClass::Overloaded,
            ),
        ];
        for (status, body, class) in cases {
            let err = error_from_body(status, body.as_bytes());
            assert_eq!(err.class, class, "{body}");
            assert_eq!(err.status, Some(status));
        }
    }

    #[test]
    fn the_message_keeps_google_s_status_and_text() {
        let err = error_from_body(
            400,
            include_bytes!("../../tests/fixtures/gemini/error_api_key_invalid.json"),
        );
        assert_eq!(
            err.message,
            "INVALID_ARGUMENT: API key not valid. Please pass a valid API key."
        );
        assert_eq!(err.retry_after, None);
    }

    // Gemini says how long to wait only in a google.rpc.RetryInfo detail (it sends no
    // Retry-After header): https://cloud.google.com/apis/design/errors#error_details
    #[test]
    fn retry_info_gives_the_wait() {
        let err = error_from_body(
            429,
            include_bytes!("../../tests/fixtures/gemini/error_rate_limited.json"),
        );
        assert_eq!(err.retry_after, Some(Duration::from_secs_f64(45.837906927)));
    }

    #[test]
    fn canonical_status_names_classify_without_a_matching_http_status() {
        let cases = [
            ("UNAUTHENTICATED", ErrorClass::Authentication),
            ("PERMISSION_DENIED", ErrorClass::PermissionDenied),
            ("FAILED_PRECONDITION", ErrorClass::PermissionDenied),
            ("NOT_FOUND", ErrorClass::NotFound),
            ("INTERNAL", ErrorClass::UpstreamServer),
            ("DEADLINE_EXCEEDED", ErrorClass::Timeout),
        ];
        for (status, class) in cases {
            let body =
                format!(r#"{{"error": {{"code": 400, "message": "m", "status": "{status}"}}}}"#);
            assert_eq!(
                error_from_body(400, body.as_bytes()).class,
                class,
                "{status}"
            );
        }
    }

    #[test]
    fn bodies_that_are_not_google_errors_classify_by_http_status() {
        let cases = [
            (429, ErrorClass::RateLimited),
            (401, ErrorClass::Authentication),
            (403, ErrorClass::PermissionDenied),
            (404, ErrorClass::NotFound),
            (500, ErrorClass::UpstreamServer),
            (503, ErrorClass::Overloaded),
            (504, ErrorClass::Timeout),
            (400, ErrorClass::BadRequest),
        ];
        for (status, class) in cases {
            let err = error_from_body(status, b"<html>upstream proxy error</html>");
            assert_eq!(err.class, class, "{status}");
            assert!(err.message.contains("proxy error"), "{}", err.message);
        }
        assert_eq!(
            error_from_body(502, b"").message,
            "Gemini answered HTTP 502"
        );
    }

    #[test]
    fn a_mid_stream_error_event_is_recognised() {
        let event: Value = serde_json::from_str(
            r#"{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}"#,
        )
        .expect("json");
        let err = error_from_event(&event).expect("an error event");
        assert_eq!(err.class, ErrorClass::Overloaded);
        assert_eq!(err.status, Some(503));
        assert!(err.message.contains("overloaded"), "{}", err.message);
        assert!(error_from_event(&serde_json::json!({"candidates": []})).is_none());
    }
}
