//! `bedrock/<model id>` deployments: the region and credentials, from `litellm_params`
//! (LiteLLM's `aws_*` keys, each may be `os.environ/NAME`) or AWS's standard environment
//! variables, checked once at start so a deployment that could never sign a call stops the
//! gateway with the key's path.

use switchyard_providers::bedrock::BedrockSettings;

use super::{ConfigError, ConfigWarning, LitellmParams, ProviderSettings, check_url, resolve};

/// The region a Bedrock deployment uses when nothing names one, as in LiteLLM.
pub const DEFAULT_REGION: &str = "us-west-2";

/// Validates a Bedrock deployment of `model` (a model id, inference profile id or ARN).
///
/// The region is `aws_region_name`, else `AWS_REGION_NAME`, `AWS_REGION` or
/// `AWS_DEFAULT_REGION`, else LiteLLM's default [`DEFAULT_REGION`] (with a warning). The keys
/// are `aws_access_key_id` and `aws_secret_access_key` (both or neither), else
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`; the session token is `aws_session_token`,
/// or `AWS_SESSION_TOKEN` when the keys come from the environment as well, since a token only
/// goes with the keys it was issued with.
pub(super) fn settings(
    path: &str,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ProviderSettings, ConfigError> {
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
    let (access_key_id, secret_access_key, session_token) = match (key_id, secret) {
        (Some(id), Some(secret)) => (id, secret, token),
        (Some(_), None) => return Err(missing(path, "aws_secret_access_key")),
        (None, Some(_)) => return Err(missing(path, "aws_access_key_id")),
        (None, None) => match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                (id, secret, token.or_else(|| env("AWS_SESSION_TOKEN")))
            }
            _ => {
                return Err(ConfigError::invalid(
                    format!("{path}.aws_access_key_id"),
                    "Bedrock needs credentials: aws_access_key_id and aws_secret_access_key, \
                     or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
                ));
            }
        },
    };
    let api_base = match &params.api_base {
        Some(value) => {
            let base_path = format!("{path}.api_base");
            let base = resolve(&base_path, value, env)?;
            check_url(&base_path, &base)?;
            Some(base)
        }
        None => None,
    };
    Ok(ProviderSettings::Bedrock(BedrockSettings {
        model: model.to_owned(),
        region,
        access_key_id,
        secret_access_key,
        session_token: session_token.filter(|t| !t.is_empty()),
        api_base,
    }))
}

fn missing(path: &str, key: &str) -> ConfigError {
    ConfigError::invalid(
        format!("{path}.{key}"),
        "aws_access_key_id and aws_secret_access_key go together: set both or neither",
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::parse_with_env;
    use super::*;

    fn load(params: &str, vars: &[(&str, &str)]) -> Result<BedrockSettings, ConfigError> {
        let text = format!("model_list:\n  - model_name: m\n    litellm_params: {params}\n");
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut loaded = parse_with_env(&text, &lookup)?;
        match loaded.settings.deployments.remove(0).provider {
            ProviderSettings::Bedrock(settings) => Ok(settings),
            other => panic!("bedrock expected, got {other:?}"),
        }
    }

    fn invalid_path(err: ConfigError) -> String {
        match err {
            ConfigError::Invalid { path, .. } => path,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn credentials_and_region_come_from_the_config() {
        let s = load(
            "{model: 'bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0', aws_access_key_id: AKIDCONFIG, \
             aws_secret_access_key: os.environ/MY_SECRET, aws_session_token: tok, aws_region_name: eu-west-1, \
             api_base: 'http://127.0.0.1:9'}",
            &[("MY_SECRET", "from-env"), ("AWS_ACCESS_KEY_ID", "AKIDENV"), ("AWS_REGION", "us-east-2")],
        )
        .expect("valid");
        assert_eq!(s.model, "anthropic.claude-3-5-sonnet-20240620-v1:0");
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.access_key_id, "AKIDCONFIG");
        assert_eq!(s.secret_access_key, "from-env");
        assert_eq!(s.session_token.as_deref(), Some("tok"));
        assert_eq!(s.api_base.as_deref(), Some("http://127.0.0.1:9"));
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("AKIDCONFIG") && !debug.contains("from-env"),
            "{debug}"
        );
    }

    #[test]
    fn the_standard_environment_variables_are_the_fallback() {
        let vars = [
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "secret-env"),
            ("AWS_SESSION_TOKEN", "token-env"),
            ("AWS_DEFAULT_REGION", "ap-south-1"),
        ];
        let s = load("{model: bedrock/us.amazon.nova-pro-v1:0}", &vars).expect("valid");
        assert_eq!(
            (s.access_key_id.as_str(), s.secret_access_key.as_str()),
            ("AKIDENV", "secret-env")
        );
        assert_eq!(s.session_token.as_deref(), Some("token-env"));
        assert_eq!(s.region, "ap-south-1");
        assert_eq!(s.api_base, None);
        let mut with_region = vars.to_vec();
        with_region.push(("AWS_REGION", "us-west-2"));
        let s = load("{model: bedrock/m}", &with_region).expect("valid");
        assert_eq!(s.region, "us-west-2", "AWS_REGION comes first");
        // Keys from the config never pick up the environment's session token.
        let s = load(
            "{model: bedrock/m, aws_access_key_id: a, aws_secret_access_key: b}",
            &vars,
        )
        .expect("valid");
        assert_eq!(s.session_token, None);
    }

    #[test]
    fn a_missing_region_or_credentials_stops_start_up_with_the_key_path() {
        let keys = [("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")];
        let s = load("{model: bedrock/m}", &keys).expect("LiteLLM's default region");
        assert_eq!(s.region, DEFAULT_REGION);
        let err = load("{model: bedrock/m, aws_region_name: us-east-1}", &[]).expect_err("no keys");
        assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
        assert_eq!(
            invalid_path(err),
            "model_list[0].litellm_params.aws_access_key_id"
        );
        let cases = [
            (
                "{model: bedrock/m, aws_region_name: us-east-1, aws_access_key_id: a}",
                "aws_secret_access_key",
            ),
            (
                "{model: bedrock/m, aws_region_name: us-east-1, aws_secret_access_key: b}",
                "aws_access_key_id",
            ),
            (
                "{model: bedrock/m, aws_region_name: 'us-east-1.evil.com'}",
                "aws_region_name",
            ),
            (
                "{model: bedrock/m, aws_region_name: os.environ/NOPE}",
                "aws_region_name",
            ),
            (
                "{model: bedrock/m, aws_region_name: us-east-1, api_base: 'ftp://x'}",
                "api_base",
            ),
        ];
        for (params, key) in cases {
            let err = load(params, &keys).expect_err(params);
            assert_eq!(
                invalid_path(err),
                format!("model_list[0].litellm_params.{key}"),
                "{params}"
            );
        }
    }
}
