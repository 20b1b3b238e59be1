//! The events of a streamed response
//! (<https://platform.openai.com/docs/api-reference/responses-streaming>), each sent as
//! `event: TYPE` and `data: JSON` with the same `type` inside, numbered by `sequence_number`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::item::{InputContent, Item};
use super::object::Response;

/// One event of a response stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum StreamEvent {
    /// The response was created (first event).
    #[serde(rename = "response.created")]
    Created {
        /// The response so far (`in_progress`, no output).
        response: Box<Response>,
        /// This event's number.
        sequence_number: u64,
    },
    /// The response is being generated.
    #[serde(rename = "response.in_progress")]
    InProgress {
        /// The response so far.
        response: Box<Response>,
        /// This event's number.
        sequence_number: u64,
    },
    /// An output item began.
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        /// Its position in `output`.
        output_index: u32,
        /// The item as it starts (`in_progress`, empty).
        item: Box<Item>,
        /// This event's number.
        sequence_number: u64,
    },
    /// A content part of a message began.
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded {
        /// The message's id.
        item_id: String,
        /// The message's position in `output`.
        output_index: u32,
        /// The part's position in the message's content.
        content_index: u32,
        /// The part as it starts (empty text).
        part: InputContent,
        /// This event's number.
        sequence_number: u64,
    },
    /// More text of an `output_text` part.
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        /// The message's id.
        item_id: String,
        /// The message's position in `output`.
        output_index: u32,
        /// The part's position in the message's content.
        content_index: u32,
        /// The text added.
        delta: String,
        /// Log probabilities of its tokens (none here).
        logprobs: Vec<Value>,
        /// This event's number.
        sequence_number: u64,
    },
    /// An `output_text` part is complete.
    #[serde(rename = "response.output_text.done")]
    OutputTextDone {
        /// The message's id.
        item_id: String,
        /// The message's position in `output`.
        output_index: u32,
        /// The part's position in the message's content.
        content_index: u32,
        /// The whole text.
        text: String,
        /// Log probabilities of its tokens (none here).
        logprobs: Vec<Value>,
        /// This event's number.
        sequence_number: u64,
    },
    /// A content part is complete.
    #[serde(rename = "response.content_part.done")]
    ContentPartDone {
        /// The message's id.
        item_id: String,
        /// The message's position in `output`.
        output_index: u32,
        /// The part's position in the message's content.
        content_index: u32,
        /// The whole part.
        part: InputContent,
        /// This event's number.
        sequence_number: u64,
    },
    /// More of a function call's arguments.
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta {
        /// The function call item's id.
        item_id: String,
        /// Its position in `output`.
        output_index: u32,
        /// The JSON text added.
        delta: String,
        /// This event's number.
        sequence_number: u64,
    },
    /// A function call's arguments are complete.
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionCallArgumentsDone {
        /// The function call item's id.
        item_id: String,
        /// Its position in `output`.
        output_index: u32,
        /// The function's name.
        name: String,
        /// The whole JSON-encoded arguments.
        arguments: String,
        /// This event's number.
        sequence_number: u64,
    },
    /// An output item is complete.
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        /// Its position in `output`.
        output_index: u32,
        /// The whole item.
        item: Box<Item>,
        /// This event's number.
        sequence_number: u64,
    },
    /// The response is complete (last event).
    #[serde(rename = "response.completed")]
    Completed {
        /// The whole response, with usage.
        response: Box<Response>,
        /// This event's number.
        sequence_number: u64,
    },
    /// The response ended incomplete (the token limit, a content filter): last event.
    #[serde(rename = "response.incomplete")]
    Incomplete {
        /// The whole response, with `incomplete_details`.
        response: Box<Response>,
        /// This event's number.
        sequence_number: u64,
    },
    /// The response failed (last event, after `error`).
    #[serde(rename = "response.failed")]
    Failed {
        /// The response with its `error`.
        response: Box<Response>,
        /// This event's number.
        sequence_number: u64,
    },
    /// An error occurred.
    #[serde(rename = "error")]
    Error {
        /// A machine-readable code.
        code: Option<String>,
        /// A sentence for a person.
        message: String,
        /// The parameter at fault, if one is.
        param: Option<String>,
        /// This event's number.
        sequence_number: u64,
    },
}

impl StreamEvent {
    /// The event's `type`, which its SSE `event:` line repeats.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created { .. } => "response.created",
            Self::InProgress { .. } => "response.in_progress",
            Self::OutputItemAdded { .. } => "response.output_item.added",
            Self::ContentPartAdded { .. } => "response.content_part.added",
            Self::OutputTextDelta { .. } => "response.output_text.delta",
            Self::OutputTextDone { .. } => "response.output_text.done",
            Self::ContentPartDone { .. } => "response.content_part.done",
            Self::FunctionCallArgumentsDelta { .. } => "response.function_call_arguments.delta",
            Self::FunctionCallArgumentsDone { .. } => "response.function_call_arguments.done",
            Self::OutputItemDone { .. } => "response.output_item.done",
            Self::Completed { .. } => "response.completed",
            Self::Incomplete { .. } => "response.incomplete",
            Self::Failed { .. } => "response.failed",
            Self::Error { .. } => "error",
        }
    }
}
