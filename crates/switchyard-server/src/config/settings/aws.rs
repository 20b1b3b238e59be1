//! What authorizes an AWS deployment (`bedrock/`, `sagemaker/`): its region and credentials,
//! from `litellm_params` (LiteLLM's `aws_*` keys and, for Bedrock, `api_key`; each may be
//! `os.environ/NAME`) or AWS's standard environment variables, else AWS's default credential
//! chain; checked once at start so that a deployment configured inconsistently stops the
//! gateway with the key's path.

use switchyard_providers::aws::{AssumeRole, AwsCredentials};

use super::{ConfigError, ConfigWarning, LitellmParams, resolve};

/// The region an AWS deployment uses when nothing names one, as in LiteLLM.
pub const DEFAULT_REGION: &str = "us-west-2";

/// Whether a deployment may be authorized by a Bedrock API key instead of a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BearerKeys {
    /// Bedrock: `api_key`, else `AWS_BEARER_TOKEN_BEDROCK`.
    Bedrock,
    /// A service that takes signed calls only (SageMaker): `api_key` is refused.
    None,
}

/// An AWS deployment's region, credentials and role.
#[derive(Debug)]
pub(super) struct AwsAccess {
    pub(super) region: String,
    pub(super) credentials: AwsCredentials,
    pub(super) assume_role: Option<AssumeRole>,
}

/// The region is `aws_region_name`, else `AWS_REGION_NAME`, `AWS_REGION` or
/// `AWS_DEFAULT_REGION`, else LiteLLM's default [`DEFAULT_REGION`] (with a warning). The
/// credentials, first found: a Bedrock API key in `api_key` (Bedrock only);
/// `aws_access_key_id` and `aws_secret_access_key` (both or neither, with
/// `aws_session_token`); the profile `aws_profile_name`; an API key in
/// `AWS_BEARER_TOKEN_BEDROCK` (Bedrock only); `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
/// (with `AWS_SESSION_TOKEN`: a token only goes with the keys it was issued with); else AWS's
/// default credential chain, resolved at the first call. `aws_role_name` (with
/// `aws_session_name`) is assumed on top of any but an API key, and a deployment that names one
/// never takes `AWS_BEARER_TOKEN_BEDROCK`.
pub(super) fn access(
    path: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
    bearer_keys: BearerKeys,
) -> Result<AwsAccess, ConfigError> {
    let param = |key: &str, value: &Option<String>| -> Result<Option<String>, ConfigError> {
        let key_path = format!("{path}.{key}");
        value
            .as_deref()
            .map(|value| resolve(&key_path, value, env))
            .transpose()
            .map(|value| value.filter(|v| !v.trim().is_empty()))
    };
    let region_path = format!("{path}.aws_region_name");
    let region = param("aws_region_name", &params.aws_region_name)?
        .or_else(|| env("AWS_REGION_NAME"))
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .map(|region| region.trim().to_owned())
        .filter(|region| !region.is_empty())
        .unwrap_or_else(|| {
            warnings.push(ConfigWarning {
                path: region_path.clone(),
                message: format!(
                    "no region given (aws_region_name, AWS_REGION_NAME, AWS_REGION or \
                     AWS_DEFAULT_REGION): {DEFAULT_REGION}, LiteLLM's default, is used"
                ),
            });
            DEFAULT_REGION.to_owned()
        });
    if !region
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(ConfigError::invalid(
            region_path,
            format!("`{region}` is not an AWS region name (such as `us-east-1`)"),
        ));
    }
    let key_id = param("aws_access_key_id", &params.aws_access_key_id)?;
    let secret = param("aws_secret_access_key", &params.aws_secret_access_key)?;
    let token = param("aws_session_token", &params.aws_session_token)?;
    let api_key = param("api_key", &params.api_key)?;
    if bearer_keys == BearerKeys::None && api_key.is_some() {
        return Err(ConfigError::invalid(
            format!("{path}.api_key"),
            "this deployment's calls are signed with AWS credentials (aws_access_key_id, \
             aws_profile_name, ...); it takes no api_key",
        ));
    }
    let profile = param("aws_profile_name", &params.aws_profile_name)?;
    let role_arn = param("aws_role_name", &params.aws_role_name)?;
    let session_name = param("aws_session_name", &params.aws_session_name)?;
    let env_keys = || match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Some((id, secret)),
        _ => None,
    };
    let credentials = match (key_id, secret) {
        (Some(_), None) => return Err(missing(path, "aws_secret_access_key")),
        (None, Some(_)) => return Err(missing(path, "aws_access_key_id")),
        // A Bedrock API key in the config wins, as in LiteLLM.
        _ if api_key.is_some() => AwsCredentials::ApiKey(api_key.unwrap_or_default()),
        (Some(access_key_id), Some(secret_access_key)) => AwsCredentials::Keys {
            access_key_id,
            secret_access_key,
            session_token: token,
        },
        (None, None) if profile.is_some() => {
            AwsCredentials::Profile(profile.clone().unwrap_or_default())
        }
        // A role to assume asks for signed calls: the environment's API key is not for it.
        (None, None) => match (
            env("AWS_BEARER_TOKEN_BEDROCK").filter(|t| {
                bearer_keys == BearerKeys::Bedrock && !t.trim().is_empty() && role_arn.is_none()
            }),
            env_keys(),
        ) {
            (Some(bearer), _) => AwsCredentials::ApiKey(bearer),
            // A token only goes with the keys it was issued with.
            (None, Some((access_key_id, secret_access_key))) => AwsCredentials::Keys {
                access_key_id,
                secret_access_key,
                session_token: token.or_else(|| env("AWS_SESSION_TOKEN")),
            },
            (None, None) => AwsCredentials::DefaultChain,
        },
    };
    let ignored = |key: &str, why: &str| ConfigWarning {
        path: format!("{path}.{key}"),
        message: why.to_owned(),
    };
    if profile.is_some() && !matches!(credentials, AwsCredentials::Profile(_)) {
        warnings.push(ignored(
            "aws_profile_name",
            "unused: the deployment's api_key or aws_access_key_id authorizes its calls",
        ));
    }
    let assume_role = match role_arn {
        Some(_) if matches!(credentials, AwsCredentials::ApiKey(_)) => {
            return Err(ConfigError::invalid(
                format!("{path}.aws_role_name"),
                "a Bedrock API key (api_key, AWS_BEARER_TOKEN_BEDROCK) assumes no role; remove one of them",
            ));
        }
        Some(role_arn) => Some(AssumeRole {
            role_arn,
            session_name,
        }),
        None => {
            if session_name.is_some() {
                warnings.push(ignored(
                    "aws_session_name",
                    "unused without aws_role_name (the role it names a session of)",
                ));
            }
            None
        }
    };
    Ok(AwsAccess {
        region,
        credentials,
        assume_role,
    })
}

fn missing(path: &str, key: &str) -> ConfigError {
    ConfigError::invalid(
        format!("{path}.{key}"),
        "aws_access_key_id and aws_secret_access_key go together: set both or neither",
    )
}
