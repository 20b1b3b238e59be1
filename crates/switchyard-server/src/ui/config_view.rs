//! `GET /ui/api/config`: the configuration file the gateway serves (or its embedded default)
//! as JSON with its secrets redacted, and how the last reload ended. Redaction is by name, as
//! the settings' own `Debug` redacts: a value under a key with a word such as `key`, `secret`,
//! `password`, `token` or `credentials` in its name is shown as `[redacted]` unless it is an
//! `os.environ/NAME` reference; a URL's password is redacted wherever it appears.

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::live::Live;
use crate::timestamp::rfc3339_millis;

/// What a redacted value is shown as.
const REDACTED: &str = "[redacted]";

/// Words of a key's name (split at `_`, `-` and `.`) that mark its value as a secret.
const SECRET_WORDS: [&str; 9] = [
    "key",
    "secret",
    "password",
    "passwd",
    "token",
    "credential",
    "credentials",
    "dsn",
    "auth",
];

/// `GET /ui/api/config`: `{"source", "config", "reloads", "reload_failures", "last_reload"}`.
pub async fn show(State(live): State<Live>) -> Result<Json<Value>, ApiError> {
    let (text, _) = live
        .config_text()
        .await
        .map_err(|err| ApiError::unavailable(format!("the configuration cannot be read: {err}")))?;
    let config = match crate::config::yaml::load(&text) {
        Ok(document) => redact(document.value),
        Err(err) => {
            json!({"unreadable": format!("line {}, column {}: {}", err.line, err.column, err.reason)})
        }
    };
    let last_reload = live.last_reload().map(|outcome| {
        json!({
            "at": rfc3339_millis(outcome.at_ms),
            "ok": outcome.error.is_none(),
            "error": outcome.error,
        })
    });
    Ok(Json(json!({
        "source": live
            .source()
            .map_or_else(|| "(embedded default)".to_owned(), |p| p.display().to_string()),
        "config": config,
        "reloads": live.reloads(),
        "reload_failures": live.reload_failures(),
        "last_reload": last_reload,
    })))
}

/// `value` with every secret replaced by [`REDACTED`].
fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(name, value)| {
                    let value = if names_secret(&name) && !is_reference(&value) {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact(value)
                    };
                    (name, value)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        Value::String(text) => Value::String(without_url_password(&text)),
        other => other,
    }
}

fn names_secret(name: &str) -> bool {
    name.to_ascii_lowercase()
        .split(['_', '-', '.'])
        .any(|word| SECRET_WORDS.contains(&word))
        || name.eq_ignore_ascii_case("database_url")
}

/// An `os.environ/NAME` reference names where the secret is, not the secret.
fn is_reference(value: &Value) -> bool {
    value.as_str().is_some_and(|v| v.starts_with("os.environ/"))
}

/// `scheme://user:password@host...` with the password redacted; any other text unchanged.
fn without_url_password(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return text.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:{REDACTED}@{}", &rest[at + 1..]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_by_name_and_in_urls() {
        let config = json!({
            "model_list": [{"model_name": "gpt", "litellm_params": {
                "model": "openai/gpt-4o", "api_key": "sk-live", "max_tokens": 5,
                "aws_secret_access_key": "abc", "api_base": "https://u:pw@host/v1",
                "vertex_credentials": "/path", "other_key": "os.environ/OTHER"}}],
            "general_settings": {"master_key": "sk-master", "database_url": "postgres://a:b@db/x"},
            "litellm_settings": {"cache_params": {"password": "p", "host": "redis"}},
        });
        let shown = redact(config).to_string();
        for secret in [
            "sk-live",
            "sk-master",
            "\"abc\"",
            ":pw@",
            "a:b@",
            "\"p\"",
            "/path",
        ] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        for kept in [
            "openai/gpt-4o",
            "\"max_tokens\":5",
            "os.environ/OTHER",
            "https://u:[redacted]@host/v1",
            "\"host\":\"redis\"",
        ] {
            assert!(shown.contains(kept), "{kept} not in {shown}");
        }
    }
}
