//! The configuration file as users write it: LiteLLM's `config.yaml` layout
//! (`model_list[].litellm_params`, `general_settings`, `litellm_settings`), plain data with a
//! JSON Schema for editors. [`super::settings`] turns it into validated runtime settings.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_layers::cost::PriceOverride;
use switchyard_telemetry::TelemetrySettings;

mod layers;

pub use layers::{CacheParams, LimitPair, MaxTokensEntry, RateLimitsEntry, TokenLimitEntry};

/// A Switchyard (LiteLLM-compatible) configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "Switchyard configuration")]
pub struct ConfigFile {
    /// The deployments; entries sharing a `model_name` form one model group.
    #[serde(default)]
    pub model_list: Vec<ModelEntry>,
    /// Gateway-wide settings.
    #[serde(default)]
    pub general_settings: GeneralSettings,
    /// Settings of the call path, as LiteLLM names them.
    #[serde(default)]
    pub litellm_settings: LitellmSettings,
    /// Load balancing, retries, fallbacks and cooldowns.
    #[serde(default)]
    pub router_settings: RouterSettings,
    /// A/B experiments (Switchyard's own key): one model name split across variants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<ExperimentEntry>,
    /// Routing rules (Switchyard's own key): model names that pick their model group per
    /// request, by task, cost tier, prompt complexity or cost and latency limits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routing_rules: Vec<RoutingRuleEntry>,
    /// Requests and tokens per minute per API key, user, team and model (Switchyard's own
    /// key), counted in Redis when `router_settings` names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimitsEntry>,
    /// `max_tokens` defaults and ceilings, for every model and per model (Switchyard's own key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<MaxTokensEntry>,
    /// Traces (OTLP export), log format and content recording (Switchyard's own key). The
    /// standard `OTEL_*` environment variables override it when the binary starts.
    // The section is read, never written back: `TelemetrySettings` is deserialize-only.
    #[serde(default, skip_serializing)]
    pub telemetry: TelemetrySettings,
}

/// A routing rule: requests that name its model (`model`, or a tier name) are served by the
/// group it chooses. Rules sharing a model are tried in order; the first that matches decides.
/// Each kind reads its own keys: `task` (`model`, `when`, `group`, `default`), `tier`
/// (`tiers`), `complexity` (`model`, `simple`, `complex`, `max_simple_chars`,
/// `complex_keywords`, `min_keyword_hits`) and `hybrid` (`model`, `candidates`,
/// `max_cost_per_million`, `max_latency_ms`, `prefer`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RoutingRuleEntry {
    /// The rule's name, shown in the `x-switchyard-route-reason` header.
    pub name: String,
    /// `task`, `tier`, `complexity` or `hybrid`.
    pub kind: String,
    /// The model name clients send to invoke the rule (every kind but `tier`). Several `task`
    /// rules may share one, and a `task` rule may come before a rule of another kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `task`: what the request must carry; every condition given must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<RuleConditions>,
    /// `task`: the model group that serves matching requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `task`: the model group that serves requests for `model` that no rule matched (one per
    /// model); without one, such requests fail with 400 `no_rule_matched`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// `tier`: tier names clients send as `model` (such as `cheap`, `balanced`, `premium`), each
    /// with the model groups that may serve it; the cheapest by catalog price is chosen, the first
    /// when none is priced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<BTreeMap<String, Vec<String>>>,
    /// `complexity`: the model group for simple prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simple: Option<String>,
    /// `complexity`: the model group for complex prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complex: Option<String>,
    /// `complexity`: the longest prompt (characters of all message text) that is still simple
    /// (default 2000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_simple_chars: Option<u64>,
    /// `complexity`: words or phrases that mark a complex prompt, matched as whole words in any
    /// case (default `prove`, `step by step`, `analyze`, `refactor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complex_keywords: Option<Vec<String>>,
    /// `complexity`: how many different keywords make a prompt complex (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_keyword_hits: Option<u32>,
    /// `hybrid`: the model groups to choose from; ties keep this order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<String>>,
    /// `hybrid`: highest price in USD per million tokens (input plus output, from the price
    /// catalog); unpriced groups pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_per_million: Option<f64>,
    /// `hybrid`: highest mean observed latency in milliseconds; groups not yet measured pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
    /// `hybrid`: `cost` (the cheapest within the limits, the default) or `latency` (the
    /// fastest; groups not yet measured first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefer: Option<String>,
}

/// What a request must carry for a `task` rule to match.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RuleConditions {
    /// Entries of the request's `metadata` object, compared as text (`1` matches `"1"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Request headers and their exact values; names in any case.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, String>,
    /// Tags the request must all carry (LiteLLM's `tags`, in the body or in `metadata`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// An A/B experiment: clients send `model`; each caller is kept on one variant.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ExperimentEntry {
    /// The experiment's name, shown in the `x-switchyard-experiment` header.
    pub name: String,
    /// The model name clients send to take part.
    pub model: String,
    /// `user` (the request's `user` field, the default) or `header:<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky_by: Option<String>,
    /// The arms of the experiment.
    pub variants: Vec<VariantEntry>,
}

/// One arm of an experiment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct VariantEntry {
    /// Its label, shown in the `x-switchyard-variant` header.
    pub name: String,
    /// The model group that serves it.
    pub model: String,
    /// Its relative share of callers (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

/// One deployment: a model name clients use and the upstream model behind it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModelEntry {
    /// The name clients send as `model`.
    pub model_name: String,
    /// Where and how to reach the upstream.
    pub litellm_params: LitellmParams,
    /// Metadata about the deployment.
    #[serde(default)]
    pub model_info: ModelInfo,
}

/// Where and how to reach one upstream model.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct LitellmParams {
    /// `provider/model`, such as `openai/gpt-4o-mini`, `groq/llama-3.1-8b-instant`,
    /// `azure/<deployment>` or `mock/echo`. A name without a provider takes the provider
    /// LiteLLM infers for it (`claude-*` Anthropic, `gemini-*` Gemini, Bedrock's model ids
    /// Bedrock, ...), else OpenAI.
    pub model: String,
    /// US dollars per prompt token, over the catalog's list price (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    /// US dollars per generated token, over the catalog's list price (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// US dollars per prompt token read from the provider's prompt cache (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost: Option<f64>,
    /// US dollars per prompt token written to the provider's prompt cache (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost: Option<f64>,
    /// Base URL of the upstream API, such as `http://localhost:8000/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// The upstream key, or `os.environ/NAME` to read it from the environment (Bedrock: a
    /// Bedrock API key, sent as a bearer token instead of a signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Azure OpenAI's `api-version` (default `AZURE_API_VERSION`, else 2024-10-21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Bedrock: the AWS access key id, or `os.environ/NAME` (default `AWS_ACCESS_KEY_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_access_key_id: Option<String>,
    /// Bedrock: the AWS secret access key, or `os.environ/NAME` (default
    /// `AWS_SECRET_ACCESS_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_secret_access_key: Option<String>,
    /// Bedrock: the session token of temporary credentials, or `os.environ/NAME` (default
    /// `AWS_SESSION_TOKEN` when the keys come from the environment too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_session_token: Option<String>,
    /// Bedrock: the AWS region, such as `us-east-1`, or `os.environ/NAME` (default `AWS_REGION`,
    /// else `AWS_DEFAULT_REGION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region_name: Option<String>,
    /// Bedrock: a custom Bedrock Runtime endpoint (LiteLLM's key; `api_base` wins), or
    /// `os.environ/NAME`; default `AWS_BEDROCK_RUNTIME_ENDPOINT`, else the region's public one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_bedrock_runtime_endpoint: Option<String>,
    /// Bedrock: the shared config profile whose credentials sign the calls (LiteLLM's key), or
    /// `os.environ/NAME`; read from `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE` (default
    /// `~/.aws/config`, `~/.aws/credentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_profile_name: Option<String>,
    /// Bedrock: the ARN of a role to assume with STS `AssumeRole` on top of the deployment's
    /// credentials (LiteLLM's key), or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_role_name: Option<String>,
    /// Bedrock: the role session name of `aws_role_name` (LiteLLM's key), or
    /// `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_session_name: Option<String>,
    /// Seconds allowed for a complete answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Seconds allowed until a stream has started, and between two of its chunks (default
    /// `timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_timeout: Option<f64>,
    /// Seconds a stream may run in all once started, however steadily it sends (default
    /// `router_settings.max_stream_duration`, else 1800); then it ends with a timeout error
    /// event. Switchyard's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_stream_duration: Option<f64>,
    /// Relative share of the group's traffic for the `simple-shuffle` strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Priority tier: deployments with a lower order are used first (1 is the highest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
    /// Requests per minute this deployment may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens per minute this deployment may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Calls this deployment may have in flight at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel_requests: Option<u32>,
    /// Mock provider: the text of every answer (without it, the mock echoes the last user
    /// message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_response: Option<String>,
    /// Mock provider: milliseconds before answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_latency_ms: Option<u64>,
    /// Mock provider: share of calls (0.0 to 1.0) that fail as an upstream error would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_failure_rate: Option<f64>,
    /// Headers sent with every call to this deployment (LiteLLM's key), values may be
    /// `os.environ/NAME`. OpenAI-compatible, Azure and Anthropic deployments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_headers: Option<BTreeMap<String, String>>,
    /// OpenAI's organization id, sent as `OpenAI-Organization` (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Azure: a Microsoft Entra ID (Azure AD) token sent as `Authorization: Bearer`, instead
    /// of or beside `api_key` (LiteLLM's key), or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_ad_token: Option<Secret>,
    /// Azure: the Microsoft Entra ID tenant (directory) of `client_id` and `client_secret`,
    /// whose tokens the deployment's calls carry (LiteLLM's key), or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Azure: the Entra ID application (client) id; with `tenant_id` and `client_secret`, its
    /// client credentials; alone, with `litellm_settings.enable_azure_ad_token_refresh`, a
    /// user-assigned managed identity (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Azure: the Entra ID application's client secret (LiteLLM's key), or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// Azure: the scope Entra ID tokens are asked for (LiteLLM's key; default
    /// `https://cognitiveservices.azure.com/.default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_scope: Option<String>,
    /// Vertex AI: the Google Cloud project (LiteLLM's key; default `VERTEXAI_PROJECT`, else
    /// the credentials' project).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex_project: Option<String>,
    /// Vertex AI: the region, such as `us-central1`, or `global` (LiteLLM's key; default
    /// `VERTEXAI_LOCATION`, else `us-central1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex_location: Option<String>,
    /// Vertex AI: a Google credentials file (service account key, or `gcloud`'s authorized
    /// user) as a path, as its JSON text or as a mapping, or `os.environ/NAME` (LiteLLM's
    /// key). Without it, Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`,
    /// `gcloud`'s file, else the metadata server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex_credentials: Option<VertexCredentials>,
    /// Tags of the deployment (LiteLLM's key): with `router_settings.enable_tag_filtering`,
    /// requests carrying tags go to the deployments with them, and untagged requests to those
    /// tagged `default` (any deployment when none is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Regular expressions matched against the request's `User-Agent: <value>` line (LiteLLM's
    /// key): with tag filtering on, a matching request prefers this deployment when its tags
    /// matched none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_regex: Vec<String>,
    /// Request fields removed before a request goes to this deployment: names (`user`) or
    /// paths (`tools[*].input_examples`), as LiteLLM's `additional_drop_params`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_drop_params: Vec<String>,
    /// Drop request parameters this provider has no counterpart for (LiteLLM's key). Switchyard
    /// always does; `false` is warned about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_params: Option<bool>,
    /// Request parameters LiteLLM would otherwise drop for this provider. Switchyard drops no
    /// parameter an OpenAI-compatible upstream is sent; other providers get the parameters
    /// their API has a counterpart for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_openai_params: Vec<String>,
    /// Any other key is a request parameter (`temperature`, `max_tokens`, `seed`, `top_k`,
    /// `reasoning_effort`, ...) sent with every request to this deployment that does not set
    /// it itself, as LiteLLM passes its `litellm_params` to the call.
    #[serde(flatten)]
    pub request_defaults: BTreeMap<String, serde_json::Value>,
}

/// Metadata about a deployment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ModelInfo {
    /// A stable id for the deployment, shown in response headers and logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// US dollars per prompt token, over the catalog's list price (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    /// US dollars per generated token, over the catalog's list price (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// US dollars per prompt token read from the provider's prompt cache (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost: Option<f64>,
    /// US dollars per prompt token written to the provider's prompt cache (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost: Option<f64>,
    /// The catalog model whose price and limits this deployment has, when its own model name
    /// is not in the catalog (an Azure deployment name, a vLLM model): LiteLLM's `base_model`,
    /// such as `azure/gpt-4o` or `gpt-4o`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model: Option<String>,
    /// The most prompt tokens the model takes (LiteLLM's key; else the catalog's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    /// The most tokens the model generates in one answer (LiteLLM's key; else the catalog's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// What the deployment serves (`chat`, `completion`, `embedding`, `image_generation`,
    /// `audio_transcription`, `audio_speech`, `rerank`, `moderation`, ...): shown in the model
    /// info routes and used by `GET /health` to check it with the right call (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Access groups the deployment's model group belongs to (LiteLLM's key): a key or team
    /// whose `models` names an access group may call every group in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_groups: Vec<String>,
    /// The model `GET /health` checks a wildcard deployment with (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_model: Option<String>,
    /// Seconds `GET /health` waits for this deployment (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_timeout: Option<f64>,
    /// The environments (`LITELLM_ENVIRONMENT` or `SWITCHYARD_ENVIRONMENT`: `development`,
    /// `staging`, `production`) the deployment is served in; others leave it out, as LiteLLM
    /// does. Served everywhere when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_environments: Option<Vec<String>>,
    /// Any other key: information about the deployment, shown as it is by the model info
    /// routes (LiteLLM takes any key here).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Gateway-wide settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct GeneralSettings {
    /// The key clients send as `Authorization: Bearer ...`, or `os.environ/NAME`. Without it the
    /// gateway is open to anyone who can reach it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_key: Option<String>,
    /// Largest request body accepted, in megabytes (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_size_mb: Option<f64>,
    /// Where virtual keys, users, teams and spend records are kept: a `postgresql://` URL, a
    /// `sqlite://` path, or `os.environ/NAME`. Default: `DATABASE_URL` when set, else the
    /// SQLite file `switchyard.db` in the working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<Secret>,
    /// LiteLLM's switch for keeping `/model/new` deployments in the database. Switchyard always
    /// does; `false` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_model_in_db: Option<bool>,
    /// The most PostgreSQL connections each replica keeps open (LiteLLM's key; default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_connection_pool_limit: Option<u32>,
    /// Seconds between `SIGTERM` (readiness turns false at once) and closing the listener, so
    /// load balancers stop sending new calls first (default 0; 5 suits Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_delay_seconds: Option<f64>,
    /// Seconds open calls and streams may take to finish after the listener closes (default
    /// 30); calls still open then are cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<f64>,
    /// Seconds a client may take to send a request's headers (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_timeout_seconds: Option<f64>,
    /// Seconds a client may take to send a request's body, counted from the end of its headers
    /// (default 30); a body still arriving then is answered with 408 and its connection
    /// closed. Raise it for large bodies over slow links (32 MiB in 30 s is about 1.1 MB/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_timeout_seconds: Option<f64>,
    /// Seconds a connection may stay open with no request on it (default 120): an HTTP/2
    /// connection with no stream open, or an HTTP/1.1 keep-alive connection between requests
    /// (which `header_timeout_seconds` closes sooner when it is shorter). The default is above
    /// the 60 s idle timeout of common load balancers, so that they close first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_seconds: Option<f64>,
    /// Browser origins allowed to call the gateway (CORS), such as `https://app.example.com`,
    /// or `*`. Without it no cross-origin browser call is allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_allow_origins: Vec<String>,
    /// `degraded` (default): readiness stays 200 while the database or Redis is down, saying
    /// which; `strict`: readiness answers 503 then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_policy: Option<String>,
    /// What a budgeted call gets while its budget counters (Redis, or the database) cannot be
    /// reached: `closed` (default) refuses it with 503, so no budget is overspent;
    /// `local_slice` serves it while this replica's slice of what the budget had left lasts
    /// (what was left when the counters last answered, divided by the live replicas), so the
    /// overshoot is at most one call's estimate per replica (Switchyard's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_failure_policy: Option<String>,
    /// What a call with a budget gets on a deployment with no price (none configured, none in
    /// the catalog for its model or `model_info.base_model`): `refuse` (default) answers 400
    /// before any upstream call, `allow` serves it at a recorded cost of 0 (Switchyard's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_unpriced: Option<String>,
    /// Controls the configuration asks for that Switchyard does not have (`custom_auth`,
    /// `guardrails`, `allowed_ips`, ...), by key or path, which the operator accepts to run
    /// without: each is then warned about at start instead of keeping the gateway from
    /// starting (Switchyard's key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_unenforced_controls: Vec<String>,
    /// A request header naming the end user a call is made for, such as
    /// `x-openwebui-user-email` (LiteLLM's key). `x-litellm-end-user-id` and
    /// `x-litellm-customer-id` are always read; the body's `user` comes last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_header_name: Option<String>,
}

/// Settings of the call path. LiteLLM accepts the retry and fallback keys here as well as
/// under `router_settings`; `router_settings` wins when both name one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct LitellmSettings {
    /// Default seconds allowed for an upstream call (600 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<f64>,
    /// `true` answers repeated requests from the response cache that `cache_params` describes
    /// (in process when it names none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<bool>,
    /// Where and how long answers are cached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_params: Option<CacheParams>,
    /// US dollars each end user (the body's `user`, or an end-user header) may spend, over all
    /// keys (LiteLLM's key). No limit when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_end_user_budget: Option<f64>,
    /// Azure deployments without a key, token or client secret of their own get Microsoft
    /// Entra ID tokens from the environment (LiteLLM's key): `AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, else the managed identity of where the
    /// gateway runs (App Service's `IDENTITY_ENDPOINT`, else the instance metadata service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_azure_ad_token_refresh: Option<bool>,
    /// Drop request parameters a provider has no counterpart for instead of failing the call
    /// (LiteLLM's key). Switchyard always does: an OpenAI-compatible upstream gets every
    /// parameter, other providers the ones their API has; `false` is warned about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_params: Option<bool>,
    /// The HTTP status of a call refused because a budget is spent: 422 by default, as LiteLLM
    /// answers since v1.104.0 (429 before; <https://docs.litellm.ai/docs/proxy/budget_exceeded_errors>).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_exceeded_status_code: Option<u16>,
    /// The retry and fallback keys, as under `router_settings`.
    #[serde(flatten)]
    pub retries: RetrySettings,
    /// Keys we do not know (warned about, then ignored).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// Load balancing, retries, fallbacks and cooldowns (`router_settings`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RouterSettings {
    /// `simple-shuffle` (default), `least-busy`, `latency-based-routing`, `cost-based-routing` or
    /// `usage-based-routing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_strategy: Option<String>,
    /// Options of the strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_strategy_args: Option<RoutingStrategyArgs>,
    /// Default seconds allowed for an upstream call, below `litellm_params.timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Default seconds a stream may run in all once started, below
    /// `litellm_params.max_stream_duration` (default 1800). Switchyard's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_stream_duration: Option<f64>,
    /// Groups that hedge slow attempts with a second one on another deployment:
    /// `{group: 300}` (milliseconds without a first byte) or `{group: p95}` (the deployment's
    /// observed 95th-percentile latency). Switchyard's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hedging: Option<BTreeMap<String, HedgeAfter>>,
    /// Redis host through which replicas share their per-minute usage (so that `rpm`, `tpm` and
    /// `usage-based-routing` count every replica's calls), or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_host: Option<String>,
    /// Redis port (default 6379), or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_port: Option<RedisPort>,
    /// Redis password, or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_password: Option<Secret>,
    /// Redis as a `redis://` or `rediss://` (TLS) URL, or `os.environ/NAME`; used instead of
    /// `redis_host`, `redis_port` and `redis_password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<Secret>,
    /// Route by tags (LiteLLM's key): a request's `tags` (body, `metadata.tags` or the
    /// `x-litellm-tags` header) pick the group's deployments with those tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_tag_filtering: Option<bool>,
    /// With tag filtering: `true` (default) takes deployments with any of the request's tags,
    /// `false` only those with all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_filtering_match_any: Option<bool>,
    /// Other names for model groups (LiteLLM's key): `{alias: group}`, or
    /// `{alias: {model: group, hidden: true}}` to keep the alias out of `/v1/models`. A call
    /// to the alias is served by the group; a key may call it when it may call either name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_group_alias: BTreeMap<String, GroupAlias>,
    /// The Redis database number (LiteLLM's key; default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_db: Option<i64>,
    /// Default seconds allowed until a stream has started and between its chunks, below
    /// `litellm_params.stream_timeout` (LiteLLM's key; default: the timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_timeout: Option<f64>,
    /// Default `max_parallel_requests` of every deployment that sets none (LiteLLM's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_parallel_requests: Option<u32>,
    /// Request parameters every deployment sends unless it or the request sets them
    /// (LiteLLM's key), such as `{temperature: 0.2}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_litellm_params: Option<BTreeMap<String, serde_json::Value>>,
    /// Prefer, for each call, the deployments whose model takes its prompt
    /// (`max_input_tokens`); a call too long for all goes to one anyway, whose refusal leads to
    /// `context_window_fallbacks` (LiteLLM's key, also `enable_pre_call_check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_pre_call_checks: Option<bool>,
    /// `enable_pre_call_checks` as LiteLLM's reference table also spells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_pre_call_check: Option<bool>,
    /// Prefix of the Redis keys (default `switchyard`): gateways that share one Redis share
    /// usage only with the same prefix. Switchyard's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_key_prefix: Option<String>,
    /// The retry and fallback keys.
    #[serde(flatten)]
    pub retries: RetrySettings,
    /// Keys we do not know (warned about, then ignored).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// The group an alias stands for.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum GroupAlias {
    /// The group's name.
    Group(String),
    /// The group's name, and whether the alias is left out of model lists.
    Detailed {
        /// The group's name.
        model: String,
        /// Whether `/v1/models` leaves the alias out (default false).
        #[serde(default)]
        hidden: bool,
    },
}

/// A Redis port: a number, or `os.environ/NAME`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RedisPort {
    /// The port number.
    Number(#[schemars(range(min = 1, max = 65535))] u64),
    /// `os.environ/NAME`, or the number as text.
    Text(String),
}

/// A value that may hold a secret (a password, or a URL with one): written as plain text, never
/// shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `vertex_credentials`: a path or JSON text (or `os.environ/NAME` naming either), or the
/// credentials file's fields written out. Its `Debug` shows neither.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum VertexCredentials {
    /// A path, the JSON text, or `os.environ/NAME`.
    Text(String),
    /// The credentials file's fields.
    Fields(serde_json::Map<String, serde_json::Value>),
}

impl std::fmt::Debug for VertexCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// When a hedge starts: milliseconds, or `p95`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HedgeAfter {
    /// Milliseconds without a first byte.
    Millis(u64),
    /// `p95`: the deployment's observed 95th-percentile latency.
    Observed(String),
}

/// Options of the routing strategy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RoutingStrategyArgs {
    /// `latency-based-routing`: deployments within this fraction of the fastest (0.1 = 10%)
    /// share the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lowest_latency_buffer: Option<f64>,
}

/// Retries, fallbacks and cooldowns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct RetrySettings {
    /// Further attempts within a group after a failure (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_retries: Option<u32>,
    /// Failures a deployment may have in a minute before it cools down (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_fails: Option<u32>,
    /// Seconds a failing deployment is left out (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_time: Option<f64>,
    /// `true` leaves failing and rate-limited deployments in rotation: no cooldowns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_cooldowns: Option<bool>,
    /// `[{"group": ["fallback", ...]}, ...]`: groups to try when a group fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    /// Groups to try when the prompt does not fit a group's context window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window_fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    /// Groups to try when a group refuses the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_policy_fallbacks: Option<Vec<BTreeMap<String, Vec<String>>>>,
    /// Groups to try when a failing group has no fallbacks of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_fallbacks: Option<Vec<String>>,
}

impl ModelInfo {
    /// The prices this section states.
    pub fn price_override(&self) -> PriceOverride {
        PriceOverride {
            input_cost_per_token: self.input_cost_per_token,
            output_cost_per_token: self.output_cost_per_token,
            cache_read_input_token_cost: self.cache_read_input_token_cost,
            cache_creation_input_token_cost: self.cache_creation_input_token_cost,
        }
    }
}

impl LitellmParams {
    /// The prices this section states.
    pub fn price_override(&self) -> PriceOverride {
        PriceOverride {
            input_cost_per_token: self.input_cost_per_token,
            output_cost_per_token: self.output_cost_per_token,
            cache_read_input_token_cost: self.cache_read_input_token_cost,
            cache_creation_input_token_cost: self.cache_creation_input_token_cost,
        }
    }
}
