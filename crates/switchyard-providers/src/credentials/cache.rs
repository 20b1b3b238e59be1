//! The token cache: one access token per credential, read without a lock on the hot path and
//! refreshed by one caller at a time while the others wait for its result.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{AccessToken, CredentialError, TokenSource};

/// How long a failed refresh is not tried again while the current token is still accepted.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);
/// How long a failed fetch answers every caller without a token, so that an outage of the
/// token endpoint costs it one request a second, not one per call.
const FAILURE_HELD_FOR: Duration = Duration::from_secs(1);

/// Keeps a [`TokenSource`]'s current token and replaces it before it expires.
///
/// Reading a fresh token is one atomic load ([`arc_swap`]); when the token is due, the first
/// caller fetches a new one under an async mutex and every concurrent caller waits for that
/// fetch instead of starting its own (single flight). A failed refresh keeps serving the old
/// token while it is still accepted, trying again at most every ten seconds; without a usable
/// token, the failure is every caller's for a second before the next fetch.
#[derive(Debug)]
pub struct TokenCache {
    source: Arc<dyn TokenSource>,
    current: ArcSwapOption<AccessToken>,
    /// Held by the caller that refreshes; holds what the last failure left.
    refresh: Mutex<Failure>,
}

/// What the last failed fetch left: when the next may be made, and its error.
#[derive(Debug, Default)]
struct Failure {
    next_attempt: Option<Instant>,
    error: Option<CredentialError>,
}

impl TokenCache {
    /// A cache over `source`; nothing is fetched until the first call.
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        Self {
            source,
            current: ArcSwapOption::empty(),
            refresh: Mutex::new(Failure::default()),
        }
    }

    /// The credential the tokens come from, as its source names it.
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// A token that is not due for refresh, fetching one if needed.
    pub async fn token(&self) -> Result<Arc<AccessToken>, CredentialError> {
        if let Some(token) = self.fresh(Instant::now()) {
            return Ok(token);
        }
        let mut failure = self.refresh.lock().await;
        let now = Instant::now();
        // Another caller may have refreshed while this one waited.
        if let Some(token) = self.fresh(now) {
            return Ok(token);
        }
        let usable = self
            .current
            .load_full()
            .filter(|token| !token.is_expired(now));
        if let Some(at) = failure.next_attempt
            && now < at
        {
            match (&usable, &failure.error) {
                (Some(token), _) => return Ok(Arc::clone(token)),
                (None, Some(error)) => return Err(error.clone()),
                (None, None) => {}
            }
        }
        match self.source.fetch().await {
            Ok(token) => {
                tracing::debug!(credential = %self.source.describe(), "fetched an access token");
                let token = Arc::new(token);
                self.current.store(Some(Arc::clone(&token)));
                *failure = Failure::default();
                Ok(token)
            }
            Err(err) => {
                tracing::warn!(
                    credential = %self.source.describe(),
                    error = %err,
                    "fetching an access token failed"
                );
                match usable {
                    Some(token) => {
                        failure.next_attempt = Some(now + RETRY_AFTER_FAILURE);
                        failure.error = None;
                        Ok(token)
                    }
                    None => {
                        failure.next_attempt = Some(now + FAILURE_HELD_FOR);
                        failure.error = Some(err.clone());
                        Err(err)
                    }
                }
            }
        }
    }

    fn fresh(&self, now: Instant) -> Option<Arc<AccessToken>> {
        self.current
            .load_full()
            .filter(|token| !token.needs_refresh(now))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::future::BoxFuture;

    use super::*;

    /// Hands out `token-1`, `token-2`, ... each valid for an hour, or fails when told to.
    #[derive(Debug, Default)]
    struct Counting {
        attempts: AtomicUsize,
        fetches: AtomicUsize,
        failing: std::sync::atomic::AtomicBool,
    }

    impl TokenSource for Counting {
        fn describe(&self) -> String {
            "a counting source".to_owned()
        }

        fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, CredentialError>> {
            Box::pin(async move {
                // A fetch takes a while, so that concurrent callers overlap it.
                tokio::time::sleep(Duration::from_millis(50)).await;
                self.attempts.fetch_add(1, Ordering::SeqCst);
                if self.failing.load(Ordering::SeqCst) {
                    return Err(CredentialError::Failed {
                        credential: self.describe(),
                        status: 503,
                    });
                }
                let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
                AccessToken::new(&format!("token-{n}"), Duration::from_secs(3600))
            })
        }
    }

    fn cache() -> (Arc<Counting>, Arc<TokenCache>) {
        let source = Arc::new(Counting::default());
        let cache = Arc::new(TokenCache::new(Arc::clone(&source) as Arc<dyn TokenSource>));
        (source, cache)
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_fetch_and_reuse_it() {
        let (source, cache) = cache();
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move { cache.token().await })
            })
            .collect();
        for call in calls {
            let token = call.await.expect("joined").expect("token");
            assert_eq!(token.header(), "Bearer token-1");
        }
        assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(3000)).await;
        assert_eq!(
            cache.token().await.expect("token").header(),
            "Bearer token-1"
        );
        assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_near_expiry_is_replaced_before_it_expires() {
        let (source, cache) = cache();
        cache.token().await.expect("token");
        // Five minutes before the hour is up, the next call fetches a new token.
        tokio::time::advance(Duration::from_secs(3301)).await;
        assert_eq!(
            cache.token().await.expect("token").header(),
            "Bearer token-2"
        );
        assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_refresh_keeps_the_valid_token_then_fails_once_it_expired() {
        let (source, cache) = cache();
        cache.token().await.expect("token");
        source.failing.store(true, Ordering::SeqCst);
        tokio::time::advance(Duration::from_secs(3400)).await;
        assert_eq!(
            cache.token().await.expect("old token").header(),
            "Bearer token-1"
        );
        tokio::time::advance(Duration::from_secs(201)).await;
        let err = cache.token().await.expect_err("expired and no new one");
        assert!(matches!(err, CredentialError::Failed { status: 503, .. }));
        source.failing.store(false, Ordering::SeqCst);
        // The failure answers for a second before the next fetch.
        assert!(cache.token().await.is_err());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            cache.token().await.expect("token").header(),
            "Bearer token-2"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn callers_during_an_outage_share_one_failed_fetch() {
        let (source, cache) = cache();
        source.failing.store(true, Ordering::SeqCst);
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move { cache.token().await })
            })
            .collect();
        for call in calls {
            assert!(call.await.expect("joined").is_err());
        }
        assert_eq!(source.attempts.load(Ordering::SeqCst), 1);
        source.failing.store(false, Ordering::SeqCst);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            cache.token().await.expect("token").header(),
            "Bearer token-1",
            "the outage cost one fetch, then the next one succeeded"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_fetch_failing_is_the_callers_error() {
        let (source, cache) = cache();
        source.failing.store(true, Ordering::SeqCst);
        let err = cache.token().await.expect_err("no token");
        assert!(err.to_string().contains("a counting source"), "{err}");
    }
}
