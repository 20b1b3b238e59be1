//! What Switchyard does with each key LiteLLM documents that it does not take as LiteLLM does
//! (<https://docs.litellm.ai/docs/proxy/config_settings> and the pages it links). A key the
//! typed configuration reads is honoured and never reaches this table; every other key a
//! configuration holds is looked up here:
//!
//! - [`Handling::Ignored`]: callbacks, alerting and UI keys, and keys with no effect on calls;
//!   warned about, saying what Switchyard does instead.
//! - [`Handling::Refused`]: keys that change behaviour in a way Switchyard does not implement;
//!   the configuration does not load, and the message says what to do instead.
//! - [`Handling::Control`]: keys asking for a control (authentication, guardrails, IP or route
//!   limits) Switchyard does not have: refused unless `general_settings.allow_unenforced_controls`
//!   names them, so that no deployment loses a control without its operator saying so.
//!
//! Keys in no table are neither LiteLLM's (as documented) nor Switchyard's: warned about and
//! ignored, as LiteLLM ignores what it does not know.

use super::ConfigWarning;

/// What happens to a documented key the gateway does not take as LiteLLM does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Warned about and ignored; the text says what Switchyard does instead.
    Ignored(&'static str),
    /// The configuration is refused; the text says what to do instead.
    Refused(&'static str),
    /// Refused unless listed in `general_settings.allow_unenforced_controls`.
    Control(&'static str),
}

/// The key that lets a configuration run without controls it asks for.
pub const ALLOW_UNENFORCED: &str = "general_settings.allow_unenforced_controls";

const CALLBACKS: &str = "LiteLLM's logging callbacks are not run; Switchyard exports every call \
     as an OpenTelemetry trace (section `telemetry`) and serves Prometheus metrics at /metrics";
const ALERTING: &str = "LiteLLM's Slack/email alerting is not run; alert on Switchyard's \
     /metrics (budget, error and latency series) instead";
const UI: &str = "only LiteLLM's admin UI reads this; Switchyard's admin UI (`/ui`) admits the master key alone, as `ui_access_mode: admin_only` asks, and has no other setting";
const NO_CONTENT_LOGGED: &str = "Switchyard logs no prompt or answer text unless \
     `telemetry.record_content` asks for it, and never logs keys";
const INTERNAL: &str = "tunes a LiteLLM internal Switchyard does not have; it has no effect";
const PROVIDER_CREDENTIALS: &str = "Switchyard does not take this credential; give the provider's \
     `api_key` (or AWS keys for Bedrock), see README's compatibility table";

const PROMPT_TEMPLATE: &str = "prompt templates are not applied; messages go to the provider as \
     chat messages (serve the model through an OpenAI-compatible server that applies its template)";
const ONE_RATE: &str = "Switchyard prices tokens at one input and one output rate (plus prompt-cache \
     rates); give `input_cost_per_token`/`output_cost_per_token`";
const TEAM_MODELS: &str =
    "models for one team only are not supported; limit teams with their `models`";

/// The documented keys, by path (`[]` stands for any list index).
const KEYS: &[(&str, Handling)] = &[
    // ---- litellm_settings
    (
        "litellm_settings.success_callback",
        Handling::Ignored(CALLBACKS),
    ),
    (
        "litellm_settings.failure_callback",
        Handling::Ignored(CALLBACKS),
    ),
    ("litellm_settings.callbacks", Handling::Ignored(CALLBACKS)),
    (
        "litellm_settings.service_callbacks",
        Handling::Ignored(CALLBACKS),
    ),
    (
        "litellm_settings.service_callback",
        Handling::Ignored(CALLBACKS),
    ),
    (
        "litellm_settings.langfuse_default_tags",
        Handling::Ignored(CALLBACKS),
    ),
    (
        "litellm_settings.callback_settings",
        Handling::Ignored(CALLBACKS),
    ),
    (
        "litellm_settings.turn_off_message_logging",
        Handling::Ignored(NO_CONTENT_LOGGED),
    ),
    (
        "litellm_settings.redact_user_api_key_info",
        Handling::Ignored(NO_CONTENT_LOGGED),
    ),
    (
        "litellm_settings.redact_messages_in_exceptions",
        Handling::Ignored(NO_CONTENT_LOGGED),
    ),
    (
        "litellm_settings.set_verbose",
        Handling::Ignored("set the log level with `RUST_LOG` (for example `RUST_LOG=debug`)"),
    ),
    (
        "litellm_settings.json_logs",
        Handling::Ignored("Switchyard writes JSON logs by default (`telemetry.log_format`)"),
    ),
    (
        "litellm_settings.enable_preview_features",
        Handling::Ignored("Switchyard streams from every model; there is nothing to enable"),
    ),
    (
        "litellm_settings.disable_copilot_system_to_assistant",
        Handling::Ignored("deprecated in LiteLLM; no effect"),
    ),
    (
        "litellm_settings.disable_hf_tokenizer_download",
        Handling::Ignored("Switchyard downloads no tokenizer; it counts with the upstream's usage"),
    ),
    (
        "litellm_settings.disable_add_transform_inline_image_block",
        Handling::Ignored("Switchyard does not rewrite image URLs; no effect"),
    ),
    (
        "litellm_settings.force_ipv4",
        Handling::Refused(
            "Switchyard connects over whichever address family the upstream resolves to; \
             give `api_base` as an IPv4 address to force it",
        ),
    ),
    (
        "litellm_settings.modify_params",
        Handling::Refused(
            "Switchyard does not rewrite messages to fit a provider's rules; remove the key \
             (requests a provider cannot take get its error)",
        ),
    ),
    (
        "litellm_settings.enable_json_schema_validation",
        Handling::Refused("Switchyard does not validate answers against `response_format`"),
    ),
    (
        "litellm_settings.disable_end_user_cost_tracking",
        Handling::Refused(
            "Switchyard always records the end user of a call (spend logs); remove the key",
        ),
    ),
    (
        "litellm_settings.disable_end_user_cost_tracking_prometheus_only",
        Handling::Ignored("Switchyard's metrics carry no end-user label"),
    ),
    (
        "litellm_settings.key_generation_settings",
        Handling::Control("who may call /key/generate is not restricted beyond roles"),
    ),
    (
        "litellm_settings.guardrails",
        Handling::Control("Switchyard runs no guardrails; requests reach the model unchecked"),
    ),
    (
        "litellm_settings.mcp_aliases",
        Handling::Refused("Switchyard serves no MCP gateway; remove the key"),
    ),
    (
        "litellm_settings.priority_reservation",
        Handling::Refused(
            "capacity is not reserved by priority; give keys their own `rpm_limit`/`tpm_limit`",
        ),
    ),
    (
        "litellm_settings.priority_reservation_settings",
        Handling::Refused(
            "capacity is not reserved by priority; give keys their own `rpm_limit`/`tpm_limit`",
        ),
    ),
    (
        "litellm_settings.max_budget",
        Handling::Refused(
            "a proxy-wide budget is not enforced; give the budget to keys, users or teams",
        ),
    ),
    (
        "litellm_settings.budget_duration",
        Handling::Refused(
            "a proxy-wide budget is not enforced; give the budget to keys, users or teams",
        ),
    ),
    (
        "litellm_settings.default_team_settings",
        Handling::Refused("per-team defaults from the file are not applied; set them on /team/new"),
    ),
    (
        "litellm_settings.default_internal_user_params",
        Handling::Refused("user defaults from the file are not applied; set them on /user/new"),
    ),
    (
        "litellm_settings.default_key_generate_params",
        Handling::Refused("key defaults from the file are not applied; set them on /key/generate"),
    ),
    (
        "litellm_settings.upperbound_key_generate_params",
        Handling::Control("upper bounds on /key/generate parameters are not enforced"),
    ),
    (
        "litellm_settings.default_max_internal_user_budget",
        Handling::Refused("user defaults from the file are not applied; set them on /user/new"),
    ),
    (
        "litellm_settings.max_internal_user_budget",
        Handling::Refused("user defaults from the file are not applied; set them on /user/new"),
    ),
    (
        "litellm_settings.internal_user_budget_duration",
        Handling::Refused("user defaults from the file are not applied; set them on /user/new"),
    ),
    (
        "litellm_settings.public_teams",
        Handling::Refused("teams users may join on their own are not supported"),
    ),
    // ---- general_settings
    ("general_settings.alerting", Handling::Ignored(ALERTING)),
    (
        "general_settings.alerting_threshold",
        Handling::Ignored(ALERTING),
    ),
    ("general_settings.alert_types", Handling::Ignored(ALERTING)),
    (
        "general_settings.alerting_args",
        Handling::Ignored(ALERTING),
    ),
    (
        "general_settings.alert_to_webhook_url",
        Handling::Ignored(ALERTING),
    ),
    (
        "general_settings.spend_report_frequency",
        Handling::Ignored(ALERTING),
    ),
    ("general_settings.ui_access_mode", Handling::Ignored(UI)),
    (
        "general_settings.disable_master_key_return",
        Handling::Ignored(UI),
    ),
    ("general_settings.ui_username", Handling::Ignored(UI)),
    ("general_settings.ui_password", Handling::Ignored(UI)),
    (
        "general_settings.litellm_license",
        Handling::Ignored(INTERNAL),
    ),
    (
        "general_settings.disable_prisma_schema_update",
        Handling::Ignored(INTERNAL),
    ),
    (
        "general_settings.proxy_batch_write_at",
        Handling::Ignored(
            "Switchyard writes spend records in batches as they come (at most 500, or every 100 ms)",
        ),
    ),
    (
        "general_settings.proxy_batch_polling_interval",
        Handling::Ignored(INTERNAL),
    ),
    (
        "general_settings.proxy_budget_rescheduler_min_time",
        Handling::Ignored(
            "Switchyard starts a budget's new period at its exact boundary; no schedule is needed",
        ),
    ),
    (
        "general_settings.proxy_budget_rescheduler_max_time",
        Handling::Ignored(
            "Switchyard starts a budget's new period at its exact boundary; no schedule is needed",
        ),
    ),
    (
        "general_settings.infer_model_from_keys",
        Handling::Ignored(INTERNAL),
    ),
    (
        "general_settings.store_prompts_in_spend_logs",
        Handling::Ignored(NO_CONTENT_LOGGED),
    ),
    (
        "general_settings.disable_adding_master_key_hash_to_db",
        Handling::Ignored("Switchyard never stores the master key or its hash"),
    ),
    (
        "general_settings.custom_auth",
        Handling::Control("Switchyard runs no custom auth code; it checks its own keys only"),
    ),
    (
        "general_settings.enable_jwt_auth",
        Handling::Control("JWT (OIDC) authentication is not supported; callers need virtual keys"),
    ),
    (
        "general_settings.litellm_jwtauth",
        Handling::Control("JWT (OIDC) authentication is not supported; callers need virtual keys"),
    ),
    (
        "general_settings.enable_oauth2_auth",
        Handling::Control("OAuth2 authentication is not supported; callers need virtual keys"),
    ),
    (
        "general_settings.enable_oauth2_proxy_auth",
        Handling::Control("OAuth2 authentication is not supported; callers need virtual keys"),
    ),
    (
        "general_settings.oauth2_config_mappings",
        Handling::Control("OAuth2 authentication is not supported; callers need virtual keys"),
    ),
    (
        "general_settings.custom_sso",
        Handling::Control("SSO is not supported; admins use the master key"),
    ),
    (
        "general_settings.allowed_routes",
        Handling::Control("routes are not limited per caller beyond admin/user roles"),
    ),
    (
        "general_settings.admin_only_routes",
        Handling::Control("routes are not limited per caller beyond admin/user roles"),
    ),
    (
        "general_settings.public_routes",
        Handling::Control("which routes need no key is fixed (health checks and /metrics)"),
    ),
    (
        "general_settings.allowed_ips",
        Handling::Control("calls are not limited by client IP; limit them at the network"),
    ),
    (
        "general_settings.use_x_forwarded_for",
        Handling::Control("calls are not limited by client IP; limit them at the network"),
    ),
    (
        "general_settings.enforce_user_param",
        Handling::Control("requests without `user` are not refused"),
    ),
    (
        "general_settings.enforced_params",
        Handling::Control("requests missing these parameters are not refused"),
    ),
    (
        "general_settings.reject_clientside_metadata_tags",
        Handling::Control("requests with `metadata.tags` are not refused"),
    ),
    (
        "general_settings.require_auth_for_metrics_endpoint",
        Handling::Control("/metrics answers without a key (it holds configured names only)"),
    ),
    (
        "general_settings.key_management_system",
        Handling::Control("secrets come from the environment (`os.environ/`), no secret manager"),
    ),
    (
        "general_settings.key_management_settings",
        Handling::Control("secrets come from the environment (`os.environ/`), no secret manager"),
    ),
    (
        "general_settings.use_azure_key_vault",
        Handling::Control("secrets come from the environment (`os.environ/`), no secret manager"),
    ),
    (
        "general_settings.use_google_kms",
        Handling::Control("secrets come from the environment (`os.environ/`), no secret manager"),
    ),
    (
        "general_settings.default_team_disabled",
        Handling::Control("keys without a team are not refused"),
    ),
    (
        "general_settings.service_account_settings",
        Handling::Control("service-account key rules are not enforced"),
    ),
    (
        "general_settings.allow_client_side_credentials",
        Handling::Refused("clients cannot send their own upstream credentials; remove the key"),
    ),
    (
        "general_settings.use_client_credentials_pass_through_routes",
        Handling::Refused("Switchyard has no pass-through routes; remove the key"),
    ),
    (
        "general_settings.pass_through_endpoints",
        Handling::Refused("Switchyard has no pass-through routes; remove the key"),
    ),
    (
        "general_settings.allow_requests_on_db_unavailable",
        Handling::Refused(
            "Switchyard keeps serving keys it has checked in the last seconds while the database \
             is down and refuses others; it never serves unchecked keys",
        ),
    ),
    (
        "general_settings.disable_spend_logs",
        Handling::Refused("Switchyard always writes spend records; budgets are rebuilt from them"),
    ),
    (
        "general_settings.disable_spend_updates",
        Handling::Refused("Switchyard always counts spend; budgets depend on it"),
    ),
    (
        "general_settings.disable_reset_budget",
        Handling::Refused("budgets always start a new period when their duration ends"),
    ),
    (
        "general_settings.maximum_spend_logs_retention_period",
        Handling::Refused("spend records are kept until deleted; purge them with SQL"),
    ),
    (
        "general_settings.maximum_spend_logs_retention_interval",
        Handling::Refused("spend records are kept until deleted; purge them with SQL"),
    ),
    (
        "general_settings.global_max_parallel_requests",
        Handling::Refused(
            "no proxy-wide concurrency limit; use `rate_limits` or deployments' `max_parallel_requests`",
        ),
    ),
    (
        "general_settings.max_response_size_mb",
        Handling::Refused("answers are not limited in size"),
    ),
    (
        "general_settings.completion_model",
        Handling::Refused("the request's `model` is always used; there is no forced model"),
    ),
    (
        "general_settings.embedding_model",
        Handling::Refused("the request's `model` is always used; there is no forced model"),
    ),
    (
        "general_settings.image_generation_model",
        Handling::Refused("the request's `model` is always used; there is no forced model"),
    ),
    (
        "general_settings.moderation_model",
        Handling::Refused("the request's `model` is always used; there is no forced model"),
    ),
    (
        "general_settings.forward_client_headers_to_llm_api",
        Handling::Refused("client headers are not forwarded upstream"),
    ),
    (
        "general_settings.forward_openai_org_id",
        Handling::Refused("give `organization` in the deployment's `litellm_params`"),
    ),
    (
        "general_settings.litellm_key_header_name",
        Handling::Refused("keys are read from `Authorization`, `x-api-key` and `api-key` only"),
    ),
    (
        "general_settings.background_health_checks",
        Handling::Refused("Switchyard checks upstreams on GET /health only, not in the background"),
    ),
    (
        "general_settings.health_check_interval",
        Handling::Refused("Switchyard checks upstreams on GET /health only, not in the background"),
    ),
    (
        "general_settings.disable_retry_on_max_parallel_request_limit_error",
        Handling::Refused("a deployment at its `max_parallel_requests` is skipped, not retried"),
    ),
    (
        "general_settings.max_parallel_requests",
        Handling::Refused("give `max_parallel_requests` in each deployment's `litellm_params`"),
    ),
    (
        "general_settings.user_api_key_cache_ttl",
        Handling::Refused("checked keys are cached for 5 seconds, which is not configurable"),
    ),
    (
        "general_settings.database_connection_timeout",
        Handling::Refused("database waits are fixed at 3 seconds per query"),
    ),
    // ---- router_settings
    (
        "router_settings.debug_level",
        Handling::Ignored("set the log level with `RUST_LOG`"),
    ),
    ("router_settings.client_ttl", Handling::Ignored(INTERNAL)),
    (
        "router_settings.polling_interval",
        Handling::Ignored(INTERNAL),
    ),
    (
        "router_settings.default_priority",
        Handling::Ignored(INTERNAL),
    ),
    (
        "router_settings.retry_policy",
        Handling::Refused(
            "retries are counted by `num_retries` for every retryable failure (timeouts, 429, \
             5xx, connection errors); per-error-type counts are not supported",
        ),
    ),
    (
        "router_settings.allowed_fails_policy",
        Handling::Refused(
            "`allowed_fails` counts every failure alike; per-error-type counts are not supported",
        ),
    ),
    (
        "router_settings.max_fallbacks",
        Handling::Refused("every fallback listed is tried; shorten the `fallbacks` lists"),
    ),
    (
        "router_settings.provider_budget_config",
        Handling::Refused("budgets per provider are not supported; give them to keys or teams"),
    ),
    (
        "router_settings.cache_responses",
        Handling::Refused("enable the response cache with `litellm_settings.cache: true`"),
    ),
    (
        "router_settings.cache_kwargs",
        Handling::Refused("give the cache's Redis in `litellm_settings.cache_params`"),
    ),
    (
        "litellm_settings.cache_params.qdrant_semantic_cache_embedding_model",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.qdrant_collection_name",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.qdrant_quantization_config",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.qdrant_semantic_cache_vector_size",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.similarity_threshold",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.redis_semantic_cache_embedding_model",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.s3_bucket_name",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.s3_region_name",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.s3_api_version",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.s3_use_ssl",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.s3_verify",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.s3_aws_access_key_id",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.s3_aws_secret_access_key",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.s3_aws_session_token",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.s3_endpoint_url",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.gcs_bucket_name",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.gcs_path_service_account",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.gcs_path",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.disk_cache_dir",
        Handling::Refused(
            "S3, GCS, disk, Qdrant and semantic caches are not supported; `type: local` or `redis`",
        ),
    ),
    (
        "litellm_settings.cache_params.sentinel_password",
        Handling::Refused("Redis Sentinel is not supported; give one Redis (`host` or `url`)"),
    ),
    (
        "litellm_settings.cache_params.gcp_service_account",
        Handling::Refused(
            "GCP IAM authentication to Redis is not supported; give `password` or a `url`",
        ),
    ),
    (
        "litellm_settings.cache_params.gcp_ssl_ca_certs",
        Handling::Refused(
            "GCP IAM authentication to Redis is not supported; give `password` or a `url`",
        ),
    ),
    (
        "litellm_settings.cache_params.ssl",
        Handling::Refused("give TLS as a `url: rediss://...` (certificates are always checked)"),
    ),
    (
        "litellm_settings.cache_params.ssl_cert_reqs",
        Handling::Refused("give TLS as a `url: rediss://...` (certificates are always checked)"),
    ),
    (
        "litellm_settings.cache_params.ssl_check_hostname",
        Handling::Refused("give TLS as a `url: rediss://...` (certificates are always checked)"),
    ),
    (
        "litellm_settings.cache_params.max_connections",
        Handling::Ignored(
            "Switchyard keeps one multiplexed Redis connection per replica; there is no pool to size",
        ),
    ),
    (
        "litellm_settings.cache_params.default_in_memory_ttl",
        Handling::Refused("the cache has one `ttl` (no in-memory layer in front of Redis)"),
    ),
    (
        "litellm_settings.cache_params.default_in_redis_ttl",
        Handling::Refused("the cache has one `ttl` (no in-memory layer in front of Redis)"),
    ),
    (
        "litellm_settings.cache_params.disable_copilot_system_to_assistant",
        Handling::Ignored("deprecated in LiteLLM; no effect"),
    ),
    (
        "general_settings.disable_responses_id_security",
        Handling::Control("response ids are not tied to their caller"),
    ),
    (
        "general_settings.health_check_details",
        Handling::Ignored(
            "GET /health shows each endpoint's failure class and status only, never rate-limit details",
        ),
    ),
    (
        "general_settings.supported_db_objects",
        Handling::Refused("models added with /model/new are always stored; other objects are not"),
    ),
    (
        "general_settings.user_mcp_management_mode",
        Handling::Refused("Switchyard serves no MCP gateway; remove the key"),
    ),
    (
        "general_settings.allow_user_auth",
        Handling::Control("the deprecated user/password login is not supported; callers need keys"),
    ),
    (
        "general_settings.disable_error_logs",
        Handling::Refused("failed calls are always recorded in the spend logs"),
    ),
    (
        "general_settings.token_rate_limit_type",
        Handling::Refused("`tpm` limits count input and output tokens together"),
    ),
    (
        "general_settings.database_type",
        Handling::Refused("the database is PostgreSQL or SQLite, named by `database_url`"),
    ),
    (
        "general_settings.database_args",
        Handling::Refused("give PostgreSQL options in the `database_url` query string"),
    ),
    (
        "router_settings.caching_groups",
        Handling::Refused("each model group has its own cache entries"),
    ),
    (
        "router_settings.alerting_config",
        Handling::Ignored(ALERTING),
    ),
    (
        "router_settings.assistants_config",
        Handling::Refused("the Assistants API is not served"),
    ),
    (
        "router_settings.set_verbose",
        Handling::Ignored("set the log level with `RUST_LOG`"),
    ),
    (
        "router_settings.retry_after",
        Handling::Refused(
            "a retry goes to another deployment at once; there is no wait between retries",
        ),
    ),
    (
        "router_settings.model_group_retry_policy",
        Handling::Refused("retries are counted by `num_retries` for every group alike"),
    ),
    (
        "router_settings.router_general_settings",
        Handling::Refused("none of its options is supported"),
    ),
    (
        "router_settings.optional_pre_call_checks",
        Handling::Refused("only the context-window check (`enable_pre_call_checks`) is supported"),
    ),
    (
        "router_settings.ignore_invalid_deployments",
        Handling::Refused("an invalid deployment stops start-up, with its path; fix or remove it"),
    ),
    (
        "router_settings.search_tools",
        Handling::Refused("search tools are not served"),
    ),
    (
        "router_settings.guardrail_list",
        Handling::Control("Switchyard runs no guardrails; requests reach the model unchecked"),
    ),
    (
        "router_settings.cache_params",
        Handling::Refused("give the cache in `litellm_settings` (`cache: true`, `cache_params`)"),
    ),
    // ---- deployments
    (
        "model_list[].litellm_params.aws_web_identity_token",
        Handling::Refused(PROVIDER_CREDENTIALS),
    ),
    (
        "model_list[].litellm_params.azure_username",
        Handling::Refused(PROVIDER_CREDENTIALS),
    ),
    (
        "model_list[].litellm_params.azure_password",
        Handling::Refused(PROVIDER_CREDENTIALS),
    ),
    (
        "model_list[].litellm_params.input_cost_per_second",
        Handling::Refused(
            "prices are per token; give `input_cost_per_token`/`output_cost_per_token`",
        ),
    ),
    (
        "model_list[].litellm_params.output_cost_per_second",
        Handling::Refused(
            "prices are per token; give `input_cost_per_token`/`output_cost_per_token`",
        ),
    ),
    (
        "model_list[].litellm_params.custom_llm_provider",
        Handling::Refused(
            "name the provider as the prefix of `model` (`openai/...`, `anthropic/...`)",
        ),
    ),
    (
        "model_list[].litellm_params.merge_reasoning_content_in_choices",
        Handling::Refused(
            "reasoning is returned as the provider gives it (`reasoning_content`), never merged",
        ),
    ),
    (
        "model_list[].litellm_params.max_file_size_mb",
        Handling::Refused("uploads are limited by `general_settings.max_request_size_mb` only"),
    ),
    (
        "model_list[].litellm_params.region_name",
        Handling::Refused(
            "region-based routing (`region_name` with `enable_pre_call_checks`) is not supported; put each region's deployments in a group of their own",
        ),
    ),
    (
        "model_list[].litellm_params.litellm_credential_name",
        Handling::Refused(
            "credentials stored in LiteLLM's database are not read; give `api_key` (or `os.environ/`)",
        ),
    ),
    (
        "model_list[].litellm_params.use_in_pass_through",
        Handling::Refused("Switchyard has no pass-through routes; remove the key"),
    ),
    (
        "model_list[].litellm_params.guardrails",
        Handling::Control("Switchyard runs no guardrails; requests reach the model unchecked"),
    ),
    (
        "model_list[].litellm_params.budget_duration",
        Handling::Refused("budgets per deployment are not supported; give them to keys or teams"),
    ),
    (
        "model_list[].litellm_params.max_budget",
        Handling::Refused("budgets per deployment are not supported; give them to keys or teams"),
    ),
    (
        "model_list[].litellm_params.configurable_clientside_auth_params",
        Handling::Refused("clients cannot send their own upstream credentials; remove the key"),
    ),
    (
        "model_list[].model_info.custom_tokenizer",
        Handling::Ignored(
            "Switchyard counts tokens with the upstream's reported usage; no tokenizer is loaded",
        ),
    ),
    (
        "model_list[].model_info.input_cost_per_audio_token",
        Handling::Refused("audio tokens are not priced apart from text tokens"),
    ),
    (
        "model_list[].model_info.output_cost_per_audio_token",
        Handling::Refused("audio tokens are not priced apart from text tokens"),
    ),
    (
        "model_list[].model_info.input_cost_per_second",
        Handling::Refused(
            "prices are per token; give `input_cost_per_token`/`output_cost_per_token`",
        ),
    ),
    (
        "model_list[].model_info.output_cost_per_second",
        Handling::Refused(
            "prices are per token; give `input_cost_per_token`/`output_cost_per_token`",
        ),
    ),
    (
        "general_settings.custom_key_generate",
        Handling::Control(
            "Switchyard runs no custom key-generation code; every /key/generate is served",
        ),
    ),
    (
        "litellm_settings.cache_params.redis_startup_nodes",
        Handling::Refused("Redis Cluster is not supported; give one Redis (`host` or `url`)"),
    ),
    (
        "litellm_settings.cache_params.service_name",
        Handling::Refused("Redis Sentinel is not supported; give one Redis (`host` or `url`)"),
    ),
    (
        "litellm_settings.cache_params.sentinel_nodes",
        Handling::Refused("Redis Sentinel is not supported; give one Redis (`host` or `url`)"),
    ),
    (
        "model_list[].litellm_params.initial_prompt_value",
        Handling::Refused(PROMPT_TEMPLATE),
    ),
    (
        "model_list[].litellm_params.final_prompt_value",
        Handling::Refused(PROMPT_TEMPLATE),
    ),
    (
        "model_list[].litellm_params.roles",
        Handling::Refused(PROMPT_TEMPLATE),
    ),
    (
        "model_list[].litellm_params.bos_token",
        Handling::Refused(PROMPT_TEMPLATE),
    ),
    (
        "model_list[].litellm_params.eos_token",
        Handling::Refused(PROMPT_TEMPLATE),
    ),
    (
        "model_list[].model_info.input_cost_per_token_above_200k_tokens",
        Handling::Refused(ONE_RATE),
    ),
    (
        "model_list[].model_info.output_cost_per_token_above_200k_tokens",
        Handling::Refused(ONE_RATE),
    ),
    (
        "model_list[].model_info.cache_creation_input_token_cost_above_200k_tokens",
        Handling::Refused(ONE_RATE),
    ),
    (
        "model_list[].model_info.cache_read_input_token_cost_above_200k_tokens",
        Handling::Refused(ONE_RATE),
    ),
    (
        "model_list[].model_info.input_cost_per_image",
        Handling::Refused(ONE_RATE),
    ),
    (
        "model_list[].model_info.output_cost_per_reasoning_token",
        Handling::Refused(ONE_RATE),
    ),
    (
        "model_list[].model_info.input_cost_per_video_per_second",
        Handling::Refused(ONE_RATE),
    ),
    (
        "model_list[].model_info.input_cost_per_video_per_second_above_128k_tokens",
        Handling::Refused(ONE_RATE),
    ),
    (
        "model_list[].model_info.input_cost_per_character",
        Handling::Refused(ONE_RATE),
    ),
    (
        "model_list[].model_info.team_id",
        Handling::Refused(TEAM_MODELS),
    ),
    (
        "model_list[].model_info.team_model_rpm_limit",
        Handling::Refused(TEAM_MODELS),
    ),
    (
        "model_list[].model_info.team_model_tpm_limit",
        Handling::Refused(TEAM_MODELS),
    ),
    // ---- top level
    (
        "guardrails",
        Handling::Control("Switchyard runs no guardrails; requests reach the model unchecked"),
    ),
    ("callback_settings", Handling::Ignored(CALLBACKS)),
    (
        "mcp_servers",
        Handling::Refused("Switchyard serves no MCP gateway; remove the section"),
    ),
    (
        "vector_store_registry",
        Handling::Refused("vector stores are not served; remove the section"),
    ),
    (
        "prompts",
        Handling::Refused("prompt management is not supported; remove the section"),
    ),
    (
        "search_tools",
        Handling::Refused("search tools are not served; remove the section"),
    ),
    (
        "credential_list",
        Handling::Refused(
            "credentials are not shared by name; give each deployment its `api_key` (or `os.environ/`)",
        ),
    ),
    (
        "finetune_settings",
        Handling::Refused("fine-tuning routes are not served; remove the section"),
    ),
    (
        "files_settings",
        Handling::Refused("file routes are not served; remove the section"),
    ),
    (
        "assistant_settings",
        Handling::Refused("assistant routes are not served; remove the section"),
    ),
];

/// `model_list[3].litellm_params.x` as the table writes it: `model_list[].litellm_params.x`.
fn pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// How the key at `path` (as serde reports it) is handled, when LiteLLM documents it. A key
/// below a listed one (`litellm_settings.callbacks[0]`, `guardrails[1].guardrail_name`) has
/// the listed key's handling.
pub fn handling(path: &str) -> Option<Handling> {
    let pattern = pattern(path);
    KEYS.iter()
        .find(|(key, _)| {
            pattern == *key
                || pattern
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
        .map(|(_, handling)| *handling)
}

/// The top-level sections the gateway reads.
const SECTIONS: &[&str] = &[
    "model_list",
    "general_settings",
    "litellm_settings",
    "router_settings",
    "experiments",
    "routing_rules",
    "rate_limits",
    "max_tokens",
    "telemetry",
];

/// Whether an `os.environ/NAME` at `path` may stay unresolved: the key is only warned about,
/// or lies outside every section the gateway reads.
pub fn may_stay_unresolved(path: &str) -> bool {
    let section = path.split(['.', '[']).next().unwrap_or(path);
    !SECTIONS.contains(&section) || matches!(handling(path), Some(Handling::Ignored(_)))
}

/// The verdict on the keys a configuration holds that the typed configuration did not take.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Keys ignored, each saying what Switchyard does instead.
    pub warnings: Vec<ConfigWarning>,
    /// Keys that keep the configuration from loading, each saying why and what to do.
    pub refusals: Vec<ConfigWarning>,
}

/// Judges the keys at `paths`; `allowed` are the entries of `allow_unenforced_controls`, which
/// name a control by its key (`custom_auth`) or its path (`general_settings.custom_auth`).
pub fn judge(paths: &[String], allowed: &[String]) -> Verdict {
    let mut verdict = Verdict::default();
    for path in paths {
        let message = match handling(path) {
            Some(Handling::Ignored(why)) => {
                verdict.warnings.push(ConfigWarning {
                    path: path.clone(),
                    message: format!("LiteLLM's key, ignored: {why}"),
                });
                continue;
            }
            Some(Handling::Refused(why)) => format!("not supported by Switchyard: {why}"),
            Some(Handling::Control(why)) => {
                let key = path.rsplit('.').next().unwrap_or(path);
                let listed = allowed.iter().any(|a| {
                    a == path
                        || a == key
                        || pattern(path).starts_with(&format!("{a}."))
                        || *a == pattern(path)
                });
                if listed {
                    verdict.warnings.push(ConfigWarning {
                        path: path.clone(),
                        message: format!(
                            "control NOT enforced ({ALLOW_UNENFORCED} lists it): {why}"
                        ),
                    });
                    continue;
                }
                format!(
                    "asks for a control Switchyard does not have: {why}. To run without it, \
                     list `{key}` in `{ALLOW_UNENFORCED}`"
                )
            }
            None => {
                verdict.warnings.push(ConfigWarning {
                    path: path.clone(),
                    message: "neither a LiteLLM key (as documented) nor a Switchyard key; \
                              ignored (check its spelling)"
                        .to_owned(),
                });
                continue;
            }
        };
        verdict.refusals.push(ConfigWarning {
            path: path.clone(),
            message,
        });
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_indices_and_nested_keys_find_their_entry() {
        assert_eq!(
            handling("model_list[4].litellm_params.azure_username"),
            Some(Handling::Refused(PROVIDER_CREDENTIALS))
        );
        assert_eq!(
            handling("litellm_settings.success_callback[0]"),
            Some(Handling::Ignored(CALLBACKS))
        );
        assert!(matches!(
            handling("guardrails[0].guardrail_name"),
            Some(Handling::Control(_))
        ));
        assert_eq!(handling("litellm_settings.success_callbacks"), None);
    }

    #[test]
    fn only_keys_the_gateway_reads_need_their_variables() {
        assert!(!may_stay_unresolved("model_list[0].litellm_params.api_key"));
        assert!(!may_stay_unresolved("router_settings.redis_host"));
        assert!(may_stay_unresolved("litellm_settings.success_callback[0]"));
        assert!(may_stay_unresolved(
            "config.model_list[0].litellm_params.api_key"
        ));
    }

    #[test]
    fn controls_are_refused_unless_listed() {
        let paths = vec!["general_settings.custom_auth".to_owned()];
        let verdict = judge(&paths, &[]);
        assert_eq!(verdict.refusals.len(), 1);
        assert!(verdict.refusals[0].message.contains(ALLOW_UNENFORCED));
        for allowed in ["custom_auth", "general_settings.custom_auth"] {
            let verdict = judge(&paths, &[allowed.to_owned()]);
            assert!(verdict.refusals.is_empty(), "{allowed}");
            assert!(verdict.warnings[0].message.contains("NOT enforced"));
        }
    }

    #[test]
    fn every_message_says_what_switchyard_does_instead() {
        for (key, handling) in KEYS {
            let text = match handling {
                Handling::Ignored(t) | Handling::Refused(t) | Handling::Control(t) => t,
            };
            assert!(text.len() > 20, "{key}: {text}");
            assert!(
                !text.contains("ignored"),
                "{key}: say what happens instead: {text}"
            );
        }
    }
}
