//! Bedrock's error answers classified. An error answer is `{"message": "..."}` with its type in
//! the `x-amzn-ErrorType` header (restJson1,
//! <https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization>);
//! the types and their statuses are those of Converse
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors>)
//! and AWS's common errors
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html>). Mid-stream,
//! the same types arrive as exception messages (`throttlingException`, ...).

use serde::Deserialize;

use crate::http::{MAX_ERROR_BODY, UpstreamResponse, read_capped, retry_after, truncate};
use crate::{ErrorClass, ProviderError};

/// The header naming the error type.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";
/// Longest message kept from an error body, in characters.
const MAX_MESSAGE_CHARS: usize = 500;

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default, alias = "Message")]
    message: Option<String>,
    #[serde(default, rename = "__type")]
    kind: Option<String>,
}

/// Reads an error answer (HTTP status >= 400) into a classified error.
pub async fn error_from_response(response: UpstreamResponse) -> ProviderError {
    let status = response.status().as_u16();
    let wait = retry_after(response.headers());
    let error_type = response
        .headers()
        .get(ERROR_TYPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = read_capped(response, MAX_ERROR_BODY).await;
    let mut err = error_from_body(status, error_type.as_deref(), &body);
    err.retry_after = wait;
    err
}

/// Classifies an error body that came with HTTP `status` and the `x-amzn-ErrorType` header.
pub fn error_from_body(status: u16, error_type: Option<&str>, body: &[u8]) -> ProviderError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).unwrap_or_default();
    let error_type = error_type.or(parsed.kind.as_deref()).map(sanitize);
    let message = match parsed.message {
        Some(message) => message,
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                format!("Bedrock answered HTTP {status}")
            } else {
                format!("Bedrock answered HTTP {status}: {}", shorten(text))
            }
        }
    };
    ProviderError {
        class: class_of(error_type, Some(status), &message),
        status: Some(status),
        message: describe(error_type, &message),
        retry_after: None,
    }
}

/// Classifies an exception message of a stream: its `:exception-type` and JSON payload.
pub fn error_from_exception(exception_type: &str, payload: &[u8]) -> ProviderError {
    let message = serde_json::from_slice::<ErrorBody>(payload)
        .ok()
        .and_then(|body| body.message)
        .unwrap_or_else(|| String::from_utf8_lossy(payload).trim().to_owned());
    ProviderError::new(
        class_of(Some(exception_type), None, &message),
        format!(
            "Bedrock reported an error mid-stream: {}",
            describe(Some(exception_type), &message)
        ),
    )
}

/// The shape name of an error type as it travels: `ns#Name:http://...` is `Name`.
fn sanitize(raw: &str) -> &str {
    let name = raw.split(':').next().unwrap_or(raw);
    name.rsplit('#').next().unwrap_or(name).trim()
}

fn describe(error_type: Option<&str>, message: &str) -> String {
    match (error_type, message.trim()) {
        (Some(kind), "") => kind.to_owned(),
        (Some(kind), text) => format!("{kind}: {}", shorten(text)),
        (None, text) => shorten(text).to_owned(),
    }
}

/// The class of an error: by its type first (stream exceptions name it in lowerCamelCase),
/// then by its HTTP status.
fn class_of(error_type: Option<&str>, status: Option<u16>, message: &str) -> ErrorClass {
    let too_long = is_too_long(message);
    let by_type = error_type.and_then(|kind| {
        Some(match kind.to_ascii_lowercase().as_str() {
            "throttlingexception" => ErrorClass::RateLimited,
            "serviceunavailableexception" | "modelnotreadyexception" => ErrorClass::Overloaded,
            "validationexception" if too_long => ErrorClass::ContextWindowExceeded,
            "validationexception" => ErrorClass::BadRequest,
            "accessdeniedexception" => ErrorClass::PermissionDenied,
            "unrecognizedclientexception"
            | "invalidsignatureexception"
            | "incompletesignatureexception"
            | "missingauthenticationtokenexception"
            | "expiredtokenexception" => ErrorClass::Authentication,
            "resourcenotfoundexception" => ErrorClass::NotFound,
            "modeltimeoutexception" => ErrorClass::Timeout,
            "internalserverexception" | "modelerrorexception" | "modelstreamerrorexception" => {
                ErrorClass::UpstreamServer
            }
            _ => return None,
        })
    });
    by_type.unwrap_or(match status {
        Some(429) => ErrorClass::RateLimited,
        Some(503) => ErrorClass::Overloaded,
        Some(401) => ErrorClass::Authentication,
        Some(403) => ErrorClass::PermissionDenied,
        Some(404) => ErrorClass::NotFound,
        Some(408 | 504) => ErrorClass::Timeout,
        Some(500..=599) | Some(424) => ErrorClass::UpstreamServer,
        _ if too_long => ErrorClass::ContextWindowExceeded,
        Some(_) => ErrorClass::BadRequest,
        None => ErrorClass::UpstreamServer,
    })
}

/// Whether a validation message says the prompt does not fit the model: Bedrock's own words
/// ("Input is too long for requested model.") and those of the models behind it (Anthropic's
/// "prompt is too long", Titan's "too many input tokens", ...).
fn is_too_long(message: &str) -> bool {
    let lowered = message.to_ascii_lowercase();
    [
        "input is too long",
        "prompt is too long",
        "too many input tokens",
        "context window",
        "context length",
        "maximum context",
    ]
    .iter()
    .any(|needle| lowered.contains(needle))
}

fn shorten(text: &str) -> &str {
    truncate(text, MAX_MESSAGE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!("../../tests/fixtures/bedrock/", $name))
        };
    }

    // Error types and statuses:
    // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors;
    // the type travels in x-amzn-ErrorType, possibly with a `:<url>` suffix:
    // https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization
    #[test]
    fn documented_error_answers_classify() {
        let cases: [(u16, &str, &[u8], ErrorClass); 6] = [
            (
                429,
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                fixture!("error_throttling.json"),
                ErrorClass::RateLimited,
            ),
            (
                400,
                "ValidationException",
                fixture!("error_validation.json"),
                ErrorClass::BadRequest,
            ),
            (
                400,
                "ValidationException",
                fixture!("error_input_too_long.json"),
                ErrorClass::ContextWindowExceeded,
            ),
            (
                403,
                "AccessDeniedException",
                fixture!("error_access_denied.json"),
                ErrorClass::PermissionDenied,
            ),
            (
                503,
                "ServiceUnavailableException",
                fixture!("error_service_unavailable.json"),
                ErrorClass::Overloaded,
            ),
            (
                403,
                "UnrecognizedClientException",
                br#"{"message": "The security token included in the request is invalid."}"#,
                ErrorClass::Authentication,
            ),
        ];
        for (status, kind, body, class) in cases {
            let err = error_from_body(status, Some(kind), body);
            assert_eq!(err.class, class, "{kind}");
            assert_eq!(err.status, Some(status));
            let name = sanitize(kind);
            assert!(
                err.message.starts_with(&format!("{name}: ")),
                "{}",
                err.message
            );
        }
        let err = error_from_body(
            429,
            Some("ThrottlingException"),
            fixture!("error_throttling.json"),
        );
        assert_eq!(
            err.message,
            "ThrottlingException: Too many requests, please wait before trying again."
        );
    }

    #[test]
    fn every_converse_error_type_has_its_class() {
        let cases = [
            ("ModelNotReadyException", 429, ErrorClass::Overloaded),
            ("ResourceNotFoundException", 404, ErrorClass::NotFound),
            ("ModelTimeoutException", 408, ErrorClass::Timeout),
            ("InternalServerException", 500, ErrorClass::UpstreamServer),
            ("ModelErrorException", 424, ErrorClass::UpstreamServer),
            ("InvalidSignatureException", 403, ErrorClass::Authentication),
            ("ExpiredTokenException", 403, ErrorClass::Authentication),
            (
                "com.amazon.coral#AccessDeniedException",
                403,
                ErrorClass::PermissionDenied,
            ),
        ];
        for (kind, status, class) in cases {
            assert_eq!(
                error_from_body(status, Some(kind), b"{}").class,
                class,
                "{kind}"
            );
        }
        // Without the header, the body's `__type` names it.
        let err = error_from_body(
            400,
            None,
            br#"{"__type": "ThrottlingException", "Message": "slow"}"#,
        );
        assert_eq!(
            (err.class, err.message.as_str()),
            (ErrorClass::RateLimited, "ThrottlingException: slow")
        );
    }

    #[test]
    fn answers_without_a_type_classify_by_status() {
        let cases = [
            (429, ErrorClass::RateLimited),
            (503, ErrorClass::Overloaded),
            (403, ErrorClass::PermissionDenied),
            (404, ErrorClass::NotFound),
            (500, ErrorClass::UpstreamServer),
            (504, ErrorClass::Timeout),
            (400, ErrorClass::BadRequest),
        ];
        for (status, class) in cases {
            let err = error_from_body(status, None, b"<html>proxy error</html>");
            assert_eq!(err.class, class, "{status}");
            assert!(err.message.contains("proxy error"), "{}", err.message);
        }
        assert_eq!(
            error_from_body(502, None, b"").message,
            "Bedrock answered HTTP 502"
        );
        assert_eq!(
            error_from_body(
                400,
                Some("SomethingNewException"),
                br#"{"message": "prompt is too long: 215013 tokens > 200000 maximum"}"#
            )
            .class,
            ErrorClass::ContextWindowExceeded
        );
    }

    // Stream exceptions: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
    #[test]
    fn stream_exceptions_classify_by_their_lower_camel_case_type() {
        let cases = [
            ("throttlingException", ErrorClass::RateLimited),
            ("modelStreamErrorException", ErrorClass::UpstreamServer),
            ("validationException", ErrorClass::BadRequest),
            ("internalServerException", ErrorClass::UpstreamServer),
            ("serviceUnavailableException", ErrorClass::Overloaded),
        ];
        for (kind, class) in cases {
            let err = error_from_exception(kind, br#"{"message": "it broke"}"#);
            assert_eq!(err.class, class, "{kind}");
            assert_eq!(err.status, None);
            assert_eq!(
                err.message,
                format!("Bedrock reported an error mid-stream: {kind}: it broke")
            );
        }
        assert_eq!(
            error_from_exception("unknownException", b"").class,
            ErrorClass::UpstreamServer
        );
    }
}
