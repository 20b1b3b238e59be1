//! Google's OAuth2 credentials for Vertex AI: a service-account key (JWT bearer grant, RS256,
//! <https://developers.google.com/identity/protocols/oauth2/service-account#httprest>),
//! `gcloud auth application-default login`'s authorized-user refresh token, and the GCE/GKE
//! metadata server
//! (<https://cloud.google.com/compute/docs/access/authenticate-workloads#applications>), found
//! in the order of Application Default Credentials
//! (<https://cloud.google.com/docs/authentication/application-default-credentials>).

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::{AccessToken, CredentialError, TokenSource, exchange};
use crate::http::{HttpClient, parse_uri};

/// The scope Vertex AI's tokens are asked for.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token endpoint, when a credential names none.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The metadata server of GCE, GKE, Cloud Run, ... (`GCE_METADATA_HOST` overrides its host).
pub const METADATA_BASE: &str = "http://metadata.google.internal";
/// The metadata server's path of the default service account's token.
const METADATA_TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
/// How long a signed assertion is valid; Google accepts at most an hour.
const ASSERTION_LIFETIME: u64 = 3600;

/// A Google credential, read and checked once when the configuration is loaded.
#[derive(Clone)]
pub enum GoogleCredential {
    /// A service account's JSON key (`"type": "service_account"`).
    ServiceAccount(ServiceAccountKey),
    /// `gcloud`'s application default credentials (`"type": "authorized_user"`).
    AuthorizedUser(AuthorizedUser),
    /// The metadata server of the machine the gateway runs on, at this base URL.
    MetadataServer(String),
}

/// A service account's key: who signs, with what, for which token endpoint.
#[derive(Clone)]
pub struct ServiceAccountKey {
    client_email: String,
    private_key_id: Option<String>,
    key: EncodingKey,
    token_uri: String,
    project_id: Option<String>,
    /// The SHA-256 of the private key, telling two keys of one account apart.
    key_digest: String,
}

/// A user's refresh token, as `gcloud auth application-default login` writes it.
#[derive(Clone)]
pub struct AuthorizedUser {
    client_id: String,
    client_secret: String,
    refresh_token: String,
    token_uri: String,
    quota_project_id: Option<String>,
}

/// The fields of a credentials file this module reads
/// (<https://google.aip.dev/auth/4112>, <https://google.aip.dev/auth/4113>).
#[derive(Deserialize)]
struct CredentialsFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    client_email: Option<String>,
    #[serde(default)]
    private_key: Option<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    quota_project_id: Option<String>,
}

/// The claims of the JWT bearer grant's assertion.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl GoogleCredential {
    /// Reads a credentials file's JSON: a service-account key or an authorized user. The
    /// private key is checked by signing with it, so a bad key stops the configuration, not a
    /// call.
    pub fn from_json(json: &str) -> Result<Self, CredentialError> {
        let invalid = |what: &str| CredentialError::Invalid(what.to_owned());
        // serde's message could quote a secret; say only where the JSON went wrong.
        let file: CredentialsFile = serde_json::from_str(json).map_err(|e| {
            CredentialError::Invalid(format!(
                "not a Google credentials JSON (line {}, column {}: {})",
                e.line(),
                e.column(),
                match e.classify() {
                    serde_json::error::Category::Data => "a field is missing or of the wrong type",
                    _ => "not valid JSON",
                }
            ))
        })?;
        match file.kind.as_str() {
            "service_account" => {
                let client_email = file
                    .client_email
                    .filter(|e| !e.is_empty())
                    .ok_or_else(|| invalid("the service account key has no `client_email`"))?;
                let pem = file
                    .private_key
                    .ok_or_else(|| invalid("the service account key has no `private_key`"))?;
                let key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| {
                    CredentialError::Invalid(format!(
                        "the `private_key` of service account `{client_email}` is not a PEM RSA key"
                    ))
                })?;
                let account = ServiceAccountKey {
                    key_digest: super::digest(&pem),
                    token_uri: file
                        .token_uri
                        .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
                    client_email,
                    private_key_id: file.private_key_id,
                    key,
                    project_id: file.project_id,
                };
                parse_uri(&account.token_uri).map_err(|_| {
                    invalid("the service account key's `token_uri` is not an http(s) URL")
                })?;
                account.assertion(crate::unix_now()).map_err(|_| {
                    CredentialError::Invalid(format!(
                        "the `private_key` of service account `{}` cannot sign (not an RSA key of at least 2048 bits?)",
                        account.client_email
                    ))
                })?;
                Ok(Self::ServiceAccount(account))
            }
            "authorized_user" => {
                let field = |value: Option<String>, name: &str| {
                    value
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| invalid(&format!("the authorized user has no `{name}`")))
                };
                let user = AuthorizedUser {
                    client_id: field(file.client_id, "client_id")?,
                    client_secret: field(file.client_secret, "client_secret")?,
                    refresh_token: field(file.refresh_token, "refresh_token")?,
                    token_uri: file
                        .token_uri
                        .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
                    quota_project_id: file.quota_project_id,
                };
                parse_uri(&user.token_uri).map_err(|_| {
                    invalid("the authorized user's `token_uri` is not an http(s) URL")
                })?;
                Ok(Self::AuthorizedUser(user))
            }
            other => Err(CredentialError::Invalid(format!(
                "Google credentials of type `{other}` are not supported (service_account and authorized_user are)"
            ))),
        }
    }

    /// Application Default Credentials: the file `GOOGLE_APPLICATION_CREDENTIALS` names, else
    /// `gcloud`'s `application_default_credentials.json` (under `CLOUDSDK_CONFIG`, else
    /// `~/.config/gcloud`), else the metadata server (`GCE_METADATA_HOST` overrides its host).
    pub fn application_default(
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, CredentialError> {
        let read = |path: &str| {
            std::fs::read_to_string(path).map_err(|e| {
                CredentialError::Invalid(format!(
                    "cannot read the Google credentials file `{path}`: {}",
                    e.kind()
                ))
            })
        };
        if let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS").filter(|p| !p.is_empty()) {
            return Self::from_json(&read(&path)?).map_err(|e| in_file(&path, e));
        }
        let gcloud_dir = env("CLOUDSDK_CONFIG")
            .filter(|d| !d.is_empty())
            .or_else(|| env("HOME").map(|home| format!("{home}/.config/gcloud")));
        if let Some(dir) = gcloud_dir {
            let path = format!("{dir}/application_default_credentials.json");
            if std::path::Path::new(&path).is_file() {
                return Self::from_json(&read(&path)?).map_err(|e| in_file(&path, e));
            }
        }
        let base = match env("GCE_METADATA_HOST").filter(|h| !h.is_empty()) {
            Some(host) if host.contains("://") => host,
            Some(host) => format!("http://{host}"),
            None => METADATA_BASE.to_owned(),
        };
        parse_uri(&base).map_err(|_| {
            CredentialError::Invalid(format!("GCE_METADATA_HOST `{base}` is not a host"))
        })?;
        Ok(Self::MetadataServer(base))
    }

    /// The project the credential belongs to, when it says (a service account's
    /// `project_id`, an authorized user's `quota_project_id`).
    pub fn project_id(&self) -> Option<&str> {
        match self {
            Self::ServiceAccount(key) => key.project_id.as_deref(),
            Self::AuthorizedUser(user) => user.quota_project_id.as_deref(),
            Self::MetadataServer(_) => None,
        }
    }

    /// What tells two credentials apart, secrets hashed.
    pub(super) fn identity(&self) -> String {
        match self {
            Self::ServiceAccount(key) => format!(
                "google service account {} {} {}",
                key.client_email, key.token_uri, key.key_digest
            ),
            Self::AuthorizedUser(user) => format!(
                "google authorized user {} {} {}",
                user.client_id,
                user.token_uri,
                super::digest(&format!("{}\n{}", user.client_secret, user.refresh_token))
            ),
            Self::MetadataServer(base) => format!("google metadata server {base}"),
        }
    }

    /// The token source of this credential, sending through `client`.
    pub fn into_source(self, client: HttpClient) -> Result<Arc<dyn TokenSource>, CredentialError> {
        let invalid_uri =
            |what: &str| CredentialError::Invalid(format!("the {what} is not an http(s) URL"));
        Ok(match self {
            Self::ServiceAccount(key) => Arc::new(ServiceAccountSource {
                token_uri: parse_uri(&key.token_uri).map_err(|_| invalid_uri("token_uri"))?,
                key,
                client,
            }),
            Self::AuthorizedUser(user) => Arc::new(AuthorizedUserSource {
                token_uri: parse_uri(&user.token_uri).map_err(|_| invalid_uri("token_uri"))?,
                user,
                client,
            }),
            Self::MetadataServer(base) => {
                let mut headers = HeaderMap::new();
                headers.insert(
                    HeaderName::from_static("metadata-flavor"),
                    HeaderValue::from_static("Google"),
                );
                Arc::new(MetadataSource {
                    uri: parse_uri(&format!(
                        "{}{METADATA_TOKEN_PATH}",
                        base.trim_end_matches('/')
                    ))
                    .map_err(|_| invalid_uri("metadata server"))?,
                    headers,
                    client,
                })
            }
        })
    }
}

fn in_file(path: &str, err: CredentialError) -> CredentialError {
    match err {
        CredentialError::Invalid(reason) => CredentialError::Invalid(format!("`{path}`: {reason}")),
        other => other,
    }
}

impl ServiceAccountKey {
    /// The signed JWT that the token endpoint exchanges for an access token.
    fn assertion(&self, now: u64) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.private_key_id);
        let claims = Claims {
            iss: &self.client_email,
            scope: CLOUD_PLATFORM_SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + ASSERTION_LIFETIME,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

impl fmt::Debug for GoogleCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServiceAccount(key) => f
                .debug_struct("ServiceAccount")
                .field("client_email", &key.client_email)
                .field("token_uri", &key.token_uri)
                .field("private_key", &"[redacted]")
                .finish(),
            Self::AuthorizedUser(user) => f
                .debug_struct("AuthorizedUser")
                .field("client_id", &user.client_id)
                .field("token_uri", &user.token_uri)
                .field("secrets", &"[redacted]")
                .finish(),
            Self::MetadataServer(base) => f.debug_tuple("MetadataServer").field(base).finish(),
        }
    }
}

struct ServiceAccountSource {
    key: ServiceAccountKey,
    token_uri: Uri,
    client: HttpClient,
}

impl fmt::Debug for ServiceAccountSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl TokenSource for ServiceAccountSource {
    fn describe(&self) -> String {
        format!("Google service account `{}`", self.key.client_email)
    }

    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, CredentialError>> {
        Box::pin(async move {
            let credential = self.describe();
            let assertion = self.key.assertion(crate::unix_now()).map_err(|_| {
                CredentialError::Invalid(format!("{credential}: the key cannot sign"))
            })?;
            exchange::post_form(
                &self.client,
                &credential,
                &self.token_uri,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", &assertion),
                ],
            )
            .await
        })
    }
}

struct AuthorizedUserSource {
    user: AuthorizedUser,
    token_uri: Uri,
    client: HttpClient,
}

impl fmt::Debug for AuthorizedUserSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl TokenSource for AuthorizedUserSource {
    fn describe(&self) -> String {
        format!(
            "Google authorized user (gcloud application default credentials, client `{}`)",
            self.user.client_id
        )
    }

    // https://developers.google.com/identity/protocols/oauth2/web-server#offline
    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, CredentialError>> {
        Box::pin(async move {
            exchange::post_form(
                &self.client,
                &self.describe(),
                &self.token_uri,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &self.user.client_id),
                    ("client_secret", &self.user.client_secret),
                    ("refresh_token", &self.user.refresh_token),
                ],
            )
            .await
        })
    }
}

struct MetadataSource {
    uri: Uri,
    headers: HeaderMap,
    client: HttpClient,
}

impl fmt::Debug for MetadataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl TokenSource for MetadataSource {
    fn describe(&self) -> String {
        "the Google metadata server's default service account".to_owned()
    }

    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, CredentialError>> {
        Box::pin(async move {
            exchange::get(&self.client, &self.describe(), &self.uri, &self.headers).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_other_types_and_bad_keys_are_refused_without_echoing_them() {
        let err = GoogleCredential::from_json(r#"{"type":"external_account"}"#).expect_err("no");
        assert!(err.to_string().contains("external_account"), "{err}");
        let err = GoogleCredential::from_json(
            r#"{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"}"#,
        )
        .expect_err("not a key");
        assert!(
            err.to_string().contains("sa@p.iam.gserviceaccount.com"),
            "{err}"
        );
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
        let err = GoogleCredential::from_json(r#"{"type":"service_account","private_key":"x"#)
            .expect_err("truncated");
        assert!(!err.to_string().contains("private_key"), "{err}");
        let err = GoogleCredential::from_json(
            r#"{"type":"authorized_user","client_id":"c","client_secret":"s3cr3t"}"#,
        )
        .expect_err("no refresh token");
        assert!(err.to_string().contains("refresh_token"), "{err}");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }

    #[test]
    fn an_authorized_user_is_read_and_its_secrets_stay_out_of_debug() {
        let user = GoogleCredential::from_json(
            r#"{"type":"authorized_user","client_id":"764086051850.apps.googleusercontent.com","client_secret":"d-FL95Q19q7MQmFpd7hHD0Ty","refresh_token":"1//0g-refresh","quota_project_id":"my-project"}"#,
        )
        .expect("valid");
        assert_eq!(user.project_id(), Some("my-project"));
        let shown = format!("{user:?}");
        assert!(!shown.contains("d-FL95Q19q7MQmFpd7hHD0Ty") && !shown.contains("1//0g"));
    }

    #[test]
    fn application_default_credentials_fall_back_to_the_metadata_server() {
        let env = |name: &str| match name {
            "GCE_METADATA_HOST" => Some("127.0.0.1:8080".to_owned()),
            "HOME" => Some("/nonexistent".to_owned()),
            _ => None,
        };
        let found = GoogleCredential::application_default(&env).expect("metadata");
        assert!(
            matches!(&found, GoogleCredential::MetadataServer(base) if base == "http://127.0.0.1:8080")
        );
        let missing = |name: &str| {
            (name == "GOOGLE_APPLICATION_CREDENTIALS").then(|| "/nonexistent/key.json".to_owned())
        };
        let err = GoogleCredential::application_default(&missing).expect_err("no file");
        assert!(err.to_string().contains("/nonexistent/key.json"), "{err}");
    }
}
