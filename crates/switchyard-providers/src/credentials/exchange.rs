//! One round trip to a token endpoint, shared by every source: a form POST (OAuth2's token
//! endpoint, RFC 6749 section 4) or a GET (metadata servers), and the answer read as an access
//! token, its error as a [`CredentialError`] that names the credential and none of its secrets.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Uri};
use serde::Deserialize;

use super::{AccessToken, CredentialError};
use crate::http::{HttpClient, MAX_ERROR_BODY, UpstreamResponse, truncate};

/// The largest token answer read; tokens are a few kilobytes.
const MAX_TOKEN_ANSWER: usize = 256 * 1024;
/// The lifetime assumed when an answer gives none: short, so a token is never used long past
/// a lifetime the endpoint did not say.
const UNSTATED_LIFETIME: Duration = Duration::from_secs(300);

/// POSTs `form` (`application/x-www-form-urlencoded`) to `uri` and reads the token answered.
pub(super) async fn post_form(
    client: &HttpClient,
    credential: &str,
    uri: &Uri,
    form: &[(&str, &str)],
) -> Result<AccessToken, CredentialError> {
    let body = serde_urlencoded::to_string(form).map_err(|e| CredentialError::InvalidAnswer {
        credential: credential.to_owned(),
        reason: format!("the token request could not be encoded: {e}"),
    })?;
    let response = client
        .post_bytes(
            uri,
            &HeaderMap::new(),
            HeaderValue::from_static("application/x-www-form-urlencoded"),
            Bytes::from(body),
        )
        .await;
    read_token(credential, response).await
}

/// GETs `uri` with `headers` (a metadata server's) and reads the token answered.
pub(super) async fn get(
    client: &HttpClient,
    credential: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<AccessToken, CredentialError> {
    read_token(credential, client.get(uri, headers).await).await
}

/// A token answer. OAuth2 gives `expires_in` in seconds as a number; Azure's managed identity
/// endpoints give it, or `expires_on` (Unix seconds), as strings.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<Seconds>,
    #[serde(default)]
    expires_on: Option<Seconds>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(u64),
    Text(String),
}

impl Seconds {
    fn get(&self) -> Option<u64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Text(text) => text.trim().parse().ok(),
        }
    }
}

async fn read_token(
    credential: &str,
    response: Result<UpstreamResponse, crate::ProviderError>,
) -> Result<AccessToken, CredentialError> {
    let response = response.map_err(|err| CredentialError::Unreachable {
        credential: credential.to_owned(),
        reason: err.message,
    })?;
    let status = response.status();
    if status.is_server_error() {
        return Err(CredentialError::Failed {
            credential: credential.to_owned(),
            status: status.as_u16(),
        });
    }
    if !status.is_success() {
        let body = response.bytes_capped(MAX_ERROR_BODY).await;
        return Err(CredentialError::Refused {
            credential: credential.to_owned(),
            status: status.as_u16(),
            detail: error_detail(&body),
        });
    }
    let invalid = |reason: String| CredentialError::InvalidAnswer {
        credential: credential.to_owned(),
        reason,
    };
    let body = response
        .bytes(MAX_TOKEN_ANSWER)
        .await
        .map_err(|e| invalid(e.message))?;
    // serde's message could quote the token; say only where the answer went wrong.
    let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
        invalid(format!(
            "the token endpoint's answer is not a token answer (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let lifetime = match (&answer.expires_in, &answer.expires_on) {
        (Some(seconds), _) => seconds.get().map(Duration::from_secs),
        (None, Some(on)) => on
            .get()
            .map(|on| Duration::from_secs(on.saturating_sub(crate::unix_now()))),
        (None, None) => None,
    }
    .unwrap_or(UNSTATED_LIFETIME);
    if answer.access_token.is_empty() {
        return Err(invalid(
            "the token endpoint answered an empty token".to_owned(),
        ));
    }
    AccessToken::new(&answer.access_token, lifetime).map_err(|_| {
        invalid("the access token holds characters not allowed in an HTTP header".to_owned())
    })
}

/// OAuth2's `error` and `error_description` (RFC 6749 section 5.2), or the start of a body
/// that has none.
fn error_detail(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct OAuthError {
        error: serde_json::Value,
        #[serde(default)]
        error_description: Option<String>,
    }
    if let Ok(error) = serde_json::from_slice::<OAuthError>(body) {
        let code = match &error.error {
            serde_json::Value::String(code) => code.clone(),
            // Google's APIs nest `{"error": {"message": ...}}`.
            other => other
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("error")
                .to_owned(),
        };
        return match error.error_description {
            Some(description) => format!("{code}: {}", truncate(&description, 300)),
            None => code,
        };
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "no detail".to_owned()
    } else {
        truncate(text, 300).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Error answers: https://www.rfc-editor.org/rfc/rfc6749#section-5.2.
    #[test]
    fn oauth_errors_are_summarised() {
        assert_eq!(
            error_detail(
                br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
            ),
            "invalid_grant: Invalid JWT Signature."
        );
        assert_eq!(
            error_detail(br#"{"error":"invalid_client"}"#),
            "invalid_client"
        );
        assert_eq!(error_detail(b"  Not found \n"), "Not found");
        assert_eq!(error_detail(b""), "no detail");
    }
}
