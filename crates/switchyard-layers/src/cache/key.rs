//! Cache keys: the SHA-256 digest of a request's answer-deciding parts written as canonical JSON
//! (object keys sorted, integral floats written as integers), so that equal requests get equal keys
//! whatever the order of their JSON keys, in every process and on every replica.
//!
//! Values are canonicalized from their JSON text as it is read, never through a tree of
//! `serde_json::Value`s: a request's parts kept as text (a 20 MB tool schema) would otherwise be
//! blown up to many times their size just to be hashed.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

/// Version of the normalized form; changing what goes into a key bumps it, so old entries are
/// never read back under a new meaning.
const FORMAT: &str = "switchyard-cache/1";

/// The exact-match key of one request: `{kind}:{hex SHA-256}`, such as `chat:9f86d0...`.
///
/// Cheap to clone. Stores add their own prefix (the Redis store's key prefix, for one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(Arc<str>);

impl CacheKey {
    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This key within `scope`: one request gets a different key in each scope, so callers of
    /// different scopes (tenants, say) never read each other's answers, nor learn from a hit
    /// what another scope asked. The kind prefix is kept; the scope itself is hashed in, so it
    /// never shows in a store's keys.
    ///
    /// ```
    /// use switchyard_layers::cache::KeyHasher;
    ///
    /// let mut hasher = KeyHasher::new("chat");
    /// hasher.field("text", "2+2?");
    /// let key = hasher.finish().expect("a string always serializes");
    /// assert_eq!(key.scoped("team:a"), key.scoped("team:a"));
    /// assert_ne!(key.scoped("team:a"), key.scoped("team:b"));
    /// assert_ne!(key.scoped("team:a"), key);
    /// assert!(key.scoped("team:a").as_str().starts_with("chat:"));
    /// ```
    #[must_use]
    pub fn scoped(&self, scope: &str) -> Self {
        let (kind, _) = self.0.split_once(':').unwrap_or(("", &self.0));
        let mut digest = Sha256::new();
        // The same canonical-JSON framing as whole keys, so no scope and key pair can be read
        // as another pair.
        let framed = serde_json::to_writer(
            DigestWriter(&mut digest),
            &[FORMAT, "scoped", scope, self.as_str()],
        );
        debug_assert!(framed.is_ok(), "strings always serialize");
        Self(hex_key(kind, &digest.finalize()).into())
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Writes the parts of a request that decide its answer into a digest, as one canonical JSON
/// object, and makes a [`CacheKey`] of it.
///
/// Fields are written in the order of the calls; values are normalized, so JSON key order never
/// matters. Each value is written and hashed on its own, so a long conversation is never copied
/// whole.
///
/// ```
/// use switchyard_layers::cache::KeyHasher;
/// use serde_json::json;
///
/// let key = |body: serde_json::Value| {
///     let mut hasher = KeyHasher::new("echo");
///     hasher.field("body", &body);
///     hasher.finish().expect("JSON values always serialize")
/// };
/// assert_eq!(key(json!({"a": 1, "b": 2.0})), key(json!({"b": 2, "a": 1})));
/// assert_ne!(key(json!({"a": 1})), key(json!({"a": 1.5})));
/// assert!(key(json!({})).as_str().starts_with("echo:"));
/// ```
pub struct KeyHasher {
    kind: &'static str,
    digest: Sha256,
    failed: bool,
}

impl fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyHasher")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl KeyHasher {
    /// A digest for requests of one `kind` (`chat`, `embeddings`, ...): keys of different kinds
    /// never collide. The kind is the key's visible prefix, so keep it short and plain.
    pub fn new(kind: &'static str) -> Self {
        let mut hasher = Self {
            kind,
            digest: Sha256::new(),
            failed: false,
        };
        hasher.write(|out| {
            out.write_all(b"{\"\":")?;
            write_str(out, FORMAT)?;
            out.write_all(b",\"kind\":")?;
            write_str(out, kind)
        });
        hasher
    }

    /// Adds one field: `name` and `value` in canonical form.
    pub fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> &mut Self {
        self.write(|out| {
            write_name(out, name)?;
            write_canonical(out, value)
        });
        self
    }

    /// Adds one field holding a list, converting one item at a time.
    pub fn items<'a, T, I>(&mut self, name: &str, items: I) -> &mut Self
    where
        T: Serialize + 'a,
        I: IntoIterator<Item = &'a T>,
    {
        self.write(|out| {
            write_name(out, name)?;
            out.write_all(b"[")?;
            for (i, item) in items.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_canonical(out, item)?;
            }
            out.write_all(b"]")
        });
        self
    }

    /// Adds one field holding an object made of `entries`, sorted by name here.
    pub fn entries<'a, T, I>(&mut self, name: &str, entries: I) -> &mut Self
    where
        T: Serialize + 'a,
        I: IntoIterator<Item = (&'a str, &'a T)>,
    {
        let mut entries: Vec<(&str, &T)> = entries.into_iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        self.write(|out| {
            write_name(out, name)?;
            out.write_all(b"{")?;
            for (i, (name, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_str(out, name)?;
                out.write_all(b":")?;
                write_canonical(out, value)?;
            }
            out.write_all(b"}")
        });
        self
    }

    /// The key, or `None` when a value could not be written as JSON (a map with non-string keys,
    /// for one): such a request is not cached.
    pub fn finish(mut self) -> Option<CacheKey> {
        self.write(|out| out.write_all(b"}"));
        if self.failed {
            return None;
        }
        Some(CacheKey(hex_key(self.kind, &self.digest.finalize()).into()))
    }

    fn write(&mut self, f: impl FnOnce(&mut DigestWriter<'_>) -> io::Result<()>) {
        if !self.failed && f(&mut DigestWriter(&mut self.digest)).is_err() {
            self.failed = true;
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `{kind}:{hex digest}`.
fn hex_key(kind: &str, digest: &[u8]) -> String {
    let mut key = String::with_capacity(kind.len() + 1 + 2 * digest.len());
    key.push_str(kind);
    key.push(':');
    for byte in digest {
        key.push(char::from(HEX[usize::from(byte >> 4)]));
        key.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    key
}

/// Feeds written bytes to the digest.
struct DigestWriter<'a>(&'a mut Sha256);

impl Write for DigestWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn write_name(out: &mut impl Write, name: &str) -> io::Result<()> {
    out.write_all(b",")?;
    write_str(out, name)?;
    out.write_all(b":")
}

fn write_str(out: &mut impl Write, text: &str) -> io::Result<()> {
    serde_json::to_writer(out, text).map_err(io::Error::other)
}

/// Writes `value` as canonical JSON: written as JSON text first (a part kept as text is copied
/// as it is), then read back by [`Canonical`], which writes it with object keys sorted.
fn write_canonical<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let text = serde_json::to_vec(value).map_err(io::Error::other)?;
    let mut reader = serde_json::Deserializer::from_slice(&text);
    Canonical(out)
        .deserialize(&mut reader)
        .and_then(|()| reader.end())
        .map_err(io::Error::other)
}

/// Reads one JSON value and writes it in canonical form to its writer: only objects are held,
/// as their entries' canonical text, to be sorted; everything else streams through.
///
/// The result is what writing the value's `serde_json::Value` with sorted keys would give
/// (a repeated key keeps its last value, as a `Value` map does), so keys do not change.
struct Canonical<'a, W>(&'a mut W);

impl<'de, W: Write> DeserializeSeed<'de> for Canonical<'_, W> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// One element of an array, streamed: the comma before it is written only once there is one.
struct Element<'a, W> {
    out: &'a mut W,
    first: bool,
}

impl<'de, W: Write> DeserializeSeed<'de> for Element<'_, W> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if !self.first {
            self.out.write_all(b",").map_err(de::Error::custom)?;
        }
        Canonical(self.out).deserialize(deserializer)
    }
}

impl<W: Write> Canonical<'_, W> {
    fn put<E: de::Error>(self, bytes: &[u8]) -> Result<(), E> {
        self.0.write_all(bytes).map_err(E::custom)
    }

    fn json<T: Serialize + ?Sized, E: de::Error>(self, value: &T) -> Result<(), E> {
        serde_json::to_writer(&mut *self.0, value).map_err(E::custom)
    }
}

impl<'de, W: Write> Visitor<'de> for Canonical<'_, W> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.put(b"null")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.json(&value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.json(&value)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.json(&value)
    }

    /// `2.0` and `2` mean the same to every API: integral floats are written as integers.
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        /// Beyond 2^53 not every integer is a float; such values are written as they are.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if value.fract() == 0.0 && value.abs() < EXACT {
            // Exact: the value is integral and within the range where i64 and f64 agree.
            let integer = value as i64;
            return self.json(&integer);
        }
        // As a `Value` would hold it: a non-finite float is `null` there.
        match serde_json::Number::from_f64(value) {
            Some(number) => self.json(&number),
            None => self.put(b"null"),
        }
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.json(value)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let out = self.0;
        out.write_all(b"[").map_err(de::Error::custom)?;
        let mut first = true;
        while seq
            .next_element_seed(Element {
                out: &mut *out,
                first,
            })?
            .is_some()
        {
            first = false;
        }
        out.write_all(b"]").map_err(de::Error::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let mut value = Vec::new();
            map.next_value_seed(Canonical(&mut value))?;
            entries.push((name, value));
        }
        // Stable: of entries with one name, the last read stays last.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let out = self.0;
        out.write_all(b"{").map_err(de::Error::custom)?;
        let mut written = 0;
        for (i, (name, value)) in entries.iter().enumerate() {
            if entries.get(i + 1).is_some_and(|next| next.0 == *name) {
                continue;
            }
            if written > 0 {
                out.write_all(b",").map_err(de::Error::custom)?;
            }
            serde_json::to_writer(&mut *out, name).map_err(de::Error::custom)?;
            out.write_all(b":").map_err(de::Error::custom)?;
            out.write_all(value).map_err(de::Error::custom)?;
            written += 1;
        }
        out.write_all(b"}").map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn key_of(value: &Value) -> CacheKey {
        let mut hasher = KeyHasher::new("t");
        hasher.field("v", value);
        hasher.finish().expect("key")
    }

    #[test]
    fn nested_key_order_does_not_matter_and_values_do() {
        let a = json!({"x": {"b": [1, {"d": 1, "c": 2}], "a": null}});
        let b = json!({"x": {"a": null, "b": [1, {"c": 2, "d": 1}]}});
        assert_eq!(key_of(&a), key_of(&b));
        assert_ne!(
            key_of(&a),
            key_of(&json!({"x": {"a": null, "b": [{"c": 2, "d": 1}, 1]}}))
        );
    }

    #[test]
    fn integral_floats_equal_integers() {
        assert_eq!(key_of(&json!(1.0)), key_of(&json!(1)));
        assert_eq!(key_of(&json!(-3.0)), key_of(&json!(-3)));
        assert_ne!(key_of(&json!(1.0)), key_of(&json!(1.000_001)));
        assert_ne!(key_of(&json!(1)), key_of(&json!("1")));
    }

    #[test]
    fn field_names_and_kinds_separate_keys() {
        let mut a = KeyHasher::new("t");
        a.field("a", &1);
        let mut b = KeyHasher::new("t");
        b.field("b", &1);
        let mut c = KeyHasher::new("u");
        c.field("a", &1);
        let [a, b, c] = [a, b, c].map(|h| h.finish().expect("key"));
        assert_ne!(a, b);
        assert_ne!(a.as_str()[2..], c.as_str()[2..]);
        assert_eq!(a.as_str().len(), "t:".len() + 64);
    }

    #[test]
    fn scopes_separate_keys_and_stay_stable() {
        let key = key_of(&json!({"q": "2+2?"}));
        let a = key.scoped("team:a");
        assert_eq!(a, key_of(&json!({"q": "2+2?"})).scoped("team:a"));
        assert_ne!(a, key.scoped("team:b"));
        assert_ne!(a, key);
        assert_ne!(a, key_of(&json!({"q": "3+3?"})).scoped("team:a"));
        // A scope holding the framing's own characters is still one scope.
        assert_ne!(key.scoped("a\",\"b"), key.scoped("a"));
        assert!(a.as_str().starts_with("t:"));
        assert_eq!(a.as_str().len(), key.as_str().len());
    }

    /// The canonical form as keys were written before values streamed: through a `Value`.
    fn through_a_value(value: &Value, out: &mut String) {
        match value {
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                    out.push_str(&(f as i64).to_string());
                }
                _ => out.push_str(&n.to_string()),
            },
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    through_a_value(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (name, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(name.clone()).to_string());
                    out.push(':');
                    through_a_value(value, out);
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }

    #[test]
    fn streamed_canonical_form_is_the_one_a_value_gives() {
        for text in [
            r#"{"b": [1, 2.0, -3.5, {"z": null, "a": true}], "a": "x\u00e9\"y", "c": {}}"#,
            r#"[1e3, 1.5e-7, 18446744073709551615, -9223372036854775808, 9007199254740993.0, []]"#,
            r#"{"dup": 1, "a": 0, "dup": {"later": [1, 2]}}"#,
            r#""just a string""#,
            "0.1",
            "null",
        ] {
            let value: Value = serde_json::from_str(text).expect("valid JSON");
            let mut expected = String::new();
            through_a_value(&value, &mut expected);
            let raw: Box<serde_json::value::RawValue> =
                serde_json::from_str(text).expect("valid JSON");
            let (mut from_value, mut from_text) = (Vec::new(), Vec::new());
            write_canonical(&mut from_value, &value).expect("writes");
            write_canonical(&mut from_text, &raw).expect("writes");
            for got in [from_value, from_text] {
                assert_eq!(String::from_utf8(got).expect("UTF-8"), expected, "{text}");
            }
        }
    }

    #[test]
    fn values_that_are_not_json_give_no_key() {
        let map = std::collections::HashMap::from([((1, 2), "pair keys are not JSON")]);
        let mut hasher = KeyHasher::new("t");
        hasher.field("map", &map);
        assert_eq!(hasher.finish(), None);
    }

    #[test]
    fn items_and_entries_hash_like_whole_values() {
        let mut parts = KeyHasher::new("t");
        parts
            .items("v", &[json!({"b": 1, "a": 2}), json!(3)])
            .entries("w", [("z", &json!(1)), ("y", &json!(2))]);
        let mut whole = KeyHasher::new("t");
        whole
            .field("v", &json!([{"a": 2, "b": 1}, 3]))
            .field("w", &json!({"y": 2, "z": 1}));
        assert_eq!(parts.finish(), whole.finish());
    }
}
