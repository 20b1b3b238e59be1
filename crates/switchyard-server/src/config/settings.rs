//! Validated runtime settings: what the gateway runs on once the file has been checked.
//! Secrets (`os.environ/NAME`) are resolved here, and every bad value is reported with its path.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use switchyard_layers::cost::{ModelPrice, PriceCatalog, Pricing};
use switchyard_providers::anthropic::AnthropicSettings;
use switchyard_providers::bedrock::BedrockSettings;
use switchyard_providers::cohere::CohereSettings;
use switchyard_providers::gemini::GeminiSettings;
use switchyard_providers::mock::MockSettings;
use switchyard_providers::openai::OpenAiSettings;
use switchyard_providers::sagemaker::SagemakerSettings;
use switchyard_providers::vertex::VertexSettings;
use switchyard_router::{
    DEFAULT_MAX_STREAM_DURATION, DeploymentLimits, Experiment, RoutingPolicy, RoutingRules,
};
use switchyard_telemetry::{TelemetryError, TelemetrySettings};

use super::budgets::BudgetSettings;
use super::file::{ConfigFile, GeneralSettings, LitellmParams, ModelEntry};
use super::layers::LayerSettings;
use super::shared_usage::SharedUsageSettings;
use super::storage::Database;
use super::{ConfigError, ConfigWarning};

mod aws;
mod azure_ai;
mod bedrock;
mod entra;
mod foreign_credentials;
mod huggingface;
mod inference;
mod providers;
mod sagemaker;
#[cfg(test)]
mod tests;
mod vertex;

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
    /// Other names for model groups (`router_settings.model_group_alias`).
    pub aliases: Vec<ModelAlias>,
    /// Whether calls prefer deployments whose model takes their prompt
    /// (`router_settings.enable_pre_call_checks`).
    pub pre_call_checks: bool,
    /// Tag routing (`router_settings.enable_tag_filtering`): whether a request needs all its
    /// tags on a deployment (`Some(false)`) or any (`Some(true)`); `None` when off.
    pub tag_filtering_match_any: Option<bool>,
    /// Whether a `model: "*"` deployment asks for bare model names to be served by the
    /// provider the catalog lists for them (see [`crate::wildcard`]).
    pub infer_wildcard_provider: bool,
    /// Routing rules, by the model names that invoke them.
    pub rules: RoutingRules,
    /// The Redis through which replicas share per-minute usage; `None` keeps it per replica.
    pub shared_usage: Option<SharedUsageSettings>,
    /// The response cache, rate limits per caller and `max_tokens` policies.
    pub layers: LayerSettings,
    /// Where keys, users, teams and spend records are kept.
    pub database: Database,
    /// The most PostgreSQL connections kept open
    /// (`general_settings.database_connection_pool_limit`).
    pub database_pool_limit: Option<u32>,
    /// How budgets are enforced: counter failures, unpriced deployments, end users.
    pub budgets: BudgetSettings,
    /// Timeouts of the listener and its shutdown, and the readiness policy.
    pub server: ServerSettings,
    /// The most time a whole call may take, retries and fallbacks included
    /// (`router_settings.timeout`); a request's own `timeout` may only shorten it.
    pub request_timeout: Duration,
    /// The `telemetry` section as the file gives it (validated); the binary applies the
    /// `OTEL_*` environment over it before starting telemetry.
    pub telemetry: TelemetrySettings,
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
            .field("aliases", &self.aliases)
            .field("infer_wildcard_provider", &self.infer_wildcard_provider)
            .field("tag_filtering_match_any", &self.tag_filtering_match_any)
            .field("pre_call_checks", &self.pre_call_checks)
            .field("rules", &self.rules)
            .field("shared_usage", &self.shared_usage)
            .field("layers", &self.layers)
            .field("database", &self.database)
            .field("database_pool_limit", &self.database_pool_limit)
            .field("budgets", &self.budgets)
            .field("server", &self.server)
            .field("request_timeout", &self.request_timeout)
            .field("telemetry", &self.telemetry)
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
    /// Time allowed until a stream has started, and between two of its chunks.
    pub stream_timeout: Duration,
    /// Time a stream may run in all once started.
    pub max_stream_duration: Duration,
    /// Selection hints and limits (`weight`, `order`, `rpm`, `tpm`, `max_parallel_requests`).
    pub limits: DeploymentLimits,
    /// Its price: configured, else the catalog's for its model or `model_info.base_model`;
    /// `None` when neither is known (such a deployment is warned about at load). The mock
    /// provider costs nothing.
    pub price: Option<ModelPrice>,
    /// The most prompt tokens its model takes (`model_info`, else the catalog), when known.
    pub max_input_tokens: Option<u64>,
    /// The most tokens its model generates in one answer (`model_info`, else the catalog).
    pub max_output_tokens: Option<u64>,
    /// Request parameters it fills in and fields it removes (`litellm_params`).
    pub request_params: crate::request_params::RequestParams,
    /// Its `tags` and `tag_regex` patterns.
    pub tags: crate::tag_routing::DeploymentTags,
    /// The access groups its model group belongs to (`model_info.access_groups`).
    pub access_groups: Vec<String>,
}

/// The provider family of a deployment and its settings.
#[derive(Debug)]
pub enum ProviderSettings {
    /// An OpenAI-compatible upstream.
    OpenAi(OpenAiSettings),
    /// A model only OpenAI's legacy Completions API serves (`text-completion-openai/`).
    TextCompletion(OpenAiSettings),
    /// Anthropic's Messages API.
    Anthropic(AnthropicSettings),
    /// Google's Gemini API.
    Gemini(GeminiSettings),
    /// Cohere's API v2.
    Cohere(CohereSettings),
    /// AWS Bedrock Runtime's Converse API.
    Bedrock(BedrockSettings),
    /// A model on an Amazon SageMaker endpoint.
    Sagemaker(SagemakerSettings),
    /// Google's and Anthropic's models on Vertex AI.
    Vertex(VertexSettings),
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
        let server = server_settings(&file.general_settings)?;
        let default_timeout = match (
            file.router_settings.timeout,
            file.litellm_settings.request_timeout,
        ) {
            (Some(secs), _) => seconds("router_settings.timeout", secs)?,
            (None, Some(secs)) => seconds("litellm_settings.request_timeout", secs)?,
            (None, None) => DEFAULT_TIMEOUT,
        };
        let defaults = DeploymentDefaults {
            timeout: default_timeout,
            stream_timeout: file
                .router_settings
                .stream_timeout
                .map(|secs| seconds("router_settings.stream_timeout", secs))
                .transpose()?,
            max_stream_duration: match file.router_settings.max_stream_duration {
                Some(secs) => seconds("router_settings.max_stream_duration", secs)?,
                None => DEFAULT_MAX_STREAM_DURATION,
            },
            max_parallel_requests: file.router_settings.default_max_parallel_requests,
            request_params: file.router_settings.default_litellm_params.as_ref(),
            azure_ad_token_refresh: file.litellm_settings.enable_azure_ad_token_refresh
                == Some(true),
        };
        let mut deployments = Vec::with_capacity(file.model_list.len());
        let environment = env("SWITCHYARD_ENVIRONMENT").or_else(|| env("LITELLM_ENVIRONMENT"));
        if file.litellm_settings.drop_params == Some(false) {
            warnings.push(ConfigWarning {
                path: "litellm_settings.drop_params".to_owned(),
                message: "Switchyard drops parameters a provider has no counterpart for                           whatever this says (LiteLLM would fail such calls with 400)"
                    .to_owned(),
            });
        }
        let (model_list, infer_wildcard_provider) =
            any_provider_wildcards(file.model_list, env, warnings)?;
        for (index, entry) in model_list.into_iter().enumerate() {
            let path = format!("model_list[{index}]");
            if let (Some(served), Some(current)) =
                (&entry.model_info.supported_environments, &environment)
                && !served.contains(current)
            {
                warnings.push(ConfigWarning {
                    path: format!("{path}.model_info.supported_environments"),
                    message: format!(
                        "not served in environment `{current}` (served in: {})",
                        served.join(", ")
                    ),
                });
                continue;
            }
            let deployment = deployment(&path, index, entry, &defaults, env, warnings)?;
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
        if file.general_settings.store_model_in_db == Some(false) {
            return Err(ConfigError::invalid(
                "general_settings.store_model_in_db",
                "Switchyard always keeps deployments added with /model/new in the database; \
                 remove the key",
            ));
        }
        let budgets =
            super::budgets::budget_settings(&file.general_settings, &file.litellm_settings)?;
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
        let aliases = aliases(&file.router_settings.model_group_alias, &deployments)?;
        let rules = super::rules::rules(&file.routing_rules, &deployments, &experiments, warnings)?;
        let shared_usage = super::shared_usage::shared_usage(&file.router_settings, env, warnings)?;
        let database = super::storage::database(file.general_settings.database_url.as_ref(), env)?;
        let layer_keys = super::layers::LayerKeys {
            litellm_settings: &file.litellm_settings,
            rate_limits: file.rate_limits.as_ref(),
            max_tokens: file.max_tokens.as_ref(),
        };
        let layers = super::layers::layers(layer_keys, shared_usage.as_ref(), env, warnings)?;
        file.telemetry.validate().map_err(telemetry_error)?;
        Ok(Self {
            deployments,
            master_key,
            max_request_bytes,
            routing,
            experiments,
            aliases,
            infer_wildcard_provider,
            pre_call_checks: file.router_settings.enable_pre_call_checks == Some(true)
                || file.router_settings.enable_pre_call_check == Some(true),
            tag_filtering_match_any: (file.router_settings.enable_tag_filtering == Some(true))
                .then(|| file.router_settings.tag_filtering_match_any.unwrap_or(true)),
            rules,
            shared_usage,
            layers,
            database,
            database_pool_limit: match file.general_settings.database_connection_pool_limit {
                Some(0) => {
                    return Err(ConfigError::invalid(
                        "general_settings.database_connection_pool_limit",
                        "must be at least 1",
                    ));
                }
                limit => limit,
            },
            budgets,
            server,
            request_timeout: default_timeout,
            telemetry: file.telemetry,
        })
    }
}

/// The providers a `model: "*"` deployment may stand for, with the variable their key comes
/// from: those whose adapters take the model per call.
const ANY_PROVIDER: [(&str, &str); 2] = [
    ("openai", "OPENAI_API_KEY"),
    ("anthropic", "ANTHROPIC_API_KEY"),
];

/// Turns each `model_name: "*"` / `model: "*"` deployment into one `{provider}/*` deployment
/// per provider whose key the environment holds (LiteLLM's "default models": any model, with
/// the provider's default credentials). Says whether there was one.
fn any_provider_wildcards(
    model_list: Vec<ModelEntry>,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(Vec<ModelEntry>, bool), ConfigError> {
    let mut out = Vec::with_capacity(model_list.len());
    let mut any = false;
    for (index, entry) in model_list.into_iter().enumerate() {
        if entry.litellm_params.model != "*" {
            out.push(entry);
            continue;
        }
        let path = format!("model_list[{index}]");
        if entry.model_name != "*" {
            return Err(ConfigError::invalid(
                format!("{path}.litellm_params.model"),
                "`*` (any model of any provider) needs `model_name: \"*\"`; for one provider \
                 write `openai/*` or `anthropic/*`",
            ));
        }
        any = true;
        let mut served = Vec::new();
        for (family, key_var) in ANY_PROVIDER {
            let pattern = format!("{family}/*");
            let taken = out.iter().any(|e: &ModelEntry| e.model_name == pattern);
            if taken || (entry.litellm_params.api_key.is_none() && env(key_var).is_none()) {
                continue;
            }
            let mut expanded = entry.clone();
            expanded.model_name.clone_from(&pattern);
            expanded.litellm_params.model = pattern;
            if let Some(id) = &mut expanded.model_info.id {
                id.push_str(&format!("-{family}"));
            }
            served.push(family);
            out.push(expanded);
        }
        warnings.push(ConfigWarning {
            path: format!("{path}.litellm_params.model"),
            message: if served.is_empty() {
                "`*` serves nothing: neither OPENAI_API_KEY nor ANTHROPIC_API_KEY is set \
                 (Switchyard serves any-provider wildcards for OpenAI and Anthropic)"
                    .to_owned()
            } else {
                format!(
                    "`*` serves any model of: {} (by the provider the price catalog lists for \
                     the name; other providers need their own `provider/*` deployment)",
                    served.join(", ")
                )
            },
        });
    }
    Ok((out, any))
}

/// Another name for a model group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelAlias {
    /// The name clients send.
    pub alias: String,
    /// The group that serves it.
    pub group: String,
    /// Whether model lists leave it out.
    pub hidden: bool,
}

fn aliases(
    entries: &std::collections::BTreeMap<String, super::file::GroupAlias>,
    deployments: &[DeploymentSettings],
) -> Result<Vec<ModelAlias>, ConfigError> {
    use super::file::GroupAlias;
    entries
        .iter()
        .map(|(alias, target)| {
            let path = format!("router_settings.model_group_alias.{alias}");
            let (group, hidden) = match target {
                GroupAlias::Group(group) => (group.clone(), false),
                GroupAlias::Detailed { model, hidden } => (model.clone(), *hidden),
            };
            if deployments.iter().any(|d| d.model_name == *alias) {
                return Err(ConfigError::invalid(
                    path,
                    format!("`{alias}` is a model group itself; an alias needs a name of its own"),
                ));
            }
            if !deployments.iter().any(|d| d.model_name == group) {
                return Err(ConfigError::invalid(
                    path,
                    format!("names `{group}`, which no deployment in `model_list` serves"),
                ));
            }
            Ok(ModelAlias {
                alias: alias.clone(),
                group,
                hidden,
            })
        })
        .collect()
}

/// A telemetry setting the gateway cannot use, reported at its path.
fn telemetry_error(err: TelemetryError) -> ConfigError {
    match err {
        TelemetryError::InvalidSetting { name, reason } => ConfigError::invalid(name, reason),
        other => ConfigError::invalid("telemetry", other.to_string()),
    }
}

/// What a deployment gets for the time limits it does not set itself.
#[derive(Debug, Clone, Copy)]
struct DeploymentDefaults<'a> {
    timeout: Duration,
    /// `router_settings.stream_timeout`; the deployment's timeout when unset.
    stream_timeout: Option<Duration>,
    max_stream_duration: Duration,
    /// `router_settings.default_max_parallel_requests`.
    max_parallel_requests: Option<u32>,
    /// `router_settings.default_litellm_params`, below each deployment's own.
    request_params: Option<&'a BTreeMap<String, serde_json::Value>>,
    /// `litellm_settings.enable_azure_ad_token_refresh`.
    azure_ad_token_refresh: bool,
}

fn deployment(
    path: &str,
    index: usize,
    entry: ModelEntry,
    defaults: &DeploymentDefaults<'_>,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<DeploymentSettings, ConfigError> {
    let ModelEntry {
        model_name,
        litellm_params: mut params,
        model_info,
    } = entry;
    if params.max_parallel_requests.is_none() {
        params.max_parallel_requests = defaults.max_parallel_requests;
    }
    if let Some(shared) = defaults.request_params {
        for (key, value) in shared {
            params
                .request_defaults
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
    }
    if model_name.trim().is_empty() {
        return Err(ConfigError::invalid(
            format!("{path}.model_name"),
            "must not be empty",
        ));
    }
    let params_path = format!("{path}.litellm_params");
    let timeout = match params.timeout {
        Some(secs) => seconds(&format!("{params_path}.timeout"), secs)?,
        None => defaults.timeout,
    };
    let stream_timeout = match params.stream_timeout {
        Some(secs) => seconds(&format!("{params_path}.stream_timeout"), secs)?,
        None => defaults.stream_timeout.unwrap_or(timeout),
    };
    let max_stream_duration = match params.max_stream_duration {
        Some(secs) => seconds(&format!("{params_path}.max_stream_duration"), secs)?,
        None => defaults.max_stream_duration,
    };
    // A price in `litellm_params` wins over one in `model_info`, key by key, as in LiteLLM.
    let mut price_override = model_info.price_override();
    let own = params.price_override();
    price_override.input_cost_per_token = own
        .input_cost_per_token
        .or(price_override.input_cost_per_token);
    price_override.output_cost_per_token = own
        .output_cost_per_token
        .or(price_override.output_cost_per_token);
    price_override.cache_read_input_token_cost = own
        .cache_read_input_token_cost
        .or(price_override.cache_read_input_token_cost);
    price_override.cache_creation_input_token_cost = own
        .cache_creation_input_token_cost
        .or(price_override.cache_creation_input_token_cost);
    // The catalog entry of the model, else of `base_model` (LiteLLM prices an Azure deployment
    // or a self-hosted model by the model it stands for).
    let catalog = PriceCatalog::embedded();
    let priced_as = match &model_info.base_model {
        Some(base) if catalog.get(&params.model).is_none() => base.as_str(),
        _ => params.model.as_str(),
    };
    let mut price = Pricing::resolve(priced_as, Some(&price_override), catalog)
        .map_err(|e| ConfigError::invalid(format!("{path}.model_info"), e.to_string()))?
        .price()
        .copied();
    // Routing by cost sees configured and listed prices only; accounting takes the mock as
    // free, which it is.
    let limits = limits(&params_path, &params, price)?;
    if price.is_none() && params.model.starts_with("mock/") {
        price = Some(ModelPrice::default());
    }
    if price.is_none() {
        warnings.push(ConfigWarning {
            path: format!("{path}.litellm_params.model"),
            message: format!(
                "no price is known for `{}`: set `model_info.base_model` to a catalog model or \
                 `input_cost_per_token`/`output_cost_per_token`; until then calls with a budget \
                 follow `general_settings.budget_unpriced` (refused by default) and others cost 0",
                params.model
            ),
        });
    }
    let listed = catalog.get(priced_as);
    let max_input_tokens = model_info
        .max_input_tokens
        .or_else(|| listed.and_then(|entry| entry.max_input_tokens));
    let max_output_tokens = model_info
        .max_output_tokens
        .or_else(|| listed.and_then(|entry| entry.max_output_tokens));
    if params.drop_params == Some(false) {
        warnings.push(ConfigWarning {
            path: format!("{params_path}.drop_params"),
            message: "Switchyard drops parameters a provider has no counterpart for whatever \
                      this says (LiteLLM would fail such calls with 400)"
                .to_owned(),
        });
    }
    let request_params = request_params(&params_path, &params)?;
    let tags = crate::tag_routing::DeploymentTags {
        tags: params.tags.clone(),
        patterns: params
            .tag_regex
            .iter()
            .enumerate()
            .map(|(i, pattern)| {
                regex::Regex::new(pattern).map_err(|e| {
                    ConfigError::invalid(format!("{params_path}.tag_regex[{i}]"), e.to_string())
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let provider = providers::provider(
        &params_path,
        params,
        env,
        defaults.azure_ad_token_refresh,
        warnings,
    )?;
    check_wildcard(path, &model_name, &provider)?;
    let id = model_info
        .id
        .unwrap_or_else(|| format!("{model_name}-{index}"));
    Ok(DeploymentSettings {
        id,
        model_name,
        provider,
        timeout,
        stream_timeout,
        max_stream_duration,
        limits,
        price,
        max_input_tokens,
        max_output_tokens,
        request_params,
        tags,
        access_groups: model_info.access_groups,
    })
}

/// A wildcard upstream model (`openai/*`) needs a wildcard `model_name` to take the model
/// from, and a provider whose adapter takes the model per call.
fn check_wildcard(
    path: &str,
    model_name: &str,
    provider: &ProviderSettings,
) -> Result<(), ConfigError> {
    let (model, per_call) = match provider {
        ProviderSettings::OpenAi(s) => (
            s.model.as_str(),
            matches!(s.dialect, switchyard_providers::openai::Dialect::OpenAi),
        ),
        ProviderSettings::TextCompletion(s) => (s.model.as_str(), false),
        ProviderSettings::Anthropic(s) => (s.model.as_str(), true),
        ProviderSettings::Gemini(s) => (s.model.as_str(), false),
        ProviderSettings::Cohere(s) => (s.model.as_str(), false),
        ProviderSettings::Bedrock(s) => (s.model.as_str(), false),
        ProviderSettings::Sagemaker(s) => (s.endpoint.as_str(), false),
        ProviderSettings::Vertex(s) => (s.model.as_str(), false),
        ProviderSettings::Mock(_) => ("", true),
    };
    if !switchyard_providers::is_wildcard(model) {
        return Ok(());
    }
    if !model_name.contains('*') {
        return Err(ConfigError::invalid(
            format!("{path}.model_name"),
            format!(
                "the deployment's model `{model}` is a wildcard, so `model_name` must be one too (such as `openai/*`)"
            ),
        ));
    }
    if !per_call {
        return Err(ConfigError::invalid(
            format!("{path}.litellm_params.model"),
            "wildcard deployments are served for OpenAI-compatible providers and Anthropic; \
             list this provider's models one by one",
        ));
    }
    Ok(())
}

/// The deployment's request defaults and removals, checked against a request: a default of the
/// wrong type (`temperature: hot`) is refused here rather than failing every call.
fn request_params(
    path: &str,
    params: &LitellmParams,
) -> Result<crate::request_params::RequestParams, ConfigError> {
    let fill: serde_json::Map<String, serde_json::Value> = params
        .request_defaults
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let shaped = crate::request_params::RequestParams::new(fill, &params.additional_drop_params)
        .map_err(|reason| ConfigError::invalid(format!("{path}.additional_drop_params"), reason))?;
    let sample: switchyard_wire::ChatRequest = serde_json::from_value(serde_json::json!({
        "model": "m", "messages": [{"role": "user", "content": "x"}]
    }))
    .map_err(|e| ConfigError::invalid(path, e.to_string()))?;
    if let Err(err) = shaped.apply(sample) {
        let key = params
            .request_defaults
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("`, `");
        return Err(ConfigError::invalid(
            path,
            format!("the request parameters `{key}` do not make a valid request: {err}"),
        ));
    }
    Ok(shaped)
}

fn limits(
    path: &str,
    params: &LitellmParams,
    price: Option<ModelPrice>,
) -> Result<DeploymentLimits, ConfigError> {
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
        cost_per_token: price.map(|p| p.input_per_token + p.output_per_token),
    })
}

/// Timeouts of the listener and its shutdown, and the readiness policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// Between `SIGTERM` and closing the listener.
    pub drain_delay: Duration,
    /// For open calls to finish after the listener closes.
    pub grace_period: Duration,
    /// For a client to send a request's headers.
    pub header_timeout: Duration,
    /// For a client to send a request's body, from the end of its headers.
    pub body_timeout: Duration,
    /// For a connection to stay open with no request on it.
    pub idle_timeout: Duration,
    /// Whether readiness fails while a dependency is down.
    pub strict_readiness: bool,
    /// Browser origins allowed to call (CORS); empty allows none.
    pub cors_allow_origins: Vec<http::HeaderValue>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            drain_delay: Duration::ZERO,
            grace_period: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            strict_readiness: false,
            cors_allow_origins: Vec::new(),
        }
    }
}

fn server_settings(general: &GeneralSettings) -> Result<ServerSettings, ConfigError> {
    let defaults = ServerSettings::default();
    let secs = |key: &str, value: Option<f64>, default: Duration, zero_ok: bool| match value {
        None => Ok(default),
        Some(secs) if secs.is_finite() && (secs > 0.0 || (zero_ok && secs == 0.0)) => {
            Ok(Duration::from_secs_f64(secs))
        }
        Some(secs) => Err(ConfigError::invalid(
            format!("general_settings.{key}"),
            format!("must be a number of seconds above 0, not {secs}"),
        )),
    };
    Ok(ServerSettings {
        drain_delay: secs(
            "drain_delay_seconds",
            general.drain_delay_seconds,
            defaults.drain_delay,
            true,
        )?,
        grace_period: secs(
            "grace_period_seconds",
            general.grace_period_seconds,
            defaults.grace_period,
            false,
        )?,
        header_timeout: secs(
            "header_timeout_seconds",
            general.header_timeout_seconds,
            defaults.header_timeout,
            false,
        )?,
        body_timeout: secs(
            "body_timeout_seconds",
            general.body_timeout_seconds,
            defaults.body_timeout,
            false,
        )?,
        idle_timeout: secs(
            "idle_timeout_seconds",
            general.idle_timeout_seconds,
            defaults.idle_timeout,
            false,
        )?,
        cors_allow_origins: general
            .cors_allow_origins
            .iter()
            .enumerate()
            .map(|(i, origin)| {
                let valid = origin == "*"
                    || (origin.starts_with("http://") || origin.starts_with("https://"))
                        && !origin.ends_with('/');
                http::HeaderValue::from_str(origin)
                    .ok()
                    .filter(|_| valid)
                    .ok_or_else(|| {
                        ConfigError::invalid(
                            format!("general_settings.cors_allow_origins[{i}]"),
                            format!(
                                "`{origin}` is not an origin such as `https://app.example.com` (or `*`)"
                            ),
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
        strict_readiness: match general.readiness_policy.as_deref() {
            None | Some("degraded") => false,
            Some("strict") => true,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "general_settings.readiness_policy",
                    format!("must be `degraded` or `strict`, not `{other}`"),
                ));
            }
        },
    })
}

/// Resolves `os.environ/NAME` to the variable's value; other values are taken as written.
pub(super) fn resolve(
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

/// The optional key `key` of the deployment at `path`, resolved and trimmed; blank is absent.
pub(super) fn optional_param(
    path: &str,
    key: &str,
    value: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    value
        .map(|value| resolve(&format!("{path}.{key}"), value, env))
        .transpose()
        .map(|value| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
}

fn seconds(path: &str, secs: f64) -> Result<Duration, ConfigError> {
    // `try_`: a number too large for a `Duration` is refused, not a panic at load.
    match Duration::try_from_secs_f64(secs) {
        Ok(duration) if secs > 0.0 => Ok(duration),
        _ => Err(ConfigError::invalid(
            path,
            format!("must be a positive number of seconds, not {secs}"),
        )),
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
