//! Provider failures, classified so that routing and retries decide on classes, never on
//! provider-specific strings.

use std::time::Duration;

/// What kind of failure an upstream call ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The provider limited our rate (HTTP 429); may carry a retry-after.
    RateLimited,
    /// The provider is overloaded (HTTP 503, Anthropic's 529).
    Overloaded,
    /// The prompt does not fit the model's context window.
    ContextWindowExceeded,
    /// The provider refused the content.
    ContentPolicy,
    /// The provider rejected the deployment's credentials.
    Authentication,
    /// The credentials are valid but not allowed this call.
    PermissionDenied,
    /// The provider rejected the request as malformed.
    BadRequest,
    /// The provider does not know the model or route.
    NotFound,
    /// The provider failed (HTTP 5xx).
    UpstreamServer,
    /// No answer in time.
    Timeout,
    /// The provider could not be reached (connection refused, DNS, TLS).
    Unreachable,
    /// The provider answered something that is not its documented format.
    InvalidResponse,
}

impl ErrorClass {
    /// Whether trying the same call again, here or on another deployment, may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited
                | Self::Overloaded
                | Self::UpstreamServer
                | Self::Timeout
                | Self::Unreachable
                | Self::InvalidResponse
        )
    }

    /// A short snake_case name for logs, metrics and error codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::ContextWindowExceeded => "context_window_exceeded",
            Self::ContentPolicy => "content_policy_violation",
            Self::Authentication => "upstream_authentication_failed",
            Self::PermissionDenied => "upstream_permission_denied",
            Self::BadRequest => "upstream_bad_request",
            Self::NotFound => "upstream_not_found",
            Self::UpstreamServer => "upstream_server_error",
            Self::Timeout => "upstream_timeout",
            Self::Unreachable => "upstream_unreachable",
            Self::InvalidResponse => "upstream_invalid_response",
        }
    }
}

/// A failed upstream call. The message never holds credentials or request URLs.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// What kind of failure this is.
    pub class: ErrorClass,
    /// The upstream HTTP status, when there was one.
    pub status: Option<u16>,
    /// A sentence for a person, taken from the provider's error where it gave one.
    pub message: String,
    /// How long the provider asked us to wait before trying again.
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    /// An error of a class with a message and no upstream status.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            status: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Classifies an HTTP error answer from an OpenAI-compatible upstream.
    ///
    /// `code` and `message` are taken from the provider's error body where it had one.
    pub fn from_status(
        status: u16,
        code: Option<&str>,
        message: String,
        retry_after: Option<Duration>,
    ) -> Self {
        let lowered = message.to_ascii_lowercase();
        let class = match status {
            429 => ErrorClass::RateLimited,
            401 => ErrorClass::Authentication,
            403 => ErrorClass::PermissionDenied,
            404 => ErrorClass::NotFound,
            408 | 504 => ErrorClass::Timeout,
            503 | 529 => ErrorClass::Overloaded,
            500..=599 => ErrorClass::UpstreamServer,
            _ if code == Some("context_length_exceeded")
                || lowered.contains("maximum context length")
                || lowered.contains("context window") =>
            {
                ErrorClass::ContextWindowExceeded
            }
            _ if matches!(code, Some("content_filter" | "content_policy_violation"))
                || lowered.contains("content management policy") =>
            {
                ErrorClass::ContentPolicy
            }
            _ => ErrorClass::BadRequest,
        };
        Self {
            class,
            status: Some(status),
            message,
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_classes() {
        let cases = [
            (429, None, "slow down", ErrorClass::RateLimited),
            (401, None, "bad key", ErrorClass::Authentication),
            (503, None, "busy", ErrorClass::Overloaded),
            (529, None, "busy", ErrorClass::Overloaded),
            (500, None, "boom", ErrorClass::UpstreamServer),
            (
                400,
                Some("context_length_exceeded"),
                "too long",
                ErrorClass::ContextWindowExceeded,
            ),
            (
                400,
                None,
                "This model's maximum context length is 8192 tokens",
                ErrorClass::ContextWindowExceeded,
            ),
            (400, Some("content_filter"), "no", ErrorClass::ContentPolicy),
            (400, None, "bad field", ErrorClass::BadRequest),
        ];
        for (status, code, message, class) in cases {
            let err = ProviderError::from_status(status, code, message.to_owned(), None);
            assert_eq!(err.class, class, "{status} {code:?} {message}");
        }
    }

    #[test]
    fn only_transient_classes_are_retryable() {
        assert!(ErrorClass::RateLimited.is_retryable());
        assert!(ErrorClass::Timeout.is_retryable());
        assert!(!ErrorClass::BadRequest.is_retryable());
        assert!(!ErrorClass::ContextWindowExceeded.is_retryable());
    }
}
