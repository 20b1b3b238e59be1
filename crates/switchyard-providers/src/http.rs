//! The pooled HTTP client every adapter shares, and helpers to read upstream answers safely.

use std::time::Duration;

use crate::{ErrorClass, ProviderError};

/// Largest error body read from an upstream; the rest is ignored.
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;

/// Settings of the shared upstream client.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Idle connections kept per upstream host.
    pub max_idle_per_host: usize,
    /// How long an idle connection is kept.
    pub idle_timeout: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            max_idle_per_host: 256,
            idle_timeout: Duration::from_secs(90),
        }
    }
}

/// Builds the pooled client (HTTP/1.1 and HTTP/2 over rustls) that adapters share.
pub fn build_client(settings: &ClientSettings) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .pool_max_idle_per_host(settings.max_idle_per_host)
        .pool_idle_timeout(settings.idle_timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProviderError::new(ErrorClass::Unreachable, format!("HTTP client: {e}")))
}

/// Turns a transport error into a classified error whose message holds no URL (URLs can carry
/// keys, as Gemini's do).
pub fn transport_error(err: reqwest::Error) -> ProviderError {
    let class = if err.is_timeout() {
        ErrorClass::Timeout
    } else if err.is_connect() {
        ErrorClass::Unreachable
    } else if err.is_decode() || err.is_body() {
        ErrorClass::InvalidResponse
    } else {
        ErrorClass::Unreachable
    };
    let what = match class {
        ErrorClass::Timeout => "upstream timed out",
        ErrorClass::InvalidResponse => "upstream sent an unreadable body",
        _ if err.is_connect() => "could not connect to upstream",
        _ => "upstream request failed",
    };
    let detail = source_chain(&err.without_url());
    ProviderError::new(class, format!("{what}: {detail}"))
}

fn source_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        out.push_str(": ");
        out.push_str(&inner.to_string());
        source = inner.source();
    }
    out
}

/// Reads an upstream error answer (status >= 400) into a classified error, taking the message
/// and code from an OpenAI-shaped error body when there is one.
pub async fn error_from_response(response: reqwest::Response) -> ProviderError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = read_capped(response, MAX_ERROR_BODY).await;
    let (code, message) = parse_error_body(&body);
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        if text.is_empty() {
            format!("upstream answered HTTP {status}")
        } else {
            format!("upstream answered HTTP {status}: {}", truncate(text, 300))
        }
    });
    ProviderError::from_status(status, code.as_deref(), message, retry_after)
}

pub(crate) async fn read_capped(mut response: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= cap {
            break;
        }
    }
    body
}

/// Extracts `(code, message)` from `{"error": {"message", "code"|"type"}}` or `{"message"}`.
fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let error = value.get("error").unwrap_or(&value);
    if let Some(text) = error.as_str() {
        return (None, Some(text.to_owned()));
    }
    let message = error
        .get("message")
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    let code = ["code", "type"]
        .iter()
        .find_map(|k| error.get(*k).and_then(|c| c.as_str()))
        .map(str::to_owned);
    (code, message)
}

pub(crate) fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// The wait an upstream asks for: `retry-after-ms`, or `retry-after` in seconds.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let read = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    if let Some(ms) = read("retry-after-ms").filter(|v| v.is_finite() && *v >= 0.0) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    read("retry-after")
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_several_shapes_parse() {
        let (code, message) = parse_error_body(
            br#"{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(code.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(message.as_deref(), Some("Rate limit"));
        let (_, message) = parse_error_body(br#"{"error":"model not loaded"}"#);
        assert_eq!(message.as_deref(), Some("model not loaded"));
        assert_eq!(parse_error_body(b"<html>bad gateway</html>"), (None, None));
    }

    #[test]
    fn retry_after_prefers_milliseconds() {
        let mut headers = http::HeaderMap::new();
        headers.insert("retry-after", http::HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", http::HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("retry-after-ms", http::HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
    }
}
