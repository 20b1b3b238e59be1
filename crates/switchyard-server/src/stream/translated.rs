//! A chat stream answered in another API's event stream (Anthropic's Messages events, OpenAI's
//! Responses events): the body that drives an [`EventTranslator`] chunk by chunk as the
//! provider yields them, and the `event: NAME\ndata: JSON\n\n` framing both APIs use. Dropping
//! the body drops the chunk stream, which cancels the upstream call.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::response::Response;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Stream, StreamExt};
use serde::Serialize;
use switchyard_providers::ChunkStream;
use switchyard_wire::ChatChunk;

use crate::error::ApiError;

/// The translation state of one stream: what each chunk, the end and a failure are written as.
pub(crate) trait EventTranslator: Send + Unpin + 'static {
    /// Writes the events `chunk` stands for.
    fn on_chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>);
    /// The chat stream ended: writes the closing events.
    fn finish(&mut self, out: &mut Vec<u8>);
    /// The upstream failed mid-stream with `err`: writes the error events; nothing follows.
    fn fail(&mut self, err: &ApiError, out: &mut Vec<u8>);
    /// Work that must be done before the closing events written by [`finish`](Self::finish)
    /// go out (storing what the stream produced, so that a client that reads the end can
    /// use it at once); none by default.
    fn before_end(&mut self) -> Option<BoxFuture<'static, ()>> {
        None
    }
}

/// A `text/event-stream` response carrying `chunks` as `translator` writes them.
pub(crate) fn translated_sse_response<T: EventTranslator>(
    deployment: Arc<str>,
    chunks: ChunkStream,
    translator: T,
) -> Response {
    let body = TranslatedSse {
        chunks,
        deployment,
        translator,
        finished: false,
        held: None,
    };
    super::event_stream(body)
}

struct TranslatedSse<T> {
    chunks: ChunkStream,
    deployment: Arc<str>,
    translator: T,
    finished: bool,
    /// The closing events, held until the translator's work before the end is done.
    held: Option<(BoxFuture<'static, ()>, Bytes)>,
}

impl<T: EventTranslator> Stream for TranslatedSse<T> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some((work, _)) = self.held.as_mut() {
            ready!(work.poll_unpin(cx));
            let closing = self.held.take().map(|(_, closing)| closing);
            return Poll::Ready(closing.map(Ok));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        loop {
            let mut out = Vec::new();
            match ready!(self.chunks.poll_next_unpin(cx)) {
                None => {
                    self.finished = true;
                    self.translator.finish(&mut out);
                    if let Some(work) = self.translator.before_end() {
                        self.held = Some((work, Bytes::from(out)));
                        return self.poll_next(cx);
                    }
                }
                Some(Ok(chunk)) => self.translator.on_chunk(chunk, &mut out),
                Some(Err(err)) => {
                    self.finished = true;
                    tracing::warn!(
                        deployment = &*self.deployment,
                        class = err.class.as_str(),
                        "upstream stream failed: {err}"
                    );
                    let err = ApiError::from_provider(&self.deployment, &err);
                    self.translator.fail(&err, &mut out);
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Bytes::from(out))));
            }
            if self.finished {
                return Poll::Ready(None);
            }
        }
    }
}

/// `event: NAME\ndata: JSON\n\n`.
pub(crate) fn write_event<E: Serialize>(out: &mut Vec<u8>, name: &str, event: &E) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serializing our own wire types to a Vec cannot fail.
    if serde_json::to_writer(&mut *out, event).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

/// Test helpers for translated streams: chat chunks to feed, events to read back.
#[cfg(test)]
pub(crate) mod testing {
    use serde_json::{Value, json};
    use switchyard_wire::ChatChunk;

    /// A chunk of call `chatcmpl-9` from `gpt-4o-mini`, with `fields` laid over.
    pub(crate) fn chunk(fields: Value) -> ChatChunk {
        let mut base = json!({"id": "chatcmpl-9", "object": "chat.completion.chunk",
            "created": 1, "model": "gpt-4o-mini"});
        if let (Some(base), Some(extra)) = (base.as_object_mut(), fields.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(base).expect("valid chunk")
    }

    /// A chunk adding `delta` to choice 0, finishing it when `finish` is given.
    pub(crate) fn delta(delta: Value, finish: Option<&str>) -> ChatChunk {
        chunk(json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}))
    }

    /// `(event name, data)` pairs of a written stream, checking each data's `type` names its
    /// event.
    pub(crate) fn events(out: &[u8]) -> Vec<(String, Value)> {
        let text = std::str::from_utf8(out).expect("utf-8");
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (name, data) = e
                    .strip_prefix("event: ")
                    .and_then(|e| e.split_once("\ndata: "))
                    .expect("event: NAME\\ndata: JSON");
                let data: Value = serde_json::from_str(data).expect("JSON data");
                assert_eq!(data["type"], name);
                (name.to_owned(), data)
            })
            .collect()
    }
}
