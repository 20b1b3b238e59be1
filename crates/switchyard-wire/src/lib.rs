//! OpenAI-compatible wire types for Switchyard.
//!
//! These are the shapes clients send and receive: chat completions (request, response and stream
//! chunk), legacy text completions, embeddings, moderations, image generation, speech, rerank, the model list and the error body. They carry no I/O. Request types keep
//! every field they do not know in an `extra` map, so parameters a provider adds before we do still
//! reach OpenAI-compatible upstreams unchanged. Large parts the gateway forwards without reading
//! (tool schemas, `response_format`) are kept as their JSON text ([`RawJson`]), not as a tree.
//!
//! [`anthropic`] holds Anthropic's Messages API shapes, used by the Anthropic adapter and by the
//! gateway's own `/v1/messages` ingress; [`responses`] OpenAI's Responses API shapes, for the
//! gateway's `/v1/responses` ingress; [`thinking`] LiteLLM's `thinking_blocks`, the signed
//! reasoning a chat message carries across turns.

pub mod anthropic;
pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod error;
pub mod images;
pub mod input;
pub mod models;
pub mod moderations;
pub mod raw;
pub mod rerank;
pub mod responses;
pub mod speech;
pub mod thinking;

pub use chat::{
    ChatChunk, ChatMessage, ChatRequest, ChatResponse, Choice, ChunkChoice, ContentPart, Delta,
    FunctionCall, FunctionCallDelta, FunctionDefinition, JsonSchemaFormat, MessageContent,
    PromptTokensDetails, ResponseFormat, Role, Stop, StreamOptions, Tool, ToolCall, ToolCallDelta,
    Usage,
};
pub use completions::{Completion, CompletionChoice, CompletionRequest, Prompt, PromptOptions};
pub use embeddings::{
    Embedding, EmbeddingInput, EmbeddingUsage, EmbeddingVector, EmbeddingsRequest,
    EmbeddingsResponse,
};
pub use error::{ErrorBody, ErrorDetail};
pub use images::{ImageRequest, ImageUsage, ImagesResponse};
pub use input::ModelInput;
pub use models::{Model, ModelList};
pub use moderations::{ModerationRequest, ModerationResponse};
pub use raw::{RawExtra, RawJson};
pub use rerank::{RerankRequest, RerankResponse, RerankResult};
pub use speech::SpeechRequest;
pub use thinking::{THINKING_BLOCKS, ThinkingAssembler, ThinkingBlock};

/// Unknown fields of a request or response, kept in the order they arrived.
pub type Extra = serde_json::Map<String, serde_json::Value>;
