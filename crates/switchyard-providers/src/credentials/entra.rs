//! Microsoft Entra ID tokens for Azure OpenAI: a service principal's client credentials
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>)
//! and managed identities, through the instance metadata service on VMs and AKS
//! (<https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http>)
//! or the `IDENTITY_ENDPOINT` of App Service, Functions and Container Apps
//! (<https://learn.microsoft.com/en-us/azure/app-service/overview-managed-identity#rest-endpoint-reference>).

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use super::{AccessToken, CredentialError, TokenSource, exchange};
use crate::http::{HttpClient, parse_uri};

/// The scope of Azure OpenAI's (and Azure AI services') tokens, LiteLLM's default `azure_scope`.
pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";
/// Entra ID's public-cloud authority (`AZURE_AUTHORITY_HOST` overrides it).
pub const AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The instance metadata service (`AZURE_POD_IDENTITY_AUTHORITY_HOST` overrides it).
pub const IMDS_BASE: &str = "http://169.254.169.254";

/// An Entra ID credential, checked once when the configuration is loaded.
#[derive(Clone)]
pub enum EntraCredential {
    /// A service principal's client secret.
    ClientSecret {
        /// The authority host, such as [`AUTHORITY_HOST`].
        authority: String,
        /// The directory (tenant) id.
        tenant_id: String,
        /// The application (client) id.
        client_id: String,
        /// The client secret.
        client_secret: String,
        /// The scope asked for, such as [`COGNITIVE_SERVICES_SCOPE`].
        scope: String,
    },
    /// The managed identity of the machine or app the gateway runs on.
    ManagedIdentity {
        /// Where its tokens come from.
        endpoint: ManagedIdentityEndpoint,
        /// A user-assigned identity's client id; the system-assigned one without.
        client_id: Option<String>,
        /// The resource asked for: the scope without `/.default`.
        resource: String,
    },
}

/// Where a managed identity's tokens come from.
#[derive(Clone)]
pub enum ManagedIdentityEndpoint {
    /// The instance metadata service at this base URL (VMs, scale sets, AKS).
    Imds(String),
    /// App Service, Functions or Container Apps: `IDENTITY_ENDPOINT`, with `IDENTITY_HEADER`
    /// sent as `X-IDENTITY-HEADER`.
    AppService {
        /// `IDENTITY_ENDPOINT`.
        endpoint: String,
        /// `IDENTITY_HEADER`, a secret.
        header: String,
    },
}

impl EntraCredential {
    /// A service principal's client secret; `authority` defaults to `AZURE_AUTHORITY_HOST`,
    /// else the public cloud's.
    pub fn client_secret(
        env: &dyn Fn(&str) -> Option<String>,
        tenant_id: String,
        client_id: String,
        client_secret: String,
        scope: String,
    ) -> Result<Self, CredentialError> {
        let authority = env("AZURE_AUTHORITY_HOST")
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| AUTHORITY_HOST.to_owned());
        let valid_tenant = !tenant_id.is_empty()
            && tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !valid_tenant {
            return Err(CredentialError::Invalid(format!(
                "`{tenant_id}` is not a tenant id (a GUID or a domain name)"
            )));
        }
        let credential = Self::ClientSecret {
            authority,
            tenant_id,
            client_id,
            client_secret,
            scope,
        };
        credential.token_uri()?;
        Ok(credential)
    }

    /// The managed identity of where the gateway runs: App Service's `IDENTITY_ENDPOINT` and
    /// `IDENTITY_HEADER` when both are set, else the instance metadata service.
    pub fn managed_identity(
        env: &dyn Fn(&str) -> Option<String>,
        client_id: Option<String>,
        scope: &str,
    ) -> Result<Self, CredentialError> {
        let endpoint = match (env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER")) {
            (Some(endpoint), Some(header)) if !endpoint.is_empty() && !header.is_empty() => {
                ManagedIdentityEndpoint::AppService { endpoint, header }
            }
            _ => ManagedIdentityEndpoint::Imds(
                env("AZURE_POD_IDENTITY_AUTHORITY_HOST")
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| IMDS_BASE.to_owned()),
            ),
        };
        let credential = Self::ManagedIdentity {
            endpoint,
            client_id,
            resource: scope.strip_suffix("/.default").unwrap_or(scope).to_owned(),
        };
        credential.token_uri()?;
        Ok(credential)
    }

    fn token_uri(&self) -> Result<Uri, CredentialError> {
        let url = match self {
            Self::ClientSecret {
                authority,
                tenant_id,
                ..
            } => format!(
                "{}/{tenant_id}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            ),
            Self::ManagedIdentity {
                endpoint,
                client_id,
                resource,
            } => {
                let (base, api_version) = match endpoint {
                    ManagedIdentityEndpoint::Imds(base) => (
                        format!(
                            "{}/metadata/identity/oauth2/token",
                            base.trim_end_matches('/')
                        ),
                        "2018-02-01",
                    ),
                    ManagedIdentityEndpoint::AppService { endpoint, .. } => {
                        (endpoint.clone(), "2019-08-01")
                    }
                };
                let mut query = vec![("api-version", api_version), ("resource", resource)];
                if let Some(id) = client_id {
                    query.push(("client_id", id));
                }
                let query = serde_urlencoded::to_string(&query)
                    .map_err(|e| CredentialError::Invalid(format!("managed identity: {e}")))?;
                format!("{base}?{query}")
            }
        };
        parse_uri(&url).map_err(|_| {
            CredentialError::Invalid(format!(
                "the token endpoint of {} is not an http(s) URL",
                self.describe()
            ))
        })
    }

    /// What tells two credentials apart, secrets hashed.
    pub(super) fn identity(&self) -> String {
        let secret = match self {
            Self::ClientSecret { client_secret, .. } => super::digest(client_secret),
            Self::ManagedIdentity {
                endpoint: ManagedIdentityEndpoint::AppService { header, .. },
                ..
            } => super::digest(header),
            Self::ManagedIdentity { .. } => String::new(),
        };
        let uri = self
            .token_uri()
            .map(|uri| uri.to_string())
            .unwrap_or_default();
        let scope = match self {
            Self::ClientSecret {
                client_id, scope, ..
            } => format!("{client_id} {scope}"),
            Self::ManagedIdentity { .. } => String::new(),
        };
        format!("entra {uri} {scope} {secret}")
    }

    fn describe(&self) -> String {
        match self {
            Self::ClientSecret {
                tenant_id,
                client_id,
                ..
            } => format!("Microsoft Entra ID client `{client_id}` of tenant `{tenant_id}`"),
            Self::ManagedIdentity {
                endpoint,
                client_id,
                ..
            } => {
                let which = match client_id {
                    Some(id) => format!("user-assigned managed identity `{id}`"),
                    None => "system-assigned managed identity".to_owned(),
                };
                match endpoint {
                    ManagedIdentityEndpoint::Imds(_) => {
                        format!("Azure {which} (instance metadata service)")
                    }
                    ManagedIdentityEndpoint::AppService { .. } => {
                        format!("Azure {which} (IDENTITY_ENDPOINT)")
                    }
                }
            }
        }
    }

    /// The token source of this credential, sending through `client`.
    pub fn into_source(self, client: HttpClient) -> Result<Arc<dyn TokenSource>, CredentialError> {
        let token_uri = self.token_uri()?;
        let mut headers = HeaderMap::new();
        if let Self::ManagedIdentity { endpoint, .. } = &self {
            match endpoint {
                ManagedIdentityEndpoint::Imds(_) => {
                    headers.insert(
                        HeaderName::from_static("metadata"),
                        HeaderValue::from_static("true"),
                    );
                }
                ManagedIdentityEndpoint::AppService { header, .. } => {
                    let mut value = HeaderValue::try_from(header.as_str()).map_err(|_| {
                        CredentialError::Invalid(
                            "IDENTITY_HEADER holds characters not allowed in an HTTP header"
                                .to_owned(),
                        )
                    })?;
                    value.set_sensitive(true);
                    headers.insert(HeaderName::from_static("x-identity-header"), value);
                }
            }
        }
        Ok(Arc::new(EntraSource {
            description: self.describe(),
            credential: self,
            token_uri,
            headers,
            client,
        }))
    }
}

impl fmt::Debug for EntraCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

struct EntraSource {
    description: String,
    credential: EntraCredential,
    token_uri: Uri,
    headers: HeaderMap,
    client: HttpClient,
}

impl fmt::Debug for EntraSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

impl TokenSource for EntraSource {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, CredentialError>> {
        Box::pin(async move {
            match &self.credential {
                EntraCredential::ClientSecret {
                    client_id,
                    client_secret,
                    scope,
                    ..
                } => {
                    exchange::post_form(
                        &self.client,
                        &self.description,
                        &self.token_uri,
                        &[
                            ("grant_type", "client_credentials"),
                            ("client_id", client_id),
                            ("client_secret", client_secret),
                            ("scope", scope),
                        ],
                    )
                    .await
                }
                EntraCredential::ManagedIdentity { .. } => {
                    exchange::get(
                        &self.client,
                        &self.description,
                        &self.token_uri,
                        &self.headers,
                    )
                    .await
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    // Token endpoint: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow#first-case-access-token-request-with-a-shared-secret
    #[test]
    fn client_credentials_go_to_the_tenants_v2_endpoint() {
        let credential = EntraCredential::client_secret(
            &no_env,
            "contoso.onmicrosoft.com".to_owned(),
            "6731de76-14a6-49ae-97bc-6eba6914391e".to_owned(),
            "sampleCredentia1s".to_owned(),
            COGNITIVE_SERVICES_SCOPE.to_owned(),
        )
        .expect("valid");
        assert_eq!(
            credential.token_uri().expect("uri").to_string(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert!(!format!("{credential:?}").contains("sampleCredentia1s"));
        assert!(
            EntraCredential::client_secret(
                &no_env,
                "a/../b".to_owned(),
                "c".to_owned(),
                "s".to_owned(),
                COGNITIVE_SERVICES_SCOPE.to_owned()
            )
            .is_err()
        );
    }

    // IMDS: api-version 2018-02-01, `resource`, optional `client_id`, header `Metadata: true`.
    // App Service: api-version 2019-08-01 at IDENTITY_ENDPOINT with X-IDENTITY-HEADER.
    #[test]
    fn managed_identity_picks_its_endpoint_from_the_environment() {
        let imds = EntraCredential::managed_identity(
            &no_env,
            Some("client-1".to_owned()),
            COGNITIVE_SERVICES_SCOPE,
        )
        .expect("valid");
        assert_eq!(
            imds.token_uri().expect("uri").to_string(),
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fcognitiveservices.azure.com&client_id=client-1"
        );
        let app_env = |name: &str| match name {
            "IDENTITY_ENDPOINT" => Some("http://127.0.0.1:41741/msi/token".to_owned()),
            "IDENTITY_HEADER" => Some("header-secret".to_owned()),
            _ => None,
        };
        let app = EntraCredential::managed_identity(&app_env, None, COGNITIVE_SERVICES_SCOPE)
            .expect("valid");
        assert_eq!(
            app.token_uri().expect("uri").to_string(),
            "http://127.0.0.1:41741/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fcognitiveservices.azure.com"
        );
        assert!(!format!("{app:?}").contains("header-secret"));
    }
}
