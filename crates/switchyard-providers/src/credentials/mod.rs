//! Bearer tokens that expire: OAuth2 access tokens a deployment's calls carry in
//! `Authorization: Bearer`, fetched from a [`TokenSource`] and kept by a [`TokenCache`] that
//! refreshes them before they expire.
//!
//! Sources: Google's service-account keys (the JWT bearer grant), `gcloud`'s authorized-user
//! refresh tokens and the GCE/GKE metadata server, together Google's Application Default
//! Credentials ([`google`]); Microsoft Entra ID's client credentials and Azure's managed
//! identities ([`entra`]). Tokens never appear in `Debug` output, logs or errors: an error names
//! the credential (a service account's e-mail, a tenant and client id), never its secret.
//!
//! ```
//! use std::sync::Arc;
//! use switchyard_providers::credentials::{AccessToken, CredentialError, TokenCache, TokenSource};
//!
//! #[derive(Debug)]
//! struct Fixed;
//! impl TokenSource for Fixed {
//!     fn describe(&self) -> String {
//!         "a fixed token".to_owned()
//!     }
//!     fn fetch(&self) -> futures_util::future::BoxFuture<'_, Result<AccessToken, CredentialError>> {
//!         Box::pin(async { AccessToken::new("t0k3n", std::time::Duration::from_secs(3600)) })
//!     }
//! }
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let cache = TokenCache::new(Arc::new(Fixed));
//! let token = cache.token().await.expect("fetched");
//! assert!(format!("{token:?}").contains("redacted"));
//! # });
//! ```

mod cache;
pub mod entra;
mod exchange;
pub mod google;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue};
use tokio::time::Instant;

use crate::{ErrorClass, ProviderError};

pub use cache::TokenCache;

use crate::http::HttpClient;

/// A credential that yields bearer tokens, as a deployment's settings name it: plain data,
/// checked when the configuration is loaded; the adapter turns it into a [`TokenCache`].
#[derive(Clone, Debug)]
pub enum BearerCredential {
    /// Google: a service-account key, an authorized user or the metadata server.
    Google(google::GoogleCredential),
    /// Microsoft Entra ID: client credentials or a managed identity.
    Entra(entra::EntraCredential),
}

impl BearerCredential {
    /// The cache of this credential's tokens, fetched through `client`. Deployments with the
    /// same credential share one cache, so one token serves them all; it outlives a reload
    /// while the old deployments still hold it.
    pub fn token_cache(self, client: &HttpClient) -> Result<Arc<TokenCache>, ProviderError> {
        let identity = self.identity();
        let mut caches = SHARED_CACHES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        caches.retain(|_, cache| cache.strong_count() > 0);
        if let Some(cache) = caches.get(&identity).and_then(std::sync::Weak::upgrade) {
            return Ok(cache);
        }
        let source = match self {
            Self::Google(credential) => credential.into_source(client.clone()),
            Self::Entra(credential) => credential.into_source(client.clone()),
        }?;
        let cache = Arc::new(TokenCache::new(source));
        caches.insert(identity, Arc::downgrade(&cache));
        Ok(cache)
    }

    /// What tells two credentials apart, with every secret hashed.
    fn identity(&self) -> String {
        match self {
            Self::Google(credential) => credential.identity(),
            Self::Entra(credential) => credential.identity(),
        }
    }
}

/// The token caches of the credentials deployments use, by [`BearerCredential::identity`]:
/// read and written only while deployments are built, never on a call.
static SHARED_CACHES: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<String, std::sync::Weak<TokenCache>>>,
> = std::sync::LazyLock::new(Default::default);

/// The SHA-256 of a secret, hex-encoded: tells secrets apart without keeping them.
fn digest(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where a deployment's bearer tokens come from: fetches one access token and says how long it
/// lives. The [`TokenCache`] decides when to call it.
pub trait TokenSource: Send + Sync + fmt::Debug + 'static {
    /// The credential, for errors and logs: its kind and a public name (a service account's
    /// e-mail, a client id), never a secret.
    fn describe(&self) -> String;

    /// Fetches a new access token.
    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, CredentialError>>;
}

/// An access token and when to replace it. Its `Debug` shows no token.
#[derive(Clone)]
pub struct AccessToken {
    /// `Bearer <token>`, marked sensitive so that no header dump shows it.
    header: HeaderValue,
    /// When a fresh token should be fetched: before expiry, so that no call carries a token
    /// that expires on its way.
    refresh_at: Instant,
    /// When the token stops being accepted.
    expires_at: Instant,
}

/// The longest margin kept between a refresh and the token's expiry.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl AccessToken {
    /// A token valid for `lifetime` from now. It is refreshed once a quarter of its lifetime,
    /// at most five minutes, is left.
    pub fn new(token: &str, lifetime: Duration) -> Result<Self, CredentialError> {
        let mut header = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
            CredentialError::InvalidAnswer {
                credential: String::new(),
                reason: "the access token holds characters not allowed in an HTTP header"
                    .to_owned(),
            }
        })?;
        header.set_sensitive(true);
        let now = Instant::now();
        let margin = REFRESH_MARGIN.min(lifetime / 4);
        Ok(Self {
            header,
            refresh_at: now + lifetime.saturating_sub(margin),
            expires_at: now + lifetime,
        })
    }

    /// The `Authorization` header value, `Bearer <token>`.
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// Whether the token is due to be replaced.
    pub fn needs_refresh(&self, now: Instant) -> bool {
        now >= self.refresh_at
    }

    /// Whether the token is no longer accepted.
    pub fn is_expired(&self, now: Instant) -> bool {
        now >= self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("refresh_at", &self.refresh_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why no access token could be had. Messages name the credential, never a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialError {
    /// The credential cannot be used as given (a key file that is not one, a missing field).
    #[error("{0}")]
    Invalid(String),
    /// The token endpoint could not be reached.
    #[error(
        "could not get an access token from {credential}: the token endpoint could not be reached ({reason})"
    )]
    Unreachable {
        /// The credential, as [`TokenSource::describe`] names it.
        credential: String,
        /// What went wrong, without URLs.
        reason: String,
    },
    /// The token endpoint refused the credential (HTTP 4xx).
    #[error(
        "could not get an access token from {credential}: the token endpoint refused it (HTTP {status}): {detail}"
    )]
    Refused {
        /// The credential.
        credential: String,
        /// The endpoint's status.
        status: u16,
        /// The endpoint's `error` and `error_description`, or the start of its answer.
        detail: String,
    },
    /// The token endpoint failed (HTTP 5xx).
    #[error(
        "could not get an access token from {credential}: the token endpoint failed (HTTP {status})"
    )]
    Failed {
        /// The credential.
        credential: String,
        /// The endpoint's status.
        status: u16,
    },
    /// The token endpoint answered something that is not a token.
    #[error("could not get an access token from {credential}: {reason}")]
    InvalidAnswer {
        /// The credential.
        credential: String,
        /// What was wrong with the answer.
        reason: String,
    },
}

impl From<CredentialError> for ProviderError {
    fn from(err: CredentialError) -> Self {
        let class = match &err {
            CredentialError::Invalid(_) | CredentialError::Refused { .. } => {
                ErrorClass::Authentication
            }
            CredentialError::Unreachable { .. } => ErrorClass::Unreachable,
            CredentialError::Failed { .. } => ErrorClass::UpstreamServer,
            CredentialError::InvalidAnswer { .. } => ErrorClass::InvalidResponse,
        };
        ProviderError::new(class, err.to_string())
    }
}

/// `headers` with the deployment's bearer token added when it has a token source; borrowed
/// as they are otherwise, so deployments with a static key pay nothing.
pub(crate) async fn authorize<'a>(
    headers: &'a HeaderMap,
    tokens: Option<&TokenCache>,
) -> Result<Cow<'a, HeaderMap>, ProviderError> {
    let Some(tokens) = tokens else {
        return Ok(Cow::Borrowed(headers));
    };
    let token = tokens.token().await?;
    let mut headers = headers.clone();
    headers.insert(http::header::AUTHORIZATION, token.header().clone());
    Ok(Cow::Owned(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_refreshed_before_it_expires_and_never_shown() {
        let token = AccessToken::new("ya29.secret", Duration::from_secs(3600)).expect("valid");
        let now = Instant::now();
        assert!(!token.needs_refresh(now));
        assert!(token.needs_refresh(now + Duration::from_secs(3300)));
        assert!(!token.is_expired(now + Duration::from_secs(3300)));
        assert!(token.is_expired(now + Duration::from_secs(3600)));
        assert!(token.header().is_sensitive());
        assert_eq!(token.header(), "Bearer ya29.secret");
        assert!(!format!("{token:?}").contains("ya29"));
        // A short-lived token keeps a quarter of its life as margin.
        let short = AccessToken::new("t", Duration::from_secs(60)).expect("valid");
        assert!(!short.needs_refresh(now + Duration::from_secs(44)));
        assert!(short.needs_refresh(now + Duration::from_secs(46)));
        assert!(AccessToken::new("bad\ntoken", Duration::from_secs(60)).is_err());
    }

    #[test]
    fn credential_errors_keep_their_class() {
        let refused: ProviderError = CredentialError::Refused {
            credential: "Google service account `sa@p.iam.gserviceaccount.com`".to_owned(),
            status: 400,
            detail: "invalid_grant".to_owned(),
        }
        .into();
        assert_eq!(refused.class, ErrorClass::Authentication);
        assert!(refused.message.contains("sa@p.iam.gserviceaccount.com"));
        let failed: ProviderError = CredentialError::Failed {
            credential: "x".to_owned(),
            status: 503,
        }
        .into();
        assert_eq!(failed.class, ErrorClass::UpstreamServer);
        assert!(failed.class.is_retryable());
    }
}
