//! The soak test's traffic: which kind of request comes next (the mix), when it is sent (open
//! loop: at fixed intervals, whether or not earlier requests have been answered), what it sends,
//! and how its answer is judged.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::summary::{Outcome, Window};
use crate::bench::gateway::BENCH_MODEL;
use crate::bench::load::handshake;
use crate::bench::upstream::CHAT_COMPLETIONS_PATH;

/// The model group whose upstream always fails (the gateway answers 502).
pub const FAILING_GROUP: &str = "soak-fail";
/// How many distinct prompts the repeated requests cycle through (all cache hits after the
/// first round).
const REPEATED_PROMPTS: u64 = 16;
/// A request not answered within this time counts as a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests in flight beyond which a due request is skipped (and counted) rather than sent, so
/// that a stalled gateway cannot make the load generator pile up tasks without bound.
const MAX_IN_FLIGHT: usize = 2_000;

/// The kinds of request in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A chat completion with a prompt never sent before: a cache miss.
    Plain,
    /// A streamed chat completion with a new prompt.
    Stream,
    /// A chat completion to the failing group: 502 expected.
    Failing,
    /// A chat completion with one of a few prompts sent again and again: a cache hit.
    Repeated,
}

impl Kind {
    /// Every kind, in the order of [`Mix`]'s ties.
    pub const ALL: [Self; 4] = [Self::Plain, Self::Stream, Self::Failing, Self::Repeated];

    /// The kind's share of the traffic, in tenths.
    const fn weight(self) -> i64 {
        match self {
            Self::Plain => 5,
            Self::Stream => 2,
            Self::Failing => 1,
            Self::Repeated => 2,
        }
    }

    /// The kind's name in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Stream => "stream",
            Self::Failing => "failing",
            Self::Repeated => "repeated",
        }
    }

    /// Its position in [`Kind::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Self::Plain => 0,
            Self::Stream => 1,
            Self::Failing => 2,
            Self::Repeated => 3,
        }
    }

    /// The body of request number `seq` of this kind. Prompts hold `seq`, so they are unique,
    /// except for [`Kind::Repeated`], which cycles through [`REPEATED_PROMPTS`] prompts.
    pub fn body(self, seq: u64) -> String {
        let (model, prompt, stream) = match self {
            Self::Plain => (BENCH_MODEL, format!("Soak request {seq}: say ok."), ""),
            Self::Stream => (
                BENCH_MODEL,
                format!("Soak stream {seq}: say ok."),
                r#","stream":true,"stream_options":{"include_usage":true}"#,
            ),
            Self::Failing => (FAILING_GROUP, format!("Soak failure {seq}."), ""),
            Self::Repeated => (
                BENCH_MODEL,
                format!("Soak repeated prompt {}: say ok.", seq % REPEATED_PROMPTS),
                "",
            ),
        };
        format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"{prompt}"}}]{stream}}}"#
        )
    }

    /// Judges an answer: the failing group must answer 502, every other kind 200 with a whole
    /// body (a chat completion, or an event stream that ends with `[DONE]`).
    pub fn judge(self, status: StatusCode, body: &[u8]) -> Outcome {
        match self {
            Self::Failing if status == StatusCode::BAD_GATEWAY => Outcome::Expected502,
            _ if status != StatusCode::OK => Outcome::BadStatus,
            Self::Failing => Outcome::BadStatus,
            Self::Stream if body.ends_with(b"data: [DONE]\n\n") && body.starts_with(b"data: ") => {
                Outcome::Ok
            }
            Self::Plain | Self::Repeated
                if body.starts_with(b"{") && contains(body, br#""choices":[{"#) =>
            {
                Outcome::Ok
            }
            _ => Outcome::BadBody,
        }
    }
}

/// The traffic mix as a smooth weighted round robin (nginx's): every ten requests hold each
/// kind as often as its weight, spread out rather than in runs.
#[derive(Debug, Default)]
pub struct Mix {
    credit: [i64; 4],
}

impl Mix {
    /// The kind of the next request.
    pub fn next_kind(&mut self) -> Kind {
        let total: i64 = Kind::ALL.iter().map(|kind| kind.weight()).sum();
        let mut best = Kind::Plain;
        for kind in Kind::ALL {
            self.credit[kind.index()] += kind.weight();
            if self.credit[kind.index()] > self.credit[best.index()] {
                best = kind;
            }
        }
        self.credit[best.index()] -= total;
        best
    }
}

/// When request number `index` is due, counted from the start, at `rate` requests per second.
pub fn due(index: u64, rate: u32) -> Duration {
    let nanos = u128::from(index) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Sends `rate` requests per second for `duration`, request `i` at `start + due(i)` whatever
/// the earlier ones are doing, and tallies each answer into `window` when it arrives. Returns
/// when every request sent has been answered (or has timed out).
pub async fn drive(pool: Arc<Pool>, rate: u32, duration: Duration, window: Arc<Mutex<Window>>) {
    let start = Instant::now();
    let planned = u64::from(rate) * duration.as_secs();
    let mut mix = Mix::default();
    // Requests of each kind so far: each kind's prompts count on their own, so that the repeated
    // ones cycle through all [`REPEATED_PROMPTS`].
    let mut sent = [0_u64; 4];
    let mut in_flight = JoinSet::new();
    for index in 0..planned {
        let due = start + due(index, rate);
        tokio::time::sleep_until(due).await;
        while in_flight.try_join_next().is_some() {}
        if in_flight.len() >= MAX_IN_FLIGHT {
            lock(&window).counts.skipped += 1;
            continue;
        }
        let kind = mix.next_kind();
        let body = Bytes::from(kind.body(sent[kind.index()]));
        sent[kind.index()] += 1;
        let pool = Arc::clone(&pool);
        let window = Arc::clone(&window);
        in_flight.spawn(async move {
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, pool.post(body)).await;
            // Latency from when the request was due, so that a slow send is not hidden.
            let latency = due.elapsed();
            let (outcome, detail) = match answer {
                Err(_) => (Outcome::Timeout, String::from("no answer within 30 s")),
                Ok(Err(error)) => (Outcome::Connection, format!("{error:#}")),
                Ok(Ok((status, body))) => {
                    let outcome = kind.judge(status, &body);
                    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                    (outcome, format!("status {status}: {text}"))
                }
            };
            lock(&window).record(kind, outcome, latency, || {
                format!("{} request {index}: {detail}", kind.name())
            });
        });
    }
    while in_flight.join_next().await.is_some() {}
}

/// Locks `mutex`, also when a panicking holder poisoned it (the tallies stay usable).
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keep-alive HTTP/1.1 connections to the gateway, reused first in, first out (so that none
/// sits idle long), and opened as needed when all are busy.
#[derive(Debug)]
pub struct Pool {
    addr: SocketAddr,
    authorization: HeaderValue,
    idle: Mutex<VecDeque<SendRequest<Full<Bytes>>>>,
}

impl Pool {
    /// A pool for `addr`, authenticating with `key`.
    pub fn new(addr: SocketAddr, key: &str) -> anyhow::Result<Self> {
        Ok(Self {
            addr,
            authorization: HeaderValue::from_str(&format!("Bearer {key}"))
                .context("building the Authorization header")?,
            idle: Mutex::new(VecDeque::new()),
        })
    }

    /// POSTs `body` as a chat completion request; returns the status and the whole body.
    pub async fn post(&self, body: Bytes) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut sender = self.sender().await?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(CHAT_COMPLETIONS_PATH)
            .header(HOST, self.addr.to_string())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(AUTHORIZATION, self.authorization.clone())
            .body(Full::new(body))
            .context("building the chat completion request")?;
        let response = sender
            .send_request(request)
            .await
            .context("sending the request")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the response body")?
            .to_bytes();
        if !sender.is_closed() {
            lock(&self.idle).push_back(sender);
        }
        Ok((status, body))
    }

    /// An idle open connection, or a new one.
    async fn sender(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        loop {
            let Some(mut sender) = lock(&self.idle).pop_front() else {
                break;
            };
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
        Ok(handshake(self.addr).await?.0)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_holds_each_kind_by_its_weight_and_spreads_them_out() {
        let mut mix = Mix::default();
        let kinds: Vec<Kind> = (0..1_000).map(|_| mix.next_kind()).collect();
        for chunk in kinds.chunks(10) {
            let count = |kind| chunk.iter().filter(|k| **k == kind).count();
            assert_eq!(count(Kind::Plain), 5, "{chunk:?}");
            assert_eq!(count(Kind::Stream), 2, "{chunk:?}");
            assert_eq!(count(Kind::Failing), 1, "{chunk:?}");
            assert_eq!(count(Kind::Repeated), 2, "{chunk:?}");
        }
        // Spread out: never two of the same kind in a row except plain, and never three.
        for pair in kinds.windows(2) {
            assert!(pair[0] != pair[1] || pair[0] == Kind::Plain, "{pair:?}");
        }
        assert!(kinds.windows(3).all(|w| !(w[0] == w[1] && w[1] == w[2])));
    }

    #[test]
    fn requests_are_due_at_fixed_intervals() {
        assert_eq!(due(0, 200), Duration::ZERO);
        assert_eq!(due(1, 200), Duration::from_millis(5));
        assert_eq!(due(200, 200), Duration::from_secs(1));
        assert_eq!(due(1, 3), Duration::from_nanos(333_333_333));
        assert_eq!(due(3, 3), Duration::from_secs(1));
        assert_eq!(due(12_000, 200), Duration::from_secs(60));
    }

    #[test]
    fn bodies_are_json_with_unique_or_repeated_prompts() -> anyhow::Result<()> {
        let parse = |kind: Kind, seq| -> anyhow::Result<serde_json::Value> {
            Ok(serde_json::from_str(&kind.body(seq))?)
        };
        let plain = parse(Kind::Plain, 7)?;
        assert_eq!(plain["model"], BENCH_MODEL);
        assert_ne!(Kind::Plain.body(7), Kind::Plain.body(8));
        assert_eq!(parse(Kind::Stream, 1)?["stream"], true);
        assert_eq!(parse(Kind::Failing, 1)?["model"], FAILING_GROUP);
        assert_eq!(
            Kind::Repeated.body(3),
            Kind::Repeated.body(3 + REPEATED_PROMPTS)
        );
        assert_ne!(Kind::Repeated.body(3), Kind::Repeated.body(4));
        Ok(())
    }

    #[test]
    fn answers_are_judged_by_kind() {
        let completion = br#"{"id":"x","choices":[{"index":0}]}"#;
        let stream = b"data: {}\n\ndata: [DONE]\n\n";
        assert_eq!(Kind::Plain.judge(StatusCode::OK, completion), Outcome::Ok);
        assert_eq!(
            Kind::Repeated.judge(StatusCode::OK, completion),
            Outcome::Ok
        );
        assert_eq!(Kind::Plain.judge(StatusCode::OK, b""), Outcome::BadBody);
        assert_eq!(
            Kind::Plain.judge(StatusCode::BAD_GATEWAY, b"{}"),
            Outcome::BadStatus
        );
        assert_eq!(Kind::Stream.judge(StatusCode::OK, stream), Outcome::Ok);
        assert_eq!(
            Kind::Stream.judge(StatusCode::OK, b"data: {}\n\n"),
            Outcome::BadBody
        );
        assert_eq!(
            Kind::Failing.judge(StatusCode::BAD_GATEWAY, b"{}"),
            Outcome::Expected502
        );
        assert_eq!(
            Kind::Failing.judge(StatusCode::SERVICE_UNAVAILABLE, b"{}"),
            Outcome::BadStatus
        );
        assert_eq!(
            Kind::Failing.judge(StatusCode::OK, completion),
            Outcome::BadStatus
        );
    }
}
