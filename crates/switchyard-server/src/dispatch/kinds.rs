//! What each kind of call answered whole counts and which provider method answers it: the
//! [`UnaryCall`] of each request type.

use futures_util::future::BoxFuture;
use switchyard_layers::cost::Tokens;
use switchyard_providers::{Provider, ProviderError};
use switchyard_telemetry::genai::operation;
use switchyard_wire::{EmbeddingsRequest, EmbeddingsResponse, RawExtra};

use super::unary::UnaryCall;
use crate::error::ApiError;
use crate::estimate;

impl UnaryCall for EmbeddingsRequest {
    type Answer = EmbeddingsResponse;

    const OPERATION: &'static str = operation::EMBEDDINGS;

    fn model(&self) -> &str {
        &self.model
    }

    fn model_mut(&mut self) -> &mut String {
        &mut self.model
    }

    fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    fn extra_mut(&mut self) -> &mut RawExtra {
        &mut self.extra
    }

    fn check(&self) -> Result<(), ApiError> {
        if self.input.is_empty() {
            return Err(ApiError::invalid_request("`input` must not be empty"));
        }
        Ok(())
    }

    fn input_tokens(&self) -> u64 {
        estimate::embedding_tokens(&self.input)
    }

    fn send(
        self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>> {
        provider.embeddings(self)
    }

    fn reported(answer: &Self::Answer) -> Option<Tokens> {
        Some(Tokens {
            prompt: answer.usage.prompt_tokens,
            ..Tokens::default()
        })
    }

    fn answer_model(answer: &Self::Answer) -> Option<&str> {
        Some(&answer.model)
    }
}
