//! Validated runtime settings: what the gateway runs on once the file has been checked.
//! Secrets (`os.environ/NAME`) are resolved here, and every bad value is reported with its path.

use std::fmt;
use std::time::Duration;

use switchyard_layers::cost::PriceCatalog;
use switchyard_providers::anthropic::{ANTHROPIC_API_BASE, AnthropicSettings};
use switchyard_providers::bedrock::BedrockSettings;
use switchyard_providers::gemini::{GEMINI_API_BASE, GeminiSettings};
use switchyard_providers::mock::MockSettings;
use switchyard_providers::openai::{Dialect, OPENAI_API_BASE, OpenAiSettings};
use switchyard_router::{DeploymentLimits, Experiment, RoutingPolicy, RoutingRules};

use super::file::{ConfigFile, LitellmParams, ModelEntry};
use super::{ConfigError, ConfigWarning};

mod bedrock;

/// Upstream time allowed when neither the deployment nor `litellm_settings` names one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Request body limit when `general_settings.max_request_size_mb` is unset.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// What the gateway runs on.
pub struct Settings {
    /// Every deployment, in configuration order.
    pub deployments: Vec<DeploymentSettings>,
    /// The key clients must send; `None` leaves the gateway open.
    pub master_key: Option<String>,
    /// Largest request body accepted.
    pub max_request_bytes: usize,
    /// Strategy, retries, fallbacks and cooldowns.
    pub routing: RoutingPolicy,
    /// A/B experiments.
    pub experiments: Vec<Experiment>,
    /// Routing rules, by the model names that invoke them.
    pub rules: RoutingRules,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("deployments", &self.deployments)
            .field(
                "master_key",
                &self.master_key.as_ref().map(|_| "[redacted]"),
            )
            .field("max_request_bytes", &self.max_request_bytes)
            .field("routing", &self.routing)
            .field("experiments", &self.experiments)
            .field("rules", &self.rules)
            .finish()
    }
}

/// One validated deployment.
#[derive(Debug)]
pub struct DeploymentSettings {
    /// Stable id: `model_info.id`, or the model name and position.
    pub id: String,
    /// The name clients use.
    pub model_name: String,
    /// How to reach the upstream.
    pub provider: ProviderSettings,
    /// Time allowed for a complete answer.
    pub timeout: Duration,
    /// Time allowed until a stream has started.
    pub stream_timeout: Duration,
    /// Selection hints and limits (`weight`, `order`, `rpm`, `tpm`, `max_parallel_requests`).
    pub limits: DeploymentLimits,
}

/// The provider family of a deployment and its settings.
#[derive(Debug)]
pub enum ProviderSettings {
    /// An OpenAI-compatible upstream.
    OpenAi(OpenAiSettings),
    /// Anthropic's Messages API.
    Anthropic(AnthropicSettings),
    /// Google's Gemini API.
    Gemini(GeminiSettings),
    /// AWS Bedrock Runtime's Converse API.
    Bedrock(BedrockSettings),
    /// The built-in mock.
    Mock(MockSettings),
}

impl Settings {
    /// Validates a parsed file. `env` resolves `os.environ/NAME` references.
    pub fn from_file(
        file: ConfigFile,
        env: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Self, ConfigError> {
        let default_timeout = match (
            file.router_settings.timeout,
            file.litellm_settings.request_timeout,
        ) {
            (Some(secs), _) => seconds("router_settings.timeout", secs)?,
            (None, Some(secs)) => seconds("litellm_settings.request_timeout", secs)?,
            (None, None) => DEFAULT_TIMEOUT,
        };
        let mut deployments = Vec::with_capacity(file.model_list.len());
        for (index, entry) in file.model_list.into_iter().enumerate() {
            let path = format!("model_list[{index}]");
            let deployment = deployment(&path, index, entry, default_timeout, env, warnings)?;
            if deployments
                .iter()
                .any(|d: &DeploymentSettings| d.id == deployment.id)
            {
                return Err(ConfigError::invalid(
                    format!("{path}.model_info.id"),
                    format!("id `{}` is used by an earlier deployment", deployment.id),
                ));
            }
            deployments.push(deployment);
        }
        let master_key = match file.general_settings.master_key {
            Some(value) => {
                let key = resolve("general_settings.master_key", &value, env)?;
                if key.trim().is_empty() {
                    return Err(ConfigError::invalid(
                        "general_settings.master_key",
                        "must not be empty (remove the key to run without authentication)",
                    ));
                }
                Some(key)
            }
            None => None,
        };
        let max_request_bytes = match file.general_settings.max_request_size_mb {
            Some(mb) if mb.is_finite() && mb > 0.0 => (mb * 1024.0 * 1024.0) as usize,
            Some(mb) => {
                return Err(ConfigError::invalid(
                    "general_settings.max_request_size_mb",
                    format!("must be a positive number of megabytes, not {mb}"),
                ));
            }
            None => DEFAULT_MAX_REQUEST_BYTES,
        };
        let routing = super::routing::policy(
            &file.router_settings,
            &file.litellm_settings,
            &deployments,
            warnings,
        )?;
        let experiments = super::experiments::experiments(file.experiments, &deployments)?;
        let rules = super::rules::rules(&file.routing_rules, &deployments, &experiments, warnings)?;
        Ok(Self {
            deployments,
            master_key,
            max_request_bytes,
            routing,
            experiments,
            rules,
        })
    }
}

fn deployment(
    path: &str,
    index: usize,
    entry: ModelEntry,
    default_timeout: Duration,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<DeploymentSettings, ConfigError> {
    let ModelEntry {
        model_name,
        litellm_params: params,
        model_info,
    } = entry;
    if model_name.trim().is_empty() {
        return Err(ConfigError::invalid(
            format!("{path}.model_name"),
            "must not be empty",
        ));
    }
    let params_path = format!("{path}.litellm_params");
    let timeout = match params.timeout {
        Some(secs) => seconds(&format!("{params_path}.timeout"), secs)?,
        None => default_timeout,
    };
    let stream_timeout = match params.stream_timeout {
        Some(secs) => seconds(&format!("{params_path}.stream_timeout"), secs)?,
        None => timeout,
    };
    let limits = limits(&params_path, &params)?;
    let provider = provider(&params_path, params, env, warnings)?;
    let id = model_info
        .id
        .unwrap_or_else(|| format!("{model_name}-{index}"));
    Ok(DeploymentSettings {
        id,
        model_name,
        provider,
        timeout,
        stream_timeout,
        limits,
    })
}

fn limits(path: &str, params: &LitellmParams) -> Result<DeploymentLimits, ConfigError> {
    if let Some(weight) = params.weight
        && !(weight.is_finite() && weight >= 0.0)
    {
        return Err(ConfigError::invalid(
            format!("{path}.weight"),
            format!("must be a number >= 0, not {weight}"),
        ));
    }
    for (key, value) in [("rpm", params.rpm), ("tpm", params.tpm)] {
        if value == Some(0) {
            return Err(ConfigError::invalid(
                format!("{path}.{key}"),
                "must be at least 1 (remove it for no limit)",
            ));
        }
    }
    if params.max_parallel_requests == Some(0) {
        return Err(ConfigError::invalid(
            format!("{path}.max_parallel_requests"),
            "must be at least 1 (remove it for no limit)",
        ));
    }
    Ok(DeploymentLimits {
        weight: params.weight,
        order: params.order,
        rpm: params.rpm,
        tpm: params.tpm,
        max_parallel_requests: params.max_parallel_requests,
        cost_per_token: PriceCatalog::embedded()
            .get(&params.model)
            .map(|entry| entry.price.input_per_token + entry.price.output_per_token),
    })
}

fn provider(
    path: &str,
    params: LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<ProviderSettings, ConfigError> {
    let model_path = format!("{path}.model");
    let (family, model) = match params.model.split_once('/') {
        Some((family, model)) => (family, model),
        None => ("openai", params.model.as_str()),
    };
    if model.trim().is_empty() {
        return Err(ConfigError::invalid(
            model_path,
            "must name a model, as `provider/model` (for example `openai/gpt-4o-mini`)",
        ));
    }
    let is_mock = family == "mock";
    let mock_keys = [
        ("mock_response", params.mock_response.is_some()),
        ("mock_latency_ms", params.mock_latency_ms.is_some()),
        ("mock_failure_rate", params.mock_failure_rate.is_some()),
    ];
    if !is_mock {
        for (key, _) in mock_keys.iter().filter(|(_, set)| *set) {
            warnings.push(ConfigWarning {
                path: format!("{path}.{key}"),
                message: format!("only the mock provider reads this key; `{family}` ignores it"),
            });
        }
    }
    match family {
        "mock" => {
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
        "azure" => azure(path, model, &params, env),
        "anthropic" => anthropic(path, model, &params, env),
        "gemini" => gemini(path, model, &params, env),
        "bedrock" => bedrock::settings(path, model, &params, env),
        family => match PRESETS.iter().find(|p| p.family == family) {
            Some(preset) => openai_compatible(path, preset, model, &params, env),
            None => Err(ConfigError::invalid(
                model_path,
                format!(
                    "provider `{family}` is not supported (supported: {}, azure, anthropic, gemini, bedrock, mock)",
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

/// LiteLLM's OpenAI-compatible prefixes, with the defaults its documentation gives.
const PRESETS: &[Preset] = &[
    preset(
        "openai",
        Some(OPENAI_API_BASE),
        &["OPENAI_API_KEY"],
        &["OPENAI_API_BASE", "OPENAI_BASE_URL"],
    ),
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

fn openai_compatible(
    path: &str,
    preset: &Preset,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let base_path = format!("{path}.api_base");
    let api_base = match &params.api_base {
        Some(value) => resolve(&base_path, value, env)?,
        None => preset
            .base_vars
            .iter()
            .find_map(|var| env(var))
            .or(preset.api_base.map(str::to_owned))
            .ok_or_else(|| {
                ConfigError::invalid(
                    &base_path,
                    format!(
                        "provider `{}` needs an api_base (the server's URL)",
                        preset.family
                    ),
                )
            })?,
    };
    check_url(&base_path, &api_base)?;
    let api_base = if preset.append_v1 && !api_base.trim_end_matches('/').ends_with("/v1") {
        format!("{}/v1", api_base.trim_end_matches('/'))
    } else {
        api_base
    };
    let api_key = match &params.api_key {
        Some(value) => Some(resolve(&format!("{path}.api_key"), value, env)?),
        None => preset.key_vars.iter().find_map(|var| env(var)),
    };
    Ok(ProviderSettings::OpenAi(OpenAiSettings {
        family: preset.family,
        model: model.to_owned(),
        api_base,
        api_key,
        dialect: Dialect::OpenAi,
    }))
}

/// Azure OpenAI's default `api-version` when neither the config nor `AZURE_API_VERSION` names one.
pub const AZURE_DEFAULT_API_VERSION: &str = "2024-10-21";

fn azure(
    path: &str,
    deployment: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let base_path = format!("{path}.api_base");
    let api_base = match &params.api_base {
        Some(value) => resolve(&base_path, value, env)?,
        None => env("AZURE_API_BASE").ok_or_else(|| {
            ConfigError::invalid(
                &base_path,
                "Azure needs an api_base (https://<resource>.openai.azure.com) or AZURE_API_BASE",
            )
        })?,
    };
    check_url(&base_path, &api_base)?;
    let api_version = match &params.api_version {
        Some(value) => resolve(&format!("{path}.api_version"), value, env)?,
        None => env("AZURE_API_VERSION").unwrap_or_else(|| AZURE_DEFAULT_API_VERSION.to_owned()),
    };
    let api_key = match &params.api_key {
        Some(value) => Some(resolve(&format!("{path}.api_key"), value, env)?),
        None => env("AZURE_API_KEY"),
    };
    Ok(ProviderSettings::OpenAi(OpenAiSettings {
        family: "azure",
        model: deployment.to_owned(),
        api_base,
        api_key,
        dialect: Dialect::Azure { api_version },
    }))
}

/// An Anthropic deployment: the key from `api_key` or `ANTHROPIC_API_KEY`, the base URL from
/// `api_base`, `ANTHROPIC_API_BASE` or Anthropic's own.
fn anthropic(
    path: &str,
    model: &str,
    params: &LitellmParams,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderSettings, ConfigError> {
    let base_path = format!("{path}.api_base");
    let api_base = match &params.api_base {
        Some(value) => resolve(&base_path, value, env)?,
        None => env("ANTHROPIC_API_BASE").unwrap_or_else(|| ANTHROPIC_API_BASE.to_owned()),
    };
    check_url(&base_path, &api_base)?;
    let api_key = match &params.api_key {
        Some(value) => Some(resolve(&format!("{path}.api_key"), value, env)?),
        None => env("ANTHROPIC_API_KEY"),
    };
    Ok(ProviderSettings::Anthropic(AnthropicSettings {
        model: model.to_owned(),
        api_base,
        api_key,
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
    let base_path = format!("{path}.api_base");
    let api_base = match &params.api_base {
        Some(value) => resolve(&base_path, value, env)?,
        None => env("GEMINI_API_BASE").unwrap_or_else(|| GEMINI_API_BASE.to_owned()),
    };
    check_url(&base_path, &api_base)?;
    let key_path = format!("{path}.api_key");
    let api_key = match &params.api_key {
        Some(value) => Some(resolve(&key_path, value, env)?),
        None => env("GEMINI_API_KEY").or_else(|| env("GOOGLE_API_KEY")),
    };
    let root = api_base.trim_end_matches('/');
    if api_key.is_none() && root.strip_suffix("/v1beta").unwrap_or(root) == GEMINI_API_BASE {
        return Err(ConfigError::invalid(
            key_path,
            "Gemini needs an api_key (or GEMINI_API_KEY / GOOGLE_API_KEY in the environment)",
        ));
    }
    Ok(ProviderSettings::Gemini(GeminiSettings {
        model: model.to_owned(),
        api_base,
        api_key,
    }))
}

/// Resolves `os.environ/NAME` to the variable's value; other values are taken as written.
fn resolve(
    path: &str,
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    match value.strip_prefix("os.environ/") {
        Some(name) => env(name).ok_or_else(|| {
            ConfigError::invalid(path, format!("environment variable `{name}` is not set"))
        }),
        None => Ok(value.to_owned()),
    }
}

fn seconds(path: &str, secs: f64) -> Result<Duration, ConfigError> {
    if secs.is_finite() && secs > 0.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(ConfigError::invalid(
            path,
            format!("must be a positive number of seconds, not {secs}"),
        ))
    }
}

fn check_url(path: &str, url: &str) -> Result<(), ConfigError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| ConfigError::invalid(path, format!("`{url}` is not a URL: {e}")))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(()),
        _ => Err(ConfigError::invalid(
            path,
            format!("`{url}` must be an http:// or https:// URL"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_with_env;
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "UPSTREAM_KEY").then(|| "sk-from-env".to_owned())
    }

    fn one(params: &str) -> Result<DeploymentSettings, ConfigError> {
        let text = format!("model_list:\n  - model_name: m\n    litellm_params: {params}\n");
        let mut loaded = parse_with_env(&text, &env)?;
        Ok(loaded.settings.deployments.remove(0))
    }

    #[test]
    fn openai_deployment_resolves_its_key_from_the_environment() {
        let d = one("{model: openai/gpt-4o-mini, api_base: 'http://127.0.0.1:9/v1', api_key: os.environ/UPSTREAM_KEY, timeout: 2.5}")
            .expect("valid");
        let ProviderSettings::OpenAi(openai) = &d.provider else {
            panic!("openai expected")
        };
        assert_eq!(openai.model, "gpt-4o-mini");
        assert_eq!(openai.api_key.as_deref(), Some("sk-from-env"));
        assert_eq!(d.timeout, Duration::from_millis(2500));
        assert_eq!(d.stream_timeout, d.timeout);
        assert_eq!(d.id, "m-0");
    }

    #[test]
    fn a_missing_environment_variable_names_the_key_and_variable() {
        let err =
            one("{model: openai/x, api_key: os.environ/NOT_SET_ANYWHERE}").expect_err("invalid");
        let message = err.to_string();
        assert!(
            message.contains("model_list[0].litellm_params.api_key"),
            "{message}"
        );
        assert!(message.contains("NOT_SET_ANYWHERE"), "{message}");
    }

    #[test]
    fn catalog_prices_reach_the_router_for_cost_based_routing() {
        let d = one("{model: openai/gpt-4o-mini}").expect("valid");
        let expected = 0.15e-6 + 0.6e-6;
        let got = d
            .limits
            .cost_per_token
            .expect("gpt-4o-mini is in the catalog");
        assert!((got - expected).abs() < 1e-12, "{got}");
        let d = one("{model: mock/anything}").expect("valid");
        assert_eq!(d.limits.cost_per_token, None);
    }

    #[test]
    fn bad_values_are_refused_with_their_path() {
        let cases = [
            ("{model: openai/x, api_base: 'ftp://host'}", "api_base"),
            ("{model: openai/x, timeout: -1}", "timeout"),
            ("{model: mock/x, mock_failure_rate: 2}", "mock_failure_rate"),
            ("{model: frobnicator/x}", "model"),
            ("{model: 'openai/'}", "model"),
        ];
        for (params, key) in cases {
            let err = one(params).expect_err(params);
            let ConfigError::Invalid { path, .. } = &err else {
                panic!("{err}")
            };
            assert_eq!(
                path,
                &format!("model_list[0].litellm_params.{key}"),
                "{params}"
            );
        }
    }

    #[test]
    fn a_bare_model_name_goes_to_an_openai_compatible_upstream() {
        let d = one("{model: gpt-4o}").expect("valid");
        assert!(
            matches!(d.provider, ProviderSettings::OpenAi(ref s) if s.model == "gpt-4o" && s.api_base == OPENAI_API_BASE)
        );
    }

    #[test]
    fn presets_resolve_their_default_base_and_key_variable() {
        let groq = |name: &str| (name == "GROQ_API_KEY").then(|| "gsk-1".to_owned());
        let text = "model_list:\n  - model_name: m\n    litellm_params: {model: groq/llama-3.1-8b-instant}\n";
        let loaded = parse_with_env(text, &groq).expect("valid");
        let ProviderSettings::OpenAi(s) = &loaded.settings.deployments[0].provider else {
            panic!("openai-compatible expected")
        };
        assert_eq!(
            (s.family, s.api_base.as_str()),
            ("groq", "https://api.groq.com/openai/v1")
        );
        assert_eq!(s.api_key.as_deref(), Some("gsk-1"));
        assert_eq!(s.model, "llama-3.1-8b-instant");
    }

    #[test]
    fn ollama_gets_its_v1_path_and_vllm_needs_a_base() {
        let d = one("{model: ollama/llama3, api_base: 'http://10.0.0.5:11434'}").expect("valid");
        let ProviderSettings::OpenAi(s) = &d.provider else {
            panic!("openai-compatible")
        };
        assert_eq!(s.api_base, "http://10.0.0.5:11434/v1");
        let err = one("{model: hosted_vllm/qwen}").expect_err("needs api_base");
        assert!(err.to_string().contains("litellm_params.api_base"), "{err}");
    }

    #[test]
    fn azure_deployments_carry_their_api_version() {
        let d = one("{model: azure/my-gpt4o, api_base: 'https://res.openai.azure.com', api_key: k, api_version: '2025-01-01-preview'}")
            .expect("valid");
        let ProviderSettings::OpenAi(s) = &d.provider else {
            panic!("openai-compatible")
        };
        assert_eq!(s.model, "my-gpt4o");
        assert_eq!(
            s.dialect,
            Dialect::Azure {
                api_version: "2025-01-01-preview".to_owned()
            }
        );
        let err = one("{model: azure/x}").expect_err("needs a base");
        assert!(err.to_string().contains("api_base"), "{err}");
    }

    #[test]
    fn anthropic_deployments_read_their_key_and_base_from_config_or_environment() {
        let vars = |name: &str| match name {
            "ANTHROPIC_API_KEY" => Some("sk-ant-env".to_owned()),
            "ANTHROPIC_API_BASE" => Some("http://127.0.0.1:9".to_owned()),
            _ => None,
        };
        let text = "model_list:\n  - model_name: m\n    litellm_params: {model: anthropic/claude-sonnet-4-5}\n";
        let loaded = parse_with_env(text, &vars).expect("valid");
        let ProviderSettings::Anthropic(s) = &loaded.settings.deployments[0].provider else {
            panic!("anthropic expected")
        };
        assert_eq!(s.model, "claude-sonnet-4-5");
        assert_eq!(s.api_base, "http://127.0.0.1:9");
        assert_eq!(s.api_key.as_deref(), Some("sk-ant-env"));
        let d = one("{model: anthropic/claude-haiku-4-5, api_key: os.environ/UPSTREAM_KEY}")
            .expect("valid");
        let ProviderSettings::Anthropic(s) = &d.provider else {
            panic!("anthropic expected")
        };
        assert_eq!(s.api_base, ANTHROPIC_API_BASE);
        assert_eq!(s.api_key.as_deref(), Some("sk-from-env"));
        let err = one("{model: anthropic/c, api_base: 'ftp://x'}").expect_err("bad base");
        assert!(err.to_string().contains("litellm_params.api_base"), "{err}");
        let err = one("{model: nope/c}").expect_err("unknown provider");
        assert!(err.to_string().contains("anthropic"), "{err}");
    }

    #[test]
    fn gemini_deployments_read_their_key_and_base_from_config_or_environment() {
        let vars = |name: &str| match name {
            "GOOGLE_API_KEY" => Some("AIza-google".to_owned()),
            "GEMINI_API_BASE" => Some("http://127.0.0.1:9".to_owned()),
            _ => None,
        };
        let text = "model_list:\n  - model_name: m\n    litellm_params: {model: gemini/gemini-2.5-flash}\n";
        let loaded = parse_with_env(text, &vars).expect("valid");
        let ProviderSettings::Gemini(s) = &loaded.settings.deployments[0].provider else {
            panic!("gemini expected")
        };
        assert_eq!(s.model, "gemini-2.5-flash");
        assert_eq!(s.api_base, "http://127.0.0.1:9");
        assert_eq!(s.api_key.as_deref(), Some("AIza-google"));
        let both = |name: &str| match name {
            "GEMINI_API_KEY" => Some("AIza-gemini".to_owned()),
            "GOOGLE_API_KEY" => Some("AIza-google".to_owned()),
            _ => None,
        };
        let loaded = parse_with_env(text, &both).expect("valid");
        let ProviderSettings::Gemini(s) = &loaded.settings.deployments[0].provider else {
            panic!("gemini expected")
        };
        assert_eq!(
            s.api_key.as_deref(),
            Some("AIza-gemini"),
            "GEMINI_API_KEY comes first"
        );
        assert_eq!(s.api_base, GEMINI_API_BASE);
        let d =
            one("{model: gemini/gemini-2.5-pro, api_key: os.environ/UPSTREAM_KEY}").expect("valid");
        let ProviderSettings::Gemini(s) = &d.provider else {
            panic!("gemini expected")
        };
        assert_eq!(s.api_key.as_deref(), Some("sk-from-env"));
        assert!(
            !format!("{d:?}").contains("sk-from-env"),
            "keys stay out of Debug output"
        );
    }

    #[test]
    fn gemini_on_google_s_api_needs_a_key() {
        let err = one("{model: gemini/gemini-2.5-flash}").expect_err("no key");
        assert!(err.to_string().contains("litellm_params.api_key"), "{err}");
        assert!(err.to_string().contains("GEMINI_API_KEY"), "{err}");
        let err = one(
            "{model: gemini/gemini-2.5-flash, api_base: 'https://generativelanguage.googleapis.com/v1beta/'}",
        )
        .expect_err("no key for Google's API, however its URL is written");
        assert!(err.to_string().contains("api_key"), "{err}");
        let d = one("{model: gemini/gemini-2.5-flash, api_base: 'http://127.0.0.1:9'}")
            .expect("a proxy may add the key itself");
        assert!(matches!(d.provider, ProviderSettings::Gemini(ref s) if s.api_key.is_none()));
        let err = one("{model: nope/c}").expect_err("unknown provider");
        assert!(err.to_string().contains("gemini"), "{err}");
    }

    #[test]
    fn mock_keys_on_other_providers_are_warned_about() {
        let text = "model_list:\n  - model_name: m\n    litellm_params: {model: openai/x, mock_response: hi}\n";
        let loaded = parse_with_env(text, &env).expect("valid");
        assert_eq!(loaded.warnings.len(), 1);
        assert_eq!(
            loaded.warnings[0].path,
            "model_list[0].litellm_params.mock_response"
        );
    }

    #[test]
    fn master_key_and_body_limit_are_read() {
        let text = "general_settings:\n  master_key: os.environ/UPSTREAM_KEY\n  max_request_size_mb: 0.5\n";
        let loaded = parse_with_env(text, &env).expect("valid");
        assert_eq!(loaded.settings.master_key.as_deref(), Some("sk-from-env"));
        assert_eq!(loaded.settings.max_request_bytes, 512 * 1024);
        assert!(!format!("{:?}", loaded.settings).contains("sk-from-env"));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let text = "model_list:\n  - {model_name: a, litellm_params: {model: mock/a}, model_info: {id: x}}\n  - {model_name: b, litellm_params: {model: mock/b}, model_info: {id: x}}\n";
        let err = parse_with_env(text, &env).expect_err("duplicate");
        assert!(
            err.to_string().contains("model_list[1].model_info.id"),
            "{err}"
        );
    }
}
