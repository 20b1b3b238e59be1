//! The cost layer: prices every answer an inner service gives and hands it to a spend sink.
//!
//! The layer is generic: responses say what they cost through [`Billable`], and the sink decides
//! what to keep through [`SpendSink`]. Streams cannot be priced when they start; wrap them in
//! [`MeteredStream`](super::MeteredStream), which prices them when they end.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! use switchyard_layers::cost::{Billable, Cost, CostLayer, ModelPrice, SpendSink, Tokens};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! /// A toy answer: the tokens it used at a fixed price.
//! struct Answer {
//!     tokens: Tokens,
//!     cost: Option<Cost>,
//! }
//!
//! impl Billable for Answer {
//!     fn price(&self) -> Option<ModelPrice> {
//!         Some(ModelPrice { input_per_token: 1e-6, output_per_token: 2e-6, ..Default::default() })
//!     }
//!     fn tokens(&self) -> Option<(Tokens, bool)> {
//!         Some((self.tokens, false))
//!     }
//!     fn set_cost(&mut self, cost: Cost) {
//!         self.cost = Some(cost);
//!     }
//! }
//!
//! /// Keeps every priced answer's cost.
//! #[derive(Default)]
//! struct Ledger(Mutex<Vec<f64>>);
//!
//! impl SpendSink<Answer> for Ledger {
//!     fn record(&self, _answer: &Answer, cost: Option<Cost>, _elapsed: Duration) {
//!         self.0.lock().unwrap().push(cost.map_or(0.0, |c| c.usd));
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let ledger = Arc::new(Ledger::default());
//! let service = ServiceBuilder::new()
//!     .layer(CostLayer::new(Arc::clone(&ledger)))
//!     .service_fn(|prompt: &'static str| async move {
//!         let tokens = Tokens { prompt: prompt.len() as u64, completion: 10, ..Default::default() };
//!         Ok::<_, std::convert::Infallible>(Answer { tokens, cost: None })
//!     });
//! let answer = service.oneshot("0123456789").await.unwrap();
//! let cost = answer.cost.expect("priced");
//! assert!((cost.usd - (10.0 * 1e-6 + 10.0 * 2e-6)).abs() < 1e-12);
//! assert_eq!(ledger.0.lock().unwrap().len(), 1);
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};

use super::price::{Cost, ModelPrice, Tokens, cost_of_tokens};

/// A response the cost layer can price.
pub trait Billable {
    /// The price that applies, or `None` when the model is unpriced.
    fn price(&self) -> Option<ModelPrice>;

    /// The tokens used and whether they were estimated, or `None` when they are not known yet
    /// (a stream, metered when it ends).
    fn tokens(&self) -> Option<(Tokens, bool)>;

    /// Takes the computed cost, for example to report it in a response header.
    fn set_cost(&mut self, cost: Cost);
}

/// Where priced calls go: a spend log, a budget counter, a metric.
pub trait SpendSink<Res>: Send + Sync {
    /// Records one answered call; `cost` is `None` when the response had no price or no tokens
    /// yet (streams are recorded by their [`MeteredStream`](super::MeteredStream)).
    fn record(&self, response: &Res, cost: Option<Cost>, elapsed: Duration);
}

impl<Res, T: SpendSink<Res> + ?Sized> SpendSink<Res> for Arc<T> {
    fn record(&self, response: &Res, cost: Option<Cost>, elapsed: Duration) {
        (**self).record(response, cost, elapsed);
    }
}

/// Prices the responses of the wrapped service and hands each to a [`SpendSink`].
#[derive(Debug, Clone)]
pub struct CostLayer<K> {
    sink: K,
}

impl<K> CostLayer<K> {
    /// A layer handing every priced response to `sink`.
    pub fn new(sink: K) -> Self {
        Self { sink }
    }
}

impl<S, K: Clone> Layer<S> for CostLayer<K> {
    type Service = CostService<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        CostService {
            inner,
            sink: self.sink.clone(),
        }
    }
}

/// The service [`CostLayer`] builds.
#[derive(Debug, Clone)]
pub struct CostService<S, K> {
    inner: S,
    sink: K,
}

impl<S, K, Req> Service<Req> for CostService<S, K>
where
    S: Service<Req>,
    S::Response: Billable,
    K: SpendSink<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture {
            inner: self.inner.call(request),
            sink: Some(self.sink.clone()),
            started: Instant::now(),
        }
    }
}

pin_project! {
    /// The future of [`CostService`]: prices the response when the inner future yields it.
    pub struct ResponseFuture<F, K> {
        #[pin]
        inner: F,
        sink: Option<K>,
        started: Instant,
    }
}

impl<F, K, Res, E> Future for ResponseFuture<F, K>
where
    F: Future<Output = Result<Res, E>>,
    Res: Billable,
    K: SpendSink<Res>,
{
    type Output = Result<Res, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let cost = match (response.price(), response.tokens()) {
            (Some(price), Some((tokens, estimated))) => {
                let cost = cost_of_tokens(&price, tokens).estimated(estimated);
                response.set_cost(cost);
                Some(cost)
            }
            _ => None,
        };
        if let Some(sink) = this.sink.take() {
            sink.record(&response, cost, this.started.elapsed());
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tower::{ServiceBuilder, ServiceExt};

    #[derive(Debug)]
    struct Answer {
        price: Option<ModelPrice>,
        tokens: Option<(Tokens, bool)>,
        cost: Option<Cost>,
    }

    impl Billable for Answer {
        fn price(&self) -> Option<ModelPrice> {
            self.price
        }
        fn tokens(&self) -> Option<(Tokens, bool)> {
            self.tokens
        }
        fn set_cost(&mut self, cost: Cost) {
            self.cost = Some(cost);
        }
    }

    #[derive(Default)]
    struct Ledger(Mutex<Vec<Option<Cost>>>);

    impl SpendSink<Answer> for Ledger {
        fn record(&self, _: &Answer, cost: Option<Cost>, _: Duration) {
            self.0.lock().expect("lock").push(cost);
        }
    }

    fn price() -> ModelPrice {
        ModelPrice {
            input_per_token: 2e-6,
            output_per_token: 8e-6,
            cache_read_per_token: Some(0.5e-6),
            cache_write_per_token: None,
        }
    }

    async fn run(answer: Answer) -> (Answer, Vec<Option<Cost>>) {
        let ledger = Arc::new(Ledger::default());
        let service = ServiceBuilder::new()
            .layer(CostLayer::new(Arc::clone(&ledger)))
            .service_fn(move |(): ()| {
                let answer = Answer {
                    ..answer_clone(&answer)
                };
                async move { Ok::<_, std::convert::Infallible>(answer) }
            });
        let answer = service.oneshot(()).await.expect("infallible");
        let records = ledger.0.lock().expect("lock").clone();
        (answer, records)
    }

    fn answer_clone(a: &Answer) -> Answer {
        Answer {
            price: a.price,
            tokens: a.tokens,
            cost: a.cost,
        }
    }

    #[tokio::test]
    async fn priced_answers_carry_their_cost_and_reach_the_sink() {
        let tokens = Tokens {
            prompt: 1_000,
            completion: 100,
            cache_read: 400,
            cache_write: 0,
        };
        let (answer, records) = run(Answer {
            price: Some(price()),
            tokens: Some((tokens, false)),
            cost: None,
        })
        .await;
        let cost = answer.cost.expect("priced");
        let expected = 600.0 * 2e-6 + 400.0 * 0.5e-6 + 100.0 * 8e-6;
        assert!((cost.usd - expected).abs() < 1e-12, "{}", cost.usd);
        assert!(!cost.estimated);
        assert_eq!(records, vec![Some(cost)]);
    }

    #[tokio::test]
    async fn estimates_stay_marked_and_unpriced_answers_are_recorded_without_cost() {
        let tokens = Tokens {
            prompt: 10,
            completion: 10,
            ..Tokens::default()
        };
        let (answer, _) = run(Answer {
            price: Some(price()),
            tokens: Some((tokens, true)),
            cost: None,
        })
        .await;
        assert!(answer.cost.expect("priced").estimated);
        let (answer, records) = run(Answer {
            price: None,
            tokens: Some((tokens, false)),
            cost: None,
        })
        .await;
        assert!(answer.cost.is_none());
        assert_eq!(records, vec![None], "an unpriced call is still recorded");
    }

    #[test]
    fn the_sink_is_object_safe() {
        fn _obj_safe(_: Box<dyn SpendSink<Answer>>) {}
    }
}
