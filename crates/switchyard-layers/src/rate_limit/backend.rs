//! Where limits are counted: the [`RateLimitBackend`] trait, what it answers ([`Grant`],
//! [`Acquire`]), the [`Correction`] handle that settles a call's tokens, and the [`Sweeper`]
//! that keeps in-process state small.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::error::RateLimitError;
use super::key::LimitCheck;

/// Counts calls against limits: the mechanism behind [`RateLimit`](super::RateLimit).
///
/// [`LocalBackend`](super::LocalBackend) counts in this process;
/// [`RedisBackend`](super::RedisBackend) counts in Redis, shared by every replica.
pub trait RateLimitBackend: Send + Sync + 'static {
    /// Checks every limit in `checks`; if all admit the call, counts one request and `tokens`
    /// against each of them and grants it, otherwise counts nothing and refuses.
    fn acquire(&self, checks: &[LimitCheck], tokens: u64) -> Acquire;

    /// Corrects a granted call's tokens to `used_tokens`, the usage the response reported.
    /// Must not block; a backend that talks to a store sends the correction in the background.
    fn correct(&self, checks: &[LimitCheck], grant: Grant, used_tokens: u64);

    /// Forgets in-process state that no longer limits anyone; run by a [`Sweeper`].
    fn retain_recent(&self) {}
}

/// What a backend granted a call, to correct its tokens later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The minute window the call was counted in, in the backend's own numbering.
    pub window: u64,
    /// The tokens counted at admission (the estimate).
    pub tokens: u64,
    /// Whether a fallback counted the call instead of the backend's store (the Redis backend,
    /// failing open, counts in process while Redis does not answer).
    pub fallback: bool,
}

/// The answer of [`RateLimitBackend::acquire`]: ready at once for an in-process backend (no
/// allocation), or a boxed future for a backend that asks a store over the network.
#[must_use = "futures do nothing unless polled"]
pub struct Acquire(AcquireState);

type BoxedAcquire = Pin<Box<dyn Future<Output = Result<Grant, RateLimitError>> + Send>>;

enum AcquireState {
    Ready(Option<Result<Grant, RateLimitError>>),
    Pending(BoxedAcquire),
}

impl Acquire {
    /// An answer known now.
    pub fn ready(result: Result<Grant, RateLimitError>) -> Self {
        Self(AcquireState::Ready(Some(result)))
    }

    /// An answer that `future` will give.
    pub fn pending(
        future: impl Future<Output = Result<Grant, RateLimitError>> + Send + 'static,
    ) -> Self {
        Self(AcquireState::Pending(Box::pin(future)))
    }

    /// The answer if it is known now, else `self` back to await.
    pub fn into_ready(self) -> Result<Result<Grant, RateLimitError>, Self> {
        match self.0 {
            AcquireState::Ready(Some(result)) => Ok(result),
            state => Err(Self(state)),
        }
    }
}

impl Future for Acquire {
    type Output = Result<Grant, RateLimitError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            AcquireState::Ready(result) => {
                Poll::Ready(result.take().expect("`Acquire` polled after completion"))
            }
            AcquireState::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for Acquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            AcquireState::Ready(result) => f.debug_tuple("Acquire::Ready").field(result).finish(),
            AcquireState::Pending(_) => f.write_str("Acquire::Pending"),
        }
    }
}

/// The right to correct one granted call's tokens once its usage is known.
///
/// [`settle`](Self::settle) credits or debits the difference between the usage and the
/// estimate counted at admission. Only the first settle counts (clones share it, so a handle
/// kept in HTTP extensions may be cloned freely); a correction dropped unsettled leaves the
/// estimate counted.
#[derive(Clone)]
pub struct Correction(Arc<Pending>);

struct Pending {
    backend: Arc<dyn RateLimitBackend>,
    checks: Vec<LimitCheck>,
    grant: Grant,
    settled: AtomicBool,
}

impl Correction {
    pub(crate) fn new(
        backend: Arc<dyn RateLimitBackend>,
        checks: Vec<LimitCheck>,
        grant: Grant,
    ) -> Self {
        Self(Arc::new(Pending {
            backend,
            checks,
            grant,
            settled: AtomicBool::new(false),
        }))
    }

    /// The tokens counted at admission.
    pub fn estimated_tokens(&self) -> u64 {
        self.0.grant.tokens
    }

    /// Counts `used_tokens` instead of the estimate. Does nothing after the first time.
    pub fn settle(&self, used_tokens: u64) {
        let pending = &self.0;
        if pending.settled.swap(true, Ordering::AcqRel) || used_tokens == pending.grant.tokens {
            return;
        }
        pending
            .backend
            .correct(&pending.checks, pending.grant, used_tokens);
    }
}

impl fmt::Debug for Correction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Correction")
            .field("checks", &self.0.checks)
            .field("grant", &self.0.grant)
            .field("settled", &self.0.settled.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Calls [`RateLimitBackend::retain_recent`] periodically in a tokio task, so in-process state
/// holds only the callers seen in the last minute. Stops when dropped or when the backend is.
#[derive(Debug)]
pub struct Sweeper(JoinHandle<()>);

impl Sweeper {
    /// A good period: state older than a minute never limits anyone.
    pub const INTERVAL: Duration = Duration::from_secs(60);

    /// Sweeps `backend` every `every`, starting one period from now. Needs a tokio runtime.
    pub fn spawn<B: RateLimitBackend + ?Sized>(backend: &Arc<B>, every: Duration) -> Self {
        let backend: Weak<B> = Arc::downgrade(backend);
        Self(tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(backend) = backend.upgrade() else {
                    return;
                };
                backend.retain_recent();
            }
        }))
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Records corrections; grants everything.
    #[derive(Default)]
    struct Recorder {
        corrections: Mutex<Vec<u64>>,
        sweeps: Mutex<u32>,
    }

    impl RateLimitBackend for Recorder {
        fn acquire(&self, _: &[LimitCheck], tokens: u64) -> Acquire {
            Acquire::ready(Ok(Grant {
                window: 1,
                tokens,
                fallback: false,
            }))
        }

        fn correct(&self, _: &[LimitCheck], _: Grant, used_tokens: u64) {
            self.corrections
                .lock()
                .expect("not poisoned")
                .push(used_tokens);
        }

        fn retain_recent(&self) {
            *self.sweeps.lock().expect("not poisoned") += 1;
        }
    }

    #[test]
    fn backend_is_object_safe() {
        fn _obj_safe(_: Arc<dyn RateLimitBackend>) {}
    }

    #[test]
    fn a_correction_settles_once_and_only_when_the_usage_differs() {
        let recorder = Arc::new(Recorder::default());
        let grant = Grant {
            window: 1,
            tokens: 10,
            fallback: false,
        };
        let same = Correction::new(recorder.clone(), Vec::new(), grant);
        same.settle(10);
        let correction = Correction::new(recorder.clone(), Vec::new(), grant);
        let clone = correction.clone();
        correction.settle(25);
        clone.settle(30);
        assert_eq!(correction.estimated_tokens(), 10);
        assert_eq!(*recorder.corrections.lock().expect("not poisoned"), [25]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_sweeper_runs_every_period_and_stops_with_the_backend() {
        let recorder = Arc::new(Recorder::default());
        let _sweeper = Sweeper::spawn(&recorder, Duration::from_secs(60));
        tokio::time::sleep(Duration::from_secs(150)).await;
        assert_eq!(*recorder.sweeps.lock().expect("not poisoned"), 2);
        let weak = Arc::downgrade(&recorder);
        drop(recorder);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(
            weak.upgrade().is_none(),
            "the sweeper holds no strong reference"
        );
    }

    #[tokio::test]
    async fn ready_answers_need_no_waiting() {
        let acquire = Acquire::ready(Ok(Grant {
            window: 2,
            tokens: 3,
            fallback: false,
        }));
        assert!(matches!(acquire.into_ready(), Ok(Ok(grant)) if grant.window == 2));
        let pending = Acquire::pending(async {
            Ok(Grant {
                window: 4,
                tokens: 0,
                fallback: true,
            })
        });
        let Err(pending) = pending.into_ready() else {
            panic!("a pending answer is not ready");
        };
        assert_eq!(pending.await.map(|grant| grant.window), Ok(4));
    }
}
