//! An optional HTTP adapter: a refusal as the answer OpenAI gives, so the gateway and any other
//! service can send it as it is. The layer itself never builds HTTP answers.

use http::{HeaderValue, Response, StatusCode, header};
use switchyard_wire::ErrorBody;

use super::error::{RateLimitError, whole_seconds};

impl RateLimitError {
    /// The status OpenAI answers with: 429 when a limit is reached, 503 when limits cannot be
    /// checked.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Limited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The OpenAI error body: `{"error": {"message", "type": "rate_limit_error", "param": null,
    /// "code": "rate_limit_exceeded"}}` when a limit is reached.
    pub fn openai_body(&self) -> ErrorBody {
        match self {
            Self::Limited(limited) => ErrorBody::new(
                limited.to_string(),
                "rate_limit_error",
                Some("rate_limit_exceeded"),
            ),
            Self::Unavailable(unavailable) => ErrorBody::new(
                unavailable.to_string(),
                "api_error",
                Some("rate_limit_unavailable"),
            ),
        }
    }

    /// The whole answer: [`status`](Self::status), a `Retry-After` header in whole seconds
    /// (rounded up, at least 1) and the [`openai_body`](Self::openai_body) as JSON.
    ///
    /// ```
    /// use std::time::Duration;
    /// use switchyard_layers::rate_limit::{Key, LimitKind, RateLimitError, RateLimited, Scope};
    ///
    /// let err = RateLimitError::from(RateLimited {
    ///     scope: Scope::API_KEY,
    ///     key: Key::from("key-42"),
    ///     kind: LimitKind::Requests,
    ///     limit: 60,
    ///     retry_after: Duration::from_millis(1_500),
    /// });
    /// let response = err.into_openai_response();
    /// assert_eq!(response.status(), 429);
    /// assert_eq!(response.headers()["retry-after"], "2");
    /// let body: serde_json::Value = serde_json::from_str(response.body())?;
    /// assert_eq!(body["error"]["type"], "rate_limit_error");
    /// assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    /// assert!(body["error"]["param"].is_null());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn into_openai_response(&self) -> Response<String> {
        // An `ErrorBody` is strings only, so serializing it cannot fail; keep a body regardless.
        let body = serde_json::to_string(&self.openai_body())
            .unwrap_or_else(|_| r#"{"error":{"message":"rate limited"}}"#.to_owned());
        let mut response = Response::new(body);
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(whole_seconds(self.retry_after()).max(1)),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::rate_limit::{Key, LimitKind, RateLimited, Scope, StoreUnavailable};

    #[test]
    fn a_reached_limit_is_openais_429() {
        let err = RateLimitError::from(RateLimited {
            scope: Scope::MODEL,
            key: Key::from("gpt-4o"),
            kind: LimitKind::Tokens,
            limit: 10_000,
            retry_after: Duration::from_secs(7),
        });
        let response = err.into_openai_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body: serde_json::Value = serde_json::from_str(response.body()).expect("JSON body");
        assert_eq!(
            body,
            json!({"error": {
                "message": "rate limit reached for model `gpt-4o` on tokens per minute (TPM): \
                            limit 10000; try again in 7s",
                "type": "rate_limit_error",
                "param": null,
                "code": "rate_limit_exceeded",
            }})
        );
    }

    #[test]
    fn an_unavailable_store_is_503_with_a_wait_of_at_least_a_second() {
        let err = RateLimitError::from(StoreUnavailable {
            retry_after: Duration::ZERO,
        });
        let response = err.into_openai_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body: serde_json::Value = serde_json::from_str(response.body()).expect("JSON body");
        assert_eq!(body["error"]["code"], "rate_limit_unavailable");
    }
}
