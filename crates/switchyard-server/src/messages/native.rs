//! `/v1/messages` and `/v1/messages/count_tokens` passed through to providers that speak
//! Anthropic's Messages API (Anthropic deployments, Anthropic's models on Bedrock): the
//! client's body goes upstream as it came, only `model` replaced, with its `anthropic-version`
//! and `anthropic-beta` headers, and the answer (or its event stream) comes back unchanged, so
//! extended thinking and its signatures, `redacted_thinking`, `cache_control`, documents and
//! `is_error` tool results survive.
//!
//! The mechanism is [`crate::native`]'s; this module says what is Anthropic's: the forwarded
//! headers, `metadata.user_id`, the error event, and `count_tokens`, which is never charged:
//! it generates nothing and its record costs 0.

use axum::response::Response;
use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::{self, BoxFuture};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use switchyard_layers::cost::Tokens;
use switchyard_providers::anthropic::native::{FORWARDED_HEADERS, TokenCount};
use switchyard_providers::native::{NativeApi, NativeRequest};
use switchyard_providers::{Provider, ProviderError};
use switchyard_wire::anthropic::StreamEvent;
use switchyard_wire::{RawExtra, RawJson};

use super::anthropic_error;
use crate::dispatch::unary::UnaryCall;
use crate::error::ApiError;
use crate::native::{NativeCall, NativeReply, estimated_input_tokens};

/// Response header of `count_tokens` saying where the count comes from: `exact` (the
/// provider's own token counter) or `estimate` (the gateway's, see [`estimated_tokens`]).
pub const TOKEN_COUNT_HEADER: &str = "x-switchyard-token-count";

/// The fields of a Messages request that hold its prompt.
const PROMPT_FIELDS: [&str; 3] = ["system", "messages", "tools"];

/// The client's headers a passed-through call forwards ([`FORWARDED_HEADERS`]).
pub fn forwarded_headers(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    FORWARDED_HEADERS
        .iter()
        .flat_map(|name| {
            headers
                .get_all(*name)
                .iter()
                .map(|value| (HeaderName::from_static(name), value.clone()))
        })
        .collect()
}

/// The gateway's estimate of a Messages request's input tokens
/// ([`crate::native::estimated_input_tokens`] of `system`, `messages` and `tools`).
pub fn estimated_tokens(body: &RawExtra) -> u64 {
    estimated_input_tokens(body, &PROMPT_FIELDS)
}

/// A Messages call passed through, for `body`, whose typed reading found `model`, `max_tokens`
/// and the end user (`metadata.user_id`, which goes back into the body upstream: the gateway
/// takes `metadata` out of bodies, LiteLLM's tags and trace fields ride in it).
pub fn call(
    model: String,
    max_tokens: u32,
    user: Option<String>,
    body: RawExtra,
    headers: &HeaderMap,
) -> NativeCall {
    let input_tokens = estimated_tokens(&body);
    let metadata = user
        .as_ref()
        .and_then(|user| RawJson::from_value(&serde_json::json!({ "user_id": user })).ok());
    let request = NativeRequest {
        body,
        headers: forwarded_headers(headers),
    };
    NativeCall::new(
        NativeApi::Messages,
        model,
        user,
        request,
        input_tokens,
        Some(u64::from(max_tokens)),
    )
    .with_metadata(metadata)
}

/// The answer to a passed-through Messages call; a failure mid-stream becomes one Anthropic
/// `error` event.
pub fn respond(reply: NativeReply, deployment: std::sync::Arc<str>) -> Response {
    crate::native::respond(reply, deployment, |err, _sent| {
        let body = anthropic_error(err);
        let event = StreamEvent::Error { error: body.error };
        let data = serde_json::to_string(&event).unwrap_or_default();
        Bytes::from(format!("event: error\ndata: {data}\n\n"))
    })
}

/// `POST /v1/messages/count_tokens` as a call: exact from a provider with a token counter,
/// estimated ([`estimated_tokens`]) for any other.
#[derive(Clone)]
pub struct CountTokens {
    model: String,
    request: NativeRequest,
    estimate: u64,
}

impl CountTokens {
    /// The count of `body`, which must name a `model` and hold `messages`.
    pub fn new(body: RawExtra, headers: &HeaderMap) -> Result<Self, ApiError> {
        let model = body
            .get("model")
            .and_then(|m| m.parse::<String>().ok())
            .ok_or_else(|| ApiError::invalid_request("model: a string is required"))?;
        match body.value("messages") {
            Some(Value::Array(_)) => {}
            _ => return Err(ApiError::invalid_request("messages: an array is required")),
        }
        let estimate = estimated_tokens(&body);
        Ok(Self {
            model,
            request: NativeRequest {
                body,
                headers: forwarded_headers(headers),
            },
            estimate,
        })
    }
}

/// A count, and whether it is the provider's own.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    /// The input tokens.
    pub input_tokens: u64,
    /// Whether the provider counted them (else the gateway estimated them).
    pub exact: bool,
}

impl UnaryCall for CountTokens {
    type Answer = Counted;

    const OPERATION: &'static str = "count_tokens";

    fn model(&self) -> &str {
        &self.model
    }

    fn model_mut(&mut self) -> &mut String {
        &mut self.model
    }

    fn user(&self) -> Option<&str> {
        None
    }

    fn extra_mut(&mut self) -> Option<&mut RawExtra> {
        Some(&mut self.request.body)
    }

    /// A count uses no tokens: it counts against request limits only.
    fn input_tokens(&self) -> u64 {
        0
    }

    fn send(
        mut self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>> {
        let estimate = Counted {
            input_tokens: self.estimate,
            exact: false,
        };
        self.request.set_model(&self.model);
        match provider.count_tokens(self.request) {
            None => future::ready(Ok(estimate)).boxed(),
            Some(counting) => counting
                .map(|r| {
                    r.map(|TokenCount { input_tokens }| Counted {
                        input_tokens,
                        exact: true,
                    })
                })
                .boxed(),
        }
    }

    /// Nothing generated, nothing charged.
    fn reported(_answer: &Self::Answer) -> Option<Tokens> {
        Some(Tokens::default())
    }

    fn answer_model(_answer: &Self::Answer) -> Option<&str> {
        None
    }
}
