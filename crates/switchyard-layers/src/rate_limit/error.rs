//! Why the rate limiter refused a call: a limit is reached ([`RateLimited`]), or the limits could
//! not be checked and the backend fails closed ([`StoreUnavailable`]).

use std::fmt;
use std::time::Duration;

use super::key::{Key, Scope};

/// Which ceiling of a limit refused the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// Requests per minute.
    Requests,
    /// Tokens per minute.
    Tokens,
}

impl LimitKind {
    /// `rpm` or `tpm`.
    pub const fn abbreviation(self) -> &'static str {
        match self {
            Self::Requests => "rpm",
            Self::Tokens => "tpm",
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Requests => "requests per minute (RPM)",
            Self::Tokens => "tokens per minute (TPM)",
        })
    }
}

/// A call refused because one of its limits is reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "rate limit reached for {scope} `{key}` on {kind}: limit {limit}; try again in {}s",
    whole_seconds(*retry_after)
)]
pub struct RateLimited {
    /// The scope of the limit that refused.
    pub scope: Scope,
    /// The key of the limit that refused.
    pub key: Key,
    /// Which of its ceilings.
    pub kind: LimitKind,
    /// The ceiling, per minute.
    pub limit: u64,
    /// How long until the call could pass. A call estimated at more tokens than the ceiling
    /// itself will never pass; it is still told when the window ends.
    pub retry_after: Duration,
}

/// The limits could not be checked (the store did not answer) and the backend is configured to
/// refuse calls then (fail-closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limits cannot be checked right now; try again in {}s", whole_seconds(*retry_after))]
pub struct StoreUnavailable {
    /// When the backend will ask the store again.
    pub retry_after: Duration,
}

/// Every way the rate limiter refuses a call. The [`RateLimit`](super::RateLimit) service
/// returns it boxed in a [`tower::BoxError`]; `downcast_ref::<RateLimitError>()` finds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    /// A limit is reached.
    #[error(transparent)]
    Limited(#[from] RateLimited),
    /// The limits could not be checked and the policy is to refuse.
    #[error(transparent)]
    Unavailable(#[from] StoreUnavailable),
}

impl RateLimitError {
    /// How long the caller should wait before trying again.
    pub fn retry_after(&self) -> Duration {
        match self {
            Self::Limited(limited) => limited.retry_after,
            Self::Unavailable(unavailable) => unavailable.retry_after,
        }
    }
}

/// A wait in whole seconds, rounded up, as `Retry-After` says it.
pub(crate) fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_limit_and_the_wait() {
        let err = RateLimitError::from(RateLimited {
            scope: Scope::USER,
            key: Key::from("alice"),
            kind: LimitKind::Tokens,
            limit: 1_000,
            retry_after: Duration::from_millis(5_200),
        });
        assert_eq!(
            err.to_string(),
            "rate limit reached for user `alice` on tokens per minute (TPM): limit 1000; \
             try again in 6s"
        );
        assert_eq!(err.retry_after(), Duration::from_millis(5_200));
        assert_eq!(LimitKind::Requests.abbreviation(), "rpm");
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
    }
}
