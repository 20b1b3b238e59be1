//! `azure_ai/<model>` deployments: models on Azure AI Foundry, through its OpenAI-compatible
//! model inference API. A Foundry resource (`https://<resource>.services.ai.azure.com`) is called
//! at `{api_base}/models/chat/completions?api-version=V` with the key in `api-key`
//! (<https://learn.microsoft.com/en-us/rest/api/aifoundry/model-inference/get-chat-completions/get-chat-completions>);
//! any other endpoint (a serverless deployment's own URL) as an OpenAI-compatible one, with the
//! key as a bearer token. LiteLLM's names: `AZURE_AI_API_KEY`, `AZURE_AI_API_BASE`
//! (<https://docs.litellm.ai/docs/providers/azure_ai>).

use switchyard_providers::openai::{Dialect, OpenAiSettings};

use super::providers::{Sources, api_version, azure_headers, base_and_key};
use super::{ConfigError, LitellmParams, ProviderSettings};

/// The model inference API's `api-version` when neither the config nor `AZURE_AI_API_VERSION`
/// names one.
pub const AZURE_AI_DEFAULT_API_VERSION: &str = "2024-05-01-preview";

/// The host suffix of Azure AI Foundry resources, whose inference API lives under `/models`.
const FOUNDRY_HOST: &str = ".services.ai.azure.com";

pub(super) fn settings(
    path: &str,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let sources = Sources {
        base_vars: &["AZURE_AI_API_BASE"],
        default_base: None,
        key_vars: &["AZURE_AI_API_KEY"],
        missing_base: "azure_ai needs an api_base (https://<resource>.services.ai.azure.com, or \
                       a serverless endpoint's URL) or AZURE_AI_API_BASE",
    };
    let (api_base, api_key) = base_and_key(path, params, env, &sources)?;
    let root = api_base.trim_end_matches('/');
    let foundry = root
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(|host| host.ends_with(FOUNDRY_HOST)))
        .unwrap_or(false);
    let (api_base, dialect) = if foundry {
        let api_version = api_version(
            path,
            params,
            env,
            "AZURE_AI_API_VERSION",
            AZURE_AI_DEFAULT_API_VERSION,
        )?;
        let base = match root.strip_suffix("/models") {
            Some(_) => root.to_owned(),
            None => format!("{root}/models"),
        };
        (base, Dialect::AzureAi { api_version })
    } else {
        (root.to_owned(), Dialect::OpenAi)
    };
    Ok(ProviderSettings::OpenAi(OpenAiSettings {
        family: "azure_ai",
        model: model.to_owned(),
        api_base,
        api_key,
        dialect,
        extra_headers: azure_headers(path, params, env)?,
        bearer: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::openai_deployment as load;
    use super::*;

    #[test]
    fn a_foundry_resource_gets_the_models_route_its_api_version_and_the_api_key_header() {
        let s = load(
            "{model: azure_ai/Phi-4, api_base: 'https://contoso.services.ai.azure.com/'}",
            &[("AZURE_AI_API_KEY", "foundry-key")],
        )
        .expect("valid");
        assert_eq!(s.family, "azure_ai");
        assert_eq!(s.model, "Phi-4");
        assert_eq!(s.api_base, "https://contoso.services.ai.azure.com/models");
        assert_eq!(s.api_key.as_deref(), Some("foundry-key"));
        assert_eq!(
            s.dialect,
            Dialect::AzureAi {
                api_version: AZURE_AI_DEFAULT_API_VERSION.to_owned()
            }
        );
        let s = load(
            "{model: azure_ai/Phi-4, api_base: os.environ/BASE, api_version: 2025-04-01}",
            &[("BASE", "https://contoso.services.ai.azure.com/models")],
        )
        .expect("valid");
        assert_eq!(s.api_base, "https://contoso.services.ai.azure.com/models");
        assert_eq!(
            s.dialect,
            Dialect::AzureAi {
                api_version: "2025-04-01".to_owned()
            }
        );
    }

    #[test]
    fn a_serverless_endpoint_is_openai_compatible_and_a_missing_base_names_the_key() {
        let s = load(
            "{model: azure_ai/mistral-large, api_key: k}",
            &[(
                "AZURE_AI_API_BASE",
                "https://Mistral-large-abc-serverless.eastus2.inference.ai.azure.com/v1/",
            )],
        )
        .expect("valid");
        assert_eq!(
            s.api_base,
            "https://Mistral-large-abc-serverless.eastus2.inference.ai.azure.com/v1"
        );
        assert_eq!(s.dialect, Dialect::OpenAi);
        match load("{model: azure_ai/m}", &[]).expect_err("no base") {
            ConfigError::Invalid { path, .. } => {
                assert_eq!(path, "model_list[0].litellm_params.api_base");
            }
            other => panic!("{other}"),
        }
    }
}
