//! The limit traits for the gateway's own types: `max_tokens` on a chat request, and a deadline
//! that passed as a provider error.

use switchyard_wire::ChatRequest;

use super::MaxTokensRequest;

/// The key is the model the client named (a model group in the gateway).
///
/// A chat request can carry its limit twice: `max_completion_tokens` (current) and `max_tokens`
/// (legacy, which OpenAI's reasoning models reject). The larger one counts, so no upstream,
/// whichever field it reads, is sent more than the ceiling. Setting writes every field the
/// client used, or `max_completion_tokens` alone when it used neither: the Anthropic, Gemini and
/// Bedrock adapters read either, and OpenAI takes it for every model.
impl MaxTokensRequest for ChatRequest {
    fn policy_key(&self) -> Option<&str> {
        Some(&self.model)
    }

    fn max_tokens(&self) -> Option<u32> {
        match (self.max_completion_tokens, self.max_tokens) {
            (Some(current), Some(legacy)) => Some(current.max(legacy)),
            (current, legacy) => current.or(legacy),
        }
    }

    fn set_max_tokens(&mut self, max_tokens: u32) {
        if self.max_tokens.is_some() {
            self.max_tokens = Some(max_tokens);
        }
        if self.max_completion_tokens.is_some() || self.max_tokens.is_none() {
            self.max_completion_tokens = Some(max_tokens);
        }
    }
}

/// A passed deadline is the upstream not answering in time: [`ErrorClass::Timeout`], which
/// routing and [`RetryPolicy`](crate::retry::RetryPolicy) may retry.
///
/// [`ErrorClass::Timeout`]: switchyard_providers::ErrorClass::Timeout
#[cfg(feature = "providers")]
impl From<super::Elapsed> for switchyard_providers::ProviderError {
    fn from(elapsed: super::Elapsed) -> Self {
        Self::new(
            switchyard_providers::ErrorClass::Timeout,
            format!("the upstream did not answer within {:?}", elapsed.limit()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{MaxTokensLayer, TokenLimit};

    fn request(body: serde_json::Value) -> ChatRequest {
        let mut body = body;
        body["model"] = "m".into();
        body["messages"] = serde_json::json!([]);
        serde_json::from_value(body).expect("a chat request")
    }

    fn limits(request: &mut ChatRequest) {
        let layer = MaxTokensLayer::new().fallback(TokenLimit::new(100, 1_000).expect("valid"));
        layer.apply(request).expect("clamping never refuses");
    }

    #[test]
    fn a_request_without_a_limit_gets_max_completion_tokens() {
        let mut r = request(serde_json::json!({}));
        limits(&mut r);
        assert_eq!((r.max_completion_tokens, r.max_tokens), (Some(100), None));
    }

    #[test]
    fn the_field_the_client_used_is_the_one_clamped() {
        let mut legacy = request(serde_json::json!({"max_tokens": 5_000}));
        limits(&mut legacy);
        assert_eq!(
            (legacy.max_completion_tokens, legacy.max_tokens),
            (None, Some(1_000))
        );

        let mut current = request(serde_json::json!({"max_completion_tokens": 5_000}));
        limits(&mut current);
        assert_eq!(
            (current.max_completion_tokens, current.max_tokens),
            (Some(1_000), None)
        );
    }

    #[test]
    fn with_both_fields_the_larger_counts_and_both_are_clamped() {
        let mut both =
            request(serde_json::json!({"max_completion_tokens": 50, "max_tokens": 5_000}));
        assert_eq!(both.max_tokens(), Some(5_000));
        limits(&mut both);
        assert_eq!(
            (both.max_completion_tokens, both.max_tokens),
            (Some(1_000), Some(1_000))
        );

        let mut within =
            request(serde_json::json!({"max_completion_tokens": 50, "max_tokens": 60}));
        limits(&mut within);
        assert_eq!(
            (within.max_completion_tokens, within.max_tokens),
            (Some(50), Some(60))
        );
    }

    #[test]
    fn the_key_is_the_model() {
        let r = request(serde_json::json!({}));
        assert_eq!(r.policy_key(), Some("m"));
    }

    #[cfg(feature = "providers")]
    #[tokio::test(start_paused = true)]
    async fn an_elapsed_attempt_is_a_retryable_timeout() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};
        use std::time::Duration;

        use switchyard_providers::{ErrorClass, ProviderError};
        use tower::{ServiceBuilder, ServiceExt};

        use crate::limits::{DeadlineLayer, RequestedTimeout};
        use crate::retry::{Replay, RetryConfig, RetryPolicy};

        #[derive(Clone)]
        struct Call;
        impl RequestedTimeout for Call {
            fn requested_timeout(&self) -> Option<Duration> {
                None
            }
        }
        impl Replay for Call {
            fn replay(&self) -> Option<Self> {
                Some(Call)
            }
        }
        struct Reply;
        impl crate::retry::RetryClass for Reply {
            fn retry_decision(&self) -> crate::retry::RetryDecision {
                crate::retry::RetryDecision::Final
            }
        }

        let elapsed = ProviderError::from(crate::limits::Elapsed::new(Duration::from_secs(5)));
        assert_eq!(elapsed.class, ErrorClass::Timeout);
        assert_eq!(elapsed.message, "the upstream did not answer within 5s");

        // Retry outside the deadline: the first attempt hangs and times out, the second answers.
        let calls = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&calls);
        let policy = RetryPolicy::new(&RetryConfig::default()).expect("valid");
        let service = ServiceBuilder::new()
            .retry(policy)
            .layer(DeadlineLayer::new(
                Duration::from_secs(5),
                Duration::from_secs(5),
            ))
            .service_fn(move |_: Call| {
                let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    if first {
                        std::future::pending::<()>().await;
                    }
                    Ok::<_, ProviderError>(Reply)
                }
            });
        assert!(service.oneshot(Call).await.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
