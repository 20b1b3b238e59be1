//! The items a Responses conversation is made of: what a request's `input` lists and a
//! response's `output` holds (<https://platform.openai.com/docs/api-reference/responses/create>,
//! `input`; <https://platform.openai.com/docs/api-reference/responses/object>, `output`).
//! Output items go back into the next request's input as they came, so one type serves both.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::Extra;

/// One item of a conversation.
///
/// Input messages may leave out `"type": "message"` (the API's "easy input message"); they read
/// as [`Item::Message`].
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    /// A message from the user, the application or the model.
    Message(MessageItem),
    /// A call of a function tool by the model.
    FunctionCall(FunctionCallItem),
    /// The application's result of a function call.
    FunctionCallOutput(FunctionCallOutputItem),
    /// The model's reasoning (a summary, and its opaque encrypted state).
    Reasoning(ReasoningItem),
}

/// The derived reader of [`Item`], after a missing `type` was taken for `message`.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TaggedItem {
    Message(MessageItem),
    FunctionCall(FunctionCallItem),
    FunctionCallOutput(FunctionCallOutputItem),
    Reasoning(ReasoningItem),
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = Value::deserialize(deserializer)?;
        if let Value::Object(fields) = &mut value
            && !fields.contains_key("type")
        {
            fields.insert("type".to_owned(), Value::from("message"));
        }
        let item = TaggedItem::deserialize(value).map_err(serde::de::Error::custom)?;
        Ok(match item {
            TaggedItem::Message(item) => Self::Message(item),
            TaggedItem::FunctionCall(item) => Self::FunctionCall(item),
            TaggedItem::FunctionCallOutput(item) => Self::FunctionCallOutput(item),
            TaggedItem::Reasoning(item) => Self::Reasoning(item),
        })
    }
}

impl Item {
    /// A user message of plain text.
    pub fn user_text(text: impl Into<String>) -> Self {
        Self::Message(MessageItem {
            id: None,
            role: ItemRole::User,
            content: vec![InputContent::text("input_text", text)],
            status: None,
        })
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ItemRole {
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// Instructions from the application.
    System,
    /// Instructions from the application (the newer name for `system`).
    Developer,
}

/// A message: its content is text or typed parts (`input_text`, `input_image`, `input_file` in
/// input; `output_text`, `refusal` in output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageItem {
    /// The item's id (`msg_...`), on output messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Who wrote it.
    pub role: ItemRole,
    /// Its parts; a string reads as one `input_text` part.
    #[serde(deserialize_with = "content_parts")]
    pub content: Vec<InputContent>,
    /// `in_progress`, `completed` or `incomplete`, on output messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

fn content_parts<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<InputContent>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Content {
        Text(String),
        Parts(Vec<InputContent>),
    }
    Ok(match Content::deserialize(deserializer)? {
        Content::Text(text) => vec![InputContent::text("input_text", text)],
        Content::Parts(parts) => parts,
    })
}

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputContent {
    /// `input_text`, `input_image`, `input_file`, `output_text` or `refusal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of an `input_text` or `output_text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The rest of the part (`image_url`, `detail`, `file_id`, `file_data`, `annotations`,
    /// `refusal`), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

impl InputContent {
    /// A text part of `kind` (`input_text` or `output_text`).
    pub fn text(kind: &str, text: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            text: Some(text.into()),
            extra: Extra::new(),
        }
    }

    /// An `output_text` part, with the empty `annotations` the API always sends.
    pub fn output_text(text: impl Into<String>) -> Self {
        let mut part = Self::text("output_text", text);
        part.extra
            .insert("annotations".to_owned(), Value::Array(Vec::new()));
        part
    }
}

/// A function call by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FunctionCallItem {
    /// The item's id (`fc_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The call's id, which the output answering it names.
    pub call_id: String,
    /// The function's name.
    pub name: String,
    /// The arguments, JSON-encoded.
    pub arguments: String,
    /// `in_progress`, `completed` or `incomplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The result of a function call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FunctionCallOutputItem {
    /// The item's id, when the API returned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The call it answers.
    pub call_id: String,
    /// The result: a string, or a list of `input_text`/`input_image`/`input_file` parts.
    pub output: Value,
    /// `in_progress`, `completed` or `incomplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The model's reasoning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReasoningItem {
    /// The item's id (`rs_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Summary parts (`{"type": "summary_text", "text": ...}`).
    #[serde(default)]
    pub summary: Vec<Value>,
    /// Other fields (`encrypted_content`, `content`, `status`), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ReasoningItem {
    /// The summary's text, its parts joined.
    pub fn summary_text(&self) -> String {
        self.summary
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect()
    }
}
