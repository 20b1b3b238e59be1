//! LiteLLM's `thinking_blocks`: the signed reasoning a chat message carries beside
//! `reasoning_content`, so that a client can give it back with the message on the next turn
//! (<https://docs.litellm.ai/docs/reasoning_content>): `{"type": "thinking", "thinking",
//! "signature"}` and `{"type": "redacted_thinking", "data"}`, Anthropic's own block shapes
//! (<https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking>).
//!
//! In a stream each delta carries the fragment it adds (`thinking` text, then the block's
//! `signature` alone, or a whole redacted block); [`ThinkingAssembler`] joins them again: a
//! thinking fragment continues the last thinking block until that block got its signature.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Extra;

/// The name of the field on a chat message (or stream delta).
pub const THINKING_BLOCKS: &str = "thinking_blocks";

/// One block of a model's extended thinking, to be given back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ThinkingBlock {
    /// Thinking in clear, with the signature that proves it unchanged.
    Thinking {
        /// The thinking text (a fragment of it in a stream delta).
        #[serde(default)]
        thinking: String,
        /// The opaque signature (absent on stream fragments before the block's last).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Thinking the provider encrypted.
    RedactedThinking {
        /// The encrypted thinking.
        data: String,
    },
}

impl ThinkingBlock {
    /// The blocks in a message's or delta's other fields; `None` when there are none, an
    /// error when the field is not a list of blocks.
    pub fn read(extra: &Extra) -> Result<Option<Vec<Self>>, serde_json::Error> {
        match extra.get(THINKING_BLOCKS) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => Vec::<Self>::deserialize(value).map(Some),
        }
    }

    /// Sets the field to `blocks`, unless there are none.
    pub fn write(extra: &mut Extra, blocks: &[Self]) {
        if blocks.is_empty() {
            return;
        }
        if let Ok(value) = serde_json::to_value(blocks) {
            extra.insert(THINKING_BLOCKS.to_owned(), value);
        }
    }

    /// Whether the block is a thinking block still waiting for its signature.
    fn is_open(&self) -> bool {
        matches!(self, Self::Thinking { signature, .. }
            if signature.as_deref().is_none_or(str::is_empty))
    }
}

/// Joins the fragments a stream's deltas carry into whole blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThinkingAssembler {
    blocks: Vec<ThinkingBlock>,
}

impl ThinkingAssembler {
    /// Adds one fragment: thinking text or a signature continues the open thinking block (one
    /// without a signature yet), otherwise starts a block.
    pub fn push(&mut self, fragment: ThinkingBlock) {
        match (self.blocks.last_mut(), fragment) {
            (
                Some(
                    open @ ThinkingBlock::Thinking {
                        signature: None, ..
                    },
                ),
                ThinkingBlock::Thinking {
                    thinking: more,
                    signature: sealed,
                },
            ) => {
                if let ThinkingBlock::Thinking {
                    thinking,
                    signature,
                } = open
                {
                    thinking.push_str(&more);
                    *signature = sealed.filter(|s| !s.is_empty());
                }
            }
            (
                _,
                ThinkingBlock::Thinking {
                    thinking,
                    signature,
                },
            ) => {
                self.blocks.push(ThinkingBlock::Thinking {
                    thinking,
                    signature: signature.filter(|s| !s.is_empty()),
                });
            }
            (_, redacted) => self.blocks.push(redacted),
        }
    }

    /// Adds the fragments of a delta's other fields, if it has any (malformed ones skipped).
    pub fn push_from(&mut self, extra: &Extra) {
        for fragment in ThinkingBlock::read(extra)
            .ok()
            .flatten()
            .into_iter()
            .flatten()
        {
            self.push(fragment);
        }
    }

    /// Whether no fragment came.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Whether a thinking block is still waiting for its signature.
    pub fn is_open(&self) -> bool {
        self.blocks.last().is_some_and(ThinkingBlock::is_open)
    }

    /// The blocks so far.
    pub fn blocks(&self) -> &[ThinkingBlock] {
        &self.blocks
    }

    /// The whole blocks.
    pub fn into_blocks(self) -> Vec<ThinkingBlock> {
        self.blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The message shape of https://docs.litellm.ai/docs/reasoning_content.
    #[test]
    fn blocks_read_and_write_in_litellm_s_shape() {
        let message: Extra = serde_json::from_value(json!({
            "reasoning_content": "The capital of France is Paris.",
            "thinking_blocks": [
                {"type": "thinking", "thinking": "The capital of France is Paris.",
                 "signature": "EqoBCkgIARABGAIiQL2UoU0b1OHYi+"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}
            ]
        }))
        .expect("an object");
        let blocks = ThinkingBlock::read(&message)
            .expect("well formed")
            .expect("present");
        assert_eq!(
            blocks,
            [
                ThinkingBlock::Thinking {
                    thinking: "The capital of France is Paris.".to_owned(),
                    signature: Some("EqoBCkgIARABGAIiQL2UoU0b1OHYi+".to_owned()),
                },
                ThinkingBlock::RedactedThinking {
                    data: "EmwKAhgBEgy3va3pzix".to_owned()
                }
            ]
        );
        let mut written = Extra::new();
        ThinkingBlock::write(&mut written, &blocks);
        assert_eq!(written["thinking_blocks"], message["thinking_blocks"]);
        ThinkingBlock::write(&mut written, &[]);
        assert_eq!(written.len(), 1);
        assert_eq!(ThinkingBlock::read(&Extra::new()).expect("ok"), None);
        let malformed: Extra = serde_json::from_value(
            json!({"thinking_blocks": [{"type": "thinking", "signature": 3}]}),
        )
        .expect("an object");
        assert!(ThinkingBlock::read(&malformed).is_err());
    }

    // Anthropic streams a thinking block as thinking_delta events, then one signature_delta
    // before the block stops (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
    #[test]
    fn stream_fragments_join_into_signed_blocks() {
        let mut assembler = ThinkingAssembler::default();
        let thinking = |text: &str, signature: Option<&str>| ThinkingBlock::Thinking {
            thinking: text.to_owned(),
            signature: signature.map(str::to_owned),
        };
        assembler.push(thinking("Let me ", None));
        assembler.push(thinking("think.", Some("")));
        assert!(assembler.is_open());
        assembler.push(thinking("", Some("sig-1")));
        assert!(!assembler.is_open());
        assembler.push(ThinkingBlock::RedactedThinking {
            data: "opaque".to_owned(),
        });
        assembler.push(thinking("Again.", None));
        assembler.push(thinking("", Some("sig-2")));
        assert_eq!(
            assembler.into_blocks(),
            [
                thinking("Let me think.", Some("sig-1")),
                ThinkingBlock::RedactedThinking {
                    data: "opaque".to_owned()
                },
                thinking("Again.", Some("sig-2")),
            ]
        );
    }
}
