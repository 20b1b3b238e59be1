//! The state every request shares: model groups with their provider adapters, experiments,
//! routing rules, the master key and limits, the sync of usage counts with other replicas
//! when configured, and the gateway's metrics. Built once from validated settings; cheap to
//! clone (one `Arc`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use switchyard_layers::cost::{ModelPrice, PriceCatalog};

use switchyard_providers::anthropic::Anthropic;
use switchyard_providers::bedrock::Bedrock;
use switchyard_providers::cohere::Cohere;
use switchyard_providers::gemini::Gemini;
use switchyard_providers::http::{ClientSettings, HttpClient, RequestHook};
use switchyard_providers::mock::Mock;
use switchyard_providers::openai::OpenAiCompatible;
use switchyard_providers::sagemaker::Sagemaker;
use switchyard_providers::text_completion::TextCompletionOpenAi;
use switchyard_providers::{Provider, ProviderError, unix_now};
use switchyard_router::{
    CooldownHook, Deployment, Experiment, ModelGroups, Router, RoutingRules, UsageStoreError,
    UsageSync, UsageSyncTask, WildcardRoute,
};
use switchyard_telemetry::GatewayMetrics;

use crate::caller::Caller;
use crate::config::budgets::BudgetSettings;
use crate::config::settings::ModelAlias;
use crate::config::settings::ServerSettings;
use crate::config::{ProviderSettings, Settings};
use crate::pipeline::CallLayers;
use crate::request_params::RequestParams;
use crate::storage::Storage;
use crate::tag_routing::TagRouting;
use crate::usage_store::RedisUsageStore;
use crate::wildcard::Wildcards;
use switchyard_layers::rate_limit::Sweeper;
use switchyard_store::StoreError;

/// Why the gateway could not be assembled from valid settings.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A deployment's adapter could not be built.
    #[error("deployment `{id}`: {error}")]
    Provider {
        /// The deployment's id.
        id: String,
        /// What went wrong (in the message, not a `source`, so `{:#}` prints it once).
        error: ProviderError,
    },
    /// The shared HTTP client could not be built.
    #[error("upstream HTTP client: {0}")]
    Client(ProviderError),
    /// The store of shared usage counts could not be set up.
    #[error("shared usage store: {0}")]
    UsageStore(UsageStoreError),
    /// The response cache's store could not be set up.
    #[error("response cache: {0}")]
    Cache(String),
    /// The rate limiter's store could not be set up.
    #[error("rate limits: {0}")]
    RateLimits(String),
    /// The database of keys and spend could not be opened.
    #[error("database: {0}")]
    Storage(StoreError),
}

// Not `#[from]`: that would make the store error this one's `source` as well, and `{:#}` would
// print it twice.
impl From<StoreError> for BuildError {
    fn from(error: StoreError) -> Self {
        Self::Storage(error)
    }
}

/// The most tokens a deployment's model takes in and gives out in one call, when known
/// (`model_info`, else the price catalog).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenLimits {
    /// Prompt tokens.
    pub input: Option<u64>,
    /// Generated tokens.
    pub output: Option<u64>,
}

/// Shared, read-only state of the gateway.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    router: Router,
    experiments: HashMap<String, Experiment>,
    /// Other names for model groups.
    aliases: HashMap<String, ModelAlias>,
    /// The wildcard groups (`openai/*`).
    wildcards: Wildcards,
    /// Tag routing, when `enable_tag_filtering` asks for it.
    tag_routing: Option<TagRouting>,
    /// Whether the response cache serves only calls that ask for it (`mode: default_off`).
    cache_opt_in: bool,
    /// Whether calls prefer deployments whose model takes their prompt.
    pre_call_checks: bool,
    /// The model groups of each access group (`model_info.access_groups`).
    access_groups: HashMap<String, Vec<String>>,
    rules: RoutingRules,
    master_key: Option<String>,
    max_request_bytes: usize,
    server: ServerSettings,
    /// Redis, when replicas share state through it, for readiness.
    redis: Option<redis::Client>,
    started_at: u64,
    usage_sync: Option<Arc<UsageSync>>,
    /// List prices by deployment id, for the cost of each answer.
    prices: HashMap<String, ModelPrice>,
    /// Token limits of each deployment's model, by deployment id, when known.
    token_limits: HashMap<String, TokenLimits>,
    /// Request defaults and removals of the deployments that have some, by deployment id.
    request_params: HashMap<String, RequestParams>,
    /// How budgets are enforced.
    budgets: BudgetSettings,
    /// Rate limits, cache, deadline and `max_tokens` policies in front of the router.
    layers: CallLayers,
    /// Keys, budgets and spend; shared with the states that replace this one on reload.
    storage: Arc<Storage>,
    /// Counters and histograms of every call, served on `/metrics`; shared across reloads.
    metrics: Arc<GatewayMetrics>,
    /// Whether prompts and completions go on the call spans (`telemetry.record_content`).
    record_content: bool,
    /// The Redis failures of this state's layers already counted in the metrics.
    reported_redis_failures: [AtomicU64; 3],
}

impl AppState {
    /// Builds the adapters of every deployment, sharing one pooled HTTP client whose requests
    /// carry the current trace context (`traceparent`), and opens the database (running its
    /// migrations). Needs a tokio runtime.
    pub async fn new(settings: Settings) -> Result<Self, BuildError> {
        let storage = Storage::open(
            &settings.database,
            settings.database_pool_limit,
            settings.shared_usage.as_ref(),
        )
        .await?;
        Self::assemble(settings, Arc::new(storage), Arc::new(GatewayMetrics::new()))
    }

    /// A state for new `settings` (a reloaded configuration) that keeps this one's database,
    /// spend writer, identity cache and metrics. The database settings themselves take a
    /// restart.
    pub fn reconfigured(&self, settings: Settings) -> Result<Self, BuildError> {
        Self::assemble(
            settings,
            Arc::clone(&self.inner.storage),
            Arc::clone(&self.inner.metrics),
        )
    }

    fn assemble(
        settings: Settings,
        storage: Arc<Storage>,
        metrics: Arc<GatewayMetrics>,
    ) -> Result<Self, BuildError> {
        let client_settings = ClientSettings {
            on_request: Some(RequestHook::new(switchyard_telemetry::inject_current)),
            ..ClientSettings::default()
        };
        let client = HttpClient::new(&client_settings).map_err(BuildError::Client)?;
        let mut deployments = Vec::with_capacity(settings.deployments.len());
        let mut prices = HashMap::new();
        let mut token_limits = HashMap::new();
        let mut request_params = HashMap::new();
        let mut deployment_tags = HashMap::new();
        let mut access_groups: HashMap<String, Vec<String>> = HashMap::new();
        for d in settings.deployments {
            if let Some(price) = d.price {
                prices.insert(d.id.clone(), price);
            }
            for access_group in &d.access_groups {
                let members = access_groups.entry(access_group.clone()).or_default();
                if !members.contains(&d.model_name) {
                    members.push(d.model_name.clone());
                }
            }
            if settings.tag_filtering_match_any.is_some() {
                deployment_tags.insert(d.id.clone(), d.tags);
            }
            if !d.request_params.is_empty() {
                request_params.insert(d.id.clone(), d.request_params);
            }
            token_limits.insert(
                d.id.clone(),
                TokenLimits {
                    input: d.max_input_tokens,
                    output: d.max_output_tokens,
                },
            );
            let built: Result<Box<dyn Provider>, ProviderError> = match d.provider {
                ProviderSettings::Mock(mock) => Ok(Box::new(Mock::new(mock))),
                ProviderSettings::Anthropic(settings) => Anthropic::new(client.clone(), settings)
                    .map(|p| Box::new(p) as Box<dyn Provider>),
                ProviderSettings::Cohere(settings) => {
                    Cohere::new(client.clone(), settings).map(|p| Box::new(p) as Box<dyn Provider>)
                }
                ProviderSettings::Gemini(settings) => {
                    Gemini::new(client.clone(), settings).map(|p| Box::new(p) as Box<dyn Provider>)
                }
                ProviderSettings::Sagemaker(settings) => Sagemaker::new(client.clone(), settings)
                    .map(|p| Box::new(p) as Box<dyn Provider>),
                ProviderSettings::Bedrock(settings) => {
                    Bedrock::new(client.clone(), settings).map(|p| Box::new(p) as Box<dyn Provider>)
                }
                ProviderSettings::Vertex(settings) => {
                    switchyard_providers::vertex::provider(client.clone(), settings)
                }
                ProviderSettings::TextCompletion(settings) => {
                    TextCompletionOpenAi::new(client.clone(), settings)
                        .map(|p| Box::new(p) as Box<dyn Provider>)
                }
                ProviderSettings::OpenAi(settings) => {
                    OpenAiCompatible::new(client.clone(), settings)
                        .map(|p| Box::new(p) as Box<dyn Provider>)
                }
            };
            let provider = built.map_err(|error| BuildError::Provider {
                id: d.id.clone(),
                error,
            })?;
            let mut deployment = Deployment::new(d.id, d.model_name, provider, d.timeout);
            deployment.stream_timeout = d.stream_timeout;
            deployment.max_stream_duration = d.max_stream_duration;
            deployment.limits = d.limits;
            deployments.push(deployment);
        }
        let wildcards = Wildcards::new(
            deployments.iter().map(|d| d.model_name.as_str()),
            settings.infer_wildcard_provider,
        );
        let cooldowns = Arc::clone(&metrics);
        let router = Router::new(ModelGroups::new(deployments), settings.routing).on_cooldown(
            CooldownHook::new(move |deployment| cooldowns.record_cooldown(&deployment.id)),
        );
        let usage_sync = match &settings.shared_usage {
            Some(shared) => {
                let store = RedisUsageStore::new(shared).map_err(BuildError::UsageStore)?;
                Some(Arc::new(UsageSync::new(&router, Arc::new(store))))
            }
            None => None,
        };
        let cache_opt_in = settings.layers.cache.as_ref().is_some_and(|c| c.opt_in);
        let layers = CallLayers::build(settings.layers, settings.request_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                router,
                experiments: settings
                    .experiments
                    .into_iter()
                    .map(|e| (e.model.clone(), e))
                    .collect(),
                aliases: settings
                    .aliases
                    .into_iter()
                    .map(|a| (a.alias.clone(), a))
                    .collect(),
                wildcards,
                access_groups,
                cache_opt_in,
                pre_call_checks: settings.pre_call_checks,
                tag_routing: settings
                    .tag_filtering_match_any
                    .map(|match_any| TagRouting::new(match_any, deployment_tags)),
                rules: settings.rules,
                master_key: settings.master_key,
                max_request_bytes: settings.max_request_bytes,
                server: settings.server,
                redis: settings
                    .shared_usage
                    .as_ref()
                    .and_then(|shared| redis::Client::open(shared.redis.clone()).ok()),
                started_at: unix_now(),
                usage_sync,
                prices,
                token_limits,
                request_params,
                budgets: settings.budgets,
                layers,
                storage,
                metrics,
                record_content: settings.telemetry.record_content,
                reported_redis_failures: Default::default(),
            }),
        })
    }

    /// The list price of a deployment, when the catalog knows its model.
    pub fn price(&self, deployment_id: &str) -> Option<&ModelPrice> {
        self.inner.prices.get(deployment_id)
    }

    /// `request` as deployment `deployment_id` takes it: its `litellm_params` defaults filled
    /// in, its `additional_drop_params` removed. Most deployments have neither and get the
    /// request untouched.
    pub fn shape_request<T>(&self, deployment_id: &str, request: T) -> T
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Clone,
    {
        match self.inner.request_params.get(deployment_id) {
            None => request,
            Some(params) => params.apply(request.clone()).unwrap_or_else(|err| {
                // Checked against a request at load; a request this one cannot shape is
                // sent as the client wrote it.
                tracing::warn!(deployment = deployment_id, error = %err, "request parameters not applied");
                request
            }),
        }
    }

    /// The token limits of a deployment's model, as far as they are known.
    pub fn token_limits(&self, deployment_id: &str) -> TokenLimits {
        self.inner
            .token_limits
            .get(deployment_id)
            .copied()
            .unwrap_or_default()
    }

    /// Whether every deployment of model group `group` has a price (`false` for no group).
    pub fn group_is_priced(&self, group: &str) -> bool {
        self.router().groups().get(group).is_some_and(|group| {
            group
                .deployments()
                .iter()
                .all(|d| self.inner.prices.contains_key(&d.id))
        })
    }

    /// How budgets are enforced.
    pub fn budgets(&self) -> &BudgetSettings {
        &self.inner.budgets
    }

    /// The sync of usage counts with other replicas, when `router_settings` names a Redis.
    pub fn usage_sync(&self) -> Option<&Arc<UsageSync>> {
        self.inner.usage_sync.as_ref()
    }

    /// Starts syncing usage counts with other replicas every [`UsageSync::INTERVAL`], when
    /// configured; the sync stops when the returned task is dropped. Needs a tokio runtime.
    pub fn start_usage_sync(&self) -> Option<UsageSyncTask> {
        self.usage_sync()
            .map(|sync| sync.spawn(UsageSync::INTERVAL))
    }

    /// Sweeps the in-process state of the rate limiter every minute, when limits are set; the
    /// sweeping stops when the returned task is dropped. Needs a tokio runtime.
    pub fn start_rate_limit_sweeper(&self) -> Option<Sweeper> {
        self.inner
            .layers
            .rate_limit_backend
            .as_ref()
            .map(|backend| Sweeper::spawn(backend, Sweeper::INTERVAL))
    }

    /// Keys, budgets and spend.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// The gateway's metrics.
    pub fn metrics(&self) -> &Arc<GatewayMetrics> {
        &self.inner.metrics
    }

    /// Brings the metrics' tallies kept elsewhere up to date: calls Redis did not answer, as
    /// the rate limiter, the usage sync and the response cache each count them, and spend
    /// records shed. Called before the metrics are rendered.
    pub fn report_tallies(&self) {
        let inner = &self.inner;
        let tallies = [
            (
                "rate_limit",
                inner
                    .layers
                    .rate_limit_redis
                    .as_ref()
                    .map_or(0, |redis| redis.unavailable_calls()),
            ),
            (
                "usage_sync",
                inner.usage_sync.as_ref().map_or(0, |sync| sync.failures()),
            ),
            (
                "cache",
                inner
                    .layers
                    .cache
                    .as_ref()
                    .map_or(0, |cache| cache.stats().store_failures),
            ),
        ];
        for ((component, total), reported) in tallies.iter().zip(&inner.reported_redis_failures) {
            let before = reported.swap(*total, Ordering::Relaxed);
            inner
                .metrics
                .record_redis_failures(component, total.saturating_sub(before));
        }
        inner
            .metrics
            .record_spend_records_shed(inner.storage.take_new_shed());
        inner
            .metrics
            .record_budget_counter_failures(inner.storage.take_new_counter_failures());
        inner
            .metrics
            .set_budget_failure_policy(inner.budgets.on_counter_failure.as_str());
    }

    /// Whether prompts and completions are recorded on the call spans.
    pub fn record_content(&self) -> bool {
        self.inner.record_content
    }

    /// The layers in front of the router.
    pub(crate) fn layers(&self) -> &CallLayers {
        &self.inner.layers
    }

    /// The configured model groups.
    pub fn groups(&self) -> &ModelGroups {
        self.inner.router.groups()
    }

    /// The experiment clients join by sending `model`, if there is one.
    pub fn experiment(&self, model: &str) -> Option<&Experiment> {
        self.inner.experiments.get(model)
    }

    /// The wildcard group that serves `model` when no group, experiment or rule is named
    /// after it.
    pub fn wildcard_route(&self, model: &str) -> Option<WildcardRoute> {
        if self.inner.wildcards.is_empty()
            || self.router().groups().get(model).is_some()
            || self.inner.experiments.contains_key(model)
            || self.rules().routes(model)
        {
            return None;
        }
        self.inner.wildcards.resolve(model)
    }

    /// The price of a call on `deployment`: its own, or for a wildcard deployment the price
    /// the catalog lists for the model the call's wildcard route asks it for.
    pub fn price_on(
        &self,
        deployment: &Deployment,
        wildcard: Option<&WildcardRoute>,
    ) -> Option<ModelPrice> {
        if let Some(price) = self.inner.prices.get(&deployment.id) {
            return Some(*price);
        }
        let model = wildcard?.upstream_model(deployment.provider.upstream_model())?;
        let catalog = PriceCatalog::embedded();
        catalog
            .get(&format!("{}/{model}", deployment.provider.family()))
            .or_else(|| catalog.get(&model))
            .map(|entry| entry.price)
    }

    /// Whether `caller` may call model group `model`: its allow-list names the group (or a
    /// wildcard matching it), or an access group the group belongs to.
    pub fn may_call(&self, caller: &Caller, model: &str) -> bool {
        let in_group = |allowed: &String| {
            self.inner
                .access_groups
                .get(allowed)
                .is_some_and(|groups| groups.iter().any(|g| g == model))
        };
        let admits = |list: &[String]| {
            list.is_empty()
                || list.iter().any(|allowed| {
                    crate::caller::model_matches(allowed, model) || in_group(allowed)
                })
        };
        admits(&caller.models) && admits(&caller.organization_models)
    }

    /// Whether calls prefer deployments whose model takes their prompt
    /// (`enable_pre_call_checks`).
    pub fn pre_call_checks(&self) -> bool {
        self.inner.pre_call_checks
    }

    /// Whether the response cache serves only calls that ask for it (`mode: default_off`).
    pub fn cache_opt_in(&self) -> bool {
        self.inner.cache_opt_in
    }

    /// Tag routing, when the configuration turns it on.
    pub fn tag_routing(&self) -> Option<&TagRouting> {
        self.inner.tag_routing.as_ref()
    }

    /// The group `model` is an alias for, when it is one.
    pub fn alias_target(&self, model: &str) -> Option<&str> {
        self.inner.aliases.get(model).map(|a| a.group.as_str())
    }

    /// The aliases model lists show (those not `hidden`).
    pub fn listed_aliases(&self) -> impl Iterator<Item = &str> {
        self.inner
            .aliases
            .values()
            .filter(|a| !a.hidden)
            .map(|a| a.alias.as_str())
    }

    /// Every experiment.
    pub fn experiments(&self) -> impl Iterator<Item = &Experiment> {
        self.inner.experiments.values()
    }

    /// The routing rules, by the model names that invoke them.
    pub fn rules(&self) -> &RoutingRules {
        &self.inner.rules
    }

    /// The router over the model groups.
    pub fn router(&self) -> &Router {
        &self.inner.router
    }

    /// The key clients must send, if any.
    pub fn master_key(&self) -> Option<&str> {
        self.inner.master_key.as_deref()
    }

    /// Timeouts of the listener and its shutdown, and the readiness policy.
    pub fn server_settings(&self) -> &ServerSettings {
        &self.inner.server
    }

    /// Checks the dependencies readiness reports on: the database, and Redis when replicas
    /// share state through it. Each check is bounded by `within`.
    pub async fn check_dependencies(
        &self,
        within: std::time::Duration,
    ) -> Vec<(&'static str, Result<(), String>)> {
        let database = tokio::time::timeout(within, self.inner.storage.store().ping()).await;
        let mut checks = vec![(
            "database",
            match database {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(err.to_string()),
                Err(_) => Err("no answer in time".to_owned()),
            },
        )];
        if let Some(client) = &self.inner.redis {
            let ping = async {
                let mut connection = client.get_multiplexed_async_connection().await?;
                redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
            };
            checks.push((
                "redis",
                match tokio::time::timeout(within, ping).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err("no answer in time".to_owned()),
                },
            ));
        }
        checks
    }

    /// Largest request body accepted.
    pub fn max_request_bytes(&self) -> usize {
        self.inner.max_request_bytes
    }

    /// Unix time the gateway started.
    pub fn started_at(&self) -> u64 {
        self.inner.started_at
    }
}
