//! What a deployment adds to or takes out of each request before it goes upstream: the
//! request parameters a LiteLLM deployment gives in its `litellm_params` (`temperature`,
//! `max_tokens`, `seed`, `top_k`, `reasoning_effort`, ...: defaults, which the request's own
//! values win over, as in LiteLLM's router) and its `additional_drop_params` (fields removed,
//! top-level names or paths such as `tools[*].input_examples`).
//!
//! Most deployments have neither; for those nothing here runs. A deployment that has some
//! sees its requests through JSON once per attempt, which the rare configuration that asks
//! for it pays.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A deployment's request defaults and removals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestParams {
    fill: Map<String, Value>,
    drop: Vec<FieldPath>,
}

/// A field to remove: `name`, `name.inner`, `list[*].inner` or `list[0].inner`.
#[derive(Debug, Clone, PartialEq)]
struct FieldPath(Vec<Step>);

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Each,
    Index(usize),
}

impl FieldPath {
    fn parse(text: &str) -> Result<Self, String> {
        let mut steps = Vec::new();
        for part in text.split('.') {
            let (name, mut rest) = match part.find('[') {
                Some(at) => (&part[..at], &part[at..]),
                None => (part, ""),
            };
            if name.is_empty() || name.contains(']') {
                return Err(format!(
                    "`{text}` is not a field path such as `tools[*].name`"
                ));
            }
            steps.push(Step::Key(name.to_owned()));
            while let Some(inner) = rest.strip_prefix('[') {
                let Some(end) = inner.find(']') else {
                    return Err(format!("`{text}` has an unclosed `[`"));
                };
                steps.push(match &inner[..end] {
                    "*" => Step::Each,
                    index => Step::Index(index.parse().map_err(|_| {
                        format!("`{text}`: `[{index}]` is neither `[*]` nor an index")
                    })?),
                });
                rest = &inner[end + 1..];
            }
            if !rest.is_empty() {
                return Err(format!(
                    "`{text}` is not a field path such as `tools[*].name`"
                ));
            }
        }
        Ok(Self(steps))
    }

    fn remove_from(&self, value: &mut Value) {
        remove(value, &self.0);
    }
}

fn remove(value: &mut Value, steps: &[Step]) {
    match steps {
        [] => {}
        [Step::Key(key)] => {
            if let Value::Object(map) = value {
                map.remove(key);
            }
        }
        [Step::Key(key), rest @ ..] => {
            if let Some(inner) = value.get_mut(key.as_str()) {
                remove(inner, rest);
            }
        }
        [Step::Each, rest @ ..] => {
            if let Value::Array(items) = value {
                for item in items {
                    remove(item, rest);
                }
            }
        }
        [Step::Index(index), rest @ ..] => {
            if let Some(item) = value.get_mut(*index) {
                remove(item, rest);
            }
        }
    }
}

impl RequestParams {
    /// Defaults `fill` and removals `drop` (paths, checked here).
    pub fn new(fill: Map<String, Value>, drop: &[String]) -> Result<Self, String> {
        let drop = drop
            .iter()
            .map(|path| FieldPath::parse(path))
            .collect::<Result<_, _>>()?;
        Ok(Self { fill, drop })
    }

    /// Whether the deployment changes nothing.
    pub fn is_empty(&self) -> bool {
        self.fill.is_empty() && self.drop.is_empty()
    }

    /// `request` with the defaults it does not set itself and without the dropped fields.
    pub fn apply<T: Serialize + DeserializeOwned>(
        &self,
        request: T,
    ) -> Result<T, serde_json::Error> {
        let mut value = serde_json::to_value(request)?;
        self.apply_value(&mut value);
        serde_json::from_value(value)
    }

    fn apply_value(&self, value: &mut Value) {
        if let Value::Object(map) = value {
            for (key, default) in &self.fill {
                match map.get(key) {
                    None | Some(Value::Null) => {
                        map.insert(key.clone(), default.clone());
                    }
                    Some(_) => {}
                }
            }
        }
        for path in &self.drop {
            path.remove_from(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchyard_wire::ChatRequest;

    use super::*;

    fn params(fill: Value, drop: &[&str]) -> RequestParams {
        let Value::Object(fill) = fill else {
            panic!("an object")
        };
        let drop: Vec<String> = drop.iter().map(|s| (*s).to_owned()).collect();
        RequestParams::new(fill, &drop).expect("valid")
    }

    fn chat(body: Value) -> ChatRequest {
        serde_json::from_value(body).expect("a chat request")
    }

    #[test]
    fn defaults_fill_what_the_request_leaves_out_and_never_override_it() {
        let p = params(json!({"temperature": 0.2, "seed": 7, "top_k": 40}), &[]);
        let request = chat(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "temperature": 0.9}),
        );
        let out = serde_json::to_value(p.apply(request).expect("applies")).expect("json");
        assert_eq!(
            out["temperature"],
            json!(0.9),
            "the request's own value wins"
        );
        assert_eq!(out["seed"], json!(7));
        assert_eq!(out["top_k"], json!(40));
    }

    #[test]
    fn dropped_fields_leave_even_inside_lists() {
        let p = params(
            json!({}),
            &["tools[*].function.strict", "user", "parallel_tool_calls"],
        );
        let request = chat(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "user": "u", "parallel_tool_calls": true,
            "tools": [{"type": "function", "function": {"name": "a", "strict": true, "parameters": {}}},
                      {"type": "function", "function": {"name": "b", "strict": false}}]}),
        );
        let out = serde_json::to_value(p.apply(request).expect("applies")).expect("json");
        assert!(out.get("user").is_none());
        assert!(out.get("parallel_tool_calls").is_none());
        for tool in out["tools"].as_array().expect("tools") {
            assert!(tool["function"].get("strict").is_none(), "{tool}");
            assert!(tool["function"].get("name").is_some());
        }
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in ["", "a[", "a[x]", ".a", "a]b"] {
            assert!(
                RequestParams::new(Map::new(), &[bad.to_owned()]).is_err(),
                "{bad}"
            );
        }
        assert!(params(json!({}), &[]).is_empty());
    }
}
