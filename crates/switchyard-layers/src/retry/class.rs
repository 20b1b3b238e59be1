//! What the retry policy asks of requests and results: whether a request can be sent again
//! ([`Replay`]) and whether a result calls for another attempt ([`RetryClass`]), with the
//! gateway's own types answering both.

use std::time::Duration;

/// What one result (a response or an error) calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryDecision {
    /// Hand the result to the caller: a success, or a failure another attempt cannot fix
    /// (a malformed request, a refused credential, a context window overflow).
    Final,
    /// A transient failure: another attempt may succeed. `after` is the upstream's wait hint
    /// (`Retry-After`), when it gave one.
    Retry {
        /// How long the upstream asked us to wait before trying again.
        after: Option<Duration>,
    },
    /// The answer has started reaching the caller (a stream whose first bytes may already be
    /// forwarded). It is handed over as it is and never retried, whatever happens later in the
    /// stream: a replay would send the caller a second beginning.
    Streaming,
}

/// A response or an error that says whether another attempt may help.
///
/// Implement it for both the response and the error type of the service under
/// [`RetryPolicy`](super::RetryPolicy). Responses that stream must answer
/// [`RetryDecision::Streaming`]; this is how the policy knows never to retry once a stream has
/// started.
///
/// ```
/// use std::time::Duration;
/// use switchyard_layers::retry::{RetryClass, RetryDecision};
///
/// enum Upstream {
///     Busy { wait: Option<Duration> },
///     Refused,
/// }
///
/// impl RetryClass for Upstream {
///     fn retry_decision(&self) -> RetryDecision {
///         match self {
///             Upstream::Busy { wait } => RetryDecision::Retry { after: *wait },
///             Upstream::Refused => RetryDecision::Final,
///         }
///     }
/// }
///
/// let busy = Upstream::Busy { wait: Some(Duration::from_secs(2)) };
/// assert_eq!(
///     busy.retry_decision(),
///     RetryDecision::Retry { after: Some(Duration::from_secs(2)) }
/// );
/// assert_eq!(Upstream::Refused.retry_decision(), RetryDecision::Final);
/// ```
pub trait RetryClass {
    /// What this result calls for.
    fn retry_decision(&self) -> RetryDecision;
}

/// A request that may be sent more than once.
///
/// [`RetryPolicy`](super::RetryPolicy) asks for a copy before every attempt; a request that
/// answers `None` (a body already being read from the client, a one-shot channel) gets exactly
/// one attempt, whatever its result.
pub trait Replay: Sized {
    /// A copy to send again, or `None` when this request cannot be replayed.
    fn replay(&self) -> Option<Self>;
}

impl<T: RetryClass + ?Sized> RetryClass for Box<T> {
    fn retry_decision(&self) -> RetryDecision {
        (**self).retry_decision()
    }
}

impl<T: RetryClass + ?Sized> RetryClass for std::sync::Arc<T> {
    fn retry_decision(&self) -> RetryDecision {
        (**self).retry_decision()
    }
}

/// A parsed chat request is held whole in memory, so replaying it is a copy. A streaming request
/// is replayable too: only its *response* stops retries, once the stream has started.
impl Replay for switchyard_wire::ChatRequest {
    fn replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

/// Held whole in memory, like a chat request.
impl Replay for switchyard_wire::EmbeddingsRequest {
    fn replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

/// A complete answer is always final.
impl RetryClass for switchyard_wire::ChatResponse {
    fn retry_decision(&self) -> RetryDecision {
        RetryDecision::Final
    }
}

/// A complete answer is always final.
impl RetryClass for switchyard_wire::EmbeddingsResponse {
    fn retry_decision(&self) -> RetryDecision {
        RetryDecision::Final
    }
}

/// Retries exactly the classes [`ErrorClass::is_retryable`] names, after the provider's
/// `retry_after` when it sent one.
///
/// [`ErrorClass::is_retryable`]: switchyard_providers::ErrorClass::is_retryable
#[cfg(feature = "providers")]
impl RetryClass for switchyard_providers::ProviderError {
    fn retry_decision(&self) -> RetryDecision {
        if self.class.is_retryable() {
            RetryDecision::Retry {
                after: self.retry_after,
            }
        } else {
            RetryDecision::Final
        }
    }
}

/// A chunk stream is handed over as soon as the upstream starts answering: never retried.
#[cfg(feature = "providers")]
impl RetryClass for switchyard_providers::ChunkStream {
    fn retry_decision(&self) -> RetryDecision {
        RetryDecision::Streaming
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_class_is_object_safe() {
        fn _obj_safe(_: &dyn RetryClass, _: Box<dyn RetryClass + Send + Sync>) {}
    }

    #[test]
    fn boxed_classes_answer_as_their_contents() {
        struct Busy;
        impl RetryClass for Busy {
            fn retry_decision(&self) -> RetryDecision {
                RetryDecision::Retry { after: None }
            }
        }
        let boxed: Box<dyn RetryClass> = Box::new(Busy);
        assert_eq!(boxed.retry_decision(), RetryDecision::Retry { after: None });
    }

    #[test]
    fn chat_requests_replay_as_copies() {
        let request: switchyard_wire::ChatRequest = serde_json::from_value(serde_json::json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true
        }))
        .expect("a valid request");
        assert_eq!(request.replay().as_ref(), Some(&request));
    }

    #[cfg(feature = "providers")]
    #[test]
    fn provider_errors_retry_exactly_the_retryable_classes() {
        use switchyard_providers::{ErrorClass, ProviderError};

        let wait = Duration::from_secs(3);
        let limited = ProviderError::from_status(429, None, "slow down".into(), Some(wait));
        assert_eq!(
            limited.retry_decision(),
            RetryDecision::Retry { after: Some(wait) }
        );
        let overloaded = ProviderError::new(ErrorClass::Overloaded, "busy");
        assert_eq!(
            overloaded.retry_decision(),
            RetryDecision::Retry { after: None }
        );
        for class in [
            ErrorClass::BadRequest,
            ErrorClass::Authentication,
            ErrorClass::ContextWindowExceeded,
            ErrorClass::ContentPolicy,
        ] {
            let err = ProviderError::new(class, "no");
            assert_eq!(err.retry_decision(), RetryDecision::Final, "{class:?}");
        }
    }

    #[cfg(feature = "providers")]
    #[test]
    fn chunk_streams_are_streaming() {
        let stream: switchyard_providers::ChunkStream = Box::pin(futures_util::stream::empty());
        assert_eq!(stream.retry_decision(), RetryDecision::Streaming);
    }
}
