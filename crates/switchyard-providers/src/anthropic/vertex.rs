//! Anthropic's models on Vertex AI
//! (<https://docs.anthropic.com/en/api/claude-on-vertex-ai>): the Messages body without
//! `model` (the URL names it), with `anthropic_version: vertex-2023-10-16`, sent to the
//! model's `:rawPredict`, or `:streamRawPredict` when it asks for a stream; the answer is
//! Anthropic's own.

use http::Uri;
use switchyard_wire::{RawExtra, RawJson};

use crate::http::parse_uri;
use crate::{ErrorClass, ProviderError};

/// The `anthropic_version` Vertex AI's Anthropic models take.
pub const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// The two methods of one Claude model on Vertex AI.
#[derive(Debug)]
pub(crate) struct VertexMethods {
    raw_predict: Uri,
    stream_raw_predict: Uri,
}

impl VertexMethods {
    /// The methods of the model at `model_url`
    /// (`{base}/v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}`).
    pub(crate) fn new(model_url: &str) -> Result<Self, ProviderError> {
        Ok(Self {
            raw_predict: parse_uri(&format!("{model_url}:rawPredict"))?,
            stream_raw_predict: parse_uri(&format!("{model_url}:streamRawPredict"))?,
        })
    }

    /// Where `body` goes, and `body` as Vertex AI takes it.
    pub(crate) fn request(&self, mut body: RawExtra) -> Result<(&Uri, RawExtra), ProviderError> {
        body.remove("model");
        if !body.contains_key("anthropic_version") {
            let version = RawJson::from_value(&VERTEX_ANTHROPIC_VERSION).map_err(|e| {
                ProviderError::new(ErrorClass::BadRequest, format!("`anthropic_version`: {e}"))
            })?;
            body.insert("anthropic_version", version);
        }
        let stream = body
            .get("stream")
            .and_then(|v| v.parse::<bool>().ok())
            .unwrap_or(false);
        let uri = if stream {
            &self.stream_raw_predict
        } else {
            &self.raw_predict
        };
        Ok((uri, body))
    }
}

/// A translated Messages request's top-level fields, for [`VertexMethods::request`].
pub(crate) fn fields<T: serde::Serialize>(body: &T) -> Result<RawExtra, ProviderError> {
    let bytes = serde_json::to_vec(body).map_err(|e| {
        ProviderError::new(
            ErrorClass::BadRequest,
            format!("request not serializable: {e}"),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ProviderError::new(
            ErrorClass::BadRequest,
            format!("request not an object: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Body and methods: https://docs.anthropic.com/en/api/claude-on-vertex-ai.
    #[test]
    fn the_body_loses_its_model_and_names_the_vertex_version() {
        let methods = VertexMethods::new(
            "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514",
        )
        .expect("valid");
        let body: RawExtra = serde_json::from_str(
            r#"{"model":"claude-sonnet-4","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .expect("json");
        let (uri, sent) = methods.request(body).expect("request");
        assert!(
            uri.to_string()
                .ends_with("claude-sonnet-4@20250514:rawPredict"),
            "{uri}"
        );
        assert_eq!(
            serde_json::to_value(&sent).expect("json"),
            serde_json::json!({"anthropic_version": "vertex-2023-10-16", "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}]})
        );
        let streamed: RawExtra = serde_json::from_str(
            r#"{"model":"m","stream":true,"anthropic_version":"vertex-2023-10-16","max_tokens":5,"messages":[]}"#,
        )
        .expect("json");
        let (uri, sent) = methods.request(streamed).expect("request");
        assert!(uri.to_string().ends_with(":streamRawPredict"), "{uri}");
        assert!(sent.contains_key("stream") && !sent.contains_key("model"));
    }
}
