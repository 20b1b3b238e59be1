//! The two services around the routed application that look at every request, written as plain
//! tower services so that a call boxes nothing for them: the refusal of a request framed two
//! ways ([`RefuseAmbiguousFraming`]) and Anthropic's error shape under `/v1/messages`
//! ([`AnthropicErrors`]). As `axum::middleware::from_fn` functions each cost three allocations
//! a call (its own boxed future, a boxed clone of the inner service, that service's boxed
//! future).

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::{Either, Map, Ready, ready};
use tower::Service;

use crate::error::ApiError;
use crate::messages;
use crate::server::AmbiguousFraming;

/// What the services here answer with.
type Answer = Result<Response, Infallible>;

/// Refuses, before routing, a request on a connection whose client sent a head with both
/// `Content-Length` and `Transfer-Encoding` ([`AmbiguousFraming`]): what it carries, and
/// where the next request starts, depends on which header one believes. The connection closes
/// after the answer.
#[derive(Debug, Clone)]
pub(crate) struct RefuseAmbiguousFraming<S>(pub(crate) S);

impl<S> Service<Request> for RefuseAmbiguousFraming<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Answer>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.extensions().get::<AmbiguousFraming>().is_some() {
            return Either::Left(ready(Ok(ApiError::ambiguous_framing().into_response())));
        }
        Either::Right(self.0.call(request))
    }
}

/// Under `/v1/messages`, every failure, the gateway's own refusals included (authentication,
/// framing, a wrong method, a panic), answers with Anthropic's error body instead of OpenAI's
/// ([`messages::in_anthropic_shape`]). Layered around every service that can refuse.
#[derive(Debug, Clone)]
pub(crate) struct AnthropicErrors<S>(pub(crate) S);

impl<S> Service<Request> for AnthropicErrors<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Map<S::Future, fn(Answer) -> Answer>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let on_messages = messages::is_anthropic_path(request.uri().path());
        let answer = self.0.call(request);
        if on_messages {
            let reshape: fn(Answer) -> Answer = |answer| answer.map(messages::in_anthropic_shape);
            Either::Left(answer.map(reshape))
        } else {
            Either::Right(answer)
        }
    }
}
