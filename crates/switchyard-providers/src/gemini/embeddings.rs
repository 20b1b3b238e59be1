//! OpenAI embeddings requests as Gemini `embedContent` (one text) and `batchEmbedContents`
//! (several) calls (<https://ai.google.dev/api/embeddings>), or on Vertex AI as one `:predict`
//! call (<https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api>),
//! and their answers as OpenAI embeddings responses.

use switchyard_wire::{EmbeddingsRequest, EmbeddingsResponse};

use super::wire::{
    BatchEmbedContentsRequest, Content, ContentEmbedding, EmbedContentRequest, Part,
    PredictInstance, PredictParameters, PredictRequest, PredictResponse, UsageMetadata,
};
use crate::mock::estimate_tokens;
use crate::translate::{VectorEncoding, embedding_texts, embeddings_answer};
use crate::{ErrorClass, ProviderError};

/// What to send for an embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbedCall {
    /// One text: `:embedContent`.
    Single(EmbedContentRequest),
    /// Several texts: `:batchEmbedContents`.
    Batch(BatchEmbedContentsRequest),
    /// Any number of texts on Vertex AI: `:predict`.
    Predict(PredictRequest),
}

/// A translated embeddings request: the call, the texts (for usage estimates) and the encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsPlan {
    /// The call to make.
    pub call: EmbedCall,
    /// The texts, in input order.
    pub texts: Vec<String>,
    /// How to encode the vectors.
    pub encoding: VectorEncoding,
}

/// Translates an OpenAI embeddings request for the Gemini model `resource` (`models/...`), or
/// for Vertex AI's `:predict` when `vertex`. Gemini embeds text only: pre-tokenized inputs are
/// refused.
pub fn plan(
    request: &EmbeddingsRequest,
    resource: &str,
    vertex: bool,
) -> Result<EmbeddingsPlan, ProviderError> {
    let (texts, encoding) = embedding_texts(request, "Gemini")?;
    let one = |text: &String| EmbedContentRequest {
        model: resource.to_owned(),
        content: Content {
            role: None,
            parts: vec![Part {
                text: Some(text.clone()),
                ..Part::default()
            }],
        },
        output_dimensionality: request.dimensions,
    };
    let call = match texts.as_slice() {
        _ if vertex => EmbedCall::Predict(PredictRequest {
            instances: texts
                .iter()
                .map(|text| PredictInstance {
                    content: text.clone(),
                })
                .collect(),
            parameters: request
                .dimensions
                .map(|output_dimensionality| PredictParameters {
                    output_dimensionality,
                }),
        }),
        [text] => EmbedCall::Single(one(text)),
        several => EmbedCall::Batch(BatchEmbedContentsRequest {
            requests: several.iter().map(one).collect(),
        }),
    };
    Ok(EmbeddingsPlan {
        call,
        texts,
        encoding,
    })
}

/// The vectors of a `:predict` answer and its usage: the sum of each instance's token count.
pub fn predicted(answer: PredictResponse) -> (Vec<ContentEmbedding>, Option<UsageMetadata>) {
    let counts: Option<Vec<f64>> = answer
        .predictions
        .iter()
        .map(|p| p.embeddings.statistics.as_ref()?.token_count)
        .collect();
    let usage = counts.map(|counts| UsageMetadata {
        prompt_token_count: Some(counts.iter().sum::<f64>() as u64),
        ..UsageMetadata::default()
    });
    let vectors = answer
        .predictions
        .into_iter()
        .map(|p| ContentEmbedding {
            values: p.embeddings.values,
        })
        .collect();
    (vectors, usage)
}

/// Builds the OpenAI answer from Gemini's vectors (one per text, in order).
pub fn embeddings_response(
    plan: &EmbeddingsPlan,
    vectors: Vec<ContentEmbedding>,
    usage: Option<&UsageMetadata>,
    model: &str,
) -> Result<EmbeddingsResponse, ProviderError> {
    if vectors.len() != plan.texts.len() {
        return Err(ProviderError::new(
            ErrorClass::InvalidResponse,
            format!(
                "Gemini answered {} embeddings for {} inputs",
                vectors.len(),
                plan.texts.len()
            ),
        ));
    }
    let tokens = usage
        .and_then(|u| u.prompt_token_count)
        .unwrap_or_else(|| plan.texts.iter().map(|t| estimate_tokens(t)).sum());
    let vectors = vectors.into_iter().map(|vector| vector.values).collect();
    Ok(embeddings_answer(vectors, plan.encoding, tokens, model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use switchyard_wire::EmbeddingVector;

    use super::super::wire::{BatchEmbedContentsResponse, EmbedContentResponse};

    fn request(body: Value) -> EmbeddingsRequest {
        serde_json::from_value(body).expect("valid embeddings request")
    }

    // Request shapes: https://ai.google.dev/api/embeddings#method:-models.embedcontent and
    // https://ai.google.dev/api/embeddings#method:-models.batchembedcontents
    #[test]
    fn one_text_is_an_embed_content_call_and_several_a_batch() {
        let single = plan(
            &request(json!({"model": "m", "input": "hello", "dimensions": 768})),
            "models/gemini-embedding-001",
            false,
        )
        .expect("plans");
        let EmbedCall::Single(body) = &single.call else {
            panic!("single call expected: {single:?}")
        };
        assert_eq!(
            serde_json::to_value(body).expect("serializes"),
            json!({"model": "models/gemini-embedding-001",
                   "content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 768})
        );
        let batch = plan(
            &request(json!({"model": "m", "input": ["a", "b"]})),
            "models/gemini-embedding-001",
            false,
        )
        .expect("plans");
        let EmbedCall::Batch(body) = &batch.call else {
            panic!("batch call expected: {batch:?}")
        };
        assert_eq!(
            serde_json::to_value(body).expect("serializes"),
            json!({"requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}},
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}}
            ]})
        );
    }

    #[test]
    fn token_inputs_and_unknown_encodings_are_refused() {
        for body in [
            json!({"model": "m", "input": [1, 2, 3]}),
            json!({"model": "m", "input": [[1], [2]]}),
            json!({"model": "m", "input": "x", "encoding_format": "int8"}),
        ] {
            let err = plan(&request(body.clone()), "models/e", false).expect_err("refused");
            assert_eq!(err.class, ErrorClass::BadRequest, "{body}");
        }
    }

    // Response shapes: https://ai.google.dev/api/embeddings#EmbedContentResponse and
    // https://ai.google.dev/api/embeddings#BatchEmbedContentsResponse
    #[test]
    fn documented_answers_translate_with_estimated_usage() {
        let single: EmbedContentResponse = serde_json::from_str(include_str!(
            "../../tests/fixtures/gemini/embed_single.json"
        ))
        .expect("fixture");
        let plan_one = plan(
            &request(json!({"model": "m", "input": "hello world"})),
            "models/e",
            false,
        )
        .expect("plans");
        let answer =
            embeddings_response(&plan_one, vec![single.embedding], None, "e").expect("translates");
        assert_eq!(answer.object, "list");
        assert_eq!(answer.model, "e");
        assert_eq!(answer.data.len(), 1);
        assert_eq!(answer.data[0].object, "embedding");
        assert_eq!(answer.data[0].index, 0);
        assert_eq!(
            answer.data[0].embedding,
            EmbeddingVector::Float(vec![0.013168523, -0.008711934, -0.046782676, 0.000699695])
        );
        assert_eq!(answer.usage.prompt_tokens, estimate_tokens("hello world"));
        assert_eq!(answer.usage.total_tokens, answer.usage.prompt_tokens);

        let batch: BatchEmbedContentsResponse =
            serde_json::from_str(include_str!("../../tests/fixtures/gemini/embed_batch.json"))
                .expect("fixture");
        let plan_two = plan(
            &request(json!({"model": "m", "input": ["a", "b"]})),
            "models/e",
            false,
        )
        .expect("plans");
        let reported = UsageMetadata {
            prompt_token_count: Some(6),
            ..UsageMetadata::default()
        };
        let answer = embeddings_response(&plan_two, batch.embeddings.clone(), Some(&reported), "e")
            .expect("translates");
        assert_eq!(
            answer.data.iter().map(|d| d.index).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(
            answer.data[1].embedding,
            EmbeddingVector::Float(vec![-0.021200396, 0.004377459, 0.030151263, -0.012084735])
        );
        assert_eq!(answer.usage.prompt_tokens, 6);
        let err = embeddings_response(&plan_one, batch.embeddings, None, "e")
            .expect_err("count mismatch");
        assert_eq!(err.class, ErrorClass::InvalidResponse);
    }

    #[test]
    fn base64_vectors_are_little_endian_f32() {
        let base64_plan = plan(
            &request(json!({"model": "m", "input": "x", "encoding_format": "base64"})),
            "models/e",
            false,
        )
        .expect("plans");
        let answer = embeddings_response(
            &base64_plan,
            vec![ContentEmbedding {
                values: vec![1.0, -2.0],
            }],
            None,
            "e",
        )
        .expect("translates");
        // 1.0f32 = 00 00 80 3f, -2.0f32 = 00 00 00 c0.
        assert_eq!(
            answer.data[0].embedding,
            EmbeddingVector::Base64("AACAPwAAAMA=".to_owned())
        );
    }

    // Vertex AI's text embeddings API: one `:predict` call, `instances[].content`,
    // `parameters.outputDimensionality`, answers in `predictions[].embeddings`
    // (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api).
    #[test]
    fn vertex_embeddings_are_one_predict_call_with_counted_tokens() {
        let planned = plan(
            &request(json!({"model": "m", "input": ["a", "b"], "dimensions": 256})),
            "models/text-embedding-005",
            true,
        )
        .expect("plans");
        let EmbedCall::Predict(body) = &planned.call else {
            panic!("predict call expected: {planned:?}")
        };
        assert_eq!(
            serde_json::to_value(body).expect("serializes"),
            json!({"instances": [{"content": "a"}, {"content": "b"}],
                   "parameters": {"outputDimensionality": 256}})
        );
        let answer: PredictResponse = serde_json::from_str(include_str!(
            "../../tests/fixtures/vertex/predict_embeddings.json"
        ))
        .expect("fixture");
        let (vectors, usage) = predicted(answer);
        let answer = embeddings_response(&planned, vectors, usage.as_ref(), "text-embedding-005")
            .expect("translates");
        assert_eq!(answer.usage.prompt_tokens, 7);
        assert_eq!(
            answer.data[1].embedding,
            EmbeddingVector::Float(vec![0.0125, -0.0311, 0.0472])
        );
    }
}
