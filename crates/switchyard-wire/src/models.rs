//! The model list: `GET /v1/models`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The list of models a caller may use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    /// The models.
    pub data: Vec<Model>,
}

impl ModelList {
    /// A list of the given models.
    pub fn new(data: Vec<Model>) -> Self {
        Self {
            object: "list".to_owned(),
            data,
        }
    }
}

/// One model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Model {
    /// The name clients use.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// Unix time the model was made available, in seconds.
    pub created: u64,
    /// Who serves it.
    pub owned_by: String,
}
