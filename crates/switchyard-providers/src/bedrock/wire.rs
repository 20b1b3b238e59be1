//! Bedrock Runtime's Converse wire format: the parts of `Converse` and `ConverseStream` the
//! adapter sends and reads, as AWS documents them
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>,
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html>).
//! Plain serde data, no translation. Unions (`ContentBlock`, `ContentBlockDelta`, ...) are
//! structs of optional members, so members this adapter does not read are skipped, not refused.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_wire::RawJson;

/// The body of `Converse` and `ConverseStream` (the model id travels in the path).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseRequest {
    /// The conversation, alternating `user` and `assistant` turns.
    pub messages: Vec<Message>,
    /// System prompts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<SystemContentBlock>,
    /// The inference parameters every model takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_config: Option<InferenceConfiguration>,
    /// Tools the model may use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfiguration>,
    /// The answer's structured output format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
    /// Fields of the model's own API (Anthropic's `thinking`), passed to the model as they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<Value>,
}

/// `OutputConfig`: structured output
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_OutputConfig.html>).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputConfig {
    /// The format of the answer's text.
    pub text_format: OutputFormat,
}

/// `OutputFormat`: `type` `json_schema` and its `structure`
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_OutputFormat.html>).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputFormat {
    /// Always `json_schema`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The structure the text must follow.
    pub structure: OutputFormatStructure,
}

/// `OutputFormatStructure`, a union of which this adapter sends `jsonSchema`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputFormatStructure {
    /// A JSON Schema the text must follow.
    pub json_schema: JsonSchemaDefinition,
}

/// `JsonSchemaDefinition`: the schema as a JSON string, with an optional name and description
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_JsonSchemaDefinition.html>).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonSchemaDefinition {
    /// The JSON Schema, as text.
    pub schema: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `Message`: one turn of the conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: String,
    /// Its content blocks, in order.
    #[serde(default)]
    pub content: Vec<ContentBlock>,
}

/// `ContentBlock`, a union: exactly one member is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlock {
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// An image, as bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageBlock>,
    /// A tool call made by the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use: Option<ToolUseBlock>,
    /// A tool's result, sent back by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_result: Option<ToolResultBlock>,
    /// The model's reasoning, given back unchanged in the assistant turn it came in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<ReasoningContentBlock>,
}

/// `ImageBlock`: `png`, `jpeg`, `gif` or `webp` bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    /// `png`, `jpeg`, `gif` or `webp`.
    pub format: String,
    /// Where the bytes are.
    pub source: ImageSource,
}

/// `ImageSource`: the image's bytes, base64 on the JSON wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSource {
    /// The bytes, base64-encoded.
    pub bytes: String,
}

/// `ToolUseBlock`: a call of a tool by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseBlock {
    /// The call's id, echoed by its result.
    pub tool_use_id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments, a JSON document (an object).
    #[serde(default)]
    pub input: Value,
}

/// `ToolResultBlock`: what a tool answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultBlock {
    /// The call this answers.
    pub tool_use_id: String,
    /// The result.
    pub content: Vec<ToolResultContentBlock>,
}

/// `ToolResultContentBlock`, a union: text or a JSON document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolResultContentBlock {
    /// A text result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A JSON result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
}

/// `ReasoningContentBlock`, a union: the reasoning text or its redacted form
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningContentBlock.html>).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningContentBlock {
    /// The reasoning in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_text: Option<ReasoningText>,
    /// The reasoning the provider encrypted, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted_content: Option<String>,
}

/// `ReasoningTextBlock`: the text and the signature that proves it unchanged
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningTextBlock.html>).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasoningText {
    /// The reasoning.
    #[serde(default)]
    pub text: String,
    /// Its signature, to be given back with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// `SystemContentBlock`: a system prompt (text only here).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemContentBlock {
    /// The prompt.
    pub text: String,
}

/// `InferenceConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfiguration {
    /// Upper bound on generated tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Sequences that stop generation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
}

/// `ToolConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfiguration {
    /// The tools.
    pub tools: Vec<Tool>,
    /// Whether and which tool the model must use; absent is Bedrock's default, `auto`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
}

/// `Tool`, a union of which only `toolSpec` is used.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// The tool's name, description and input schema.
    pub tool_spec: ToolSpecification,
}

/// `ToolSpecification`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpecification {
    /// The tool's name.
    pub name: String,
    /// What it does, for the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of its input.
    pub input_schema: ToolInputSchema,
}

/// `ToolInputSchema`, a union of which only `json` exists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolInputSchema {
    /// The JSON Schema.
    pub json: RawJson,
}

/// `ToolChoice`: `{"auto": {}}`, `{"any": {}}` or `{"tool": {"name": ...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolChoice {
    /// The model decides.
    Auto(Empty),
    /// The model must use some tool.
    Any(Empty),
    /// The model must use this tool.
    Tool(SpecificToolChoice),
}

/// An empty JSON object.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Empty {}

/// `SpecificToolChoice`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecificToolChoice {
    /// The tool the model must use.
    pub name: String,
}

/// The answer of `Converse`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    /// The generated message.
    #[serde(default)]
    pub output: Option<ConverseOutput>,
    /// Why generation stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<TokenUsage>,
}

/// `ConverseOutput`, a union of which only `message` exists.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ConverseOutput {
    /// The model's message.
    #[serde(default)]
    pub message: Option<Message>,
}

/// `TokenUsage`. `inputTokens` leaves out the tokens read from or written to the prompt cache.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    /// Prompt tokens not read from or written to the cache.
    #[serde(default)]
    pub input_tokens: u64,
    /// Generated tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Prompt tokens read from the cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    /// Prompt tokens written to the cache.
    #[serde(default)]
    pub cache_write_input_tokens: Option<u64>,
}

/// `MessageStartEvent`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MessageStartEvent {
    /// Always `assistant` in answers.
    pub role: String,
}

/// `ContentBlockStartEvent`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStartEvent {
    /// The block's position in the message.
    pub content_block_index: u32,
    /// What starts.
    #[serde(default)]
    pub start: ContentBlockStart,
}

/// `ContentBlockStart`, a union: only a tool call announces itself (text blocks just begin).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStart {
    /// A tool call: its id and name.
    #[serde(default)]
    pub tool_use: Option<ToolUseBlockStart>,
}

/// `ToolUseBlockStart`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseBlockStart {
    /// The call's id.
    pub tool_use_id: String,
    /// The tool's name.
    pub name: String,
}

/// `ContentBlockDeltaEvent`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockDeltaEvent {
    /// The block this adds to.
    pub content_block_index: u32,
    /// What it adds.
    pub delta: ContentBlockDelta,
}

/// `ContentBlockDelta`, a union.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockDelta {
    /// More text.
    #[serde(default)]
    pub text: Option<String>,
    /// More of a tool call's input, as a piece of its JSON text.
    #[serde(default)]
    pub tool_use: Option<ToolUseBlockDelta>,
    /// More reasoning.
    #[serde(default)]
    pub reasoning_content: Option<ReasoningContentBlockDelta>,
}

/// `ToolUseBlockDelta`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ToolUseBlockDelta {
    /// A piece of the input's JSON text.
    pub input: String,
}

/// `ReasoningContentBlockDelta`, a union: more text, the block's signature, or a redacted block
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningContentBlockDelta.html>).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningContentBlockDelta {
    /// More reasoning text.
    #[serde(default)]
    pub text: Option<String>,
    /// The signature of the reasoning block.
    #[serde(default)]
    pub signature: Option<String>,
    /// Reasoning the provider encrypted, base64.
    #[serde(default)]
    pub redacted_content: Option<String>,
}

/// `MessageStopEvent`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStopEvent {
    /// Why generation stopped.
    pub stop_reason: String,
}

/// `ConverseStreamMetadataEvent`: usage and metrics, the last event of a stream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConverseStreamMetadataEvent {
    /// Token counts of the call.
    pub usage: TokenUsage,
}
