//! Retry stacks built the way users build them: `ServiceBuilder` around a scripted stub, on a
//! paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tower::retry::Policy;
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt};

use super::*;

#[derive(Debug, Clone, PartialEq)]
struct Req {
    replayable: bool,
}

impl Replay for Req {
    fn replay(&self) -> Option<Self> {
        self.replayable.then(|| self.clone())
    }
}

const REPLAYABLE: Req = Req { replayable: true };

#[derive(Debug, Clone, PartialEq)]
enum Res {
    Done,
    /// An answer that is itself a transient failure, like an HTTP 503 response.
    Busy,
    Stream,
}

impl RetryClass for Res {
    fn retry_decision(&self) -> RetryDecision {
        match self {
            Res::Done => RetryDecision::Final,
            Res::Busy => RetryDecision::Retry { after: None },
            Res::Stream => RetryDecision::Streaming,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Fail {
    Transient(Option<Duration>),
    Fatal,
}

impl RetryClass for Fail {
    fn retry_decision(&self) -> RetryDecision {
        match self {
            Fail::Transient(after) => RetryDecision::Retry { after: *after },
            Fail::Fatal => RetryDecision::Final,
        }
    }
}

fn config() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(5),
        budget: RetryBudget::default(),
        seed: Some(1),
    }
}

/// The instants at which the stub was called.
type Calls = Arc<Mutex<Vec<Instant>>>;

/// A retry stack over a stub answering the `n`-th call with `script[n]` (the last entry
/// repeats).
fn stack(
    policy: RetryPolicy,
    script: Vec<Result<Res, Fail>>,
) -> (BoxCloneService<Req, Res, Fail>, Calls) {
    let calls = Calls::default();
    let log = Arc::clone(&calls);
    let service = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service_fn(move |_: Req| {
            let mut log = log.lock().expect("lock");
            log.push(Instant::now());
            let step = (log.len() - 1).min(script.len() - 1);
            std::future::ready(script[step].clone())
        });
    (BoxCloneService::new(service), calls)
}

fn policy() -> RetryPolicy {
    RetryPolicy::new(&config()).expect("valid")
}

fn count(calls: &Calls) -> usize {
    calls.lock().expect("lock").len()
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_until_an_answer() {
    let script = vec![
        Err(Fail::Transient(None)),
        Err(Fail::Transient(None)),
        Ok(Res::Done),
    ];
    let (service, calls) = stack(policy(), script);
    assert_eq!(service.oneshot(REPLAYABLE).await, Ok(Res::Done));
    assert_eq!(count(&calls), 3);
}

#[tokio::test(start_paused = true)]
async fn the_last_failure_is_returned_when_attempts_run_out() {
    let (service, calls) = stack(policy(), vec![Err(Fail::Transient(None))]);
    assert_eq!(
        service.oneshot(REPLAYABLE).await,
        Err(Fail::Transient(None))
    );
    assert_eq!(count(&calls), 3, "max_attempts counts the first call");
}

#[tokio::test(start_paused = true)]
async fn final_errors_and_answers_are_not_retried() {
    let (service, calls) = stack(policy(), vec![Err(Fail::Fatal)]);
    assert_eq!(service.oneshot(REPLAYABLE).await, Err(Fail::Fatal));
    assert_eq!(count(&calls), 1);

    let (service, calls) = stack(policy(), vec![Ok(Res::Done)]);
    assert_eq!(service.oneshot(REPLAYABLE).await, Ok(Res::Done));
    assert_eq!(count(&calls), 1);
}

#[tokio::test(start_paused = true)]
async fn requests_that_cannot_be_replayed_get_one_attempt() {
    let (service, calls) = stack(policy(), vec![Err(Fail::Transient(None))]);
    let once = Req { replayable: false };
    assert_eq!(service.oneshot(once).await, Err(Fail::Transient(None)));
    assert_eq!(count(&calls), 1);
}

#[tokio::test(start_paused = true)]
async fn a_started_stream_is_never_retried() {
    let (service, calls) = stack(policy(), vec![Ok(Res::Stream)]);
    assert_eq!(service.oneshot(REPLAYABLE).await, Ok(Res::Stream));
    assert_eq!(count(&calls), 1);

    // A failing answer is retried; the stream that follows ends the retries.
    let script = vec![Ok(Res::Busy), Ok(Res::Stream), Ok(Res::Done)];
    let (service, calls) = stack(policy(), script);
    assert_eq!(service.oneshot(REPLAYABLE).await, Ok(Res::Stream));
    assert_eq!(count(&calls), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_for() {
    let hint = Duration::from_secs(2);
    let script = vec![Err(Fail::Transient(Some(hint))), Ok(Res::Done)];
    let (service, calls) = stack(policy(), script);
    assert_eq!(service.oneshot(REPLAYABLE).await, Ok(Res::Done));
    let calls = calls.lock().expect("lock");
    // The hint is longer than the first backoff's 100 ms ceiling, so it is the wait.
    assert_eq!(calls[1] - calls[0], hint);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_cap_is_handed_back() {
    let long = Fail::Transient(Some(Duration::from_secs(60)));
    let (service, calls) = stack(policy(), vec![Err(long.clone())]);
    let started = Instant::now();
    assert_eq!(service.oneshot(REPLAYABLE).await, Err(long));
    assert_eq!(count(&calls), 1);
    assert_eq!(started.elapsed(), Duration::ZERO, "no waiting at all");
}

#[tokio::test(start_paused = true)]
async fn backoff_waits_stay_under_their_ceilings_and_replay_with_the_seed() {
    let waits = |calls: &Calls| {
        let calls = calls.lock().expect("lock");
        calls.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>()
    };
    let (service, first) = stack(policy(), vec![Err(Fail::Transient(None))]);
    let _ = service.oneshot(REPLAYABLE).await;
    let first = waits(&first);
    assert_eq!(first.len(), 2);
    assert!(first[0] <= Duration::from_millis(100), "{first:?}");
    assert!(first[1] <= Duration::from_millis(200), "{first:?}");

    let (service, second) = stack(policy(), vec![Err(Fail::Transient(None))]);
    let _ = service.oneshot(REPLAYABLE).await;
    assert_eq!(waits(&second), first, "same seed, same waits");
}

#[tokio::test(start_paused = true)]
async fn a_storm_of_failures_is_held_to_the_budget() {
    const REQUESTS: usize = 100;
    // No reserve, one retry per ten requests; each request would otherwise try three times.
    let config = RetryConfig {
        budget: RetryBudget {
            ttl: Duration::from_secs(60),
            min_per_sec: 0,
            retry_ratio: 0.1,
        },
        ..config()
    };
    let policy = RetryPolicy::new(&config).expect("valid");
    let (service, calls) = stack(policy, vec![Err(Fail::Transient(None))]);
    for _ in 0..REQUESTS {
        let _ = service.clone().oneshot(REPLAYABLE).await;
    }
    let retries = count(&calls) - REQUESTS;
    assert!((1..=REQUESTS / 10).contains(&retries), "{retries} retries");
}

#[tokio::test(start_paused = true)]
async fn policies_can_share_one_budget() {
    let shared = Arc::new(
        RetryBudget {
            ttl: Duration::from_secs(10),
            min_per_sec: 0,
            retry_ratio: 0.0,
        }
        .build()
        .expect("valid"),
    );
    // A budget with neither reserve nor ratio allows no retry at all, for either policy.
    for _ in 0..2 {
        let policy = policy().with_budget(Arc::clone(&shared));
        let (service, calls) = stack(policy, vec![Err(Fail::Transient(None))]);
        let _ = service.oneshot(REPLAYABLE).await;
        assert_eq!(count(&calls), 1);
    }
}

#[test]
fn the_policy_can_be_used_as_a_trait_object() {
    let policy: Box<dyn Policy<Req, Res, Fail, Future = Sleep> + Send + Sync> = Box::new(policy());
    drop(policy);
}

#[cfg(feature = "providers")]
#[tokio::test(start_paused = true)]
async fn provider_errors_and_chunk_streams_behave_as_documented() {
    use switchyard_providers::{ChunkStream, ErrorClass, ProviderError};
    use switchyard_wire::ChatRequest;

    let request: ChatRequest = serde_json::from_value(serde_json::json!({
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true
    }))
    .expect("a valid request");
    let calls = Calls::default();
    let log = Arc::clone(&calls);
    let service = ServiceBuilder::new()
        .retry(policy())
        .service_fn(move |_: ChatRequest| {
            let mut log = log.lock().expect("lock");
            log.push(Instant::now());
            let result: Result<ChunkStream, ProviderError> = match log.len() {
                1 => Err(ProviderError::from_status(
                    429,
                    None,
                    "slow down".into(),
                    Some(Duration::from_secs(1)),
                )),
                2 => Ok(Box::pin(futures_util::stream::empty())),
                _ => Err(ProviderError::new(ErrorClass::BadRequest, "unreachable")),
            };
            std::future::ready(result)
        });
    assert!(
        service.oneshot(request).await.is_ok(),
        "the stream is handed over"
    );
    let calls = calls.lock().expect("lock");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1] - calls[0], Duration::from_secs(1));
}
