//! Metering a streamed answer: the usage a stream reports at its end (or an estimate when it
//! reports none, or when the client leaves early) reaches a callback exactly once.
//!
//! ```
//! use futures_util::{StreamExt, stream};
//! use switchyard_layers::cost::{MeteredStream, Tokens};
//! use switchyard_wire::{ChatChunk, ChunkChoice, Delta, Extra};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let chunk = |text: &str| ChatChunk {
//!     id: "c".into(), object: "chat.completion.chunk".into(), created: 0, model: "m".into(),
//!     choices: vec![ChunkChoice { index: 0, delta: Delta { content: Some(text.into()), ..Default::default() },
//!                                 finish_reason: None, logprobs: None }],
//!     usage: None, system_fingerprint: None, extra: Extra::new(),
//! };
//! let (tx, rx) = std::sync::mpsc::channel();
//! let chunks = stream::iter([Ok::<_, ()>(chunk("Hello, ")), Ok(chunk("world"))]);
//! let metered = MeteredStream::new(chunks, 12, move |tokens: Tokens, estimated: bool| {
//!     let _ = tx.send((tokens, estimated));
//! });
//! let _: Vec<_> = metered.collect().await;
//! let (tokens, estimated) = rx.recv().unwrap();
//! assert!(estimated, "no usage chunk: the counts are estimated");
//! assert_eq!((tokens.prompt, tokens.completion), (12, 3));
//! # }
//! ```

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::Stream;
use pin_project_lite::pin_project;
use switchyard_wire::ChatChunk;

use super::price::Tokens;

pin_project! {
    #[project = MeteredProjection]
    /// A chunk stream that reports its tokens once: the usage chunk's counts when the upstream
    /// sent one, else an estimate (four characters a token for the text that passed, and the
    /// prompt estimate given) marked as estimated. An early drop reports what passed so far.
    pub struct MeteredStream<S, F>
    where
        F: FnOnce(Tokens, bool),
    {
        #[pin]
        inner: S,
        on_end: Option<F>,
        prompt_estimate: u64,
        generated_chars: u64,
        reported: Option<Tokens>,
    }

    impl<S, F> PinnedDrop for MeteredStream<S, F>
    where
        F: FnOnce(Tokens, bool),
    {
        fn drop(this: Pin<&mut Self>) {
            this.project().finish();
        }
    }
}

impl<S, F: FnOnce(Tokens, bool)> MeteredStream<S, F> {
    /// Meters `inner`; `prompt_estimate` is used when the stream reports no usage.
    pub fn new(inner: S, prompt_estimate: u64, on_end: F) -> Self {
        Self {
            inner,
            on_end: Some(on_end),
            prompt_estimate,
            generated_chars: 0,
            reported: None,
        }
    }
}

impl<S, F: FnOnce(Tokens, bool)> MeteredProjection<'_, S, F> {
    fn finish(&mut self) {
        let Some(on_end) = self.on_end.take() else {
            return;
        };
        match *self.reported {
            Some(tokens) => on_end(tokens, false),
            None => {
                let tokens = Tokens {
                    prompt: *self.prompt_estimate,
                    completion: self.generated_chars.div_ceil(4),
                    ..Tokens::default()
                };
                on_end(tokens, true);
            }
        }
    }
}

impl<S, E, F> Stream for MeteredStream<S, F>
where
    S: Stream<Item = Result<ChatChunk, E>>,
    F: FnOnce(Tokens, bool),
{
    type Item = Result<ChatChunk, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let item = ready!(this.inner.as_mut().poll_next(cx));
        match &item {
            Some(Ok(chunk)) => {
                if let Some(usage) = &chunk.usage {
                    *this.reported = Some(Tokens::from(usage));
                }
                for choice in &chunk.choices {
                    if let Some(text) = &choice.delta.content {
                        *this.generated_chars += text.chars().count() as u64;
                    }
                }
            }
            Some(Err(_)) | None => this.finish(),
        }
        Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{StreamExt, stream};
    use std::sync::mpsc;
    use switchyard_wire::{ChunkChoice, Delta, Extra, Usage};

    fn chunk(text: Option<&str>, usage: Option<Usage>) -> ChatChunk {
        ChatChunk {
            id: "c".into(),
            object: "chat.completion.chunk".into(),
            created: 0,
            model: "m".into(),
            choices: text
                .map(|t| ChunkChoice {
                    index: 0,
                    delta: Delta {
                        content: Some(t.into()),
                        ..Delta::default()
                    },
                    finish_reason: None,
                    logprobs: None,
                })
                .into_iter()
                .collect(),
            usage,
            system_fingerprint: None,
            extra: Extra::new(),
        }
    }

    #[tokio::test]
    async fn reported_usage_wins_and_is_reported_once() {
        let (tx, rx) = mpsc::channel();
        let chunks = stream::iter([
            Ok::<_, ()>(chunk(Some("abcd"), None)),
            Ok(chunk(None, Some(Usage::new(7, 2)))),
        ]);
        let metered = MeteredStream::new(chunks, 100, move |t, e| {
            let _ = tx.send((t, e));
        });
        let items: Vec<_> = metered.collect().await;
        assert_eq!(items.len(), 2, "chunks pass through untouched");
        let (tokens, estimated) = rx.recv().expect("reported");
        assert_eq!((tokens.prompt, tokens.completion, estimated), (7, 2, false));
        assert!(
            rx.try_recv().is_err(),
            "reported exactly once, drop included"
        );
    }

    #[tokio::test]
    async fn an_early_drop_reports_what_passed_as_an_estimate() {
        let (tx, rx) = mpsc::channel();
        let chunks = stream::iter([
            Ok::<_, ()>(chunk(Some("12345678"), None)),
            Ok(chunk(Some("never read"), None)),
        ]);
        let mut metered = Box::pin(MeteredStream::new(chunks, 5, move |t, e| {
            let _ = tx.send((t, e));
        }));
        let _first = metered.next().await;
        assert!(
            rx.try_recv().is_err(),
            "nothing until the stream ends or goes"
        );
        drop(metered);
        let (tokens, estimated) = rx.recv().expect("reported on drop");
        assert_eq!((tokens.prompt, tokens.completion, estimated), (5, 2, true));
    }
}
