//! The built-in mock provider: answers locally with fixed or echoed text, after a configurable
//! latency and with a configurable failure rate, as a complete answer or a stream; and, so that
//! the embedded default demonstrates every route, deterministic moderations (nothing flagged),
//! images (a 1x1 PNG), speech (a WAV of silence, 10 ms a character), transcriptions (naming the
//! file and its size) and rerank scores (the share of the query's words a document holds).
//!
//! It serves the embedded default configuration (a first run needs no API key), demos and
//! benchmarks. It is a provider like the others, not a test double: tests of real adapters use
//! fixture upstreams instead.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use switchyard_wire::{
    ChatChunk, ChatMessage, ChatRequest, ChatResponse, Choice, ChunkChoice, Delta, Embedding,
    EmbeddingInput, EmbeddingUsage, EmbeddingVector, EmbeddingsRequest, EmbeddingsResponse,
    ImageRequest, ImagesResponse, ModerationRequest, ModerationResponse, RerankRequest,
    RerankResponse, RerankResult, Role, SpeechRequest, Usage,
};

use crate::audio::{Audio, Transcript, TranscriptionRequest};

use crate::{ChunkStream, ErrorClass, Provider, ProviderError, unix_now};

/// Dimensions of mock embeddings when the request names none.
pub const DEFAULT_EMBEDDING_DIMENSIONS: u32 = 16;

/// How the mock answers.
#[derive(Debug, Clone, Default)]
pub struct MockSettings {
    /// The model name it reports.
    pub model: String,
    /// The text of every answer; `None` echoes the last user message.
    pub response: Option<String>,
    /// Time before the answer (before the first chunk of a stream).
    pub latency: Duration,
    /// Share of calls, from 0.0 to 1.0, that fail as an upstream server error would.
    pub failure_rate: f64,
}

/// A provider that answers locally.
#[derive(Debug, Clone)]
pub struct Mock {
    settings: std::sync::Arc<MockSettings>,
}

impl Mock {
    /// A mock with the given behaviour.
    pub fn new(settings: MockSettings) -> Self {
        Self {
            settings: std::sync::Arc::new(settings),
        }
    }

    /// Waits the configured latency, then fails at the configured rate.
    async fn prepare(settings: &MockSettings) -> Result<(), ProviderError> {
        if !settings.latency.is_zero() {
            tokio::time::sleep(settings.latency).await;
        }
        if settings.failure_rate > 0.0 && fastrand::f64() < settings.failure_rate {
            let mut err = ProviderError::new(
                ErrorClass::UpstreamServer,
                format!(
                    "mock provider failed on purpose (failure rate {})",
                    settings.failure_rate
                ),
            );
            err.status = Some(500);
            return Err(err);
        }
        Ok(())
    }

    fn answer_text(&self, request: &ChatRequest) -> String {
        if let Some(text) = &self.settings.response {
            return text.clone();
        }
        request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .and_then(|m| m.content.as_ref())
            .map(|c| c.joined_text())
            .unwrap_or_default()
    }
}

/// A rough token count (four characters a token), for providers that report no usage.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

fn prompt_tokens(request: &ChatRequest) -> u64 {
    request
        .messages
        .iter()
        .filter_map(|m| m.content.as_ref())
        .map(|c| estimate_tokens(&c.joined_text()))
        .sum::<u64>()
        .max(1)
}

fn completion_id() -> String {
    format!("chatcmpl-mock{:016x}", fastrand::u64(..))
}

impl Provider for Mock {
    fn family(&self) -> &'static str {
        "mock"
    }

    fn upstream_model(&self) -> &str {
        &self.settings.model
    }

    fn chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        let text = self.answer_text(&request);
        let settings = std::sync::Arc::clone(&self.settings);
        Box::pin(async move {
            Mock::prepare(&settings).await?;
            let usage = Usage::new(prompt_tokens(&request), estimate_tokens(&text));
            Ok(ChatResponse {
                id: completion_id(),
                object: "chat.completion".to_owned(),
                created: unix_now(),
                model: settings.model.clone(),
                choices: vec![Choice {
                    index: 0,
                    message: ChatMessage::text(Role::Assistant, text),
                    finish_reason: Some("stop".to_owned()),
                    logprobs: None,
                }],
                usage: Some(usage),
                system_fingerprint: None,
                extra: Default::default(),
            })
        })
    }

    fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        let text = self.answer_text(&request);
        let settings = std::sync::Arc::clone(&self.settings);
        Box::pin(async move {
            Mock::prepare(&settings).await?;
            let id = completion_id();
            let created = unix_now();
            let chunk = |choices: Vec<ChunkChoice>, usage: Option<Usage>| ChatChunk {
                id: id.clone(),
                object: "chat.completion.chunk".to_owned(),
                created,
                model: settings.model.clone(),
                choices,
                usage,
                system_fingerprint: None,
                extra: Default::default(),
            };
            let delta = |role: Option<Role>, content: &str, finish: Option<&str>| ChunkChoice {
                index: 0,
                delta: Delta {
                    role,
                    content: (finish.is_none()).then(|| content.to_owned()),
                    ..Delta::default()
                },
                finish_reason: finish.map(str::to_owned),
                logprobs: None,
            };
            let mut chunks = vec![chunk(vec![delta(Some(Role::Assistant), "", None)], None)];
            for word in text.split_inclusive(' ') {
                chunks.push(chunk(vec![delta(None, word, None)], None));
            }
            chunks.push(chunk(vec![delta(None, "", Some("stop"))], None));
            let usage = Usage::new(prompt_tokens(&request), estimate_tokens(&text));
            chunks.push(chunk(Vec::new(), Some(usage)));
            let stream: ChunkStream =
                Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok)));
            Ok(stream)
        })
    }

    fn moderation(
        &self,
        request: ModerationRequest,
    ) -> BoxFuture<'static, Result<ModerationResponse, ProviderError>> {
        let (mock, settings) = (self.clone(), std::sync::Arc::clone(&self.settings));
        Box::pin(async move {
            Mock::prepare(&settings).await?;
            Ok(mock.moderate(&request))
        })
    }

    fn image_generation(
        &self,
        request: ImageRequest,
    ) -> BoxFuture<'static, Result<ImagesResponse, ProviderError>> {
        let (mock, settings) = (self.clone(), std::sync::Arc::clone(&self.settings));
        Box::pin(async move {
            Mock::prepare(&settings).await?;
            Ok(mock.draw(&request))
        })
    }

    fn speech(&self, request: SpeechRequest) -> BoxFuture<'static, Result<Audio, ProviderError>> {
        let (mock, settings) = (self.clone(), std::sync::Arc::clone(&self.settings));
        Box::pin(async move {
            Mock::prepare(&settings).await?;
            let wav = bytes::Bytes::from(mock.speak(&request));
            Ok(Audio {
                content_type: "audio/wav".to_owned(),
                body: Box::pin(futures_util::stream::iter([Ok(wav)])),
            })
        })
    }

    fn transcription(
        &self,
        request: TranscriptionRequest,
    ) -> BoxFuture<'static, Result<Transcript, ProviderError>> {
        let (mock, settings) = (self.clone(), std::sync::Arc::clone(&self.settings));
        Box::pin(async move {
            Mock::prepare(&settings).await?;
            Ok(mock.transcribe(&request))
        })
    }

    fn rerank(
        &self,
        request: RerankRequest,
    ) -> BoxFuture<'static, Result<RerankResponse, ProviderError>> {
        let (mock, settings) = (self.clone(), std::sync::Arc::clone(&self.settings));
        Box::pin(async move {
            Mock::prepare(&settings).await?;
            Ok(mock.rank(&request))
        })
    }

    fn embeddings(
        &self,
        request: EmbeddingsRequest,
    ) -> BoxFuture<'static, Result<EmbeddingsResponse, ProviderError>> {
        let settings = std::sync::Arc::clone(&self.settings);
        Box::pin(async move {
            Mock::prepare(&settings).await?;
            let dimensions = request.dimensions.unwrap_or(DEFAULT_EMBEDDING_DIMENSIONS) as usize;
            let seeds: Vec<(u64, u64)> = match &request.input {
                EmbeddingInput::Text(text) => vec![(seed(text.as_bytes()), estimate_tokens(text))],
                EmbeddingInput::Texts(texts) => texts
                    .iter()
                    .map(|t| (seed(t.as_bytes()), estimate_tokens(t)))
                    .collect(),
                EmbeddingInput::Tokens(tokens) => vec![(seed_tokens(tokens), tokens.len() as u64)],
                EmbeddingInput::TokenBatches(batches) => batches
                    .iter()
                    .map(|t| (seed_tokens(t), t.len() as u64))
                    .collect(),
            };
            let tokens = seeds.iter().map(|(_, n)| n).sum();
            let data = seeds
                .iter()
                .enumerate()
                .map(|(index, (seed, _))| Embedding {
                    object: "embedding".to_owned(),
                    index: index as u32,
                    embedding: EmbeddingVector::Float(unit_vector(*seed, dimensions)),
                })
                .collect();
            Ok(EmbeddingsResponse {
                object: "list".to_owned(),
                data,
                model: settings.model.clone(),
                usage: EmbeddingUsage {
                    prompt_tokens: tokens,
                    total_tokens: tokens,
                },
            })
        })
    }
}

/// A transparent 1x1 PNG, the mock's every image.
pub const MOCK_PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

impl Mock {
    /// Moderates each input: nothing is flagged.
    pub fn moderate(&self, request: &ModerationRequest) -> ModerationResponse {
        let inputs = match request.input.parse::<Value>() {
            Ok(Value::Array(items)) => items.len(),
            _ => 1,
        };
        let result = json!({"flagged": false, "categories": {}, "category_scores": {}});
        ModerationResponse {
            id: format!("modr-mock{:016x}", fastrand::u64(..)),
            model: self.settings.model.clone(),
            results: vec![result; inputs],
            extra: Default::default(),
        }
    }

    /// `n` images (default 1), each [`MOCK_PNG_BASE64`] with the prompt as revised.
    pub fn draw(&self, request: &ImageRequest) -> ImagesResponse {
        let image = json!({"b64_json": MOCK_PNG_BASE64, "revised_prompt": request.prompt});
        ImagesResponse {
            created: unix_now(),
            data: vec![image; request.n.unwrap_or(1).clamp(1, 10) as usize],
            usage: None,
            extra: Default::default(),
        }
    }

    /// A WAV of silence (8 kHz, 8-bit mono), 10 ms for each character of the input, at most
    /// one minute.
    pub fn speak(&self, request: &SpeechRequest) -> Vec<u8> {
        let samples = (request.input.chars().count() * 80).min(8_000 * 60) as u32;
        let mut wav = Vec::with_capacity(44 + samples as usize);
        wav.extend_from_slice(b"RIFF");
        wav.extend_from_slice(&(36 + samples).to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        wav.extend_from_slice(&16u32.to_le_bytes());
        wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
        wav.extend_from_slice(&1u16.to_le_bytes()); // mono
        wav.extend_from_slice(&8_000u32.to_le_bytes()); // samples a second
        wav.extend_from_slice(&8_000u32.to_le_bytes()); // bytes a second
        wav.extend_from_slice(&1u16.to_le_bytes()); // bytes a frame
        wav.extend_from_slice(&8u16.to_le_bytes()); // bits a sample
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&samples.to_le_bytes());
        wav.resize(44 + samples as usize, 128); // 8-bit silence
        wav
    }

    /// A transcript naming the file and its size: JSON `{"text"}`, or the text alone when
    /// `response_format` is `text`, `srt` or `vtt`.
    pub fn transcribe(&self, request: &TranscriptionRequest) -> Transcript {
        let text = format!(
            "mock transcription of {} ({} bytes)",
            request.file.filename,
            request.file.bytes.len()
        );
        match request.field("response_format") {
            Some("text" | "srt" | "vtt") => Transcript {
                content_type: "text/plain; charset=utf-8".to_owned(),
                body: text.into(),
            },
            _ => Transcript {
                content_type: "application/json".to_owned(),
                body: json!({"text": text}).to_string().into(),
            },
        }
    }

    /// Scores each document by the share of the query's words it holds (case aside), best
    /// first, the first `top_n`.
    pub fn rank(&self, request: &RerankRequest) -> RerankResponse {
        let words: Vec<String> = request
            .query
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let mut results: Vec<RerankResult> = request
            .documents
            .iter()
            .enumerate()
            .map(|(index, document)| {
                let text = match document.parse::<Value>() {
                    Ok(Value::String(text)) => text,
                    Ok(other) => other.to_string(),
                    Err(_) => String::new(),
                }
                .to_lowercase();
                let hits = words.iter().filter(|w| text.contains(w.as_str())).count();
                RerankResult {
                    index: index as u32,
                    relevance_score: hits as f64 / words.len().max(1) as f64,
                    document: None,
                }
            })
            .collect();
        results.sort_by(|a, b| b.relevance_score.total_cmp(&a.relevance_score));
        if let Some(top_n) = request.top_n {
            results.truncate(top_n as usize);
        }
        RerankResponse {
            id: Some(format!("rerank-mock{:016x}", fastrand::u64(..))),
            results,
            meta: None,
            extra: Default::default(),
        }
    }
}

/// FNV-1a: the same input always embeds to the same vector.
fn seed(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn seed_tokens(tokens: &[u32]) -> u64 {
    let bytes: Vec<u8> = tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
    seed(&bytes)
}

fn unit_vector(seed: u64, dimensions: usize) -> Vec<f32> {
    let dimensions = dimensions.min(8192); // a client's `dimensions` must not size our memory
    let mut rng = fastrand::Rng::with_seed(seed);
    let raw: Vec<f32> = (0..dimensions).map(|_| rng.f32() * 2.0 - 1.0).collect();
    let norm = raw
        .iter()
        .map(|v| v * v)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    raw.into_iter().map(|v| v / norm).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn request(text: &str) -> ChatRequest {
        ChatRequest::new(
            "client-name",
            vec![
                ChatMessage::text(Role::System, "be brief"),
                ChatMessage::text(Role::User, text),
            ],
        )
    }

    fn mock(response: Option<&str>, failure_rate: f64) -> Mock {
        Mock::new(MockSettings {
            model: "mock-1".to_owned(),
            response: response.map(str::to_owned),
            latency: Duration::ZERO,
            failure_rate,
        })
    }

    #[tokio::test]
    async fn echoes_the_last_user_message() {
        let answer = mock(None, 0.0)
            .chat(request("hello there"))
            .await
            .expect("answer");
        let text = answer.choices[0]
            .message
            .content
            .as_ref()
            .map(|c| c.joined_text());
        assert_eq!(text.as_deref(), Some("hello there"));
        assert_eq!(answer.model, "mock-1");
        assert!(answer.usage.expect("usage").completion_tokens > 0);
    }

    #[tokio::test]
    async fn streams_fixed_text_word_by_word_then_usage() {
        let stream = mock(Some("one two three"), 0.0)
            .chat_stream(request("ignored"))
            .await
            .expect("stream");
        let chunks: Vec<ChatChunk> = stream.map(|c| c.expect("chunk")).collect().await;
        let text: String = chunks
            .iter()
            .flat_map(|c| &c.choices)
            .filter_map(|c| c.delta.content.as_deref())
            .collect();
        assert_eq!(text, "one two three");
        assert!(chunks.len() >= 5, "role, three words, finish, usage");
        let last = chunks.last().expect("usage chunk");
        assert!(last.choices.is_empty() && last.usage.is_some());
        assert_eq!(
            chunks[chunks.len() - 2].choices[0].finish_reason.as_deref(),
            Some("stop")
        );
    }

    #[test]
    fn rerank_puts_the_documents_holding_the_query_first() {
        let request: RerankRequest = serde_json::from_value(json!({"model": "r",
            "query": "capital of France", "documents": ["Berlin is in Germany",
            "Paris is the capital of France", "the capital"], "top_n": 2}))
        .expect("valid");
        let ranked = mock(None, 0.0).rank(&request);
        let order: Vec<u32> = ranked.results.iter().map(|r| r.index).collect();
        assert_eq!(order, [1, 2]);
        assert_eq!(ranked.results[0].relevance_score, 1.0);
    }

    #[tokio::test]
    async fn a_failure_rate_of_one_always_fails() {
        let err = mock(None, 1.0).chat(request("x")).await.expect_err("fails");
        assert_eq!(err.class, ErrorClass::UpstreamServer);
    }

    #[tokio::test(start_paused = true)]
    async fn latency_delays_the_answer() {
        let slow = Mock::new(MockSettings {
            latency: Duration::from_millis(500),
            ..MockSettings::default()
        });
        let started = tokio::time::Instant::now();
        slow.chat(request("x")).await.expect("answer");
        assert!(started.elapsed() >= Duration::from_millis(500));
    }

    #[tokio::test]
    async fn embeddings_are_deterministic_unit_vectors() {
        let req = |input| EmbeddingsRequest {
            model: "e".to_owned(),
            input,
            encoding_format: None,
            dimensions: Some(8),
            user: None,
            extra: Default::default(),
        };
        let m = mock(None, 0.0);
        let a = m
            .embeddings(req(EmbeddingInput::Texts(vec!["a".into(), "b".into()])))
            .await
            .expect("ok");
        let b = m
            .embeddings(req(EmbeddingInput::Text("a".into())))
            .await
            .expect("ok");
        assert_eq!(a.data.len(), 2);
        assert_eq!(a.data[0].embedding, b.data[0].embedding);
        assert_ne!(a.data[0].embedding, a.data[1].embedding);
        let EmbeddingVector::Float(v) = &a.data[0].embedding else {
            panic!("floats")
        };
        assert_eq!(v.len(), 8);
        assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
    }
}
