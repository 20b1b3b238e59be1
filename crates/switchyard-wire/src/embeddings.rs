//! Embeddings: `POST /v1/embeddings` request and response.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::RawExtra;
use crate::raw::{RequestObject, deserialize_request, read_object, read_once, required};

/// The most inputs one embeddings request may hold, as OpenAI documents ("any array must be
/// 2048 dimensions or less"). More is refused while the body is read, before the inputs are
/// held in memory.
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

/// An embeddings request as OpenAI defines it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct EmbeddingsRequest {
    /// The model name the client asked for.
    pub model: String,
    /// What to embed.
    pub input: EmbeddingInput,
    /// `float` (default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
    /// Number of dimensions of the output, for models that support it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// The end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field, passed through unchanged as the JSON text it came as.
    #[serde(flatten)]
    pub extra: RawExtra,
}

/// Read in one pass, each field the gateway does not know kept as its text ([`RawExtra`]).
impl<'de> Deserialize<'de> for EmbeddingsRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_request(deserializer)
    }
}

impl RequestObject for EmbeddingsRequest {
    const EXPECTING: &'static str = "an embeddings request object";

    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut model, mut input, mut encoding_format, mut dimensions, mut user) =
            (None, None, None, None, None);
        let extra = read_object(map, |name, map| match name {
            "model" => read_once(&mut model, "model", map),
            "input" => read_once(&mut input, "input", map),
            "encoding_format" => read_once(&mut encoding_format, "encoding_format", map),
            "dimensions" => read_once(&mut dimensions, "dimensions", map),
            "user" => read_once(&mut user, "user", map),
            _ => Ok(false),
        })?;
        Ok(Self {
            model: required(model, "model")?,
            input: required(input, "input")?,
            encoding_format: encoding_format.flatten(),
            dimensions: dimensions.flatten(),
            user: user.flatten(),
            extra,
        })
    }
}

/// The input of an embeddings request.
///
/// Read without serde's buffering of untagged enums (which would first copy the whole input into
/// a generic tree to try each shape), and with at most [`MAX_EMBEDDING_INPUTS`] inputs.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
    /// One pre-tokenized text.
    Tokens(Vec<u32>),
    /// Several pre-tokenized texts.
    TokenBatches(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// How many embeddings the input asks for.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(_) | Self::Tokens(_) => 1,
            Self::Texts(texts) => texts.len(),
            Self::TokenBatches(batches) => batches.len(),
        }
    }

    /// Whether the input asks for no embedding at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'de> Deserialize<'de> for EmbeddingInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = EmbeddingInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, an array of strings, an array of token ids or an array of arrays of token ids")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(EmbeddingInput::Text(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(EmbeddingInput::Text(text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // The first item decides the shape; the others must share it.
        Ok(match seq.next_element::<Item>()? {
            None => EmbeddingInput::Texts(Vec::new()),
            Some(Item::Text(first)) => EmbeddingInput::Texts(rest(first, &mut seq, true)?),
            Some(Item::Tokens(first)) => EmbeddingInput::TokenBatches(rest(first, &mut seq, true)?),
            // One pre-tokenized text: its tokens are not inputs, the body limit bounds them.
            Some(Item::Token(first)) => EmbeddingInput::Tokens(rest(first, &mut seq, false)?),
        })
    }
}

/// `first` and the rest of `seq`, at most [`MAX_EMBEDDING_INPUTS`] items when `inputs`.
fn rest<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(
    first: T,
    seq: &mut A,
    inputs: bool,
) -> Result<Vec<T>, A::Error> {
    let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_EMBEDDING_INPUTS) + 1);
    items.push(first);
    while let Some(item) = seq.next_element()? {
        if inputs && items.len() == MAX_EMBEDDING_INPUTS {
            return Err(de::Error::custom(format_args!(
                "`input` holds more than {MAX_EMBEDDING_INPUTS} items; one request may embed at most {MAX_EMBEDDING_INPUTS}"
            )));
        }
        items.push(item);
    }
    Ok(items)
}

/// The first item of an input array.
enum Item {
    Text(String),
    Token(u32),
    Tokens(Vec<u32>),
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;

        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Item;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a token id or an array of token ids")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Item, E> {
                Ok(Item::Text(text.to_owned()))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Item, E> {
                Ok(Item::Text(text))
            }

            fn visit_u64<E: de::Error>(self, token: u64) -> Result<Item, E> {
                u32::try_from(token)
                    .map(Item::Token)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(token), &self))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
                let mut tokens = Vec::new();
                while let Some(token) = seq.next_element()? {
                    tokens.push(token);
                }
                Ok(Item::Tokens(tokens))
            }
        }

        deserializer.deserialize_any(ItemVisitor)
    }
}

/// An embeddings response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmbeddingsResponse {
    /// Always `list`.
    pub object: String,
    /// One embedding per input, in input order.
    pub data: Vec<Embedding>,
    /// The model that answered.
    pub model: String,
    /// Token counts.
    pub usage: EmbeddingUsage,
}

/// One embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Embedding {
    /// Always `embedding`.
    pub object: String,
    /// Position of the input it embeds.
    pub index: u32,
    /// The vector.
    pub embedding: EmbeddingVector,
}

/// A vector as floats, or base64 of little-endian f32 when asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// The vector as floats.
    Float(Vec<f32>),
    /// The vector as base64.
    Base64(String),
}

/// Token counts of an embeddings call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmbeddingUsage {
    /// Tokens in the input.
    pub prompt_tokens: u64,
    /// The same count, as OpenAI reports it.
    pub total_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_input_shape_parses() {
        for (input, len) in [
            (json!("one"), 1),
            (json!(["a", "b"]), 2),
            (json!([1, 2, 3]), 1),
            (json!([[1], [2], [3]]), 3),
        ] {
            let req: EmbeddingsRequest =
                serde_json::from_value(json!({"model": "m", "input": input})).expect("valid");
            assert_eq!(req.input.len(), len, "{input}");
            assert_eq!(serde_json::to_value(&req.input).expect("serializes"), input);
        }
    }

    #[test]
    fn unknown_fields_stay_as_written() {
        let req: EmbeddingsRequest = serde_json::from_str(
            r#"{"model":"m","input":"a","input_type": "query" ,"dimensions":null}"#,
        )
        .expect("valid");
        assert_eq!(
            req.extra.get("input_type").map(|v| v.get()),
            Some(r#""query""#)
        );
        assert_eq!(req.dimensions, None);
        let err =
            serde_json::from_str::<EmbeddingsRequest>(r#"{"model":"m"}"#).expect_err("no input");
        assert!(err.to_string().contains("missing field `input`"), "{err}");
    }

    #[test]
    fn an_empty_array_is_no_input() {
        let req: EmbeddingsRequest =
            serde_json::from_value(json!({"model": "m", "input": []})).expect("valid");
        assert!(req.input.is_empty());
    }

    #[test]
    fn mixed_or_malformed_inputs_are_refused() {
        for input in [
            json!(["a", 1]),
            json!([1, "a"]),
            json!([[1], 2]),
            json!([-1]),
            json!([4_294_967_296u64]),
            json!({"text": "a"}),
            json!(null),
            json!(1),
        ] {
            let parsed =
                serde_json::from_value::<EmbeddingsRequest>(json!({"model": "m", "input": input}));
            assert!(parsed.is_err(), "{input}");
        }
    }

    #[test]
    fn at_most_2048_inputs_and_any_number_of_tokens_in_one() {
        let body = |input: serde_json::Value| json!({"model": "m", "input": input}).to_string();
        let texts = vec!["a"; MAX_EMBEDDING_INPUTS];
        let req: EmbeddingsRequest =
            serde_json::from_str(&body(json!(texts))).expect("at the limit");
        assert_eq!(req.input.len(), MAX_EMBEDDING_INPUTS);
        for input in [
            json!(vec!["a"; MAX_EMBEDDING_INPUTS + 1]),
            json!(vec![vec![1]; MAX_EMBEDDING_INPUTS + 1]),
        ] {
            let err = serde_json::from_str::<EmbeddingsRequest>(&body(input))
                .expect_err("over the limit");
            assert!(err.is_data() && err.to_string().contains("2048"), "{err}");
        }
        let tokens = vec![7u32; 3 * MAX_EMBEDDING_INPUTS];
        let req: EmbeddingsRequest = serde_json::from_str(&body(json!(tokens))).expect("one input");
        assert_eq!(req.input, EmbeddingInput::Tokens(tokens));
    }
}
