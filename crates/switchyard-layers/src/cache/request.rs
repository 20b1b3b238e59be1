//! What the cache needs from a request ([`Cacheable`]: its key and its caller's directives), and
//! the implementation for chat completion requests.

use switchyard_wire::{ChatRequest, RawJson};

use super::control::{CacheControl, take_cache_directives};
use super::key::{CacheKey, KeyHasher};

/// A request the cache layer can key and control: the decision the layer asks the request type
/// to make, so any service's requests can be cached.
///
/// ```
/// use switchyard_layers::cache::{CacheControl, CacheKey, Cacheable, KeyHasher, KeyOptions};
///
/// /// A request to translate `text`; `fresh` stands for a header the caller mapped in.
/// struct Translate {
///     text: String,
///     fresh: bool,
/// }
///
/// impl Cacheable for Translate {
///     fn take_cache_control(&mut self) -> CacheControl {
///         CacheControl { no_cache: self.fresh, ..CacheControl::default() }
///     }
///
///     fn cache_key(&self, _options: &KeyOptions) -> Option<CacheKey> {
///         let mut key = KeyHasher::new("translate");
///         key.field("text", &self.text);
///         key.finish()
///     }
/// }
///
/// let mut request = Translate { text: "bonjour".into(), fresh: true };
/// assert!(!request.take_cache_control().reads());
/// assert!(request.cache_key(&KeyOptions::default()).is_some());
/// ```
pub trait Cacheable {
    /// The caller's directives for this request, taken out of it when they travel inside it
    /// (so they never reach the upstream). Called once per call, before
    /// [`cache_key`](Cacheable::cache_key).
    fn take_cache_control(&mut self) -> CacheControl;

    /// The exact-match key of the request, or `None` when it must not be cached. Only what can
    /// change the answer belongs in it.
    fn cache_key(&self, options: &KeyOptions) -> Option<CacheKey>;
}

/// How requests are keyed, set once on the layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyOptions {
    /// Key on the end user too (`user`, `safety_identifier`), so users never share answers.
    /// Off by default: the same question gets the same answer whoever asks.
    pub include_user: bool,
}

/// Request body fields that do not change a chat answer, left out of chat keys: cache directives,
/// bookkeeping (`metadata`, `tags`), routing and transport knobs, and prompt-caching hints.
pub const IGNORED_FIELDS: &[&str] = &[
    "cache",
    "metadata",
    "litellm_metadata",
    "tags",
    "num_retries",
    "timeout",
    "request_timeout",
    "store",
    "prompt_cache_key",
];

/// Body fields naming the end user, in chat keys only with [`KeyOptions::include_user`].
const USER_FIELDS: &[&str] = &["user", "safety_identifier"];

/// Chat completions are keyed on everything that can change the answer:
///
/// - `model`, `messages` (every field of every message), `tools`, `tool_choice`,
///   `response_format`, and the sampling and length parameters (`temperature`, `top_p`, `n`,
///   `stop`, `max_tokens`, `max_completion_tokens`);
/// - `stream` and `stream_options`: a streamed answer is stored as its chunks and replayed as a
///   stream, a complete answer as itself, so the two are kept apart;
/// - every other body field (`seed`, `presence_penalty`, `logit_bias`, `reasoning_effort`,
///   `parallel_tool_calls`, provider extensions, ...), except [`IGNORED_FIELDS`], the user
///   fields unless [`KeyOptions::include_user`], and fields set to `null`.
///
/// Unset `n` and `stream` count as `1` and `false`. Requests with `n > 1` are cached like any
/// other, all choices together: an exact-match cache replays one sampled answer whatever the
/// temperature, and a caller who wants new samples says `no-cache`.
///
/// The directives are LiteLLM's `cache` body object ([`take_cache_directives`]); when that object
/// is invalid, the request bypasses the cache. The gateway validates it first, to answer 400.
impl Cacheable for ChatRequest {
    fn take_cache_control(&mut self) -> CacheControl {
        take_cache_directives(&mut self.extra).unwrap_or_else(|error| {
            tracing::debug!(%error, "invalid cache directives: the cache is bypassed");
            CacheControl::BYPASS
        })
    }

    fn cache_key(&self, options: &KeyOptions) -> Option<CacheKey> {
        let mut key = KeyHasher::new("chat");
        key.field("model", &self.model)
            .items("messages", &self.messages)
            .field("stream", &self.is_stream())
            .field("stream_options", &self.stream_options)
            .field("max_tokens", &self.max_tokens)
            .field("max_completion_tokens", &self.max_completion_tokens)
            .field("temperature", &self.temperature)
            .field("top_p", &self.top_p)
            .field("n", &self.n.unwrap_or(1))
            .field("stop", &self.stop)
            .field("tools", &self.tools)
            .field("tool_choice", &self.tool_choice)
            .field("response_format", &self.response_format);
        if options.include_user {
            key.field("user", &self.user);
        }
        let extra = self.extra.iter().filter(|(name, value)| {
            !value.is_null()
                && !IGNORED_FIELDS.contains(name)
                && (options.include_user || !USER_FIELDS.contains(name))
        });
        key.entries::<RawJson, _>("extra", extra);
        key.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn request(body: Value) -> ChatRequest {
        serde_json::from_value(body).expect("valid request")
    }

    fn key(body: Value) -> CacheKey {
        key_with(body, &KeyOptions::default())
    }

    fn key_with(body: Value, options: &KeyOptions) -> CacheKey {
        request(body).cache_key(options).expect("cacheable")
    }

    /// A body with the `extra` objects and the message given as text, so key order is the text's.
    fn parsed(text: &str) -> Value {
        serde_json::from_str(text).expect("valid JSON")
    }

    #[test]
    fn json_key_order_does_not_change_the_key() {
        let a = parsed(
            r#"{"model":"m","temperature":0.2,"messages":[{"role":"user","content":"hi","x":{"a":1,"b":2}}],
                "response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"}}},
                "seed":7,"logit_bias":{"1":2,"3":4}}"#,
        );
        let b = parsed(
            r#"{"logit_bias":{"3":4,"1":2},"seed":7,
                "response_format":{"json_schema":{"schema":{"type":"object"},"name":"n"},"type":"json_schema"},
                "messages":[{"x":{"b":2,"a":1},"content":"hi","role":"user"}],"temperature":0.2,"model":"m"}"#,
        );
        assert_eq!(key(a), key(b));
    }

    #[test]
    fn irrelevant_fields_do_not_change_the_key() {
        let base = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let mut noisy = base.clone();
        for (name, value) in [
            ("user", json!("alice")),
            ("safety_identifier", json!("hash-of-alice")),
            ("metadata", json!({"trace": "t1"})),
            ("cache", json!({"ttl": 60})),
            ("tags", json!(["a"])),
            ("seed", json!(null)),
            ("n", json!(1)),
            ("stream", json!(false)),
            ("temperature", json!(null)),
        ] {
            noisy[name] = value;
        }
        assert_eq!(key(base.clone()), key(noisy));
        let float = json!({"model": "m", "messages": [], "temperature": 1.0});
        assert_eq!(
            key(float),
            key(json!({"model": "m", "messages": [], "temperature": 1}))
        );
    }

    #[test]
    fn what_changes_the_answer_changes_the_key() {
        let base = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let plain = key(base.clone());
        for (name, value) in [
            ("temperature", json!(0.7)),
            ("top_p", json!(0.9)),
            ("n", json!(2)),
            ("stop", json!(["\n"])),
            ("max_tokens", json!(10)),
            ("seed", json!(7)),
            ("stream", json!(true)),
            (
                "tools",
                json!([{"type": "function", "function": {"name": "f"}}]),
            ),
            ("tool_choice", json!("required")),
            ("response_format", json!({"type": "json_object"})),
            ("reasoning_effort", json!("low")),
            ("model", json!("other")),
            ("messages", json!([{"role": "user", "content": "hi!"}])),
        ] {
            let mut changed = base.clone();
            changed[name] = value;
            assert_ne!(key(changed), plain, "{name}");
        }
        let mut warmer = base.clone();
        warmer["temperature"] = json!(0.7);
        let mut hotter = base;
        hotter["temperature"] = json!(0.8);
        assert_ne!(key(warmer), key(hotter));
    }

    #[test]
    fn users_are_keyed_only_when_configured() {
        let alice = json!({"model": "m", "messages": [], "user": "alice"});
        let bob = json!({"model": "m", "messages": [], "user": "bob"});
        let options = KeyOptions { include_user: true };
        assert_eq!(key(alice.clone()), key(bob.clone()));
        assert_ne!(key_with(alice, &options), key_with(bob, &options));
    }

    #[test]
    fn chat_directives_are_taken_out_and_invalid_ones_bypass() {
        let mut req = request(json!({"model": "m", "messages": [], "cache": {"no-cache": true}}));
        let control = req.take_cache_control();
        assert!(control.no_cache && control.writes());
        assert!(!req.extra.contains_key("cache"));
        let mut bad = request(json!({"model": "m", "messages": [], "cache": {"ttl": "soon"}}));
        assert_eq!(bad.take_cache_control(), CacheControl::BYPASS);
        assert!(bad.extra.is_empty());
    }

    #[test]
    fn cacheable_is_object_safe() {
        fn _obj_safe(_: Box<dyn Cacheable>) {}
    }
}
