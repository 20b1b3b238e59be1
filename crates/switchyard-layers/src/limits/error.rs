//! The failures of the limit layers, one type per thing a caller can act on.

use std::time::Duration;

/// A request that got no answer within its deadline, from
/// [`DeadlineLayer`](super::DeadlineLayer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no answer within {limit:?}")]
pub struct Elapsed {
    limit: Duration,
}

impl Elapsed {
    /// A deadline of `limit` that passed.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }

    /// The deadline the request had.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

/// A request asking for more tokens than its ceiling, refused by
/// [`MaxTokensLayer`](super::MaxTokensLayer) set to [`Excess::Refuse`](super::Excess::Refuse).
///
/// It names neither the model nor the key the ceiling came from: keys can be secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("max_tokens {requested} is above the ceiling of {ceiling}")]
pub struct MaxTokensExceeded {
    /// The limit the request asked for.
    pub requested: u32,
    /// The most it may ask for.
    pub ceiling: u32,
}

/// A [`TokenLimit`](super::TokenLimit) that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTokenLimit {
    /// The default or the ceiling is zero: an answer of no tokens is no answer.
    #[error("a max_tokens default and ceiling must be at least 1")]
    Zero,
    /// The default is above the ceiling, so a request without a limit would get more than one
    /// with a limit may ask for.
    #[error("the max_tokens default {default} is above the ceiling {ceiling}")]
    DefaultAboveCeiling {
        /// The configured default.
        default: u32,
        /// The configured ceiling.
        ceiling: u32,
    },
}
