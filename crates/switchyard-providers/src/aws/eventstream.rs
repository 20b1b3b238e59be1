//! The `application/vnd.amazon.eventstream` framing of AWS's streamed answers (Bedrock's
//! `ConverseStream`, SageMaker's `InvokeEndpointWithResponseStream`), cut into
//! messages as the bytes arrive (<https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html>
//! documents the encoding: a 12-byte prelude holding the total and header lengths and their
//! CRC32, typed headers, the payload, and a CRC32 of the whole message).
//!
//! A message is decoded (prelude and message checksums verified, headers parsed) by AWS's
//! maintained `aws-smithy-eventstream` once all of its bytes are in; only one message is held at
//! a time, never the whole answer. Bytes that end mid-message are an
//! [`ErrorClass::InvalidResponse`].

use std::pin::Pin;

use aws_smithy_eventstream::frame::read_message_from;
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::{ErrorClass, ProviderError};

/// Largest message accepted: the encoding's own limit (16 MiB).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// Prelude (12 bytes) plus message CRC (4 bytes): the size of an empty message.
const MIN_MESSAGE_BYTES: usize = 16;

/// The messages of an event stream body, one by one as they complete. The stream ends after
/// the first error.
pub fn messages<S>(body: S) -> impl Stream<Item = Result<Message, ProviderError>> + Send
where
    S: Stream<Item = Result<Bytes, ProviderError>> + Send + 'static,
{
    let state = Framer {
        body: Box::pin(body),
        buffer: BytesMut::new(),
        ended: false,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        let item = state.next_message().await;
        if !matches!(item, Some(Ok(_))) {
            state.ended = true;
        }
        item.map(|item| (item, state))
    })
}

struct Framer<S> {
    body: Pin<Box<S>>,
    /// Bytes received and not yet part of a decoded message.
    buffer: BytesMut,
    ended: bool,
}

impl<S> Framer<S>
where
    S: Stream<Item = Result<Bytes, ProviderError>>,
{
    async fn next_message(&mut self) -> Option<Result<Message, ProviderError>> {
        loop {
            match self.complete_message() {
                Ok(Some(message)) => return Some(Ok(message)),
                Ok(None) => {}
                Err(err) => return Some(Err(err)),
            }
            match self.body.next().await {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(err)) => return Some(Err(err)),
                None if self.buffer.is_empty() => return None,
                None => {
                    return Some(Err(ProviderError::new(
                        ErrorClass::InvalidResponse,
                        format!(
                            "the event stream ended in the middle of a message ({} bytes of it received)",
                            self.buffer.len()
                        ),
                    )));
                }
            }
        }
    }

    /// The first message of the buffer, once all its bytes are in.
    fn complete_message(&mut self) -> Result<Option<Message>, ProviderError> {
        let Some(prefix) = self.buffer.get(..4) else {
            return Ok(None);
        };
        let total = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if !(MIN_MESSAGE_BYTES..=MAX_MESSAGE_BYTES).contains(&total) {
            return Err(malformed(format!(
                "a message claims a length of {total} bytes"
            )));
        }
        if self.buffer.len() < total {
            return Ok(None);
        }
        let bytes = self.buffer.split_to(total).freeze();
        read_message_from(bytes)
            .map(Some)
            .map_err(|e| malformed(e.to_string()))
    }
}

fn malformed(detail: String) -> ProviderError {
    ProviderError::new(
        ErrorClass::InvalidResponse,
        format!("upstream sent a malformed event stream: {detail}"),
    )
}

/// The value of a message's string header, such as `:event-type`.
pub fn header<'m>(message: &'m Message, name: &str) -> Option<&'m str> {
    message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(value) => Some(value.as_str()),
            _ => None,
        })
}

/// Encodes one message, as AWS frames them (string headers, JSON payload): for tests.
#[cfg(test)]
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    use aws_smithy_types::event_stream::Header;
    let message = headers.iter().fold(
        Message::new(Bytes::copy_from_slice(payload)),
        |message, (name, value)| {
            message.add_header(Header::new(
                (*name).to_owned(),
                HeaderValue::String((*value).to_owned().into()),
            ))
        },
    );
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut out).expect("encodes");
    Bytes::from(out)
}

/// A fixture of events (`[{"event", "payload"}]`) framed as AWS sends them: for tests.
#[cfg(test)]
pub fn frames(fixture: &str) -> Vec<u8> {
    let events: Vec<serde_json::Value> = serde_json::from_str(fixture).expect("fixture is JSON");
    let mut out = Vec::new();
    for event in events {
        let kind = event["event"].as_str().expect("event type");
        out.extend_from_slice(&encode(
            &[
                (":event-type", kind),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            event["payload"].to_string().as_bytes(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn event(kind: &str, payload: &str) -> Bytes {
        encode(
            &[
                (":event-type", kind),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload.as_bytes(),
        )
    }

    async fn decode(body: Vec<u8>, read: usize) -> Vec<Result<Message, ProviderError>> {
        let chunks: Vec<Result<Bytes, ProviderError>> = body
            .chunks(read)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        messages(stream::iter(chunks)).collect().await
    }

    #[tokio::test]
    async fn messages_split_across_reads_or_sharing_one_decode_in_order() {
        let mut body = event("messageStart", r#"{"role":"assistant"}"#).to_vec();
        body.extend_from_slice(&event("messageStop", r#"{"stopReason":"end_turn"}"#));
        for read in [1, 5, 16, 1000] {
            let items = decode(body.clone(), read).await;
            assert_eq!(items.len(), 2, "reads of {read} bytes");
            let first = items[0].as_ref().expect("a message");
            assert_eq!(header(first, ":event-type"), Some("messageStart"));
            assert_eq!(header(first, ":message-type"), Some("event"));
            assert_eq!(first.payload().as_ref(), br#"{"role":"assistant"}"#);
            let second = items[1].as_ref().expect("a message");
            assert_eq!(header(second, ":event-type"), Some("messageStop"));
            assert_eq!(header(second, ":missing"), None);
        }
        assert!(decode(Vec::new(), 1).await.is_empty());
    }

    #[tokio::test]
    async fn a_body_cut_mid_message_or_corrupted_is_an_invalid_response() {
        let whole = event("messageStart", r#"{"role":"assistant"}"#);
        let cut = decode(whole[..whole.len() - 3].to_vec(), 7).await;
        assert_eq!(cut.len(), 1);
        let err = cut[0].as_ref().expect_err("cut");
        assert_eq!(err.class, ErrorClass::InvalidResponse);
        assert!(
            err.message.contains("middle of a message"),
            "{}",
            err.message
        );

        let mut corrupted = whole.to_vec();
        let last = corrupted.len() - 6;
        corrupted[last] ^= 0xff;
        let items = decode(corrupted, 64).await;
        let err = items[0].as_ref().expect_err("checksum");
        assert_eq!(err.class, ErrorClass::InvalidResponse);

        let json = decode(br#"{"message": "not an event stream"}"#.to_vec(), 64).await;
        assert_eq!(json.len(), 1, "one error, then the stream ends");
        assert!(json[0].is_err());
    }

    #[tokio::test]
    async fn a_broken_body_ends_the_messages_with_its_error() {
        let body = stream::iter(vec![
            Ok(event("messageStart", "{}")),
            Err(ProviderError::new(ErrorClass::Unreachable, "reset")),
            Ok(event("messageStop", "{}")),
        ]);
        let items: Vec<_> = messages(body).collect().await;
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert_eq!(
            items[1].as_ref().expect_err("broken").class,
            ErrorClass::Unreachable
        );
    }
}
