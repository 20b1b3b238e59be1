//! Where an AWS deployment's (Bedrock, SageMaker) authority comes from, and keeping it fresh: a
//! Bedrock API key (sent as `Authorization: Bearer`, no signature), static keys, or AWS's default credential
//! chain (environment, shared config and credentials files with a profile, web identity for EKS,
//! ECS container credentials, IMDSv2), any of them optionally the base of an STS `AssumeRole`.
//! The chain and STS are AWS's own (`aws-config`); this module caches what they resolve and
//! resolves again [`REFRESH_BEFORE_EXPIRY`] before it expires, one refresh at a time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_types::error::display::DisplayErrorContext;
use tokio::sync::{Mutex, OnceCell};

use crate::{ErrorClass, ProviderError};

/// How long before their expiry temporary credentials are resolved again, so that no call is
/// signed with credentials that lapse while it is in flight.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// An AWS deployment's credentials, as configured. `Debug` shows no secret.
#[derive(Clone, PartialEq, Eq)]
pub enum AwsCredentials {
    /// A Bedrock API key (LiteLLM's `api_key`, or `AWS_BEARER_TOKEN_BEDROCK`), sent as a bearer
    /// token instead of a signature
    /// (<https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys-use.html>).
    ApiKey(String),
    /// Static keys.
    Keys {
        /// The access key id.
        access_key_id: String,
        /// The secret access key.
        secret_access_key: String,
        /// The session token of temporary credentials.
        session_token: Option<String>,
    },
    /// One profile of the shared config and credentials files (LiteLLM's `aws_profile_name`),
    /// whatever the environment holds, as boto3's `Session(profile_name=...)` reads it: its
    /// keys, or the role it assumes from its `source_profile`, web identity or
    /// `credential_source`.
    Profile(String),
    /// AWS's default credential chain, as the AWS SDKs resolve it
    /// (<https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html>):
    /// environment variables, the shared files (`AWS_PROFILE`), web identity
    /// (`AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`, as EKS sets them), ECS container
    /// credentials, then EC2's instance metadata (IMDSv2).
    DefaultChain,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ApiKey(_) => f.write_str("ApiKey([redacted])"),
            Self::Keys { session_token, .. } => f
                .debug_struct("Keys")
                .field("access_key_id", &"[redacted]")
                .field("secret_access_key", &"[redacted]")
                .field(
                    "session_token",
                    &session_token.as_ref().map(|_| "[redacted]"),
                )
                .finish(),
            Self::Profile(profile) => f.debug_tuple("Profile").field(profile).finish(),
            Self::DefaultChain => f.write_str("DefaultChain"),
        }
    }
}

/// An STS `AssumeRole` on top of the base credentials (LiteLLM's `aws_role_name` and
/// `aws_session_name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    /// The ARN of the role.
    pub role_arn: String,
    /// The role session name; AWS's SDK default when `None`.
    pub session_name: Option<String>,
}

/// What authorizes one deployment's calls.
#[derive(Debug)]
pub(crate) enum Authority {
    /// `Authorization: Bearer` with a Bedrock API key (marked sensitive).
    Bearer(http::HeaderValue),
    /// SigV4 with these credentials.
    Signed(Box<CachedCredentials>),
}

impl Authority {
    /// The authority of `credentials`, assuming `assume_role` on top when given (API keys
    /// take none). Nothing is resolved until the first call.
    pub(crate) fn new(
        credentials: &AwsCredentials,
        assume_role: Option<&AssumeRole>,
        region: &str,
    ) -> Result<Self, ProviderError> {
        let base = match credentials {
            AwsCredentials::ApiKey(key) => {
                let mut value = http::HeaderValue::try_from(format!("Bearer {}", key.trim()))
                    .map_err(|_| {
                        ProviderError::new(
                            ErrorClass::BadRequest,
                            "the Bedrock API key is not a valid header value",
                        )
                    })?;
                value.set_sensitive(true);
                return Ok(Self::Bearer(value));
            }
            AwsCredentials::Keys {
                access_key_id,
                secret_access_key,
                session_token,
            } => {
                let keys =
                    static_credentials(access_key_id, secret_access_key, session_token.as_deref());
                if assume_role.is_none() {
                    return Ok(Self::Signed(Box::new(CachedCredentials::fixed(keys))));
                }
                Base::Keys(keys)
            }
            AwsCredentials::Profile(profile) => Base::Profile(profile.clone()),
            AwsCredentials::DefaultChain => Base::DefaultChain,
        };
        let recipe = Recipe {
            base,
            assume_role: assume_role.cloned(),
            region: region.to_owned(),
        };
        Ok(Self::Signed(Box::new(CachedCredentials::resolved(
            Source::Recipe(recipe),
        ))))
    }
}

fn static_credentials(
    access_key_id: &str,
    secret_access_key: &str,
    session_token: Option<&str>,
) -> Credentials {
    Credentials::new(
        access_key_id,
        secret_access_key,
        session_token
            .filter(|token| !token.is_empty())
            .map(str::to_owned),
        None,
        "switchyard-config",
    )
}

/// The credentials a recipe starts from.
enum Base {
    Keys(Credentials),
    Profile(String),
    DefaultChain,
}

impl std::fmt::Debug for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keys(_) => f.write_str("Keys([redacted])"),
            Self::Profile(profile) => f.debug_tuple("Profile").field(profile).finish(),
            Self::DefaultChain => f.write_str("DefaultChain"),
        }
    }
}

/// How to build the credentials provider of a deployment, once, at its first call.
#[derive(Debug)]
struct Recipe {
    base: Base,
    assume_role: Option<AssumeRole>,
    region: String,
}

impl Recipe {
    async fn build(&self) -> SharedCredentialsProvider {
        let region = Region::new(self.region.clone());
        let base = match &self.base {
            Base::Keys(keys) => SharedCredentialsProvider::new(keys.clone()),
            Base::Profile(profile) => {
                let config = ProviderConfig::default().with_region(Some(region.clone()));
                SharedCredentialsProvider::new(
                    ProfileFileCredentialsProvider::builder()
                        .profile_name(profile)
                        .configure(&config)
                        .build(),
                )
            }
            Base::DefaultChain => SharedCredentialsProvider::new(
                DefaultCredentialsChain::builder()
                    .region(region.clone())
                    .build()
                    .await,
            ),
        };
        let Some(role) = &self.assume_role else {
            return base;
        };
        // STS is reached in the deployment's region, at `AWS_ENDPOINT_URL_STS` when set.
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(region.clone())
            .credentials_provider(base)
            .load()
            .await;
        let mut assume = AssumeRoleProvider::builder(role.role_arn.clone())
            .region(region)
            .configure(&config);
        if let Some(name) = &role.session_name {
            assume = assume.session_name(name.clone());
        }
        SharedCredentialsProvider::new(assume.build().await)
    }
}

#[derive(Debug)]
enum Source {
    Fixed,
    Recipe(Recipe),
    #[cfg(test)]
    Provider(SharedCredentialsProvider),
}

/// Credentials resolved from their source and kept until [`REFRESH_BEFORE_EXPIRY`] before
/// they expire. Calls read the current ones without a lock; one refresh runs at a time, and a
/// failed refresh keeps serving credentials that have not expired yet. `Debug` shows where they
/// come from, never them.
pub(crate) struct CachedCredentials {
    source: Source,
    provider: OnceCell<SharedCredentialsProvider>,
    current: ArcSwapOption<Credentials>,
    refreshing: Mutex<()>,
}

impl std::fmt::Debug for CachedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedCredentials")
            .field("source", &self.source)
            .field("resolved", &self.current.load().is_some())
            .finish()
    }
}

impl CachedCredentials {
    fn fixed(credentials: Credentials) -> Self {
        Self {
            source: Source::Fixed,
            provider: OnceCell::new(),
            current: ArcSwapOption::from_pointee(credentials),
            refreshing: Mutex::new(()),
        }
    }

    fn resolved(source: Source) -> Self {
        Self {
            source,
            provider: OnceCell::new(),
            current: ArcSwapOption::empty(),
            refreshing: Mutex::new(()),
        }
    }

    /// The credentials to sign a call made now with.
    pub(crate) async fn get(&self) -> Result<Credentials, ProviderError> {
        if let Some(current) = self.fresh(SystemTime::now()) {
            return Ok(current);
        }
        let _refreshing = self.refreshing.lock().await;
        // Another call may have refreshed them while this one waited.
        if let Some(current) = self.fresh(SystemTime::now()) {
            return Ok(current);
        }
        let provider = match &self.source {
            Source::Fixed => {
                return self
                    .current
                    .load_full()
                    .map(|c| (*c).clone())
                    .ok_or_else(|| {
                        ProviderError::new(ErrorClass::Authentication, "no AWS credentials")
                    });
            }
            Source::Recipe(recipe) => self.provider.get_or_init(|| recipe.build()).await,
            #[cfg(test)]
            Source::Provider(provider) => provider,
        };
        match provider.provide_credentials().await {
            Ok(credentials) => {
                self.current.store(Some(Arc::new(credentials.clone())));
                Ok(credentials)
            }
            Err(err) => {
                tracing::warn!(
                    error = %DisplayErrorContext(&err),
                    "AWS credentials could not be resolved for the deployment"
                );
                // Static stability: credentials that have not expired still sign.
                let unexpired = self
                    .current
                    .load_full()
                    .filter(|c| c.expiry().is_none_or(|expiry| expiry > SystemTime::now()));
                match unexpired {
                    Some(current) => Ok((*current).clone()),
                    None => Err(ProviderError::new(
                        ErrorClass::Authentication,
                        format!("AWS credentials could not be resolved: {err}"),
                    )),
                }
            }
        }
    }

    fn fresh(&self, now: SystemTime) -> Option<Credentials> {
        let current = self.current.load_full()?;
        let fresh = match (&self.source, current.expiry()) {
            (Source::Fixed, _) | (_, None) => true,
            (_, Some(expiry)) => expiry > now + REFRESH_BEFORE_EXPIRY,
        };
        fresh.then(|| (*current).clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::future;

    use super::*;

    /// Hands out `key-1`, `key-2`, ... each expiring `lifetime` after it is issued, or fails
    /// from the call numbered `fail_from` on.
    #[derive(Debug)]
    struct Issuer {
        issued: Arc<AtomicUsize>,
        lifetime: Duration,
        fail_from: usize,
    }

    impl ProvideCredentials for Issuer {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= self.fail_from {
                return future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
                    "the issuer is down",
                )));
            }
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("key-{n}"),
                format!("secret-{n}"),
                Some(format!("token-{n}")),
                Some(SystemTime::now() + self.lifetime),
                "issuer",
            )))
        }
    }

    fn cached(lifetime: Duration, fail_from: usize) -> (CachedCredentials, Arc<AtomicUsize>) {
        let issued = Arc::new(AtomicUsize::new(0));
        let issuer = Issuer {
            issued: Arc::clone(&issued),
            lifetime,
            fail_from,
        };
        (
            CachedCredentials::resolved(Source::Provider(SharedCredentialsProvider::new(issuer))),
            issued,
        )
    }

    #[tokio::test]
    async fn credentials_are_kept_until_shortly_before_they_expire() {
        let (cache, issued) = cached(Duration::from_secs(3600), usize::MAX);
        for _ in 0..3 {
            assert_eq!(
                cache.get().await.expect("resolves").access_key_id(),
                "key-1"
            );
        }
        assert_eq!(
            issued.load(Ordering::SeqCst),
            1,
            "resolved once for an hour"
        );
        // Credentials inside the refresh window are resolved again at every call.
        let (cache, issued) = cached(REFRESH_BEFORE_EXPIRY - Duration::from_secs(60), usize::MAX);
        assert_eq!(
            cache.get().await.expect("resolves").access_key_id(),
            "key-1"
        );
        let second = cache.get().await.expect("resolves");
        assert_eq!(second.access_key_id(), "key-2");
        assert_eq!(second.session_token(), Some("token-2"));
        assert_eq!(issued.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_unexpired_credentials_and_fails_without_them() {
        let (cache, _) = cached(Duration::from_secs(120), 2);
        assert_eq!(
            cache.get().await.expect("resolves").access_key_id(),
            "key-1"
        );
        assert_eq!(
            cache.get().await.expect("still valid").access_key_id(),
            "key-1"
        );
        let (cache, _) = cached(Duration::from_secs(120), 1);
        let err = cache.get().await.expect_err("nothing to sign with");
        assert_eq!(err.class, ErrorClass::Authentication);
        assert!(
            err.message
                .starts_with("AWS credentials could not be resolved"),
            "{}",
            err.message
        );
    }

    #[test]
    fn no_secret_shows_in_debug_output() {
        let keys = AwsCredentials::Keys {
            access_key_id: "AKIDSHOWN".to_owned(),
            secret_access_key: "secret-shown".to_owned(),
            session_token: Some("token-shown".to_owned()),
        };
        let api_key = AwsCredentials::ApiKey("bedrock-api-key-shown".to_owned());
        let authority = Authority::new(&api_key, None, "us-east-1").expect("valid");
        let signed = Authority::new(&keys, None, "us-east-1").expect("valid");
        let role = AssumeRole {
            role_arn: "arn:aws:iam::123456789012:role/r".to_owned(),
            session_name: None,
        };
        let assumed = Authority::new(&keys, Some(&role), "us-east-1").expect("valid");
        for debug in [
            format!("{keys:?}"),
            format!("{api_key:?}"),
            format!("{authority:?}"),
            format!("{signed:?}"),
            format!("{assumed:?}"),
        ] {
            assert!(!debug.contains("shown"), "{debug}");
        }
    }
}
