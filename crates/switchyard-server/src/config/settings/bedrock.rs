//! `bedrock/<model id>` deployments: the region and credentials, from `litellm_params`
//! (LiteLLM's `aws_*` keys and `api_key`, each may be `os.environ/NAME`) or AWS's standard
//! environment variables, else AWS's default credential chain; checked once at start so that a
//! deployment configured inconsistently stops the gateway with the key's path.

use switchyard_providers::bedrock::{AssumeRole, AwsCredentials, BedrockSettings};

use super::{ConfigError, ConfigWarning, LitellmParams, ProviderSettings, check_url, resolve};

/// The region a Bedrock deployment uses when nothing names one, as in LiteLLM.
pub const DEFAULT_REGION: &str = "us-west-2";

/// Validates a Bedrock deployment of `model` (a model id, inference profile id or ARN).
///
/// The region is `aws_region_name`, else `AWS_REGION_NAME`, `AWS_REGION` or
/// `AWS_DEFAULT_REGION`, else LiteLLM's default [`DEFAULT_REGION`] (with a warning). The
/// credentials, first found: a Bedrock API key in `api_key`; `aws_access_key_id` and
/// `aws_secret_access_key` (both or neither, with `aws_session_token`); the profile
/// `aws_profile_name`; an API key in `AWS_BEARER_TOKEN_BEDROCK`; `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`: a token only goes with the keys it was
/// issued with); else AWS's default credential chain, resolved at the first call.
/// `aws_role_name` (with `aws_session_name`) is assumed on top of any but an API key, and a
/// deployment that names one never takes `AWS_BEARER_TOKEN_BEDROCK`.
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
    let api_key = param("api_key", &params.api_key)?;
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
            env("AWS_BEARER_TOKEN_BEDROCK").filter(|t| !t.trim().is_empty() && role_arn.is_none()),
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
    // LiteLLM's own key for a custom endpoint, and its variable, stand in for `api_base`.
    let endpoint = [
        ("api_base", &params.api_base),
        (
            "aws_bedrock_runtime_endpoint",
            &params.aws_bedrock_runtime_endpoint,
        ),
    ]
    .into_iter()
    .find_map(|(key, value)| Some((key, value.as_deref()?)));
    let api_base = match endpoint {
        Some((key, value)) => {
            let base_path = format!("{path}.{key}");
            let base = resolve(&base_path, value, env)?;
            check_url(&base_path, &base)?;
            Some(base)
        }
        None => env("AWS_BEDROCK_RUNTIME_ENDPOINT").filter(|base| !base.trim().is_empty()),
    };
    Ok(ProviderSettings::Bedrock(BedrockSettings {
        model: model.to_owned(),
        region,
        credentials,
        assume_role,
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

    fn load_warned(
        params: &str,
        vars: &[(&str, &str)],
    ) -> Result<(BedrockSettings, Vec<ConfigWarning>), ConfigError> {
        let text = format!("model_list:\n  - model_name: m\n    litellm_params: {params}\n");
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut loaded = parse_with_env(&text, &lookup)?;
        match loaded.settings.deployments.remove(0).provider {
            ProviderSettings::Bedrock(settings) => Ok((settings, loaded.warnings)),
            other => panic!("bedrock expected, got {other:?}"),
        }
    }

    fn load(params: &str, vars: &[(&str, &str)]) -> Result<BedrockSettings, ConfigError> {
        load_warned(params, vars).map(|(settings, _)| settings)
    }

    fn keys(id: &str, secret: &str, token: Option<&str>) -> AwsCredentials {
        AwsCredentials::Keys {
            access_key_id: id.to_owned(),
            secret_access_key: secret.to_owned(),
            session_token: token.map(str::to_owned),
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
        assert_eq!(s.credentials, keys("AKIDCONFIG", "from-env", Some("tok")));
        assert_eq!(s.assume_role, None);
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
            s.credentials,
            keys("AKIDENV", "secret-env", Some("token-env"))
        );
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
        assert_eq!(s.credentials, keys("a", "b", None));
    }

    // LiteLLM's Bedrock page, "Authentication": an API key from `AWS_BEARER_TOKEN_BEDROCK` or
    // the `api_key` param (https://docs.litellm.ai/docs/providers/bedrock).
    #[test]
    fn bedrock_api_keys_come_from_api_key_or_aws_bearer_token_bedrock() {
        let env_keys = [("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")];
        let s = load(
            "{model: bedrock/m, api_key: os.environ/BK}",
            &[("BK", "bedrock-key")],
        )
        .expect("valid");
        assert_eq!(
            s.credentials,
            AwsCredentials::ApiKey("bedrock-key".to_owned())
        );
        let mut vars = env_keys.to_vec();
        vars.push(("AWS_BEARER_TOKEN_BEDROCK", "env-bedrock-key"));
        let s = load("{model: bedrock/m}", &vars).expect("valid");
        assert_eq!(
            s.credentials,
            AwsCredentials::ApiKey("env-bedrock-key".to_owned())
        );
        // Keys written in the deployment are its own choice, over the environment's API key.
        let s = load(
            "{model: bedrock/m, aws_access_key_id: c, aws_secret_access_key: d}",
            &vars,
        )
        .expect("valid");
        assert_eq!(s.credentials, keys("c", "d", None));
        let err = load(
            "{model: bedrock/m, api_key: k, aws_role_name: 'arn:aws:iam::123456789012:role/r'}",
            &[],
        )
        .expect_err("an API key assumes no role");
        assert_eq!(
            invalid_path(err),
            "model_list[0].litellm_params.aws_role_name"
        );
    }

    #[test]
    fn without_keys_the_profile_or_the_default_chain_authorizes_and_a_role_goes_on_top() {
        let s = load("{model: bedrock/m, aws_region_name: us-east-1}", &[]).expect("valid");
        assert_eq!(s.credentials, AwsCredentials::DefaultChain);
        let s = load(
            "{model: bedrock/m, aws_profile_name: bedrock-prod}",
            &[("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")],
        )
        .expect("valid");
        assert_eq!(
            s.credentials,
            AwsCredentials::Profile("bedrock-prod".to_owned())
        );
        let s = load(
            "{model: bedrock/m, aws_role_name: 'arn:aws:iam::123456789012:role/bedrock', \
             aws_session_name: os.environ/SESSION}",
            &[("SESSION", "gateway")],
        )
        .expect("valid");
        assert_eq!(s.credentials, AwsCredentials::DefaultChain);
        assert_eq!(
            s.assume_role,
            Some(AssumeRole {
                role_arn: "arn:aws:iam::123456789012:role/bedrock".to_owned(),
                session_name: Some("gateway".to_owned()),
            })
        );
        let (s, warnings) = load_warned(
            "{model: bedrock/m, aws_region_name: us-east-1, aws_access_key_id: a, aws_secret_access_key: b, \
             aws_profile_name: p, aws_session_name: s}",
            &[],
        )
        .expect("valid");
        assert_eq!(s.credentials, keys("a", "b", None));
        let paths: Vec<&str> = warnings
            .iter()
            .map(|w| w.path.as_str())
            .filter(|path| path.contains(".aws_"))
            .collect();
        assert_eq!(
            paths,
            [
                "model_list[0].litellm_params.aws_profile_name",
                "model_list[0].litellm_params.aws_session_name"
            ]
        );
    }

    // LiteLLM's Bedrock page: `aws_bedrock_runtime_endpoint` (or `AWS_BEDROCK_RUNTIME_ENDPOINT`)
    // names a custom endpoint (https://docs.litellm.ai/docs/providers/bedrock).
    #[test]
    fn aws_bedrock_runtime_endpoint_stands_in_for_api_base() {
        let keys = [("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")];
        let s = load(
            "{model: bedrock/m, aws_bedrock_runtime_endpoint: 'https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com'}",
            &keys,
        )
        .expect("valid");
        assert_eq!(
            s.api_base.as_deref(),
            Some("https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com")
        );
        let mut vars = keys.to_vec();
        vars.push(("AWS_BEDROCK_RUNTIME_ENDPOINT", "http://127.0.0.1:9"));
        let s = load("{model: bedrock/m}", &vars).expect("valid");
        assert_eq!(s.api_base.as_deref(), Some("http://127.0.0.1:9"));
        let s = load("{model: bedrock/m, api_base: 'http://127.0.0.1:8'}", &vars).expect("valid");
        assert_eq!(s.api_base.as_deref(), Some("http://127.0.0.1:8"));
        match load(
            "{model: bedrock/m, aws_bedrock_runtime_endpoint: 'ftp://x'}",
            &keys,
        )
        .expect_err("not http")
        {
            ConfigError::Invalid { path, .. } => assert_eq!(
                path,
                "model_list[0].litellm_params.aws_bedrock_runtime_endpoint"
            ),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_bad_region_or_half_a_key_pair_stops_start_up_with_the_key_path() {
        let keys = [("AWS_ACCESS_KEY_ID", "a"), ("AWS_SECRET_ACCESS_KEY", "b")];
        let s = load("{model: bedrock/m}", &keys).expect("LiteLLM's default region");
        assert_eq!(s.region, DEFAULT_REGION);
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
                "{model: bedrock/m, aws_region_name: us-east-1, aws_profile_name: os.environ/NOPE}",
                "aws_profile_name",
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
