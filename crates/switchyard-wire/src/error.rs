//! The OpenAI error body: `{"error": {"message", "type", "param", "code"}}`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, in OpenAI's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// A sentence for a person.
    pub message: String,
    /// The class of error, such as `invalid_request_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request parameter at fault, if one is.
    #[serde(default)]
    pub param: Option<String>,
    /// A machine-readable code, such as `model_not_found`.
    #[serde(default)]
    pub code: Option<String>,
}

impl ErrorBody {
    /// An error body with a message, type and code.
    pub fn new(message: impl Into<String>, kind: impl Into<String>, code: Option<&str>) -> Self {
        Self {
            error: ErrorDetail {
                message: message.into(),
                kind: kind.into(),
                param: None,
                code: code.map(str::to_owned),
            },
        }
    }
}
