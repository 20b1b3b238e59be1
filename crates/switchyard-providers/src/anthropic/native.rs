//! Anthropic's Messages API passed through, for clients that speak it themselves (the gateway's
//! `/v1/messages`): the client's body is sent as it came, only `model` replaced, with the
//! client's `anthropic-version` and `anthropic-beta` headers; the answer comes back as
//! Anthropic sent it, whole or event by event, so thinking blocks and their signatures,
//! `redacted_thinking`, `cache_control`, documents and events this adapter does not know all
//! survive. `POST /v1/messages/count_tokens` is passed the same way. The mechanism is
//! [`crate::native`]'s; this module reads what Anthropic's answers say about usage.
//!
//! Shapes: <https://docs.anthropic.com/en/api/messages>,
//! <https://docs.anthropic.com/en/docs/build-with-claude/streaming> and
//! <https://platform.claude.com/docs/api/beta/messages/count_tokens>.

use bytes::Bytes;
use serde::Deserialize;
use switchyard_wire::anthropic::Usage;

use crate::native::{NativeUsage, UsageReport};
use crate::{ErrorClass, ProviderError};

/// The client headers a passed-through call forwards: the API version the client was written
/// for, and the betas it opted into (interleaved thinking, 1M context, ...).
pub const FORWARDED_HEADERS: [&str; 2] = ["anthropic-version", "anthropic-beta"];

/// The gateway's counts of Anthropic's: the prompt is the uncached input plus both cache
/// counts, each cache count priced at its own rate
/// (<https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing>).
pub fn usage_of(usage: &Usage) -> NativeUsage {
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    let cache_write = usage.cache_creation_input_tokens.unwrap_or(0);
    NativeUsage {
        prompt: usage.input_tokens + cache_read + cache_write,
        completion: usage.output_tokens,
        cache_read,
        cache_write,
    }
}

/// The model and usage of `body`, a Messages response.
pub(crate) fn answer_head(body: &Bytes) -> Result<(String, NativeUsage), ProviderError> {
    #[derive(Deserialize)]
    struct AnswerHead {
        model: String,
        usage: Usage,
    }
    let head: AnswerHead = serde_json::from_slice(body).map_err(|e| {
        ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("upstream answered with a body that is not a Messages response: {e}"),
        )
    })?;
    Ok((head.model, usage_of(&head.usage)))
}

/// The usage a Messages stream event reports: `message_start`'s `message.usage` (input and
/// cache counts; its output count is a placeholder the deltas replace) or `message_delta`'s
/// `usage` (cumulative output, and on newer API versions the input counts again). The event's
/// name comes from its `event:` line, else from the data's `type`.
pub(crate) fn event_usage(event: Option<&str>, data: &str) -> Option<UsageReport> {
    #[derive(Deserialize)]
    struct Start {
        message: Head,
    }
    #[derive(Deserialize)]
    struct Head {
        usage: Usage,
    }
    #[derive(Deserialize)]
    struct Delta {
        usage: PartialUsage,
    }
    let kind = match event {
        Some(name) => name,
        None => kind(data)?,
    };
    match kind {
        "message_start" => serde_json::from_str::<Start>(data).ok().map(|start| {
            let usage = usage_of(&start.message.usage);
            UsageReport {
                prompt: Some(usage.prompt),
                completion: None,
                cache_read: Some(usage.cache_read),
                cache_write: Some(usage.cache_write),
            }
        }),
        "message_delta" => serde_json::from_str::<Delta>(data)
            .ok()
            .map(|delta| delta.usage.into()),
        _ => None,
    }
}

/// The data's `type` when the event had no `event:` line; costs a parse, so only for that
/// case.
fn kind(data: &str) -> Option<&'static str> {
    let value: serde_json::Value = serde_json::from_str(data).ok()?;
    match value.get("type")?.as_str()? {
        "message_start" => Some("message_start"),
        "message_delta" => Some("message_delta"),
        _ => None,
    }
}

/// `message_delta`'s usage: every field may be missing.
#[derive(Deserialize)]
struct PartialUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

/// A delta's input counts replace the start's only when it gives them all (newer API
/// versions repeat them); its output count is the total so far.
impl From<PartialUsage> for UsageReport {
    fn from(usage: PartialUsage) -> Self {
        let input = match (
            usage.input_tokens.filter(|input| *input > 0),
            usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens,
        ) {
            (Some(input), Some(read), Some(written)) => Some((input, read, written)),
            _ => None,
        };
        UsageReport {
            prompt: input.map(|(input, read, written)| input + read + written),
            completion: usage.output_tokens,
            cache_read: input.map(|(_, read, _)| read),
            cache_write: input.map(|(_, _, written)| written),
        }
    }
}

/// Anthropic's count_tokens answer.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct TokenCount {
    /// Tokens the request's input holds.
    pub input_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::{NativeApi, NativeUsage, StreamUsage};

    fn add(usage: &mut StreamUsage, name: &str, data: &str) {
        usage.add(&NativeApi::Messages.event(Some(name.to_owned()), data.to_owned()));
    }

    // Event shapes and the cumulative `message_delta` usage:
    // https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[test]
    fn a_stream_usage_takes_input_and_cache_from_the_start_and_output_from_the_last_delta() {
        let mut usage = StreamUsage::default();
        add(
            &mut usage,
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":2000,"cache_read_input_tokens":4000,"output_tokens":1}}}"#,
        );
        add(
            &mut usage,
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}}"#,
        );
        add(
            &mut usage,
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
        );
        assert_eq!(
            usage,
            StreamUsage {
                usage: NativeUsage {
                    prompt: 6012,
                    completion: 15,
                    cache_read: 4000,
                    cache_write: 2000,
                },
                reported: true,
            }
        );
    }

    #[test]
    fn usage_with_cache_counts_is_priced_apart() {
        let usage: Usage = serde_json::from_str(
            r#"{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":4000,"cache_creation_input_tokens":2000}"#,
        )
        .expect("usage");
        assert_eq!(
            usage_of(&usage),
            NativeUsage {
                prompt: 6010,
                completion: 5,
                cache_read: 4000,
                cache_write: 2000,
            }
        );
    }
}
