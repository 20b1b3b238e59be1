//! What each kind of call answered whole counts and which provider method answers it: the
//! [`UnaryCall`] of each request type.

use futures_util::future::BoxFuture;
use switchyard_layers::cost::Tokens;
use switchyard_providers::audio::{Audio, Transcript, TranscriptionRequest};
use switchyard_providers::{Provider, ProviderError};
use switchyard_telemetry::genai::operation;
use switchyard_wire::{
    EmbeddingsRequest, EmbeddingsResponse, ImageRequest, ImagesResponse, ModerationRequest,
    ModerationResponse, RawExtra, RerankRequest, RerankResponse, SpeechRequest,
};

use super::options::CLIENT_CREDENTIAL_FIELDS;
use super::unary::UnaryCall;
use crate::error::ApiError;
use crate::estimate;
use crate::state::AppState;

/// Tokens of `chars` characters of text, four characters a token.
fn text_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// The accessors every request type with `model`, `extra` and maybe `user` fields shares.
macro_rules! request_fields {
    (user: $user:expr) => {
        fn model(&self) -> &str {
            &self.model
        }

        fn model_mut(&mut self) -> &mut String {
            &mut self.model
        }

        fn user(&self) -> Option<&str> {
            let user: fn(&Self) -> Option<&str> = $user;
            user(self)
        }

        fn extra_mut(&mut self) -> Option<&mut RawExtra> {
            Some(&mut self.extra)
        }

        fn shaped_for(self, state: &AppState, id: &str) -> Self {
            state.shape_request(id, self)
        }
    };
}

impl UnaryCall for EmbeddingsRequest {
    type Answer = EmbeddingsResponse;

    const OPERATION: &'static str = operation::EMBEDDINGS;

    request_fields!(user: |r| r.user.as_deref());

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

impl UnaryCall for ModerationRequest {
    type Answer = ModerationResponse;

    const OPERATION: &'static str = operation::MODERATION;

    request_fields!(user: |_| None);

    fn input_tokens(&self) -> u64 {
        text_tokens(self.input.get().len())
    }

    fn send(
        self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>> {
        provider.moderation(self)
    }

    fn reported(_answer: &Self::Answer) -> Option<Tokens> {
        None
    }

    fn answer_model(answer: &Self::Answer) -> Option<&str> {
        Some(&answer.model)
    }
}

impl UnaryCall for ImageRequest {
    type Answer = ImagesResponse;

    const OPERATION: &'static str = operation::IMAGE_GENERATION;

    request_fields!(user: |r| r.user.as_deref());

    fn check(&self) -> Result<(), ApiError> {
        if self.n == Some(0) {
            return Err(ApiError::invalid_request("`n` must be at least 1"));
        }
        Ok(())
    }

    fn input_tokens(&self) -> u64 {
        text_tokens(self.prompt.chars().count())
    }

    fn send(
        self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>> {
        provider.image_generation(self)
    }

    fn reported(answer: &Self::Answer) -> Option<Tokens> {
        answer.usage.as_ref().map(|usage| Tokens {
            prompt: usage.input_tokens,
            completion: usage.output_tokens,
            ..Tokens::default()
        })
    }

    fn answer_model(_answer: &Self::Answer) -> Option<&str> {
        None
    }
}

impl UnaryCall for RerankRequest {
    type Answer = RerankResponse;

    const OPERATION: &'static str = operation::RERANK;

    request_fields!(user: |_| None);

    fn check(&self) -> Result<(), ApiError> {
        if self.documents.is_empty() {
            return Err(ApiError::invalid_request("`documents` must not be empty"));
        }
        Ok(())
    }

    fn input_tokens(&self) -> u64 {
        let documents: usize = self.documents.iter().map(|d| d.get().len()).sum();
        text_tokens(self.query.chars().count() * self.documents.len() + documents)
    }

    fn send(
        self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>> {
        provider.rerank(self)
    }

    /// Jina reports `usage.total_tokens`; Cohere bills search units, which are not tokens.
    fn reported(answer: &Self::Answer) -> Option<Tokens> {
        let total = answer.extra.get("usage")?.get("total_tokens")?.as_u64()?;
        Some(Tokens {
            prompt: total,
            ..Tokens::default()
        })
    }

    fn answer_model(answer: &Self::Answer) -> Option<&str> {
        answer.extra.get("model")?.as_str()
    }
}

impl UnaryCall for SpeechRequest {
    type Answer = Audio;

    const OPERATION: &'static str = operation::SPEECH;

    request_fields!(user: |_| None);

    fn input_tokens(&self) -> u64 {
        text_tokens(self.input.chars().count())
    }

    fn send(
        self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>> {
        provider.speech(self)
    }

    fn reported(_answer: &Self::Answer) -> Option<Tokens> {
        None
    }

    fn answer_model(_answer: &Self::Answer) -> Option<&str> {
        None
    }
}

impl UnaryCall for TranscriptionRequest {
    type Answer = Transcript;

    const OPERATION: &'static str = operation::TRANSCRIPTION;

    fn model(&self) -> &str {
        &self.model
    }

    fn model_mut(&mut self) -> &mut String {
        &mut self.model
    }

    fn user(&self) -> Option<&str> {
        None
    }

    fn extra_mut(&mut self) -> Option<&mut RawExtra> {
        None
    }

    /// Form fields naming an upstream or credentials are refused as body fields are.
    fn check(&self) -> Result<(), ApiError> {
        match self
            .fields
            .iter()
            .find(|(name, _)| CLIENT_CREDENTIAL_FIELDS.contains(&name.as_str()))
        {
            Some((name, _)) => Err(ApiError::invalid_request(format!(
                "`{name}` is not accepted: the gateway calls only its configured deployments, \
                 with their own credentials"
            ))),
            None => Ok(()),
        }
    }

    /// Audio has no text to count: only the tokens the answer reports are charged.
    fn input_tokens(&self) -> u64 {
        0
    }

    fn send(
        self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>> {
        provider.transcription(self)
    }

    fn reported(answer: &Self::Answer) -> Option<Tokens> {
        let (prompt, completion) = answer.token_usage()?;
        Some(Tokens {
            prompt,
            completion,
            ..Tokens::default()
        })
    }

    fn answer_model(_answer: &Self::Answer) -> Option<&str> {
        None
    }
}
