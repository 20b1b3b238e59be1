//! Gemini's wire format: the parts of the Generative Language API (`v1beta`) the adapter sends
//! and reads, as Google documents them (<https://ai.google.dev/api/generate-content>,
//! <https://ai.google.dev/api/embeddings>). Plain serde data, no translation.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_wire::RawJson;

/// `GenerateContentRequest`: the body of `generateContent` and `streamGenerateContent`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest {
    /// The conversation, alternating `user` and `model` turns.
    pub contents: Vec<Content>,
    /// System and developer instructions (text parts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content>,
    /// Sampling and output settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig>,
    /// Functions the model may call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Whether and which functions the model must call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
}

/// One turn of a conversation: a role and its parts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// `user` or `model`; absent on `systemInstruction` and on blocked candidates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The parts, in order.
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// One part of a turn. Exactly one of the data fields is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Bytes sent inline (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<Blob>,
    /// A file the API fetches by URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<FileData>,
    /// A call of a declared function, made by the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall>,
    /// The result of a function call, sent back by the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_response: Option<FunctionResponse>,
    /// Whether this part is the model's thinking rather than its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    /// Opaque reasoning state that Gemini 3 requires back with the function call it came with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
}

/// Inline bytes with their media type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    /// Media type, such as `image/png`.
    pub mime_type: String,
    /// The bytes, base64-encoded.
    pub data: String,
}

/// A file referenced by URI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData {
    /// Media type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Where the file is.
    pub file_uri: String,
}

/// A function call predicted by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCall {
    /// An id Gemini may give the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The declared function's name.
    pub name: String,
    /// The arguments, as a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

/// A function's result, sent back to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionResponse {
    /// The function that was called.
    pub name: String,
    /// The result, as a JSON object.
    pub response: Value,
}

/// `GenerationConfig`: sampling and output settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Upper bound on generated tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Sequences that end generation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Number of candidates to generate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_count: Option<u32>,
    /// `application/json` for JSON output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<String>,
    /// The JSON Schema the output must follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_json_schema: Option<RawJson>,
    /// Seed for repeatable sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Penalty on tokens already present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Penalty growing with how often a token appeared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
}

/// A set of function declarations.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// The functions.
    pub function_declarations: Vec<FunctionDeclaration>,
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration {
    /// Its name.
    pub name: String,
    /// What it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its arguments as JSON Schema (`parametersJsonSchema` takes the JSON Schema OpenAI clients
    /// write; `parameters` accepts only an OpenAPI subset and refuses `additionalProperties`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters_json_schema: Option<RawJson>,
}

/// `ToolConfig`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    /// How functions may be called.
    pub function_calling_config: FunctionCallingConfig,
}

/// `FunctionCallingConfig`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig {
    /// `AUTO`, `ANY` or `NONE`.
    pub mode: &'static str,
    /// With `ANY`, the only functions the model may call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_function_names: Option<Vec<String>>,
}

/// `GenerateContentResponse`: a complete answer, or one event of a stream.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse {
    /// The generated candidates; none when the prompt was blocked.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Why the prompt was blocked, if it was.
    #[serde(default)]
    pub prompt_feedback: Option<PromptFeedback>,
    /// Token counts.
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
    /// The model version that answered.
    #[serde(default)]
    pub model_version: Option<String>,
    /// The answer's id (the same on every event of a stream).
    #[serde(default)]
    pub response_id: Option<String>,
}

/// One generated candidate.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// What it says; absent when blocked.
    #[serde(default)]
    pub content: Option<Content>,
    /// Why generation stopped; absent until it has.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Position among the candidates.
    #[serde(default)]
    pub index: Option<u32>,
}

/// `PromptFeedback`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    /// Why the prompt was blocked (`SAFETY`, `BLOCKLIST`, `PROHIBITED_CONTENT`, ...).
    #[serde(default)]
    pub block_reason: Option<String>,
}

/// `UsageMetadata`: token counts of a call.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// Prompt tokens, cached ones included.
    #[serde(default)]
    pub prompt_token_count: Option<u64>,
    /// Prompt tokens read from the context cache.
    #[serde(default)]
    pub cached_content_token_count: Option<u64>,
    /// Tokens of the generated candidates.
    #[serde(default)]
    pub candidates_token_count: Option<u64>,
    /// Tokens of tool-use prompts (search results and the like).
    #[serde(default)]
    pub tool_use_prompt_token_count: Option<u64>,
    /// Tokens spent thinking.
    #[serde(default)]
    pub thoughts_token_count: Option<u64>,
    /// All of the above.
    #[serde(default)]
    pub total_token_count: Option<u64>,
}

/// `EmbedContentRequest`: one text to embed (alone, or as an entry of a batch).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedContentRequest {
    /// `models/{model}`.
    pub model: String,
    /// The text, as one part.
    pub content: Content,
    /// Truncate the embedding to this many dimensions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dimensionality: Option<u32>,
}

/// `BatchEmbedContentsRequest`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchEmbedContentsRequest {
    /// One request per text, answered in order.
    pub requests: Vec<EmbedContentRequest>,
}

/// `EmbedContentResponse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedContentResponse {
    /// The embedding.
    pub embedding: ContentEmbedding,
    /// Token counts, when the API reports them.
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
}

/// `BatchEmbedContentsResponse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEmbedContentsResponse {
    /// One embedding per request, in order.
    #[serde(default)]
    pub embeddings: Vec<ContentEmbedding>,
    /// Token counts, when the API reports them.
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
}

/// `ContentEmbedding`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ContentEmbedding {
    /// The vector.
    #[serde(default)]
    pub values: Vec<f32>,
}

/// Vertex AI's text-embeddings `:predict` body
/// (<https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api>).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictRequest {
    /// One instance per text.
    pub instances: Vec<PredictInstance>,
    /// Options of the whole call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PredictParameters>,
}

/// One text to embed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictInstance {
    /// The text.
    pub content: String,
}

/// `parameters` of a `:predict` call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictParameters {
    /// Truncate the embedding to this many dimensions.
    pub output_dimensionality: u32,
}

/// The answer of a text-embeddings `:predict` call.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PredictResponse {
    /// One prediction per instance, in order.
    #[serde(default)]
    pub predictions: Vec<Prediction>,
}

/// One instance's embedding.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Prediction {
    /// The vector and its statistics.
    pub embeddings: PredictedEmbedding,
}

/// `embeddings` of a prediction.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PredictedEmbedding {
    /// The vector.
    #[serde(default)]
    pub values: Vec<f32>,
    /// Token count and truncation.
    #[serde(default)]
    pub statistics: Option<EmbeddingStatistics>,
}

/// `statistics` of a predicted embedding.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EmbeddingStatistics {
    /// Tokens of the instance's text.
    #[serde(default)]
    pub token_count: Option<f64>,
}
