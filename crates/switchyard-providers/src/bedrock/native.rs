//! Anthropic's Messages API on Bedrock, passed through: a client's Messages body sent to
//! InvokeModel (`POST {endpoint}/model/{modelId}/invoke`, streams to
//! `.../invoke-with-response-stream`) as Anthropic's models on Bedrock take it
//! (<https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html>):
//! the body as it came, without `model` and `stream` (the path and the operation say them),
//! with `anthropic_version: bedrock-2023-05-31` unless the client set one, and the client's
//! `anthropic-beta` header as the body's `anthropic_beta` list. The answer is Anthropic's
//! Messages response; a stream's `chunk` events carry Anthropic's events base64-encoded
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html>),
//! which are passed back as they arrive.

use aws_smithy_types::event_stream::Message;
use base64::Engine;
use serde::Deserialize;
use switchyard_wire::{RawExtra, RawJson};

use super::stream::check_event;
use crate::aws::eventstream::header;
use crate::native::{NativeApi, NativeEvent, NativeRequest};
use crate::{ErrorClass, ProviderError};

/// The `anthropic_version` Bedrock's Anthropic models take.
pub const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Whether a Bedrock model id (or inference profile, or ARN) names one of Anthropic's models.
pub fn is_anthropic(model: &str) -> bool {
    model.contains("anthropic.")
}

/// The InvokeModel body of a client's Messages request.
pub fn invoke_body(request: NativeRequest) -> Result<Vec<u8>, ProviderError> {
    let NativeRequest { mut body, headers } = request;
    body.remove("model");
    body.remove("stream");
    if !body.contains_key("anthropic_version") {
        insert(&mut body, "anthropic_version", &BEDROCK_ANTHROPIC_VERSION)?;
    }
    let betas: Vec<String> = headers
        .iter()
        .filter(|(name, _)| name.as_str() == "anthropic-beta")
        .filter_map(|(_, value)| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|beta| !beta.is_empty())
        .map(str::to_owned)
        .collect();
    if !betas.is_empty() && !body.contains_key("anthropic_beta") {
        insert(&mut body, "anthropic_beta", &betas)?;
    }
    serde_json::to_vec(&body).map_err(|e| {
        ProviderError::new(
            ErrorClass::BadRequest,
            format!("request not serializable: {e}"),
        )
    })
}

fn insert<T: serde::Serialize>(
    body: &mut RawExtra,
    name: &str,
    value: &T,
) -> Result<(), ProviderError> {
    let value = RawJson::from_value(value)
        .map_err(|e| ProviderError::new(ErrorClass::BadRequest, format!("`{name}`: {e}")))?;
    body.insert(name, value);
    Ok(())
}

/// The Anthropic event an InvokeModelWithResponseStream message carries; `None` for messages
/// of other event types; the classified error of an exception message.
pub fn event_of(message: &Message) -> Result<Option<NativeEvent>, ProviderError> {
    check_event(message)?;
    if header(message, ":event-type") != Some("chunk") {
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct Chunk {
        bytes: String,
    }
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: String,
    }
    let invalid = |what: String| {
        ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("Bedrock sent a chunk that is not {what}"),
        )
    };
    let chunk: Chunk = serde_json::from_slice(message.payload())
        .map_err(|e| invalid(format!("`{{\"bytes\": ...}}`: {e}")))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(chunk.bytes.as_bytes())
        .map_err(|e| invalid(format!("base64: {e}")))?;
    let data = String::from_utf8(bytes).map_err(|e| invalid(format!("UTF-8: {e}")))?;
    let kind: Kind =
        serde_json::from_str(&data).map_err(|e| invalid(format!("an Anthropic event: {e}")))?;
    Ok(Some(NativeApi::Messages.event(Some(kind.kind), data)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    // Body fields: https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html.
    #[test]
    fn the_body_loses_model_and_stream_and_gains_the_version_and_betas() {
        let body: RawExtra = serde_json::from_str(
            r#"{"model":"m","stream":true,"max_tokens":5,"messages":[{"role":"user","content":[{"type":"thinking","thinking":"x","signature":"c2ln"}]}]}"#,
        )
        .expect("json");
        let request = NativeRequest {
            body,
            headers: vec![
                (
                    HeaderName::from_static("anthropic-version"),
                    HeaderValue::from_static("2023-06-01"),
                ),
                (
                    HeaderName::from_static("anthropic-beta"),
                    HeaderValue::from_static("a-1, b-2"),
                ),
            ],
        };
        let sent: serde_json::Value =
            serde_json::from_slice(&invoke_body(request).expect("body")).expect("json");
        assert_eq!(
            sent,
            serde_json::json!({"max_tokens": 5, "anthropic_version": "bedrock-2023-05-31",
                "anthropic_beta": ["a-1", "b-2"],
                "messages": [{"role": "user", "content": [{"type": "thinking", "thinking": "x", "signature": "c2ln"}]}]})
        );
        assert!(is_anthropic("us.anthropic.claude-sonnet-4-5-20250929-v1:0"));
        assert!(!is_anthropic("us.amazon.nova-pro-v1:0"));
    }
}
