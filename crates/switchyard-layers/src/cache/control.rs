//! Per-request cache directives: the `Cache-Control` request header's `no-cache` and `no-store`,
//! and LiteLLM's `cache` body object, which [`take_cache_directives`] takes out of the request.

use std::time::Duration;

use serde_json::Value;
use switchyard_wire::RawExtra;

/// The request body field LiteLLM reads cache directives from:
/// `{"cache": {"no-cache": true, "no-store": true, "ttl": 600}}`.
pub const CACHE_FIELD: &str = "cache";

/// What the caller allows the cache to do with one request.
///
/// The default allows everything. [`Cacheable::take_cache_control`](super::Cacheable) hands it
/// to the layer; callers that read headers merge [`CacheControl::from_header`] into it.
///
/// ```
/// use switchyard_layers::cache::CacheControl;
///
/// let header = CacheControl::from_header("No-Cache, max-age=0");
/// assert!(!header.reads() && header.writes());
/// let both = header.merge(CacheControl::from_header("no-store"));
/// assert!(!both.reads() && !both.writes());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// Do not answer from the cache, but store the fresh answer (`no-cache`).
    pub no_cache: bool,
    /// Neither answer from the cache nor store the answer (`no-store`).
    pub no_store: bool,
    /// Keep this answer this long instead of the layer's default TTL (LiteLLM's `ttl`), up to the
    /// layer's maximum. Zero stores nothing.
    pub ttl: Option<Duration>,
    /// The caller asks for the cache (LiteLLM's `use-cache`), which a cache that is off unless
    /// asked for (LiteLLM's `mode: default_off`) needs; a cache that is on ignores it.
    pub use_cache: bool,
}

impl CacheControl {
    /// Keeps the cache out of the call entirely.
    pub const BYPASS: Self = Self {
        no_cache: true,
        no_store: true,
        ttl: None,
        use_cache: false,
    };

    /// Whether the cache may answer.
    pub fn reads(&self) -> bool {
        !self.no_cache && !self.no_store
    }

    /// Whether the answer may be stored.
    pub fn writes(&self) -> bool {
        !self.no_store && self.ttl != Some(Duration::ZERO)
    }

    /// The directives of a `Cache-Control` request header: `no-cache` and `no-store` (any case);
    /// `max-age=0` asks for a fresh answer like `no-cache`. Other directives change nothing.
    pub fn from_header(value: &str) -> Self {
        let mut control = Self::default();
        for directive in value.split(',').map(str::trim) {
            if directive.eq_ignore_ascii_case("no-cache") {
                control.no_cache = true;
            } else if directive.eq_ignore_ascii_case("no-store") {
                control.no_store = true;
            } else if let Some((name, age)) = directive.split_once('=')
                && name.trim().eq_ignore_ascii_case("max-age")
                && age.trim().trim_matches('"') == "0"
            {
                control.no_cache = true;
            }
        }
        control
    }

    /// Both sets of directives: either one's refusals, and `other`'s TTL over this one's.
    pub fn merge(self, other: Self) -> Self {
        Self {
            no_cache: self.no_cache || other.no_cache,
            no_store: self.no_store || other.no_store,
            ttl: other.ttl.or(self.ttl),
            use_cache: self.use_cache || other.use_cache,
        }
    }
}

/// A `cache` body object that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidCacheDirectives {
    /// `cache` is not an object.
    #[error("`cache` must be an object such as {{\"no-cache\": true}}, got {0}")]
    NotAnObject(&'static str),
    /// One directive has a value of the wrong type or range.
    #[error("`cache.{field}` must be {expected}, got {found}")]
    Field {
        /// The directive's name.
        field: String,
        /// What it must hold.
        expected: &'static str,
        /// The value found, as JSON.
        found: String,
    },
}

/// Takes LiteLLM's `cache` object out of a request body's extra fields, so it never goes
/// upstream, and reads its directives.
///
/// - `no-cache`, `no-store`: booleans, as the header directives of the same names.
/// - `ttl`: seconds (a non-negative number) to keep this answer.
/// - `s-maxage` (accept only entries younger than this) is honoured conservatively: entries carry
///   no age here, so the request is answered fresh (`no-cache`) and its answer stored.
/// - Any other key (`namespace`, ...) is not supported: the request bypasses the cache, so that
///   nothing is shared that the caller meant to keep apart.
///
/// The object is removed even when it is invalid. `null` counts as absent.
///
/// ```
/// use std::time::Duration;
/// use switchyard_layers::cache::take_cache_directives;
/// use switchyard_wire::ChatRequest;
///
/// let mut request: ChatRequest = serde_json::from_value(serde_json::json!({
///     "model": "m", "messages": [], "cache": {"no-cache": true, "ttl": 600}
/// }))?;
/// let control = take_cache_directives(&mut request.extra)?;
/// assert!(control.no_cache && !control.no_store);
/// assert_eq!(control.ttl, Some(Duration::from_secs(600)));
/// assert!(!request.extra.contains_key("cache"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn take_cache_directives(extra: &mut RawExtra) -> Result<CacheControl, InvalidCacheDirectives> {
    let directives = match extra.take_value(CACHE_FIELD) {
        None | Some(Value::Null) => return Ok(CacheControl::default()),
        Some(Value::Object(directives)) => directives,
        Some(other) => return Err(InvalidCacheDirectives::NotAnObject(json_type(&other))),
    };
    let mut control = CacheControl::default();
    for (name, value) in &directives {
        match name.as_str() {
            "no-cache" => control.no_cache |= flag(name, value)?,
            "no-store" => control.no_store |= flag(name, value)?,
            "ttl" => control.ttl = Some(seconds(name, value)?),
            "use-cache" => control.use_cache |= flag(name, value)?,
            "s-maxage" => {
                seconds(name, value)?;
                control.no_cache = true;
            }
            _ => return Ok(CacheControl::BYPASS),
        }
    }
    Ok(control)
}

fn flag(name: &str, value: &Value) -> Result<bool, InvalidCacheDirectives> {
    value
        .as_bool()
        .ok_or_else(|| invalid(name, "true or false", value))
}

fn seconds(name: &str, value: &Value) -> Result<Duration, InvalidCacheDirectives> {
    value
        .as_f64()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| invalid(name, "a non-negative number of seconds", value))
}

fn invalid(name: &str, expected: &'static str, value: &Value) -> InvalidCacheDirectives {
    InvalidCacheDirectives::Field {
        field: name.to_owned(),
        expected,
        found: value.to_string(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn take(body: Value) -> (Result<CacheControl, InvalidCacheDirectives>, RawExtra) {
        let mut extra: RawExtra = serde_json::from_value(body).expect("object expected");
        (take_cache_directives(&mut extra), extra)
    }

    #[test]
    fn directives_are_read_and_removed() {
        let (control, rest) = take(json!({"cache": {"no-store": true, "ttl": 1.5}, "seed": 1}));
        let control = control.expect("valid");
        assert!(control.no_store && !control.no_cache);
        assert!(!control.reads() && !control.writes());
        assert_eq!(control.ttl, Some(Duration::from_millis(1500)));
        assert_eq!(rest, take(json!({"seed": 1})).1);
    }

    #[test]
    fn absent_or_null_allows_everything() {
        for body in [json!({}), json!({"cache": null})] {
            let (control, rest) = take(body);
            assert_eq!(control, Ok(CacheControl::default()));
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn invalid_directives_are_errors_and_still_removed() {
        let (error, rest) = take(json!({"cache": true}));
        assert_eq!(error, Err(InvalidCacheDirectives::NotAnObject("a boolean")));
        assert!(rest.is_empty());
        for (bad, field) in [
            (json!({"no-cache": "yes"}), "no-cache"),
            (json!({"ttl": -1}), "ttl"),
            (json!({"ttl": "600"}), "ttl"),
        ] {
            let (error, _) = take(json!({ "cache": bad }));
            let error = error.expect_err("invalid");
            assert!(
                error.to_string().contains(&format!("cache.{field}")),
                "{error}"
            );
        }
    }

    #[test]
    fn unsupported_directives_bypass_and_max_age_reads_fresh() {
        let (control, _) = take(json!({"cache": {"namespace": "team-a"}}));
        assert_eq!(control, Ok(CacheControl::BYPASS));
        let (control, _) = take(json!({"cache": {"s-maxage": 60}}));
        let control = control.expect("valid");
        assert!(!control.reads() && control.writes());
        let zero = CacheControl {
            ttl: Some(Duration::ZERO),
            ..CacheControl::default()
        };
        assert!(zero.reads() && !zero.writes());
    }

    #[test]
    fn header_directives() {
        assert_eq!(
            CacheControl::from_header("private"),
            CacheControl::default()
        );
        assert!(CacheControl::from_header("no-cache").no_cache);
        assert!(CacheControl::from_header(" NO-STORE ,x").no_store);
        assert!(CacheControl::from_header("max-age=0").no_cache);
        assert!(!CacheControl::from_header("max-age=10").no_cache);
        let ttl = CacheControl {
            ttl: Some(Duration::from_secs(5)),
            ..CacheControl::default()
        };
        assert_eq!(
            ttl.merge(CacheControl::from_header("no-cache")).ttl,
            ttl.ttl
        );
    }
}
