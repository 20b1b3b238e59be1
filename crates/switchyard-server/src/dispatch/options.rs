//! The gateway's own fields in a request body, taken out (or checked) before the request goes
//! upstream: routing (`models`, `fallbacks`, `num_retries`), LiteLLM's `tags` and `metadata`,
//! the request's own `timeout`, cache directives, and the client-chosen upstreams and
//! credentials that are refused.

use std::collections::HashMap;
use std::time::Duration;

use http::HeaderMap;
use serde_json::Value;
use switchyard_layers::cache::{CacheControl, take_cache_directives};
use switchyard_router::CallOptions;
use switchyard_wire::RawExtra;

use crate::error::ApiError;

/// Body fields through which LiteLLM lets a client name its own upstream or credentials. The
/// gateway never sends a call anywhere but a configured deployment, with that deployment's
/// credentials: a request that tries is refused, so the gateway cannot be turned into a proxy
/// to an address of the caller's choosing (SSRF) or a relay for someone else's key.
pub(crate) const CLIENT_CREDENTIAL_FIELDS: &[&str] = &[
    "api_base",
    "base_url",
    "api_key",
    "api_version",
    "azure_ad_token",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_region_name",
    "aws_profile_name",
    "aws_role_name",
    "aws_session_name",
    "aws_bedrock_runtime_endpoint",
    "vertex_credentials",
    "vertex_project",
    "vertex_location",
    "tenant_id",
    "client_id",
    "client_secret",
    "azure_scope",
];

pub(crate) fn refuse_client_credentials(extra: &RawExtra) -> Result<(), ApiError> {
    match CLIENT_CREDENTIAL_FIELDS
        .iter()
        .find(|field| extra.contains_key(**field))
    {
        Some(field) => Err(ApiError::invalid_request(format!(
            "`{field}` is not accepted: the gateway calls only its configured deployments, \
             with their own credentials"
        ))),
        None => Ok(()),
    }
}

/// Request fields LiteLLM's clients send that ask for something this gateway does not do; a
/// request carrying one is refused (400) rather than served without it.
const UNSUPPORTED_FIELDS: &[(&str, &str)] = &[
    ("guardrails", "this gateway runs no guardrails"),
    (
        "mock_response",
        "this gateway does not answer with a client-given mock",
    ),
    (
        "mock_testing_fallbacks",
        "this gateway does not simulate failures",
    ),
    (
        "mock_testing_context_window_fallbacks",
        "this gateway does not simulate failures",
    ),
    (
        "mock_testing_content_policy_fallbacks",
        "this gateway does not simulate failures",
    ),
    (
        "mock_testing_rate_limit_error",
        "this gateway does not simulate failures",
    ),
    ("mock_timeout", "this gateway does not simulate failures"),
    ("prompt_id", "this gateway keeps no prompt templates"),
    ("prompt_variables", "this gateway keeps no prompt templates"),
    (
        "input_cost_per_token",
        "prices are the gateway's, not the caller's",
    ),
    (
        "output_cost_per_token",
        "prices are the gateway's, not the caller's",
    ),
];

/// Request fields LiteLLM reads for itself and never sends upstream, which carry nothing this
/// gateway acts on: taken out of the body, so that an upstream never refuses the call for them.
const GATEWAY_ONLY_FIELDS: &[&str] = &[
    "litellm_session_id",
    "litellm_trace_id",
    "litellm_call_id",
    "litellm_metadata",
    "no-log",
    "max_retries",
    "proxy_server_request",
    "secret_fields",
];

/// Request fields the gateway reads for routing, caching and deadlines on every ingress.
const ROUTING_FIELDS: &[&str] = &[
    "models",
    "fallbacks",
    "num_retries",
    "tags",
    "timeout",
    "request_timeout",
    "caching",
    "ttl",
    "disable_fallbacks",
];

/// Whether `name` is a request field of the gateway's own (LiteLLM's routing, caching and
/// bookkeeping fields, and those it refuses), which dispatch reads or refuses whatever API the
/// request came in, rather than a field of the API itself.
pub(crate) fn is_gateway_field(name: &str) -> bool {
    ROUTING_FIELDS.contains(&name)
        || GATEWAY_ONLY_FIELDS.contains(&name)
        || CLIENT_CREDENTIAL_FIELDS.contains(&name)
        || UNSUPPORTED_FIELDS.iter().any(|(field, _)| *field == name)
}

/// Takes LiteLLM's own request fields out of the body before it goes upstream: `caching`
/// (`false` keeps the cache out, `true` asks for it) and `ttl` join the cache directives, `disable_fallbacks` keeps the call in its group, `metadata`
/// leaves unless the call asks OpenAI to `store` it (the only use OpenAI has for it), fields
/// LiteLLM keeps to itself leave, and fields asking for what this gateway does not do are a 400.
pub(crate) fn take_litellm_fields(
    extra: &mut RawExtra,
    options: &mut CallOptions,
    cache: &mut CacheControl,
) -> Result<(), ApiError> {
    if let Some((field, why)) = UNSUPPORTED_FIELDS
        .iter()
        .find(|(field, _)| extra.contains_key(*field))
    {
        return Err(ApiError::invalid_request(format!(
            "`{field}` is not supported: {why}"
        )));
    }
    for field in GATEWAY_ONLY_FIELDS {
        extra.remove(field);
    }
    let flag = |value: Value, field: &str| {
        value.as_bool().ok_or_else(|| {
            ApiError::invalid_request(format!("`{field}` must be true or false, found {value}"))
        })
    };
    match extra.take_value("caching") {
        None | Some(Value::Null) => {}
        Some(value) => {
            if flag(value, "caching")? {
                cache.use_cache = true;
            } else {
                *cache = cache.merge(CacheControl::BYPASS);
            }
        }
    }
    match extra.take_value("ttl") {
        None | Some(Value::Null) => {}
        Some(value) => {
            let secs = value
                .as_f64()
                .filter(|secs| secs.is_finite() && *secs >= 0.0 && *secs <= 31_536_000.0)
                .ok_or_else(|| {
                    ApiError::invalid_request("`ttl` must be a number of seconds from 0")
                })?;
            cache.ttl = Some(Duration::from_secs_f64(secs));
        }
    }
    match extra.take_value("disable_fallbacks") {
        None | Some(Value::Null) => {}
        Some(value) => options.no_fallbacks = flag(value, "disable_fallbacks")?,
    }
    let stored = extra.value("store").and_then(|v| v.as_bool()) == Some(true);
    if !stored {
        extra.remove("metadata");
    }
    Ok(())
}

/// The caller's cache directives: LiteLLM's `cache` body object (taken out of the body, so it
/// never reaches an upstream; 400 when malformed) merged with the `Cache-Control` header.
pub(crate) fn cache_control(
    extra: &mut RawExtra,
    headers: &HeaderMap,
) -> Result<CacheControl, ApiError> {
    let body = take_cache_directives(extra)
        .map_err(|err| ApiError::invalid_request(format!("`cache`: {err}")))?;
    let header = headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(CacheControl::from_header)
        .fold(CacheControl::default(), CacheControl::merge);
    Ok(body.merge(header))
}

/// Takes the request's own deadline out of the body: LiteLLM's `timeout` or `request_timeout`,
/// in seconds. It can only shorten the configured one.
pub(crate) fn take_timeout(extra: &mut RawExtra) -> Result<Option<Duration>, ApiError> {
    let mut timeout = None;
    for key in ["timeout", "request_timeout"] {
        match extra.take_value(key) {
            None | Some(Value::Null) => {}
            Some(value) => {
                let secs = value
                    .as_f64()
                    .filter(|secs| secs.is_finite() && *secs > 0.0 && *secs <= 86_400.0)
                    .ok_or_else(|| {
                        ApiError::invalid_request(format!(
                            "`{key}` must be a number of seconds above 0, at most 86400"
                        ))
                    })?;
                timeout = Some(Duration::from_secs_f64(secs));
            }
        }
    }
    Ok(timeout)
}

/// The scalar entries of the request's `metadata` object as text; tags listed in
/// `metadata.tags` (where LiteLLM clients may put them) join `tags`. The object stays in the
/// body: OpenAI reads `metadata` too.
pub(crate) fn metadata_of(extra: &RawExtra, tags: &mut Vec<String>) -> HashMap<String, String> {
    let Some(Value::Object(metadata)) = extra.value("metadata") else {
        return HashMap::new();
    };
    let mut out = HashMap::with_capacity(metadata.len());
    for (key, value) in metadata {
        match value {
            Value::String(text) => {
                out.insert(key.clone(), text.clone());
            }
            Value::Number(_) | Value::Bool(_) => {
                out.insert(key.clone(), value.to_string());
            }
            Value::Array(items) if key == "tags" => {
                tags.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    out
}

/// Takes LiteLLM's `tags` out of the body: they are for the gateway's rules, and OpenAI refuses
/// fields it does not know.
pub(crate) fn take_tags(extra: &mut RawExtra) -> Result<Vec<String>, ApiError> {
    let invalid = |found: &Value| {
        ApiError::invalid_request(format!("`tags` must be a list of strings, found {found}"))
    };
    match extra.take_value("tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(tag) => Ok(tag),
                other => Err(invalid(&other)),
            })
            .collect(),
        Some(other) => Err(invalid(&other)),
    }
}

/// Takes the gateway's own routing fields out of the body, so they never reach an upstream:
/// `models` (OpenRouter's fallback list), `fallbacks` (LiteLLM's per-request list of group
/// names) and `num_retries`.
pub(crate) fn routing_options(extra: &mut RawExtra) -> Result<CallOptions, ApiError> {
    let mut options = CallOptions::default();
    for key in ["models", "fallbacks"] {
        match extra.take_value(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(names)) => {
                for name in names {
                    match name {
                        Value::String(name) => options.models.push(name),
                        other => {
                            return Err(ApiError::invalid_request(format!(
                                "`{key}` must be a list of model names, found {other}"
                            )));
                        }
                    }
                }
            }
            Some(other) => {
                return Err(ApiError::invalid_request(format!(
                    "`{key}` must be a list of model names, found {other}"
                )));
            }
        }
    }
    match extra.take_value("num_retries") {
        None | Some(Value::Null) => {}
        Some(value) => {
            let retries = value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n <= 10)
                .ok_or_else(|| {
                    ApiError::invalid_request("`num_retries` must be a whole number from 0 to 10")
                })?;
            options.num_retries = Some(retries);
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn extra(value: Value) -> RawExtra {
        serde_json::from_value(value).expect("an object")
    }

    #[test]
    fn routing_fields_are_taken_out_of_the_body() {
        let mut body =
            extra(json!({"models": ["b", "c"], "fallbacks": ["d"], "num_retries": 1, "seed": 3}));
        let options = routing_options(&mut body).expect("valid");
        assert_eq!(options.models, ["b", "c", "d"]);
        assert_eq!(options.num_retries, Some(1));
        assert_eq!(
            body,
            extra(json!({"seed": 3})),
            "only upstream fields remain"
        );
    }

    #[test]
    fn tags_leave_the_body_and_metadata_stays() {
        let mut body = extra(
            json!({"tags": ["a", "b"], "metadata": {"task": "code", "n": 2,
            "urgent": true, "tags": ["c"], "nested": {"x": 1}}}),
        );
        let mut tags = take_tags(&mut body).expect("valid");
        assert_eq!(tags, ["a", "b"]);
        assert!(!body.contains_key("tags"));
        let metadata = metadata_of(&body, &mut tags);
        assert_eq!(tags, ["a", "b", "c"]);
        assert_eq!(metadata.len(), 3, "scalars only: {metadata:?}");
        assert_eq!(metadata["task"], "code");
        assert_eq!(metadata["n"], "2");
        assert_eq!(metadata["urgent"], "true");
        assert!(body.contains_key("metadata"), "OpenAI reads metadata too");
        for bad in [json!({"tags": "a"}), json!({"tags": [1]})] {
            let err = take_tags(&mut extra(bad.clone())).expect_err("invalid");
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn client_side_upstreams_and_credentials_are_refused() {
        for field in CLIENT_CREDENTIAL_FIELDS {
            let mut body = extra(json!({}));
            let upstream =
                switchyard_wire::RawJson::from_value("http://169.254.169.254/").expect("a string");
            body.insert(*field, upstream);
            let err = refuse_client_credentials(&body).expect_err(field);
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
            assert!(err.message.contains(field), "{}", err.message);
            assert!(!err.message.contains("169.254"), "the value is not echoed");
        }
        assert!(refuse_client_credentials(&extra(json!({"seed": 1}))).is_ok());
    }

    #[test]
    fn litellm_fields_never_reach_the_upstream() {
        let mut body = extra(json!({
            "caching": false, "ttl": 60, "disable_fallbacks": true,
            "metadata": {"generation_name": "x"}, "litellm_session_id": "s", "no-log": true,
            "seed": 3
        }));
        let mut options = CallOptions::default();
        let mut cache = CacheControl::default();
        take_litellm_fields(&mut body, &mut options, &mut cache).expect("valid");
        assert_eq!(
            body,
            extra(json!({"seed": 3})),
            "only upstream fields remain"
        );
        assert!(options.no_fallbacks);
        assert!(
            !cache.reads() && !cache.writes(),
            "`caching: false` bypasses the cache"
        );
        assert_eq!(cache.ttl, Some(Duration::from_secs(60)));

        // OpenAI reads `metadata` for stored completions.
        let mut body = extra(json!({"store": true, "metadata": {"a": "b"}}));
        take_litellm_fields(&mut body, &mut options, &mut CacheControl::default()).expect("valid");
        assert!(body.contains_key("metadata"));
    }

    #[test]
    fn litellm_fields_asking_for_what_the_gateway_lacks_are_refused() {
        for (field, value) in [
            ("guardrails", json!(["pii"])),
            ("mock_testing_fallbacks", json!(true)),
            ("input_cost_per_token", json!(0.0)),
        ] {
            let mut body = extra(json!({ field: value }));
            let err = take_litellm_fields(
                &mut body,
                &mut CallOptions::default(),
                &mut CacheControl::default(),
            )
            .expect_err(field);
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST);
            assert!(err.message.contains(field), "{}", err.message);
        }
        let mut body = extra(json!({"caching": "no"}));
        assert!(
            take_litellm_fields(
                &mut body,
                &mut CallOptions::default(),
                &mut CacheControl::default()
            )
            .is_err()
        );
    }

    #[test]
    fn malformed_routing_fields_are_bad_requests() {
        for bad in [
            json!({"models": "b"}),
            json!({"models": [1]}),
            json!({"num_retries": -1}),
            json!({"num_retries": 99}),
        ] {
            let err = routing_options(&mut extra(bad.clone())).expect_err("invalid");
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
