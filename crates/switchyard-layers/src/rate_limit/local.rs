//! The in-process backend: requests per minute with governor's keyed GCRA limiters, tokens per
//! minute with a fixed one-minute window per key. Time is tokio's clock, so tests pause it.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use dashmap::mapref::one::Ref;
use governor::clock::Clock;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use super::backend::{Acquire, Grant, RateLimitBackend};
use super::error::{LimitKind, RateLimitError, RateLimited};
use super::key::{Key, LimitCheck, Scope};

const MINUTE: Duration = Duration::from_secs(60);

/// Counts limits in this process. Cheap to check (no I/O, no allocation once a key is known),
/// but each replica counts alone: N replicas admit up to N times each limit. Share limits between
/// replicas with [`RedisBackend`](super::RedisBackend).
///
/// Requests per minute use governor's GCRA: a full minute's worth may come at once, then one
/// more every `60 s / rpm`. Tokens per minute use a fixed window per key, aligned to the
/// backend's creation: the estimate must fit in what is left of the current minute.
///
/// Several limits on one call are all-or-nothing for tokens (a refused call gives back what it
/// reserved). For requests, governor cannot give a slot back: when the second of two
/// requests-per-minute limits refuses a call, the first one has still counted it. Token limits
/// are checked first, so a call refused for tokens uses no request slot.
///
/// Call [`retain_recent`](RateLimitBackend::retain_recent) periodically (a
/// [`Sweeper`](super::Sweeper) does), or state grows with every key ever seen.
pub struct LocalBackend {
    start: tokio::time::Instant,
    /// One keyed limiter per distinct requests-per-minute ceiling (governor's quota is per
    /// limiter); few in practice.
    requests: DashMap<NonZeroU32, RequestLimiter>,
    tokens: DashMap<LimitKey, TokenWindow>,
}

type RequestLimiter = RateLimiter<LimitKey, DashMapStateStore<LimitKey>, TokioClock>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LimitKey {
    scope: Scope,
    key: Key,
}

impl LimitKey {
    fn of(check: &LimitCheck) -> Self {
        Self {
            scope: check.scope.clone(),
            key: check.key.clone(),
        }
    }
}

/// governor on tokio's clock, which tests pause and advance.
#[derive(Debug, Clone, Copy, Default)]
struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        tokio::time::Instant::now().into_std()
    }
}

impl Default for LocalBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBackend")
            .field("request_ceilings", &self.requests.len())
            .field("token_keys", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl LocalBackend {
    /// An empty backend; its minute windows start now.
    pub fn new() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            requests: DashMap::new(),
            tokens: DashMap::new(),
        }
    }

    /// The current minute window (1 is the first) and the time left in it.
    fn window(&self) -> (u64, Duration) {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.start);
        let into = u64::try_from(elapsed.as_nanos() % MINUTE.as_nanos()).unwrap_or(0);
        (
            elapsed.as_secs() / 60 + 1,
            MINUTE.saturating_sub(Duration::from_nanos(into)),
        )
    }

    /// The token window of `check`'s key, created empty if new.
    fn token_window(&self, check: &LimitCheck) -> Ref<'_, LimitKey, TokenWindow> {
        let key = LimitKey::of(check);
        match self.tokens.get(&key) {
            Some(tokens) => tokens,
            None => self.tokens.entry(key).or_default().downgrade(),
        }
    }

    pub(super) fn admit(&self, checks: &[LimitCheck], tokens: u64) -> Result<Grant, RateLimited> {
        let (window, left) = self.window();
        for (i, check) in checks.iter().enumerate() {
            let Some(ceiling) = check.limits.tokens_per_minute else {
                continue;
            };
            let counted = self.token_window(check).try_add(window, tokens, ceiling);
            if !counted {
                self.give_back(&checks[..i], window, tokens);
                return Err(refusal(check, LimitKind::Tokens, ceiling, left));
            }
        }
        for check in checks {
            let Some(ceiling) = check.limits.requests_per_minute else {
                continue;
            };
            let refused = match NonZeroU32::new(ceiling) {
                None => Some(left),
                Some(rpm) => self.check_requests(rpm, check),
            };
            if let Some(retry_after) = refused {
                self.give_back(checks, window, tokens);
                return Err(refusal(
                    check,
                    LimitKind::Requests,
                    ceiling.into(),
                    retry_after,
                ));
            }
        }
        Ok(Grant {
            window,
            tokens,
            fallback: false,
        })
    }

    /// Counts one request; if refused, how long until one would pass.
    fn check_requests(&self, rpm: NonZeroU32, check: &LimitCheck) -> Option<Duration> {
        let key = LimitKey::of(check);
        let outcome = match self.requests.get(&rpm) {
            Some(limiter) => limiter.check_key(&key),
            None => self
                .requests
                .entry(rpm)
                .or_insert_with(|| {
                    RateLimiter::dashmap_with_clock(Quota::per_minute(rpm), TokioClock)
                })
                .check_key(&key),
        };
        outcome
            .err()
            .map(|not_until| not_until.wait_time_from(TokioClock.now()))
    }

    /// Takes `tokens` back from the token windows of `checks`, if still in `window`.
    fn give_back(&self, checks: &[LimitCheck], window: u64, tokens: u64) {
        for check in checks
            .iter()
            .filter(|c| c.limits.tokens_per_minute.is_some())
        {
            if let Some(entry) = self.tokens.get(&LimitKey::of(check)) {
                entry.sub(window, tokens);
            }
        }
    }
}

fn refusal(check: &LimitCheck, kind: LimitKind, limit: u64, retry_after: Duration) -> RateLimited {
    RateLimited {
        scope: check.scope.clone(),
        key: check.key.clone(),
        kind,
        limit,
        retry_after,
    }
}

impl RateLimitBackend for LocalBackend {
    fn acquire(&self, checks: &[LimitCheck], tokens: u64) -> Acquire {
        Acquire::ready(self.admit(checks, tokens).map_err(RateLimitError::from))
    }

    /// A debit (more used than estimated) counts in the current window; a credit only while the
    /// call's window is still current, since a past window no longer limits anyone.
    fn correct(&self, checks: &[LimitCheck], grant: Grant, used_tokens: u64) {
        let (window, _) = self.window();
        for check in checks
            .iter()
            .filter(|c| c.limits.tokens_per_minute.is_some())
        {
            if used_tokens > grant.tokens {
                self.token_window(check)
                    .add(window, used_tokens - grant.tokens);
            } else if let Some(entry) = self.tokens.get(&LimitKey::of(check)) {
                entry.sub(grant.window, grant.tokens - used_tokens);
            }
        }
    }

    fn retain_recent(&self) {
        for limiter in self.requests.iter() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let (window, _) = self.window();
        self.tokens.retain(|_, tokens| tokens.is_current(window));
        self.tokens.shrink_to_fit();
    }
}

/// Tokens counted in one minute window, packed in one atomic so that checking and counting is a
/// single compare-and-swap: the window number (modulo 2^24: 31 years of minutes) in the high bits,
/// the tokens (up to 2^40) in the low bits.
#[derive(Debug, Default)]
struct TokenWindow(AtomicU64);

const TOKEN_BITS: u32 = 40;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;
const WINDOW_MASK: u64 = (1 << (64 - TOKEN_BITS)) - 1;

fn pack(window: u64, tokens: u64) -> u64 {
    ((window & WINDOW_MASK) << TOKEN_BITS) | tokens.min(TOKEN_MASK)
}

impl TokenWindow {
    /// The tokens counted in `window` (none if the state is of another window).
    fn used(state: u64, window: u64) -> u64 {
        if state >> TOKEN_BITS == window & WINDOW_MASK {
            state & TOKEN_MASK
        } else {
            0
        }
    }

    /// Counts `tokens` in `window` if they fit under `ceiling` (nothing fits under 0).
    fn try_add(&self, window: u64, tokens: u64, ceiling: u64) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                let used = Self::used(state, window);
                let fits = ceiling > 0 && used.saturating_add(tokens) <= ceiling;
                fits.then(|| pack(window, used + tokens))
            })
            .is_ok()
    }

    /// Counts `tokens` in `window`, over the ceiling or not.
    fn add(&self, window: u64, tokens: u64) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                Some(pack(
                    window,
                    Self::used(state, window).saturating_add(tokens),
                ))
            });
    }

    /// Takes `tokens` back from `window`, if it is still the one counted.
    fn sub(&self, window: u64, tokens: u64) {
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                (state >> TOKEN_BITS == window & WINDOW_MASK)
                    .then(|| pack(window, (state & TOKEN_MASK).saturating_sub(tokens)))
            });
    }

    fn is_current(&self, window: u64) -> bool {
        Self::used(self.0.load(Ordering::Acquire), window) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::Limits;

    fn check(key: &str, limits: Limits) -> LimitCheck {
        LimitCheck::new(Scope::API_KEY, key, limits)
    }

    fn admitted(backend: &LocalBackend, checks: &[LimitCheck], tokens: u64) -> bool {
        backend.admit(checks, tokens).is_ok()
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_refused_for_tokens_gives_back_what_it_reserved() {
        let backend = LocalBackend::new();
        let a = check("a", Limits::none().tpm(100).rpm(10));
        let b = check("b", Limits::none().tpm(50));
        assert!(admitted(&backend, &[a.clone(), b.clone()], 40));
        let err = backend
            .admit(&[a.clone(), b.clone()], 40)
            .expect_err("b is full");
        assert_eq!((err.key.as_str(), err.kind), ("b", LimitKind::Tokens));
        // `a` has 40 counted, not 80: 60 more fit.
        assert!(admitted(&backend, std::slice::from_ref(&a), 60));
    }

    #[tokio::test(start_paused = true)]
    async fn windows_restart_every_minute_and_sweeping_forgets_idle_keys() {
        let backend = LocalBackend::new();
        let a = [check("a", Limits::none().tpm(10).rpm(1))];
        assert!(admitted(&backend, &a, 10));
        tokio::time::advance(Duration::from_secs(30)).await;
        let err = backend.admit(&a, 1).expect_err("the window is full");
        assert_eq!(err.retry_after, Duration::from_secs(30));
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(admitted(&backend, &a, 10));
        tokio::time::advance(Duration::from_secs(120)).await;
        backend.retain_recent();
        assert_eq!(backend.tokens.len(), 0);
        let limiter = backend
            .requests
            .get(&NonZeroU32::MIN)
            .expect("one ceiling seen");
        assert!(limiter.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_ceiling_refuses_everything() {
        let backend = LocalBackend::new();
        let err = backend
            .admit(&[check("a", Limits::none().rpm(0))], 0)
            .expect_err("refused");
        assert_eq!((err.kind, err.limit), (LimitKind::Requests, 0));
        let err = backend
            .admit(&[check("a", Limits::none().tpm(0))], 0)
            .expect_err("refused");
        assert_eq!((err.kind, err.limit), (LimitKind::Tokens, 0));
    }

    #[test]
    fn token_windows_pack_window_and_count() {
        let tokens = TokenWindow::default();
        assert!(tokens.try_add(7, 5, 10));
        assert!(!tokens.try_add(7, 6, 10));
        tokens.add(7, 20);
        assert_eq!(TokenWindow::used(tokens.0.load(Ordering::Relaxed), 7), 25);
        tokens.sub(6, 25);
        assert_eq!(TokenWindow::used(tokens.0.load(Ordering::Relaxed), 7), 25);
        tokens.sub(7, 100);
        assert_eq!(TokenWindow::used(tokens.0.load(Ordering::Relaxed), 7), 0);
        assert!(tokens.try_add(8, 10, 10), "a new window starts empty");
    }
}
