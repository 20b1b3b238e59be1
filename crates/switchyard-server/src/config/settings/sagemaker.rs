//! `sagemaker/<endpoint>` deployments (<https://docs.litellm.ai/docs/providers/aws_sagemaker>):
//! the endpoint's name, the region and credentials Bedrock deployments take ([`aws::access`],
//! without Bedrock's API keys: SageMaker takes signed calls only), and `api_base` for another
//! runtime URL (a VPC endpoint).

use switchyard_providers::sagemaker::SagemakerSettings;

use super::{ConfigError, ConfigWarning, LitellmParams, ProviderSettings, aws, check_url, resolve};

pub(super) fn settings(
    path: &str,
    endpoint: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ProviderSettings, ConfigError> {
    let access = aws::access(path, params, env, warnings, aws::BearerKeys::None)?;
    let api_base = match &params.api_base {
        Some(value) => {
            let base_path = format!("{path}.api_base");
            let base = resolve(&base_path, value, env)?;
            check_url(&base_path, &base)?;
            Some(base)
        }
        None => None,
    };
    Ok(ProviderSettings::Sagemaker(SagemakerSettings {
        endpoint: endpoint.to_owned(),
        region: access.region,
        credentials: access.credentials,
        assume_role: access.assume_role,
        api_base,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::super::parse_with_env;
    use super::*;
    use switchyard_providers::aws::AwsCredentials;

    fn load(params: &str, vars: &[(&str, &str)]) -> Result<SagemakerSettings, ConfigError> {
        let text = format!("model_list:\n  - model_name: m\n    litellm_params: {params}\n");
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        match parse_with_env(&text, &lookup)?
            .settings
            .deployments
            .remove(0)
            .provider
        {
            ProviderSettings::Sagemaker(settings) => Ok(settings),
            other => panic!("sagemaker expected, got {other:?}"),
        }
    }

    // The proxy config of https://docs.litellm.ai/docs/providers/aws_sagemaker.
    #[test]
    fn the_documented_config_takes_its_keys_and_region_from_the_environment() {
        let s = load(
            "{model: sagemaker/jumpstart-dft-hf-textgeneration1-mp-20240815-185614, \
             aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID, \
             aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY, \
             aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME}",
            &[
                ("CUSTOM_AWS_ACCESS_KEY_ID", "AKID"),
                ("CUSTOM_AWS_SECRET_ACCESS_KEY", "secret"),
                ("CUSTOM_AWS_REGION_NAME", "eu-west-1"),
            ],
        )
        .expect("valid");
        assert_eq!(
            s.endpoint,
            "jumpstart-dft-hf-textgeneration1-mp-20240815-185614"
        );
        assert_eq!(s.region, "eu-west-1");
        assert!(matches!(s.credentials, AwsCredentials::Keys { .. }));
        assert_eq!(s.api_base, None);
    }

    #[test]
    fn bedrock_api_keys_are_not_sagemaker_credentials() {
        let err = load("{model: sagemaker/e, api_key: k}", &[]).expect_err("no api_key");
        assert!(err.to_string().contains("api_key"), "{err}");
        let s = load(
            "{model: sagemaker/e}",
            &[
                ("AWS_BEARER_TOKEN_BEDROCK", "bedrock-key"),
                ("AWS_REGION", "us-east-1"),
            ],
        )
        .expect("valid");
        assert_eq!(s.credentials, AwsCredentials::DefaultChain);
        assert_eq!(s.region, "us-east-1");
    }
}
