//! [`RawJson`]: parts of a request the gateway forwards without reading them (tool schemas,
//! `response_format`, fields it does not know), kept as the JSON text they came as.

use std::fmt;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A JSON value kept as its text: read once into one string, written out as it is.
///
/// A tree of [`serde_json::Value`]s takes many times the size of its text (a node per value,
/// a map per object), and every clone of a request for a retry copies the tree again. A
/// request's large parts that go upstream untouched are kept as text instead; an adapter that
/// must translate one [parses](RawJson::parse) it when it does.
///
/// ```
/// use switchyard_wire::RawJson;
///
/// let schema: RawJson = serde_json::from_str(r#"{"type": "object", "properties": {}}"#)?;
/// assert_eq!(schema.get(), r#"{"type": "object", "properties": {}}"#);
/// assert_eq!(serde_json::to_string(&schema)?, schema.get());
/// let value: serde_json::Value = schema.parse()?;
/// assert_eq!(value["type"], "object");
/// assert_eq!(RawJson::from_value(&value["type"])?.get(), r#""object""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct RawJson(#[schemars(with = "serde_json::Value")] Box<RawValue>);

impl RawJson {
    /// The JSON text, exactly as it was read.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Reads the value into `T` (a [`serde_json::Value`], or a typed shape).
    pub fn parse<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.0.get())
    }

    /// `value` written as JSON text.
    pub fn from_value<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Self> {
        serde_json::value::to_raw_value(value).map(Self)
    }

    /// Whether the value is JSON `null`.
    pub fn is_null(&self) -> bool {
        self.0.get() == "null"
    }
}

/// Equal when the texts are: the same value written with other spacing or key order differs.
impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl From<Box<RawValue>> for RawJson {
    fn from(raw: Box<RawValue>) -> Self {
        Self(raw)
    }
}
