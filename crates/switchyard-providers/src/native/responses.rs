//! What OpenAI's Responses API answers say about usage, for calls passed through to it
//! (OpenAI's `POST /v1/responses`, Azure OpenAI's `POST /openai/v1/responses`): the response
//! object's `usage` (<https://platform.openai.com/docs/api-reference/responses/object>), which
//! a stream gives in its last event, `response.completed` (or `response.incomplete`,
//! `response.failed`; <https://platform.openai.com/docs/api-reference/responses-streaming>).
//! `input_tokens` counts every input token, the cached ones
//! (`input_tokens_details.cached_tokens`) included; `output_tokens` counts reasoning tokens
//! (`output_tokens_details.reasoning_tokens`) too.

use bytes::Bytes;
use serde::Deserialize;

use super::{NativeUsage, UsageReport};
use crate::{ErrorClass, ProviderError};

/// A response object's `usage`.
#[derive(Debug, Clone, Copy, Deserialize)]
struct Usage {
    input_tokens: u64,
    output_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<InputDetails>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct InputDetails {
    #[serde(default)]
    cached_tokens: u64,
}

impl From<Usage> for NativeUsage {
    fn from(usage: Usage) -> Self {
        NativeUsage {
            prompt: usage.input_tokens,
            completion: usage.output_tokens,
            cache_read: usage.input_tokens_details.map_or(0, |d| d.cached_tokens),
            cache_write: 0,
        }
    }
}

/// The fields of a response object the gateway reads; the rest stays in the bytes.
#[derive(Deserialize)]
struct Head {
    model: String,
    #[serde(default)]
    usage: Option<Usage>,
}

/// The model and usage of `body`, a response object; a response without usage (one still in
/// progress, or failed) reports none.
pub(crate) fn answer_head(body: &Bytes) -> Result<(String, Option<NativeUsage>), ProviderError> {
    let head: Head = serde_json::from_slice(body).map_err(|e| {
        ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("upstream answered with a body that is not a response object: {e}"),
        )
    })?;
    Ok((head.model, head.usage.map(NativeUsage::from)))
}

/// The usage a Responses stream event reports: the final response's, in the events that end
/// a stream. The event's name comes from its `event:` line, else from the data's `type`.
pub(crate) fn event_usage(event: Option<&str>, data: &str) -> Option<UsageReport> {
    #[derive(Deserialize)]
    struct Ending {
        #[serde(rename = "type")]
        kind: String,
        response: Head,
    }
    const ENDINGS: [&str; 3] = [
        "response.completed",
        "response.incomplete",
        "response.failed",
    ];
    if event.is_some_and(|name| !ENDINGS.contains(&name)) {
        return None;
    }
    if event.is_none() && !ENDINGS.iter().any(|name| data.contains(name)) {
        return None;
    }
    let ending: Ending = serde_json::from_str(data).ok()?;
    if !ENDINGS.contains(&ending.kind.as_str()) {
        return None;
    }
    let usage = NativeUsage::from(ending.response.usage?);
    Some(UsageReport {
        prompt: Some(usage.prompt),
        completion: Some(usage.completion),
        cache_read: Some(usage.cache_read),
        cache_write: Some(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::{NativeApi, StreamUsage};

    // The response object and its usage:
    // https://platform.openai.com/docs/api-reference/responses/object.
    #[test]
    fn an_answer_reports_its_model_and_usage_with_cached_tokens_apart() {
        let body = Bytes::from_static(
            br#"{"id":"resp_1","object":"response","model":"gpt-4.1-2025-04-14","output":[],
                "usage":{"input_tokens":2036,"input_tokens_details":{"cached_tokens":1920},
                "output_tokens":87,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":2123}}"#,
        );
        let answer = NativeApi::Responses.answer(body).expect("answer");
        assert_eq!(answer.model, "gpt-4.1-2025-04-14");
        assert_eq!(
            answer.usage,
            Some(NativeUsage {
                prompt: 2036,
                completion: 87,
                cache_read: 1920,
                cache_write: 0,
            })
        );
    }

    #[test]
    fn a_body_that_is_no_response_object_is_an_invalid_response() {
        let err = NativeApi::Responses
            .answer(Bytes::from_static(b"<html>"))
            .expect_err("not a response");
        assert_eq!(err.class, ErrorClass::InvalidResponse);
    }

    // Event types: https://platform.openai.com/docs/api-reference/responses-streaming.
    #[test]
    fn a_stream_reports_usage_in_its_completed_event_only() {
        let mut usage = StreamUsage::default();
        for (name, data) in [
            (
                "response.created",
                r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","model":"o4-mini","usage":null}}"#,
            ),
            (
                "response.output_text.delta",
                r#"{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"response.completed"}"#,
            ),
        ] {
            let event = NativeApi::Responses.event(Some(name.to_owned()), data.to_owned());
            assert_eq!(event.usage, None, "{name}");
            usage.add(&event);
        }
        assert!(!usage.reported);
        let completed = NativeApi::Responses.event(
            None,
            r#"{"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","model":"o4-mini","usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":40}}}"#.to_owned(),
        );
        usage.add(&completed);
        assert_eq!(
            usage,
            StreamUsage {
                usage: NativeUsage {
                    prompt: 10,
                    completion: 30,
                    cache_read: 4,
                    cache_write: 0,
                },
                reported: true,
            }
        );
    }
}
