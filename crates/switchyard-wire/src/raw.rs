//! [`RawJson`]: parts of a request the gateway forwards without reading them (tool schemas,
//! `response_format`), kept as the JSON text they came as; [`RawExtra`]: a request's fields the
//! gateway does not know, each kept so; and the one-pass reader of request objects that fills
//! it.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::{self, DeserializeOwned, MapAccess};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON value kept as its text: read once into one string, written out as it is, shared by
/// its clones.
///
/// A tree of [`serde_json::Value`]s takes many times the size of its text (a node per value,
/// a map per object), and every clone of a request for a retry copies the tree again. A
/// request's large parts that go upstream untouched are kept as text instead, which a clone
/// shares rather than copies; an adapter that must translate one [parses](RawJson::parse) it
/// when it does.
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
#[derive(Clone, JsonSchema)]
#[schemars(transparent)]
pub struct RawJson(#[schemars(with = "serde_json::Value")] Arc<RawValue>);

impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self::from)
    }
}

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
        serde_json::value::to_raw_value(value).map(Self::from)
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
        Self(Arc::from(raw))
    }
}

/// The fields of a request the gateway does not know, each kept as the JSON text it came as,
/// so a large one costs its size once, not a tree.
///
/// ```
/// use switchyard_wire::ChatRequest;
///
/// let request: ChatRequest = serde_json::from_str(
///     r#"{"model": "m", "messages": [], "seed": 7, "vendor": {"big": [1, 2, 3]}}"#,
/// )?;
/// assert_eq!(request.extra.get("vendor").map(|v| v.get()), Some(r#"{"big": [1, 2, 3]}"#));
/// assert_eq!(request.extra.value("seed"), Some(serde_json::json!(7)));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct RawExtra(BTreeMap<String, RawJson>);

impl RawExtra {
    /// No fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// The field `name`, as it came.
    pub fn get(&self, name: &str) -> Option<&RawJson> {
        self.0.get(name)
    }

    /// The field `name` read as a [`Value`]; see [`RawExtra::take_value`].
    pub fn value(&self, name: &str) -> Option<Value> {
        self.0.get(name).map(read)
    }

    /// Takes the field `name` out, as it came.
    pub fn remove(&mut self, name: &str) -> Option<RawJson> {
        self.0.remove(name)
    }

    /// Takes the field `name` out, read as a [`Value`]: for the few small fields the gateway
    /// acts on. A value JSON allows but a `Value` cannot hold (a number beyond `f64`'s range)
    /// reads as a string of its text, which no such field accepts.
    pub fn take_value(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name).as_ref().map(read)
    }

    /// Sets the field `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: RawJson) {
        self.0.insert(name.into(), value);
    }

    /// Whether the field `name` is present.
    pub fn contains_key<Q: Ord + ?Sized>(&self, name: &Q) -> bool
    where
        String: Borrow<Q>,
    {
        self.0.contains_key(name)
    }

    /// Every field, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawJson)> {
        self.0.iter().map(|(name, value)| (name.as_str(), value))
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn read(raw: &RawJson) -> Value {
    raw.parse()
        .unwrap_or_else(|_| Value::String(raw.get().to_owned()))
}

/// A request type read in one pass by [`deserialize_request`], its unknown fields kept as text.
pub(crate) trait RequestObject: Sized {
    /// What the value must be, for errors: "a chat completion request object".
    const EXPECTING: &'static str;

    /// Reads the object's fields, with [`read_object`].
    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// Reads a [`RequestObject`]: the body of its `Deserialize` implementation.
pub(crate) fn deserialize_request<'de, T: RequestObject, D: de::Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    struct ObjectVisitor<T>(PhantomData<T>);

    impl<'de, T: RequestObject> de::Visitor<'de> for ObjectVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(T::EXPECTING)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::read(map)
        }
    }

    deserializer.deserialize_map(ObjectVisitor(PhantomData))
}

/// Reads a request object in one pass: `known` reads the fields its type has (with
/// [`read_once`]) and answers `false` for the others, which are kept as they came. Unlike
/// `#[serde(flatten)]`, which first copies every unknown field into a generic tree, this keeps
/// an unknown field's cost to its text.
pub(crate) fn read_object<'de, A: MapAccess<'de>>(
    mut map: A,
    mut known: impl FnMut(&str, &mut A) -> Result<bool, A::Error>,
) -> Result<RawExtra, A::Error> {
    let mut extra = RawExtra::new();
    while let Some(name) = map.next_key::<String>()? {
        if !known(&name, &mut map)? {
            let value = map.next_value()?;
            extra.insert(name, value);
        }
    }
    Ok(extra)
}

/// Reads the value of the field `name` into `slot`; a field given twice is an error, as serde's
/// derived readers make it.
pub(crate) fn read_once<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    slot: &mut Option<T>,
    name: &'static str,
    map: &mut A,
) -> Result<bool, A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(true)
}

/// The value of a required field, or the error serde's derived readers give without it.
pub(crate) fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}
