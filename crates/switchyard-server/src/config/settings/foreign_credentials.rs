//! Credentials and provider settings given to a deployment whose provider never reads them (an
//! `aws_access_key_id` on an `openai/` deployment, an `api_version` on an `anthropic/` one): a
//! warning at the key's path, since the deployment would otherwise run as if the operator's
//! intent had been carried out.

use super::{ConfigWarning, LitellmParams};

/// The provider-specific keys of `litellm_params` and the families that read each.
fn scoped_keys(params: &LitellmParams) -> [(&'static str, bool, &'static [&'static str]); 9] {
    const BEDROCK: &[&str] = &["bedrock"];
    const AWS: &[&str] = &["bedrock", "sagemaker"];
    [
        ("aws_access_key_id", params.aws_access_key_id.is_some(), AWS),
        (
            "aws_secret_access_key",
            params.aws_secret_access_key.is_some(),
            AWS,
        ),
        ("aws_session_token", params.aws_session_token.is_some(), AWS),
        ("aws_region_name", params.aws_region_name.is_some(), AWS),
        ("aws_profile_name", params.aws_profile_name.is_some(), AWS),
        ("aws_role_name", params.aws_role_name.is_some(), AWS),
        ("aws_session_name", params.aws_session_name.is_some(), AWS),
        (
            "aws_bedrock_runtime_endpoint",
            params.aws_bedrock_runtime_endpoint.is_some(),
            BEDROCK,
        ),
        (
            "api_version",
            params.api_version.is_some(),
            &["azure", "azure_ai"],
        ),
    ]
}

/// Warns about each key of `params` that `family` does not read.
pub(super) fn warn(
    path: &str,
    family: &str,
    params: &LitellmParams,
    warnings: &mut Vec<ConfigWarning>,
) {
    for (key, set, readers) in scoped_keys(params) {
        if set && !readers.contains(&family) {
            warnings.push(ConfigWarning {
                path: format!("{path}.{key}"),
                message: format!(
                    "only {} deployments read this key; this `{family}` deployment ignores it \
                     (is the model's provider prefix the one intended?)",
                    readers.join(" and ")
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::parse_with_env;

    fn warned(params: &str) -> Vec<String> {
        let text = format!("model_list:\n  - model_name: m\n    litellm_params: {params}\n");
        let loaded = parse_with_env(&text, &|_| None).expect("valid");
        loaded
            .warnings
            .into_iter()
            .filter(|w| w.message.contains("deployments read this key"))
            .map(|w| w.path)
            .collect()
    }

    #[test]
    fn credentials_for_another_provider_are_warned_about_at_their_path() {
        assert_eq!(
            warned(
                "{model: openai/gpt-4o-mini, api_key: k, aws_access_key_id: a, aws_region_name: us-east-1}"
            ),
            [
                "model_list[0].litellm_params.aws_access_key_id",
                "model_list[0].litellm_params.aws_region_name"
            ]
        );
        assert_eq!(
            warned(
                "{model: anthropic/claude-3-5-haiku-latest, api_key: k, api_version: '2024-10-21'}"
            ),
            ["model_list[0].litellm_params.api_version"]
        );
        assert!(warned("{model: azure/gpt-4o, api_key: k, api_base: 'https://x.openai.azure.com', api_version: '2024-10-21'}").is_empty());
        assert!(
            warned("{model: bedrock/m, aws_access_key_id: a, aws_secret_access_key: b, aws_region_name: us-east-1}")
                .is_empty()
        );
    }
}
