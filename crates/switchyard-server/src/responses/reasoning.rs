//! The reasoning state a translated Responses call hands the client to give back: a chat
//! answer's signed thinking blocks (LiteLLM's `thinking_blocks`, from Anthropic) travel as a
//! `reasoning` item's `encrypted_content`, which OpenAI documents as the opaque state a client
//! passes back with the item on its next turn, what matters when `store` is false
//! (<https://platform.openai.com/docs/api-reference/responses/object>, the reasoning item;
//! given on every reasoning item, as OpenAI now does by default, and whole in
//! `response.output_item.done` when streamed).
//!
//! The encoding is the gateway's own: [`PREFIX`] then the blocks as JSON, base64url without
//! padding. It is opaque to the client but not encrypted: the blocks' signatures are what
//! protect them (Anthropic refuses altered thinking), and their text is the item's summary
//! already. A `reasoning` item whose `encrypted_content` lacks the prefix (OpenAI's own, from
//! another gateway or a native call) is left out of a translated call, as before.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use switchyard_wire::{Extra, THINKING_BLOCKS, ThinkingBlock};

use crate::error::ApiError;

/// What starts an `encrypted_content` the gateway wrote; the `v1` names the encoding.
pub const PREFIX: &str = "swy_thinking_v1.";

/// Takes a chat message's (or stream delta's) reasoning out of its other fields: the
/// `reasoning_content` text (empty when none) and the `thinking_blocks` (or their fragments;
/// malformed ones are left out).
pub fn take(extra: &mut Extra) -> (String, Vec<ThinkingBlock>) {
    let text = match extra.remove("reasoning_content") {
        Some(Value::String(text)) => text,
        _ => String::new(),
    };
    let blocks = ThinkingBlock::read(extra)
        .ok()
        .flatten()
        .unwrap_or_default();
    extra.remove(THINKING_BLOCKS);
    (text, blocks)
}

/// `blocks` as an `encrypted_content`.
pub fn encode(blocks: &[ThinkingBlock]) -> String {
    let json = serde_json::to_vec(blocks).unwrap_or_default();
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
}

/// The blocks an `encrypted_content` the gateway wrote carries; `None` for any other
/// provider's state; an invalid request for one that has the prefix but was altered.
pub fn decode(encrypted_content: &str) -> Result<Option<Vec<ThinkingBlock>>, ApiError> {
    let Some(encoded) = encrypted_content.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    let invalid = |why: String| {
        ApiError::invalid_request(format!(
            "input: a reasoning item's `encrypted_content` is not the one this gateway gave: {why}"
        ))
    };
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|e| invalid(e.to_string()))?;
    serde_json::from_slice(&json)
        .map(Some)
        .map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_and_foreign_state_is_not_read() {
        let blocks = vec![
            ThinkingBlock::Thinking {
                thinking: "Need the weather tool.".to_owned(),
                signature: Some("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxB+/=".to_owned()),
            },
            ThinkingBlock::RedactedThinking {
                data: "EmwKAhgBEgy3va3pzix".to_owned(),
            },
        ];
        let encoded = encode(&blocks);
        assert!(encoded.starts_with(PREFIX));
        assert!(
            encoded[PREFIX.len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{encoded}"
        );
        assert_eq!(decode(&encoded).expect("valid"), Some(blocks));
        // OpenAI's encrypted reasoning (a Fernet token) is another provider's state.
        assert_eq!(decode("gAAAAABo1234").expect("not ours"), None);
        for altered in [format!("{PREFIX}!!"), format!("{PREFIX}e30")] {
            let err = decode(&altered).expect_err("altered");
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
        }
    }
}
