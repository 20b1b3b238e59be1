//! Embeddings on a SageMaker endpoint as LiteLLM's `sagemaker/` sends them
//! (<https://docs.litellm.ai/docs/providers/aws_sagemaker>, "Embedding Models"): the texts as
//! `{"inputs": [...]}`, answered with the vectors as a list (Hugging Face TEI containers) or
//! under `embedding` (the Hugging Face inference toolkit's feature extraction).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ErrorClass, ProviderError};

/// The body asking for the embeddings of `texts`.
pub(super) fn request(texts: &[String]) -> Value {
    json!({ "inputs": texts })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Answer {
    Vectors(Vec<Vec<f32>>),
    Wrapped { embedding: Vec<Vec<f32>> },
}

/// The vectors of an answer, one per text of the `count` sent.
pub(super) fn vectors(body: &[u8], count: usize) -> Result<Vec<Vec<f32>>, ProviderError> {
    let invalid = |detail: String| {
        ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("the SageMaker endpoint answered with a body that is not embeddings: {detail}"),
        )
    };
    let vectors = match serde_json::from_slice::<Answer>(body) {
        Ok(Answer::Vectors(vectors) | Answer::Wrapped { embedding: vectors }) => vectors,
        Err(err) => return Err(invalid(err.to_string())),
    };
    if vectors.len() != count {
        return Err(invalid(format!(
            "{} vectors for {count} inputs",
            vectors.len()
        )));
    }
    Ok(vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_answer_shapes_are_read_and_counted() {
        assert_eq!(
            vectors(b"[[0.5, 1.0], [2.0, 3.0]]", 2).expect("vectors"),
            vec![vec![0.5, 1.0], vec![2.0, 3.0]]
        );
        assert_eq!(
            vectors(br#"{"embedding": [[0.25]]}"#, 1).expect("vectors"),
            vec![vec![0.25]]
        );
        for (body, count) in [
            (&b"[[1.0]]"[..], 2),
            (b"{\"vectors\": []}", 0),
            (b"[\"x\"]", 1),
        ] {
            let err = vectors(body, count).expect_err("invalid");
            assert_eq!(err.class, ErrorClass::InvalidResponse);
        }
    }
}
