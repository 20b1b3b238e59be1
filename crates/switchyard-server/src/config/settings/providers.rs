//! The provider arms of `litellm_params.model`: which family a `provider/model` name selects
//! and how its settings (base URL, key, version) are resolved, LiteLLM's prefixes included.

use std::time::Duration;

use switchyard_providers::anthropic::{ANTHROPIC_API_BASE, AnthropicSettings};
use switchyard_providers::cohere::{self, COHERE_API_BASE, CohereSettings};
use switchyard_providers::gemini::{GEMINI_API_BASE, GeminiSettings};
use switchyard_providers::mock::MockSettings;
use switchyard_providers::openai::{Dialect, OPENAI_API_BASE, OpenAiSettings};
use switchyard_providers::sagemaker;
use switchyard_providers::text_completion;

use super::super::file::LitellmParams;
use super::super::{ConfigError, ConfigWarning};
use super::{
    ProviderSettings, azure_ai, bedrock, check_url, entra, foreign_credentials, huggingface,
    inference, resolve, sagemaker as sagemaker_settings, vertex,
};

/// `azure_ad_token_refresh` is `litellm_settings.enable_azure_ad_token_refresh`.
pub(super) fn provider(
    path: &str,
    params: LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    azure_ad_token_refresh: bool,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ProviderSettings, ConfigError> {
    let model_path = format!("{path}.model");
    let (family, model) = match params.model.split_once('/') {
        Some((family, model)) => (family, model),
        None => {
            let family = inference::infer_family(&params.model, &|family| {
                matches!(
                    family,
                    "anthropic" | "gemini" | "bedrock" | cohere::FAMILY | text_completion::FAMILY
                ) || PRESETS.iter().any(|p| p.family == family)
            });
            if family != "openai" {
                warnings.push(ConfigWarning {
                    path: model_path.clone(),
                    message: format!(
                        "no provider prefix: `{family}`, as LiteLLM infers it from the name; \
                         write `{family}/{}` to say so",
                        params.model
                    ),
                });
            }
            (family, params.model.as_str())
        }
    };
    if model.trim().is_empty() {
        return Err(ConfigError::invalid(
            model_path,
            "must name a model, as `provider/model` (for example `openai/gpt-4o-mini`)",
        ));
    }
    // LiteLLM answers a deployment with a `mock_response` from it, whatever its provider.
    let is_mock = family == "mock" || params.mock_response.is_some();
    if family != "mock" && params.mock_response.is_some() {
        warnings.push(ConfigWarning {
            path: format!("{path}.mock_response"),
            message: format!(
                "the deployment answers with `mock_response` and never calls `{family}`, as in LiteLLM"
            ),
        });
    }
    let mock_keys = [
        ("mock_response", params.mock_response.is_some()),
        ("mock_latency_ms", params.mock_latency_ms.is_some()),
        ("mock_failure_rate", params.mock_failure_rate.is_some()),
    ];
    if !is_mock {
        foreign_credentials::warn(path, family, &params, warnings);
        for (key, _) in mock_keys.iter().filter(|(_, set)| *set) {
            warnings.push(ConfigWarning {
                path: format!("{path}.{key}"),
                message: format!("only the mock provider reads this key; `{family}` ignores it"),
            });
        }
    }
    // Keys only some families send; elsewhere they would be dropped, so they are refused.
    let header_family = !matches!(
        family,
        "mock" | "gemini" | "bedrock" | "vertex_ai" | cohere::FAMILY | sagemaker::FAMILY
    );
    for (key, set, takes) in [
        (
            "extra_headers",
            params.extra_headers.is_some(),
            header_family,
        ),
        (
            "organization",
            params.organization.is_some(),
            header_family && !matches!(family, "azure" | "azure_ai" | "anthropic"),
        ),
        (
            "azure_ad_token",
            params.azure_ad_token.is_some(),
            matches!(family, "azure" | "azure_ai"),
        ),
        ("tenant_id", params.tenant_id.is_some(), family == "azure"),
        ("client_id", params.client_id.is_some(), family == "azure"),
        (
            "client_secret",
            params.client_secret.is_some(),
            family == "azure",
        ),
        (
            "azure_scope",
            params.azure_scope.is_some(),
            family == "azure",
        ),
        (
            "vertex_project",
            params.vertex_project.is_some(),
            family == "vertex_ai",
        ),
        (
            "vertex_location",
            params.vertex_location.is_some(),
            family == "vertex_ai",
        ),
        (
            "vertex_credentials",
            params.vertex_credentials.is_some(),
            family == "vertex_ai",
        ),
    ] {
        if set && !takes {
            return Err(ConfigError::invalid(
                format!("{path}.{key}"),
                format!("`{family}` deployments take no `{key}`; remove it"),
            ));
        }
    }
    match family {
        _ if is_mock => {
            let failure_rate = params.mock_failure_rate.unwrap_or(0.0);
            if !(0.0..=1.0).contains(&failure_rate) {
                return Err(ConfigError::invalid(
                    format!("{path}.mock_failure_rate"),
                    format!("must be between 0.0 and 1.0, not {failure_rate}"),
                ));
            }
            Ok(ProviderSettings::Mock(MockSettings {
                model: model.to_owned(),
                response: params.mock_response,
                latency: Duration::from_millis(params.mock_latency_ms.unwrap_or(0)),
                failure_rate,
            }))
        }
        "azure" => azure(path, model, &params, env, azure_ad_token_refresh),
        "anthropic" => anthropic(path, model, &params, env),
        "gemini" => gemini(path, model, &params, env),
        cohere::FAMILY => cohere(path, model, &params, env),
        "bedrock" => bedrock::settings(path, model, &params, env, warnings),
        sagemaker::FAMILY => sagemaker_settings::settings(path, model, &params, env, warnings),
        "azure_ai" => azure_ai::settings(path, model, &params, env),
        "huggingface" => huggingface::settings(path, model, &params, env),
        // LiteLLM's `text-completion-openai/`: OpenAI's own settings and keys, its legacy
        // Completions API (https://docs.litellm.ai/docs/providers/text_completion_openai).
        text_completion::FAMILY => openai_compatible(path, &OPENAI, model, &params, env)
            .map(ProviderSettings::TextCompletion),
        "vertex_ai" => vertex::settings(path, model, &params, env, warnings),
        family => match PRESETS.iter().find(|p| p.family == family) {
            Some(preset) => {
                openai_compatible(path, preset, model, &params, env).map(ProviderSettings::OpenAi)
            }
            None => Err(ConfigError::invalid(
                model_path,
                format!(
                    "provider `{family}` is not supported (supported: {}, text-completion-openai, azure, azure_ai, anthropic, gemini, cohere, bedrock, sagemaker, vertex_ai, huggingface, mock)",
                    PRESETS
                        .iter()
                        .map(|p| p.family)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        },
    }
}

/// A provider prefix that LiteLLM maps to an OpenAI-compatible API: where it lives by default and
/// which environment variables hold its key and base URL when the config names none.
struct Preset {
    family: &'static str,
    api_base: Option<&'static str>,
    key_vars: &'static [&'static str],
    base_vars: &'static [&'static str],
    /// Ollama users write the server's root URL; its OpenAI-compatible API lives under `/v1`.
    append_v1: bool,
}

const fn preset(
    family: &'static str,
    api_base: Option<&'static str>,
    key_vars: &'static [&'static str],
    base_vars: &'static [&'static str],
) -> Preset {
    Preset {
        family,
        api_base,
        key_vars,
        base_vars,
        append_v1: false,
    }
}

/// OpenAI's own API.
const OPENAI: Preset = preset(
    "openai",
    Some(OPENAI_API_BASE),
    &["OPENAI_API_KEY"],
    &["OPENAI_API_BASE", "OPENAI_BASE_URL"],
);

/// LiteLLM's OpenAI-compatible prefixes, with the defaults its documentation gives.
const PRESETS: &[Preset] = &[
    OPENAI,
    preset(
        "mistral",
        Some("https://api.mistral.ai/v1"),
        &["MISTRAL_API_KEY"],
        &["MISTRAL_API_BASE"],
    ),
    preset(
        "groq",
        Some("https://api.groq.com/openai/v1"),
        &["GROQ_API_KEY"],
        &["GROQ_API_BASE"],
    ),
    preset(
        "together_ai",
        Some("https://api.together.xyz/v1"),
        &[
            "TOGETHERAI_API_KEY",
            "TOGETHER_API_KEY",
            "TOGETHER_AI_API_KEY",
        ],
        &["TOGETHERAI_API_BASE"],
    ),
    preset(
        "deepseek",
        Some("https://api.deepseek.com/v1"),
        &["DEEPSEEK_API_KEY"],
        &["DEEPSEEK_API_BASE"],
    ),
    preset(
        "xai",
        Some("https://api.x.ai/v1"),
        &["XAI_API_KEY"],
        &["XAI_API_BASE"],
    ),
    preset(
        "fireworks_ai",
        Some("https://api.fireworks.ai/inference/v1"),
        &[
            "FIREWORKS_AI_API_KEY",
            "FIREWORKS_API_KEY",
            "FIREWORKSAI_API_KEY",
        ],
        &["FIREWORKS_API_BASE"],
    ),
    preset(
        "openrouter",
        Some("https://openrouter.ai/api/v1"),
        &["OPENROUTER_API_KEY", "OR_API_KEY"],
        &["OPENROUTER_API_BASE"],
    ),
    preset(
        "perplexity",
        Some("https://api.perplexity.ai"),
        &["PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"],
        &["PERPLEXITY_API_BASE"],
    ),
    preset(
        "cerebras",
        Some("https://api.cerebras.ai/v1"),
        &["CEREBRAS_API_KEY"],
        &["CEREBRAS_API_BASE"],
    ),
    Preset {
        append_v1: true,
        ..preset(
            "ollama",
            Some("http://localhost:11434"),
            &["OLLAMA_API_KEY"],
            &["OLLAMA_API_BASE"],
        )
    },
    Preset {
        append_v1: true,
        ..preset(
            "ollama_chat",
            Some("http://localhost:11434"),
            &["OLLAMA_API_KEY"],
            &["OLLAMA_API_BASE"],
        )
    },
    preset(
        "hosted_vllm",
        None,
        &["HOSTED_VLLM_API_KEY"],
        &["HOSTED_VLLM_API_BASE"],
    ),
    preset("custom_openai", None, &["OPENAI_API_KEY"], &[]),
];

/// Where a provider's base URL and key come from when the deployment does not name them.
pub(super) struct Sources<'a> {
    /// Environment variables holding the base URL, tried in order.
    pub(super) base_vars: &'a [&'a str],
    /// The provider's own URL, if it has one.
    pub(super) default_base: Option<&'a str>,
    /// Environment variables holding the key, tried in order.
    pub(super) key_vars: &'a [&'a str],
    /// Why a base URL is required, when there is no default.
    pub(super) missing_base: &'a str,
}

/// The base URL (`api_base`, else the variables, else the default; checked) and the key
/// (`api_key`, else the variables), both resolving `os.environ/NAME`.
pub(super) fn base_and_key(
    path: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    sources: &Sources<'_>,
) -> Result<(String, Option<String>), ConfigError> {
    let base_path = format!("{path}.api_base");
    let api_base = match &params.api_base {
        Some(value) => resolve(&base_path, value, env)?,
        None => sources
            .base_vars
            .iter()
            .find_map(|var| env(var))
            .or(sources.default_base.map(str::to_owned))
            .ok_or_else(|| ConfigError::invalid(&base_path, sources.missing_base))?,
    };
    check_url(&base_path, &api_base)?;
    let api_key = match &params.api_key {
        Some(value) => Some(resolve(&format!("{path}.api_key"), value, env)?),
        None => sources.key_vars.iter().find_map(|var| env(var)),
    };
    Ok((api_base, api_key))
}

fn openai_compatible(
    path: &str,
    preset: &Preset,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<OpenAiSettings, ConfigError> {
    let missing_base = format!(
        "provider `{}` needs an api_base (the server's URL)",
        preset.family
    );
    let sources = Sources {
        base_vars: preset.base_vars,
        default_base: preset.api_base,
        key_vars: preset.key_vars,
        missing_base: &missing_base,
    };
    let (api_base, api_key) = base_and_key(path, params, env, &sources)?;
    let api_base = if preset.append_v1 && !api_base.trim_end_matches('/').ends_with("/v1") {
        format!("{}/v1", api_base.trim_end_matches('/'))
    } else {
        api_base
    };
    let mut extra_headers = extra_headers(path, params, env)?;
    if let Some(org) = &params.organization {
        let org = resolve(&format!("{path}.organization"), org, env)?;
        extra_headers.push(("openai-organization".to_owned(), org));
    }
    Ok(OpenAiSettings {
        family: preset.family,
        model: model.to_owned(),
        api_base,
        api_key,
        dialect: Dialect::OpenAi,
        extra_headers,
        bearer: None,
    })
}

/// The deployment's `extra_headers`, values resolved.
pub(super) fn extra_headers(
    path: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let Some(headers) = &params.extra_headers else {
        return Ok(Vec::new());
    };
    headers
        .iter()
        .map(|(name, value)| {
            let key_path = format!("{path}.extra_headers.{name}");
            let value = resolve(&key_path, value, env)?;
            let valid = http::HeaderName::try_from(name.as_str()).is_ok()
                && http::HeaderValue::try_from(value.as_str()).is_ok();
            if !valid {
                return Err(ConfigError::invalid(key_path, "is not a valid HTTP header"));
            }
            Ok((name.to_ascii_lowercase(), value))
        })
        .collect()
}

/// Azure OpenAI's default `api-version` when neither the config nor `AZURE_API_VERSION` names one.
pub const AZURE_DEFAULT_API_VERSION: &str = "2024-10-21";

fn azure(
    path: &str,
    deployment: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    token_refresh: bool,
) -> Result<ProviderSettings, ConfigError> {
    let sources = Sources {
        base_vars: &["AZURE_API_BASE"],
        default_base: None,
        key_vars: &["AZURE_API_KEY"],
        missing_base: "Azure needs an api_base (https://<resource>.openai.azure.com) or AZURE_API_BASE",
    };
    let (api_base, api_key) = base_and_key(path, params, env, &sources)?;
    let api_version = api_version(
        path,
        params,
        env,
        "AZURE_API_VERSION",
        AZURE_DEFAULT_API_VERSION,
    )?;
    let has_key = api_key.as_deref().is_some_and(|key| !key.is_empty());
    let bearer = entra::credential(path, params, env, has_key, token_refresh)?;
    Ok(ProviderSettings::OpenAi(OpenAiSettings {
        family: "azure",
        model: deployment.to_owned(),
        api_base,
        api_key,
        dialect: Dialect::Azure { api_version },
        extra_headers: azure_headers(path, params, env)?,
        bearer,
    }))
}

/// `api_version`, else the variable `var`, else `default`.
pub(super) fn api_version(
    path: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    var: &str,
    default: &str,
) -> Result<String, ConfigError> {
    match &params.api_version {
        Some(value) => resolve(&format!("{path}.api_version"), value, env),
        None => Ok(env(var).unwrap_or_else(|| default.to_owned())),
    }
}

/// The `extra_headers` of an Azure deployment, with its `azure_ad_token` as a bearer token.
pub(super) fn azure_headers(
    path: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut headers = extra_headers(path, params, env)?;
    if let Some(token) = &params.azure_ad_token {
        let token = resolve(&format!("{path}.azure_ad_token"), &token.0, env)?;
        headers.push(("authorization".to_owned(), format!("Bearer {token}")));
    }
    Ok(headers)
}

/// An Anthropic deployment: the key from `api_key` or `ANTHROPIC_API_KEY`, the base URL from
/// `api_base`, `ANTHROPIC_API_BASE` or Anthropic's own.
fn anthropic(
    path: &str,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let sources = Sources {
        base_vars: &["ANTHROPIC_API_BASE"],
        default_base: Some(ANTHROPIC_API_BASE),
        key_vars: &["ANTHROPIC_API_KEY"],
        missing_base: "",
    };
    let (api_base, api_key) = base_and_key(path, params, env, &sources)?;
    Ok(ProviderSettings::Anthropic(AnthropicSettings {
        model: model.to_owned(),
        api_base,
        api_key,
        extra_headers: extra_headers(path, params, env)?,
    }))
}

/// A Gemini deployment: the key from `api_key`, `GEMINI_API_KEY` or `GOOGLE_API_KEY`, the base
/// URL from `api_base`, `GEMINI_API_BASE` or Google's own. Google's API refuses every call
/// without a key, so one is required there; a custom base (a proxy) may do without.
fn gemini(
    path: &str,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let sources = Sources {
        base_vars: &["GEMINI_API_BASE"],
        default_base: Some(GEMINI_API_BASE),
        key_vars: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        missing_base: "",
    };
    let (api_base, api_key) = base_and_key(path, params, env, &sources)?;
    let root = api_base.trim_end_matches('/');
    require_key(
        path,
        api_key.as_deref(),
        root.strip_suffix("/v1beta").unwrap_or(root) == GEMINI_API_BASE,
        "Gemini needs an api_key (or GEMINI_API_KEY / GOOGLE_API_KEY in the environment)",
    )?;
    Ok(ProviderSettings::Gemini(GeminiSettings {
        model: model.to_owned(),
        api_base,
        api_key,
    }))
}

/// A Cohere deployment (<https://docs.litellm.ai/docs/providers/cohere>): the key from
/// `api_key` or `COHERE_API_KEY`, the base URL from `api_base`, `COHERE_API_BASE` or Cohere's
/// own, which refuses every call without a key.
fn cohere(
    path: &str,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let sources = Sources {
        base_vars: &["COHERE_API_BASE"],
        default_base: Some(COHERE_API_BASE),
        key_vars: &["COHERE_API_KEY", "CO_API_KEY"],
        missing_base: "",
    };
    let (api_base, api_key) = base_and_key(path, params, env, &sources)?;
    require_key(
        path,
        api_key.as_deref(),
        api_base.trim_end_matches('/') == COHERE_API_BASE,
        "Cohere needs an api_key (or COHERE_API_KEY in the environment)",
    )?;
    Ok(ProviderSettings::Cohere(CohereSettings {
        model: model.to_owned(),
        api_base,
        api_key,
    }))
}

/// Refuses a deployment without a key when it calls the provider's own API (`at_own_api`),
/// which refuses every call without one; a custom base (a proxy) may do without.
fn require_key(
    path: &str,
    api_key: Option<&str>,
    at_own_api: bool,
    message: &str,
) -> Result<(), ConfigError> {
    if api_key.is_none() && at_own_api {
        return Err(ConfigError::invalid(format!("{path}.api_key"), message));
    }
    Ok(())
}
