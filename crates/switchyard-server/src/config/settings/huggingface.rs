//! `huggingface/...` deployments, as LiteLLM names them
//! (<https://docs.litellm.ai/docs/providers/huggingface>): without `api_base`, Hugging Face's
//! Inference Providers router, OpenAI-compatible at `https://router.huggingface.co/v1`, where
//! `huggingface/<provider>/<org>/<model>` is sent as the router's `<org>/<model>:<provider>` and
//! `huggingface/<org>/<model>` lets the router choose
//! (<https://huggingface.co/docs/inference-providers/index>); with `api_base`, a dedicated
//! Inference Endpoint or a TGI server, whose OpenAI-compatible API lives under `/v1`. The token
//! is `api_key`, else `HF_TOKEN` or `HUGGINGFACE_API_KEY`.

use switchyard_providers::openai::{Dialect, OpenAiSettings};

use super::providers::{Sources, base_and_key, extra_headers};
use super::{ConfigError, LitellmParams, ProviderSettings};

/// Hugging Face's Inference Providers router.
pub const HUGGINGFACE_ROUTER: &str = "https://router.huggingface.co/v1";

pub(super) fn settings(
    path: &str,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let sources = Sources {
        base_vars: &["HF_API_BASE", "HUGGINGFACE_API_BASE"],
        default_base: Some(HUGGINGFACE_ROUTER),
        key_vars: &["HF_TOKEN", "HUGGINGFACE_API_KEY"],
        missing_base: "",
    };
    let (api_base, api_key) = base_and_key(path, params, env, &sources)?;
    let root = api_base.trim_end_matches('/');
    let (api_base, model) = if root == HUGGINGFACE_ROUTER {
        if api_key.is_none() {
            return Err(ConfigError::invalid(
                format!("{path}.api_key"),
                "Hugging Face's router needs a token (api_key, or HF_TOKEN / \
                 HUGGINGFACE_API_KEY in the environment)",
            ));
        }
        (root.to_owned(), router_model(model))
    } else if root.ends_with("/v1") {
        (root.to_owned(), model.to_owned())
    } else {
        (format!("{root}/v1"), model.to_owned())
    };
    Ok(ProviderSettings::OpenAi(OpenAiSettings {
        family: "huggingface",
        model,
        api_base,
        api_key,
        dialect: Dialect::OpenAi,
        extra_headers: extra_headers(path, params, env)?,
        bearer: None,
    }))
}

/// `<provider>/<org>/<model>` as the router's `<org>/<model>:<provider>`; other names as they are.
fn router_model(model: &str) -> String {
    let mut parts = model.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(provider), Some(org), Some(name)) if !model.contains(':') => {
            format!("{org}/{name}:{provider}")
        }
        _ => model.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::openai_deployment as load;
    use super::*;

    #[test]
    fn the_router_takes_the_provider_after_a_colon_and_needs_a_token() {
        let token = [("HF_TOKEN", "hf_token")];
        let s = load(
            "{model: huggingface/together/deepseek-ai/DeepSeek-R1}",
            &token,
        )
        .expect("valid");
        assert_eq!(s.family, "huggingface");
        assert_eq!(s.api_base, HUGGINGFACE_ROUTER);
        assert_eq!(s.model, "deepseek-ai/DeepSeek-R1:together");
        assert_eq!(s.api_key.as_deref(), Some("hf_token"));
        let s = load(
            "{model: huggingface/meta-llama/Llama-3.3-70B-Instruct}",
            &token,
        )
        .expect("valid");
        assert_eq!(s.model, "meta-llama/Llama-3.3-70B-Instruct");
        let s = load(
            "{model: 'huggingface/Qwen/Qwen3-32B:fastest'}",
            &[("HUGGINGFACE_API_KEY", "hf_other")],
        )
        .expect("valid");
        assert_eq!(s.model, "Qwen/Qwen3-32B:fastest");
        assert_eq!(s.api_key.as_deref(), Some("hf_other"));
        match load("{model: huggingface/org/model}", &[]).expect_err("no token") {
            ConfigError::Invalid { path, .. } => {
                assert_eq!(path, "model_list[0].litellm_params.api_key");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_dedicated_endpoint_or_tgi_is_called_under_v1_with_the_model_as_written() {
        let s = load(
            "{model: huggingface/HuggingFaceH4/zephyr-7b-beta, api_base: 'http://0.0.0.0:8001'}",
            &[],
        )
        .expect("valid");
        assert_eq!(s.api_base, "http://0.0.0.0:8001/v1");
        assert_eq!(s.model, "HuggingFaceH4/zephyr-7b-beta");
        assert_eq!(s.api_key, None);
        let s = load(
            "{model: huggingface/tgi, api_base: 'https://x.us-east-1.aws.endpoints.huggingface.cloud/v1/', api_key: hf_k}",
            &[],
        )
        .expect("valid");
        assert_eq!(
            s.api_base,
            "https://x.us-east-1.aws.endpoints.huggingface.cloud/v1"
        );
        assert_eq!(s.model, "tgi");
    }
}
