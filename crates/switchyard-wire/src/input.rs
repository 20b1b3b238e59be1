//! Requests of a model and one input, every other field passed through: moderations (the input
//! as the client wrote it) and speech (the text to speak).

use schemars::JsonSchema;
use serde::de::{DeserializeOwned, Deserializer, MapAccess};
use serde::{Deserialize, Serialize};

use crate::RawExtra;
use crate::raw::{RequestObject, deserialize_request, read_object, read_once, required};

/// A request to `model` of `input`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ModelInput<I> {
    /// The model group asked for.
    pub model: String,
    /// What the model is given.
    pub input: I,
    /// Every other field, passed through as it came.
    #[serde(flatten)]
    pub extra: RawExtra,
}

impl<'de, I: DeserializeOwned> Deserialize<'de> for ModelInput<I> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_request(deserializer)
    }
}

impl<I: DeserializeOwned> RequestObject for ModelInput<I> {
    const EXPECTING: &'static str = "a request object with `model` and `input`";

    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut model, mut input) = (None, None);
        let extra = read_object(map, |name, map| match name {
            "model" => read_once(&mut model, "model", map),
            "input" => read_once(&mut input, "input", map),
            _ => Ok(false),
        })?;
        Ok(Self {
            model: required(model, "model")?,
            input: required(input, "input")?,
            extra,
        })
    }
}
