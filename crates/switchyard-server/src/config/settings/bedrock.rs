//! `bedrock/<model id>` deployments: the region and credentials, from `litellm_params`
//! (LiteLLM's `aws_*` keys and `api_key`, each may be `os.environ/NAME`) or AWS's standard
//! environment variables, else AWS's default credential chain; checked once at start so that a
//! deployment configured inconsistently stops the gateway with the key's path.

use switchyard_providers::bedrock::BedrockSettings;

use super::{ConfigError, ConfigWarning, LitellmParams, ProviderSettings, aws, check_url, resolve};

/// Validates a Bedrock deployment of `model` (a model id, inference profile id or ARN): its
/// region and credentials as [`aws::access`] reads them (a Bedrock API key among them), and its
/// endpoint: `api_base`, `aws_bedrock_runtime_endpoint` or `AWS_BEDROCK_RUNTIME_ENDPOINT`.
pub(super) fn settings(
    path: &str,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ProviderSettings, ConfigError> {
    let access = aws::access(path, params, env, warnings, aws::BearerKeys::Bedrock)?;
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
        region: access.region,
        credentials: access.credentials,
        assume_role: access.assume_role,
        api_base,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::super::parse_with_env;
    use super::super::aws::DEFAULT_REGION;
    use super::*;
    use switchyard_providers::aws::{AssumeRole, AwsCredentials};

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
