//! `InvokeEndpointWithResponseStream` answers
//! (<https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpointWithResponseStream.html>)
//! into chat chunks, as they arrive: AWS's event stream messages (`crate::aws::eventstream`),
//! each `PayloadPart` carrying some bytes of what the model container streams, which for TGI is
//! server-sent events of token events (`data:{"token": {"text": ...}, ...}`). A line may be
//! split across parts, so bytes are kept until their line ends. Special tokens (`</s>`) are not
//! text; the last event's `details.finish_reason` is the finish reason. A `ModelStreamError` or
//! `InternalStreamFailure` exception ends the stream in an error; the end of the body ends it
//! with a finish chunk, then a usage chunk estimated from the prompt and the text (TGI reports
//! no prompt tokens, and LiteLLM counts both too).

use std::collections::VecDeque;

use aws_smithy_types::event_stream::Message;
use futures_util::{Stream, StreamExt};
use switchyard_wire::{ChatChunk, Delta, Role, Usage};

use super::tgi::{TokenEvent, finish_reason};
use crate::aws::eventstream::header;
use crate::mock::estimate_tokens;
use crate::translate::Chunks;
use crate::{ChunkStream, ErrorClass, ProviderError, unix_now};

/// The chunks of a streamed answer to `prompt`, from the event stream `messages`.
pub(super) fn chunk_stream<S>(messages: S, id: String, model: String, prompt: &str) -> ChunkStream
where
    S: Stream<Item = Result<Message, ProviderError>> + Send + 'static,
{
    let translator = Translator {
        chunks: Chunks {
            id,
            model,
            created: unix_now(),
        },
        prompt_tokens: estimate_tokens(prompt),
        text: String::new(),
        line: Vec::new(),
        finish: None,
        started: false,
        pending: VecDeque::new(),
        done: false,
    };
    Box::pin(futures_util::stream::unfold(
        Some((Box::pin(messages), translator)),
        |state| async move {
            let (mut messages, mut translator) = state?;
            loop {
                if let Some(chunk) = translator.pending.pop_front() {
                    return Some((Ok(chunk), Some((messages, translator))));
                }
                if translator.done {
                    return None;
                }
                match messages.next().await {
                    None => translator.end(),
                    Some(Err(err)) => return Some((Err(err), None)),
                    Some(Ok(message)) => {
                        if let Err(err) = translator.on_message(&message) {
                            return Some((Err(err), None));
                        }
                    }
                }
            }
        },
    ))
}

struct Translator {
    chunks: Chunks,
    prompt_tokens: u64,
    /// The text streamed so far, for the usage estimate.
    text: String,
    /// Bytes of a line not yet ended.
    line: Vec<u8>,
    finish: Option<&'static str>,
    started: bool,
    pending: VecDeque<ChatChunk>,
    done: bool,
}

impl Translator {
    fn on_message(&mut self, message: &Message) -> Result<(), ProviderError> {
        match header(message, ":message-type") {
            Some("exception") | Some("error") => {
                let kind = header(message, ":exception-type")
                    .or_else(|| header(message, ":error-code"))
                    .unwrap_or("InternalStreamFailure");
                let detail = serde_json::from_slice::<serde_json::Value>(message.payload())
                    .ok()
                    .and_then(|v| {
                        v.get("Message")
                            .or(v.get("message"))?
                            .as_str()
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| {
                        String::from_utf8_lossy(message.payload()).trim().to_owned()
                    });
                Err(ProviderError::new(
                    ErrorClass::UpstreamServer,
                    format!("the SageMaker endpoint reported {kind} mid-stream: {detail}"),
                ))
            }
            _ if header(message, ":event-type") == Some("PayloadPart") => {
                for &byte in message.payload().iter() {
                    if byte == b'\n' {
                        let line = std::mem::take(&mut self.line);
                        self.on_line(&line)?;
                    } else {
                        self.line.push(byte);
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// One line of the container's stream: `data:{...}` (or the bare JSON some containers
    /// send); blank lines and SSE comments are skipped.
    fn on_line(&mut self, line: &[u8]) -> Result<(), ProviderError> {
        let line = String::from_utf8_lossy(line);
        let line = line.trim();
        let data = line.strip_prefix("data:").unwrap_or(line).trim();
        if data.is_empty() || line.starts_with(':') {
            return Ok(());
        }
        let event: TokenEvent = serde_json::from_str(data).map_err(|e| {
            ProviderError::new(
                ErrorClass::InvalidResponse,
                format!("the SageMaker endpoint streamed an event that is not TGI's: {e}"),
            )
        })?;
        if let Some(token) = event.token.filter(|t| !t.special && !t.text.is_empty()) {
            self.text.push_str(&token.text);
            self.push(
                Delta {
                    content: Some(token.text),
                    ..Delta::default()
                },
                None,
            );
        }
        if let Some(reason) = event.details.and_then(|d| d.finish_reason) {
            self.finish = Some(finish_reason(&reason));
        } else if event.generated_text.is_some() {
            self.finish.get_or_insert("stop");
        }
        Ok(())
    }

    fn end(&mut self) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            if let Err(err) = self.on_line(&line) {
                tracing::debug!(error = %err.message, "a last unended line was not an event");
            }
        }
        let reason = self.finish.unwrap_or("stop");
        self.push(Delta::default(), Some(reason.to_owned()));
        let mut last = self.chunks.chunk(Vec::new());
        last.usage = Some(Usage::new(self.prompt_tokens, estimate_tokens(&self.text)));
        self.pending.push_back(last);
        self.done = true;
    }

    fn push(&mut self, mut delta: Delta, finish_reason: Option<String>) {
        if !self.started {
            delta.role = Some(Role::Assistant);
            self.started = true;
        }
        let chunk = self.chunks.delta(delta, finish_reason);
        self.pending.push_back(chunk);
    }
}
