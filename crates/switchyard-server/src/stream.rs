//! Answering a chat stream as server-sent events, chunk by chunk as the provider yields them:
//! as chat completion chunks, or rendered as the legacy text completion chunks it stands for.
//!
//! Usage chunks are forwarded only to clients that asked (`stream_options.include_usage`); an
//! upstream failure mid-stream becomes one `data: {"error": ...}` event, and the stream ends.
//! Dropping the body (the client went away) drops the provider stream, which cancels the
//! upstream request. [`translated`]: a chat stream answered in another API's events.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderValue, header};
use serde::Serialize;
use switchyard_providers::ChunkStream;
use switchyard_wire::{ChatChunk, Completion};

use crate::error::ApiError;

pub(crate) mod translated;

const DONE: &[u8] = b"data: [DONE]\n\n";

/// A `text/event-stream` response carrying `chunks`.
pub fn sse_response(deployment: Arc<str>, chunks: ChunkStream, include_usage: bool) -> Response {
    stream_response(deployment, chunks, include_usage, |chunk| event(&chunk))
}

/// A `text/event-stream` response carrying `chunks` as `text_completion` chunks.
pub fn completion_sse_response(
    deployment: Arc<str>,
    chunks: ChunkStream,
    include_usage: bool,
) -> Response {
    stream_response(deployment, chunks, include_usage, |chunk| {
        event(&Completion::from_chat_chunk(chunk))
    })
}

fn stream_response(
    deployment: Arc<str>,
    chunks: ChunkStream,
    include_usage: bool,
    render: fn(ChatChunk) -> Bytes,
) -> Response {
    let body = SseBody {
        chunks,
        include_usage,
        finished: false,
        deployment,
        render,
    };
    event_stream(body)
}

/// A `text/event-stream` response, not cached, whose body is `events`.
pub(crate) fn event_stream<S>(events: S) -> Response
where
    S: Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
{
    let mut response = Response::new(Body::from_stream(events));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

struct SseBody {
    chunks: ChunkStream,
    include_usage: bool,
    finished: bool,
    deployment: Arc<str>,
    /// Writes one chunk as its event.
    render: fn(ChatChunk) -> Bytes,
}

impl Stream for SseBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        loop {
            match ready!(self.chunks.poll_next_unpin(cx)) {
                None => {
                    self.finished = true;
                    return Poll::Ready(Some(Ok(Bytes::from_static(DONE))));
                }
                Some(Ok(mut chunk)) => {
                    if !self.include_usage {
                        if chunk.choices.is_empty() && chunk.usage.is_some() {
                            continue;
                        }
                        chunk.usage = None;
                    }
                    return Poll::Ready(Some(Ok((self.render)(chunk))));
                }
                Some(Err(err)) => {
                    self.finished = true;
                    tracing::warn!(
                        deployment = &*self.deployment,
                        class = err.class.as_str(),
                        "upstream stream failed: {err}"
                    );
                    let body = ApiError::from_provider(&self.deployment, &err).body();
                    return Poll::Ready(Some(Ok(event(&body))));
                }
            }
        }
    }
}

/// `data: <json>\n\n`.
fn event<T: Serialize>(value: &T) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"data: ");
    // Serializing our own wire types to a Vec cannot fail.
    if serde_json::to_writer(&mut out, value).is_err() {
        out.truncate(6);
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}
