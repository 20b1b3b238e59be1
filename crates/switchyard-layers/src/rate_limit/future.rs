//! [`ResponseFuture`]: waits for the backend's answer when it is not known at once, calls the
//! inner service, and settles the call's tokens from its response.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower::{BoxError, Service};

use super::backend::{Acquire, Correction, Grant, RateLimitBackend};
use super::error::RateLimitError;
use super::key::LimitCheck;
use super::tokens::UsedTokens;

pin_project! {
    /// Response future of [`RateLimit`](super::RateLimit).
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S, Req>,
        correction: Option<Correction>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, Req>
    where
        S: Service<Req>,
    {
        // The backend answers later (it asks a store): the ready service and the request wait.
        Acquiring {
            acquire: Acquire,
            waiting: Option<Waiting<S, Req>>,
        },
        Calling {
            #[pin]
            future: S::Future,
        },
        Refused {
            error: Option<RateLimitError>,
        },
    }
}

struct Waiting<S, Req> {
    service: S,
    request: Req,
    backend: Arc<dyn RateLimitBackend>,
    checks: Vec<LimitCheck>,
}

/// A correction only for calls whose tokens are limited.
fn correction(
    backend: Arc<dyn RateLimitBackend>,
    checks: Vec<LimitCheck>,
    grant: Grant,
) -> Option<Correction> {
    checks
        .iter()
        .any(|check| check.limits.tokens_per_minute.is_some())
        .then(|| Correction::new(backend, checks, grant))
}

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    pub(super) fn unlimited(future: S::Future) -> Self {
        Self {
            state: State::Calling { future },
            correction: None,
        }
    }

    pub(super) fn admitted(
        future: S::Future,
        backend: Arc<dyn RateLimitBackend>,
        checks: Vec<LimitCheck>,
        grant: Grant,
    ) -> Self {
        Self {
            state: State::Calling { future },
            correction: correction(backend, checks, grant),
        }
    }

    pub(super) fn refused(error: RateLimitError) -> Self {
        Self {
            state: State::Refused { error: Some(error) },
            correction: None,
        }
    }

    pub(super) fn acquiring(
        acquire: Acquire,
        service: S,
        request: Req,
        backend: Arc<dyn RateLimitBackend>,
        checks: Vec<LimitCheck>,
    ) -> Self {
        Self {
            state: State::Acquiring {
                acquire,
                waiting: Some(Waiting {
                    service,
                    request,
                    backend,
                    checks,
                }),
            },
            correction: None,
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    S::Response: UsedTokens,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Acquiring { acquire, waiting } => {
                    let answer = ready!(Pin::new(acquire).poll(cx));
                    let Waiting {
                        mut service,
                        request,
                        backend,
                        checks,
                    } = waiting
                        .take()
                        .expect("`ResponseFuture` polled after completion");
                    let grant = match answer {
                        Ok(grant) => grant,
                        Err(refused) => return Poll::Ready(Err(refused.into())),
                    };
                    *this.correction = correction(backend, checks, grant);
                    let future = service.call(request);
                    this.state.set(State::Calling { future });
                }
                StateProj::Calling { future } => {
                    let result = ready!(future.poll(cx));
                    let correction = this.correction.take();
                    return Poll::Ready(match result {
                        Ok(mut response) => {
                            if let Some(correction) = correction {
                                match response.used_tokens() {
                                    Some(used) => correction.settle(used),
                                    None => response.defer_correction(correction),
                                }
                            }
                            Ok(response)
                        }
                        Err(error) => {
                            if let Some(correction) = correction {
                                correction.settle(0);
                            }
                            Err(error.into())
                        }
                    });
                }
                StateProj::Refused { error } => {
                    let error = error
                        .take()
                        .expect("`ResponseFuture` polled after completion");
                    return Poll::Ready(Err(error.into()));
                }
            }
        }
    }
}
