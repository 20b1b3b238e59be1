//! Tests of the cache layer as users build it: `ServiceBuilder`, the layer, and a stub upstream
//! that counts its calls and answers complete or streamed, well or badly.

mod layer;
mod redis;
mod streams;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_wire::{
    ChatChunk, ChatMessage, ChatRequest, ChatResponse, Choice, ChunkChoice, Delta, Role,
};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt};

use super::{CacheLayer, Cached, Reply};

/// The stub upstream's mid-stream failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the upstream failed")]
struct UpstreamError;

type Answer = Reply<ChatResponse, ChatChunk, UpstreamError>;
type Chat = BoxCloneService<ChatRequest, Cached<Answer>, Infallible>;

/// How the stub upstream answers streams.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Streams {
    /// Three chunks, then the end.
    Whole,
    /// One chunk, then an error.
    FailMidway,
}

/// A stub upstream: answer `n` to its `n`th call; complete, or three chunks when asked to stream.
#[derive(Debug, Clone)]
struct Upstream {
    calls: Arc<AtomicUsize>,
    saw_cache_field: Arc<AtomicBool>,
    streams: Streams,
}

impl Upstream {
    fn new() -> Self {
        Self::streaming(Streams::Whole)
    }

    fn streaming(streams: Streams) -> Self {
        Self {
            calls: Arc::new(AtomicUsize::new(0)),
            saw_cache_field: Arc::new(AtomicBool::new(false)),
            streams,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// `layer` over this upstream, the way the gateway would stack it.
    fn behind(&self, layer: CacheLayer) -> Chat {
        let upstream = self.clone();
        let service = ServiceBuilder::new()
            .layer(layer)
            .service_fn(move |request: ChatRequest| {
                let upstream = upstream.clone();
                async move { Ok::<_, Infallible>(upstream.answer(&request)) }
            });
        BoxCloneService::new(service)
    }

    fn answer(&self, request: &ChatRequest) -> Answer {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if request.extra.contains_key("cache") {
            self.saw_cache_field.store(true, Ordering::SeqCst);
        }
        let text = format!("answer {n}");
        if !request.is_stream() {
            return Reply::Complete(response(&text));
        }
        let items: Vec<Result<ChatChunk, UpstreamError>> = match self.streams {
            Streams::Whole => vec![Ok(chunk("answer ")), Ok(chunk(&n.to_string())), Ok(end())],
            Streams::FailMidway => vec![Ok(chunk("answer ")), Err(UpstreamError)],
        };
        Reply::Stream(Box::pin(futures_util::stream::iter(items)))
    }
}

fn request(body: Value) -> ChatRequest {
    serde_json::from_value(body).expect("valid request")
}

/// A complete request asking `prompt`, with `extra` fields merged in.
fn ask(prompt: &str, extra: Value) -> ChatRequest {
    let mut body = json!({"model": "m", "messages": [{"role": "user", "content": prompt}]});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    request(body)
}

fn response(text: &str) -> ChatResponse {
    ChatResponse {
        id: "chatcmpl-1".into(),
        object: "chat.completion".into(),
        created: 1,
        model: "m".into(),
        choices: vec![Choice {
            index: 0,
            message: ChatMessage::text(Role::Assistant, text),
            finish_reason: Some("stop".into()),
            logprobs: None,
        }],
        usage: None,
        system_fingerprint: None,
        extra: Default::default(),
    }
}

fn chunk_with(delta: Delta, finish_reason: Option<&str>) -> ChatChunk {
    ChatChunk {
        id: "chatcmpl-1".into(),
        object: "chat.completion.chunk".into(),
        created: 1,
        model: "m".into(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish_reason.map(str::to_owned),
            logprobs: None,
        }],
        usage: None,
        system_fingerprint: None,
        extra: Default::default(),
    }
}

fn chunk(text: &str) -> ChatChunk {
    let delta = Delta {
        content: Some(text.to_owned()),
        ..Delta::default()
    };
    chunk_with(delta, None)
}

fn end() -> ChatChunk {
    chunk_with(Delta::default(), Some("stop"))
}

/// Calls `service` once.
async fn call(service: &Chat, request: ChatRequest) -> Cached<Answer> {
    match service.clone().oneshot(request).await {
        Ok(answer) => answer,
        Err(never) => match never {},
    }
}

/// The text of a complete answer.
fn text(answer: &Cached<Answer>) -> String {
    match &answer.response {
        Reply::Complete(response) => response.choices[0]
            .message
            .content
            .as_ref()
            .map(|c| c.joined_text())
            .unwrap_or_default(),
        Reply::Stream(_) => panic!("a complete answer was expected"),
    }
}

/// Every item of a streamed answer.
async fn drain(answer: Cached<Answer>) -> Vec<Result<ChatChunk, UpstreamError>> {
    match answer.response {
        Reply::Stream(stream) => stream.collect().await,
        Reply::Complete(_) => panic!("a stream was expected"),
    }
}
