//! YAML as LiteLLM reads it. LiteLLM loads its `config.yaml` with PyYAML's `safe_load`, which
//! follows YAML 1.1: `20_000` is the integer 20000, `yes`/`no`/`on`/`off` are booleans, `1:30`
//! is 90, a key given twice keeps its last value, and `<<` merges an anchored mapping. YAML 1.2
//! parsers (serde's) read those differently or refuse them, so configurations written for
//! LiteLLM would change meaning; this module reads the text into a JSON value with PyYAML's
//! rules instead, for the typed configuration to be deserialized from.
//!
//! Numbers YAML 1.2 writes without a dot (`1e-6`) are floats too: PyYAML reads them as text,
//! but LiteLLM's settings models turn such text back into the number.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Why a text is not YAML the gateway can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct YamlError {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column of the problem.
    pub column: usize,
    /// What is wrong.
    pub reason: String,
}

/// A document read, with the keys that were given twice (path, such as
/// `model_list[0].litellm_params.model`): the last value is kept, as PyYAML does.
#[derive(Debug, Default)]
pub struct Document {
    /// The document as JSON; `Null` for an empty text.
    pub value: Value,
    /// Paths of mapping keys that appeared more than once.
    pub duplicate_keys: Vec<String>,
}

/// Reads one YAML document with PyYAML's (YAML 1.1) rules.
///
/// PyYAML's parser (libyaml's) lets a flow collection's closing bracket sit at its key's
/// indentation, which LiteLLM's documented configurations do; the strict parser refuses that.
/// Text it refuses is read again by libyaml (through `yaml_serde`), with YAML 1.2's scalar
/// rules, and refused only when that fails too.
pub fn load(text: &str) -> Result<Document, YamlError> {
    match load_strict(text) {
        Err(strict) => match yaml_serde::from_str::<yaml_serde::Value>(text) {
            Ok(value) => Ok(Document {
                value: from_libyaml(value).map_err(|reason| YamlError { reason, ..strict })?,
                duplicate_keys: Vec::new(),
            }),
            Err(_) => Err(strict),
        },
        ok => ok,
    }
}

/// A libyaml value as JSON; keys become text as in [`load_strict`].
fn from_libyaml(value: yaml_serde::Value) -> Result<Value, String> {
    use yaml_serde::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                n.as_f64()
                    .and_then(Number::from_f64)
                    .map_or_else(|| Value::String(n.to_string()), Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(from_libyaml)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let key = match key {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_owned(),
                    _ => return Err("a mapping key must be a plain value".to_owned()),
                };
                out.insert(key, from_libyaml(value)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            return Err(format!(
                "the tag `{}` is not one a configuration may use",
                tagged.tag
            ));
        }
    })
}

fn load_strict(text: &str) -> Result<Document, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|err| YamlError {
        line: err.marker().line(),
        column: err.marker().col(),
        reason: err.info().to_owned(),
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    if builder.documents > 1 {
        return Err(YamlError {
            line: 1,
            column: 1,
            reason: "the file holds more than one YAML document (`---`); a configuration is one"
                .to_owned(),
        });
    }
    Ok(Document {
        value: builder.root.unwrap_or(Value::Null),
        duplicate_keys: builder.duplicates,
    })
}

/// A node being built: a sequence, or a mapping waiting for its next key or value.
enum Open {
    Sequence {
        items: Vec<Value>,
        anchor: usize,
    },
    Mapping {
        entries: Map<String, Value>,
        /// Keys written explicitly, which merged (`<<`) keys never replace.
        explicit: Vec<String>,
        /// Mappings to merge in once the mapping ends.
        merges: Vec<Value>,
        key: Option<String>,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Value>,
    root: Option<Value>,
    documents: usize,
    duplicates: Vec<String>,
    error: Option<YamlError>,
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        if let Err(reason) = self.apply(event) {
            self.error = Some(YamlError {
                line: mark.line(),
                column: mark.col(),
                reason,
            });
        }
    }
}

impl Builder {
    fn apply(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                // A key is always text: PyYAML would make `yes:` a boolean key, which no
                // configuration key is.
                if let Some(Open::Mapping { key: None, .. }) = self.stack.last() {
                    return self.add(Value::String(text), 0);
                }
                let value = scalar(text, style, tag.as_ref())?;
                self.add(value, anchor)
            }
            Event::Alias(id) => {
                let value =
                    self.anchors.get(&id).cloned().ok_or_else(|| {
                        "an alias names an anchor not defined before it".to_owned()
                    })?;
                self.add(value, 0)
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "seq")?;
                self.stack.push(Open::Sequence {
                    items: Vec::new(),
                    anchor,
                });
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "map")?;
                self.stack.push(Open::Mapping {
                    entries: Map::new(),
                    explicit: Vec::new(),
                    merges: Vec::new(),
                    key: None,
                    anchor,
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Open::Sequence { items, anchor }) => self.add(Value::Array(items), anchor),
                _ => Err("unbalanced sequence".to_owned()),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Open::Mapping {
                    mut entries,
                    merges,
                    anchor,
                    ..
                }) => {
                    // `<<: *base` or `<<: [*a, *b]`: keys the mapping does not set itself come
                    // from the merged mappings, the first listed winning.
                    for merged in merges {
                        for (key, value) in merged_entries(merged)? {
                            entries.entry(key).or_insert(value);
                        }
                    }
                    self.add(Value::Object(entries), anchor)
                }
                _ => Err("unbalanced mapping".to_owned()),
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
        }
    }

    /// Puts a finished node where it belongs: in the open collection, or at the root.
    fn add(&mut self, value: Value, anchor: usize) -> Result<(), String> {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        let mut duplicate = None;
        let placed = match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                Ok(())
            }
            Some(Open::Sequence { items, .. }) => {
                items.push(value);
                Ok(())
            }
            Some(Open::Mapping {
                entries,
                explicit,
                merges,
                key,
                ..
            }) => match key.take() {
                None => match value {
                    Value::String(text) => {
                        *key = Some(text);
                        Ok(())
                    }
                    _ => {
                        Err("a mapping key must be a plain value, not a list or mapping".to_owned())
                    }
                },
                Some(name) if name == "<<" => {
                    merges.push(value);
                    Ok(())
                }
                Some(name) => {
                    if explicit.contains(&name) {
                        duplicate = Some(name.clone());
                    } else {
                        explicit.push(name.clone());
                    }
                    entries.insert(name, value);
                    Ok(())
                }
            },
        };
        if let Some(name) = duplicate {
            let path = join(&self.path(), &name);
            self.duplicates.push(path);
        }
        placed
    }

    /// The path of the innermost open collection, for naming duplicate keys in it.
    fn path(&self) -> String {
        let mut path = String::new();
        let enclosing = self.stack.len().saturating_sub(1);
        for open in &self.stack[..enclosing] {
            match open {
                Open::Sequence { items, .. } => path.push_str(&format!("[{}]", items.len())),
                Open::Mapping { key, .. } => {
                    if let Some(key) = key {
                        path = join(&path, key);
                    }
                }
            }
        }
        path
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn merged_entries(merged: Value) -> Result<Vec<(String, Value)>, String> {
    match merged {
        Value::Object(map) => Ok(map.into_iter().collect()),
        Value::Array(maps) => {
            let mut out = Vec::new();
            for map in maps {
                match map {
                    Value::Object(map) => out.extend(map),
                    _ => return Err("`<<` merges mappings only".to_owned()),
                }
            }
            Ok(out)
        }
        _ => Err("`<<` merges mappings only".to_owned()),
    }
}

fn check_collection_tag(tag: Option<&Tag>, kind: &str) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(tag) if tag.handle == "tag:yaml.org,2002:" && tag.suffix == kind => Ok(()),
        Some(tag) => Err(format!(
            "the tag `{}{}` is not one a configuration may use",
            tag.handle, tag.suffix
        )),
    }
}

/// A scalar as PyYAML's `safe_load` resolves it.
fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.handle != "tag:yaml.org,2002:" {
            return Err(format!(
                "the tag `{}{}` is not one a configuration may use",
                tag.handle, tag.suffix
            ));
        }
        let resolved = match tag.suffix.as_str() {
            "str" => Some(Value::String(text.clone())),
            "int" => int(&text).map(Value::Number),
            "float" => float(&text).or_else(|| int(&text)).map(Value::Number),
            "bool" => boolean(&text).map(Value::Bool),
            "null" => null(&text).then_some(Value::Null),
            _ => None,
        };
        return resolved.ok_or_else(|| format!("`{text}` is not a valid `!!{}`", tag.suffix));
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::String(text));
    }
    if null(&text) {
        return Ok(Value::Null);
    }
    if let Some(b) = boolean(&text) {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = int(&text).or_else(|| float(&text)) {
        return Ok(Value::Number(n));
    }
    Ok(Value::String(text))
}

fn null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn boolean(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// YAML 1.1 integers: decimal, `0b`, `0x`, leading-zero octal and base 60 (`1:30`), with `_`
/// anywhere after the first digit.
fn int(text: &str) -> Option<Number> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if !body.as_bytes().first()?.is_ascii_digit() {
        return None;
    }
    let digits = |s: &str| -> String { s.chars().filter(|c| *c != '_').collect() };
    let magnitude: u128 = if let Some(bin) = body.strip_prefix("0b") {
        u128::from_str_radix(&digits(bin), 2).ok()?
    } else if let Some(hex) = body.strip_prefix("0x") {
        u128::from_str_radix(&digits(hex), 16).ok()?
    } else if body.contains(':') {
        let mut parts = body.split(':');
        let first = digits(parts.next()?);
        if first.starts_with('0') && first.len() > 1 {
            return None;
        }
        let mut total: u128 = first.parse().ok()?;
        for part in parts {
            let sixty: u128 = part
                .parse()
                .ok()
                .filter(|p: &u128| *p < 60 && part.len() <= 2)?;
            total = total.checked_mul(60)?.checked_add(sixty)?;
        }
        total
    } else if body.len() > 1 && body.starts_with('0') {
        let octal = digits(&body[1..]);
        if octal.is_empty() || !octal.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return None;
        }
        u128::from_str_radix(&octal, 8).ok()?
    } else {
        let decimal = digits(body);
        if !decimal.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        decimal.parse().ok()?
    };
    if negative {
        let value = i64::try_from(magnitude).ok()?;
        Some(Number::from(-value))
    } else {
        u64::try_from(magnitude).ok().map(Number::from)
    }
}

/// Floats: YAML 1.1's (`1.5`, `1_000.5`, `6.8523e+5`) and YAML 1.2's (`1e-6`); `.inf` and
/// `.nan` are not numbers JSON can hold, so they stay text (and a numeric setting refuses them).
fn float(text: &str) -> Option<Number> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let first = *body.as_bytes().first()?;
    if !(first.is_ascii_digit() || first == b'.') {
        return None;
    }
    if !body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'e' | b'E' | b'-' | b'+'))
    {
        return None;
    }
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    let value: f64 = cleaned.parse().ok()?;
    Number::from_f64(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn value(text: &str) -> Value {
        load(text).expect("valid YAML").value
    }

    #[test]
    fn integers_follow_yaml_1_1() {
        let v = value("a: 20_000\nb: 0x1F\nc: 010\nd: 1:30\ne: -5\nf: 0b101\ng: 0\n");
        assert_eq!(
            v,
            json!({"a": 20000, "b": 31, "c": 8, "d": 90, "e": -5, "f": 5, "g": 0})
        );
    }

    #[test]
    fn booleans_follow_yaml_1_1() {
        let v = value("a: yes\nb: Off\nc: true\nd: NO\ne: 'yes'\n");
        assert_eq!(
            v,
            json!({"a": true, "b": false, "c": true, "d": false, "e": "yes"})
        );
    }

    #[test]
    fn floats_of_both_versions_are_numbers() {
        let v = value("a: 1.5\nb: 1e-6\nc: 6.8523015e+5\nd: 1_000.5\ne: .inf\n");
        assert_eq!(v["a"], json!(1.5));
        assert_eq!(v["b"], json!(1e-6));
        assert_eq!(v["c"], json!(685230.15));
        assert_eq!(v["d"], json!(1000.5));
        assert_eq!(v["e"], json!(".inf"));
    }

    #[test]
    fn quoted_scalars_stay_text() {
        let v = value("a: \"20_000\"\nb: '1.5'\nc: ~\nd:\ne: \"\"\n");
        assert_eq!(
            v,
            json!({"a": "20_000", "b": "1.5", "c": null, "d": null, "e": ""})
        );
    }

    #[test]
    fn plain_words_and_model_names_stay_text() {
        let v = value("a: gpt-4o\nb: 1.2.3\nc: os.environ/KEY\nd: 12ab\ne: 2024-10-21\n");
        assert_eq!(
            v,
            json!({"a": "gpt-4o", "b": "1.2.3", "c": "os.environ/KEY", "d": "12ab", "e": "2024-10-21"})
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys_resolve() {
        let text = "
base: &base
  api_base: http://x
  timeout: 10
m:
  <<: *base
  timeout: 20
list: [&one 1, *one]
";
        let v = value(text);
        assert_eq!(v["m"], json!({"api_base": "http://x", "timeout": 20}));
        assert_eq!(v["list"], json!([1, 1]));
    }

    #[test]
    fn a_key_given_twice_keeps_the_last_value_and_is_reported() {
        let doc = load("model_list:\n  - model_name: a\n    model_name: b\n").expect("valid");
        assert_eq!(doc.value["model_list"][0]["model_name"], json!("b"));
        assert_eq!(doc.duplicate_keys, ["model_list[0].model_name"]);
    }

    #[test]
    fn keys_are_text_even_when_they_look_like_booleans_or_numbers() {
        let v = value("on: 1\n200: ok\n");
        assert_eq!(v, json!({"on": 1, "200": "ok"}));
    }

    #[test]
    fn malformed_text_names_its_line() {
        let err = load("a: [1, 2\nb: 3\n").expect_err("unclosed");
        assert!(err.line >= 1, "{err}");
        let err = load("a: !python/object x\n").expect_err("tag");
        assert!(err.reason.contains("tag"), "{err}");
    }

    #[test]
    fn a_closing_bracket_at_its_keys_indentation_is_read_as_pyyaml_reads_it() {
        let text = "general_settings:\n  alert_to_webhook_url: {\n    \"a\": \"x\",\n  }\n  n: 3\n";
        let v = value(text);
        assert_eq!(
            v,
            json!({"general_settings": {"alert_to_webhook_url": {"a": "x"}, "n": 3}})
        );
    }

    #[test]
    fn two_documents_are_refused_and_empty_text_is_null() {
        assert!(load("a: 1\n---\nb: 2\n").is_err());
        assert_eq!(value(""), Value::Null);
        assert_eq!(value("# only a comment\n"), Value::Null);
    }
}
