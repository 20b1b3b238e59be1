#!/usr/bin/env python3
"""List every key path used by the LiteLLM doc-config corpus in this directory.

Usage:  python3 tests/litellm_configs/keys.py            # rewrites keys.tsv
        python3 tests/litellm_configs/keys.py --check    # only parse-check every config
        python3 tests/litellm_configs/keys.py --coverage # also list documented keys the
                                                         # corpus never uses (from documented_keys.md)
        python3 tests/litellm_configs/keys.py --table    # print the README's corpus table

Needs PyYAML (python3 -c 'import yaml'; else `pip install --target /tmp/pyyaml pyyaml`
and run with PYTHONPATH=/tmp/pyyaml).

Key paths:
  * mapping keys are joined with '.', list items of mappings are written '[]'
    (e.g. model_list[].litellm_params.api_base, guardrails[].litellm_params.mode);
  * a path is counted once per file that uses it (column `files`);
  * maps whose keys are user data (model names, header names, env var names, alert
    types ...) are not descended into: the path of the map itself is recorded
    (see OPAQUE below), so keys.tsv lists settings, not data;
  * `include:` is resolved like LiteLLM does (relative to the including file; lists
    are appended, mappings merged) and `include` itself is recorded;
  * a config that puts keys in the wrong place (e.g. 078, whose model_list is a mapping,
    or 092, whose keys sit beside an empty litellm_params) shows up with those odd paths
    (`model_list.model_name`, `model_list[].api_base`): they are kept on purpose, they
    are what a gateway reading the published file sees.
"""
import glob
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("PyYAML missing: pip install --target /tmp/pyyaml pyyaml; PYTHONPATH=/tmp/pyyaml")

HERE = os.path.dirname(os.path.abspath(__file__))

# Paths whose mapping keys (or list-item mapping keys) are user data, not settings.
OPAQUE = {
    "environment_variables",
    "model_list[].litellm_params.extra_headers",
    "model_list[].litellm_params.roles",
    "model_list[].litellm_params.requestMetadata",
    "litellm_settings.fallbacks",
    "litellm_settings.context_window_fallbacks",
    "litellm_settings.content_policy_fallbacks",
    "litellm_settings.priority_reservation",
    "litellm_settings.upperbound_key_generate_params",
    "litellm_settings.default_key_generate_params",
    "router_settings.fallbacks",
    "router_settings.context_window_fallbacks",
    "router_settings.content_policy_fallbacks",
    "router_settings.model_group_alias",
    "general_settings.alert_to_webhook_url",
    "guardrails[].guardrail_info",
    "guardrails[].litellm_params.mode.tags",
}

# What LiteLLM does with a key, in a short phrase, where its documentation says so
# (docs.litellm.ai proxy/config_settings, proxy/configs and the pages the configs come from).
DOC = {
    "include": "includes other YAML files into this config (proxy/config_management)",
    "environment_variables": "environment variables set by the proxy at startup (proxy/configs)",
    "credential_list": "named credential sets referenced by litellm_params.litellm_credential_name (proxy/configs)",
    "credential_list[].credential_name": "unique identifier for the credential set",
    "credential_list[].credential_values": "key-value pairs of credentials/secrets (supports os.environ/)",
    "credential_list[].credential_info": "user-provided information about the credential; the dictionary must exist",
    "model_list": "list of supported models on the server, with model-specific configs",
    "model_list[].model_name": "the user-facing model name (model group) clients send",
    "model_list[].litellm_params": "params passed to litellm.completion() for this deployment",
    "model_list[].litellm_params.model": "provider/model string sent to litellm.completion() (prefix picks the provider; '*' wildcards pass the requested model through)",
    "model_list[].litellm_params.api_base": "provider endpoint for this deployment",
    "model_list[].litellm_params.api_key": "provider API key for this deployment (os.environ/ allowed)",
    "model_list[].litellm_params.api_version": "Azure API version",
    "model_list[].litellm_params.rpm": "rate limit for this deployment in requests per minute; weights simple-shuffle",
    "model_list[].litellm_params.tpm": "tokens per minute for this deployment; weights simple-shuffle",
    "model_list[].litellm_params.temperature": "default temperature for calls to this deployment",
    "model_list[].litellm_params.max_tokens": "default max_tokens for calls to this deployment",
    "model_list[].litellm_params.seed": "default seed for calls to this deployment",
    "model_list[].litellm_params.organization": "OpenAI organization (a list creates one deployment per org)",
    "model_list[].litellm_params.extra_headers": "extra HTTP headers sent to the provider",
    "model_list[].litellm_params.azure_ad_token": "Azure AD token used instead of an API key",
    "model_list[].litellm_params.aws_region_name": "AWS region for Bedrock/Sagemaker (else AWS_REGION_NAME env)",
    "model_list[].litellm_params.aws_access_key_id": "AWS access key for Bedrock",
    "model_list[].litellm_params.aws_secret_access_key": "AWS secret key for Bedrock",
    "model_list[].litellm_params.aws_role_name": "AWS IAM role to assume for Bedrock",
    "model_list[].litellm_params.vertex_project": "Google Cloud project for Vertex AI",
    "model_list[].litellm_params.vertex_location": "Vertex AI region (also infers region_name)",
    "model_list[].litellm_params.vertex_credentials": "path to a service-account JSON for Vertex AI",
    "model_list[].litellm_params.litellm_credential_name": "use the credentials of this credential_list entry",
    "model_list[].litellm_params.drop_params": "drop OpenAI params the provider does not support",
    "model_list[].litellm_params.additional_drop_params": "list of params (JSONPath-like allowed) to drop before calling the provider",
    "model_list[].litellm_params.allowed_openai_params": "params allowed through to the model even if LiteLLM thinks them unsupported",
    "model_list[].litellm_params.tags": "routing tags of the deployment (tag-based routing; 'default' takes untagged requests)",
    "model_list[].litellm_params.tag_regex": "regexes matched against request headers (User-Agent) for tag routing",
    "model_list[].litellm_params.region_name": "region of the deployment, used by pre-call checks (EU filtering)",
    "model_list[].litellm_params.input_cost_per_token": "custom price per input token",
    "model_list[].litellm_params.output_cost_per_token": "custom price per output token",
    "model_list[].litellm_params.input_cost_per_second": "custom price per second of runtime",
    "model_list[].litellm_params.mock_response": "return this text instead of calling the provider",
    "model_list[].litellm_params.reasoning_effort": "default reasoning_effort (either on config or on request)",
    "model_list[].litellm_params.top_k": "provider-specific param sent as a kwarg in the request body",
    "model_list[].litellm_params.requestMetadata": "Bedrock request metadata for logging/cost attribution",
    "model_list[].litellm_params.initial_prompt_value": "custom prompt template: text before the prompt",
    "model_list[].litellm_params.roles": "custom prompt template: pre/post message per role",
    "model_list[].litellm_params.final_prompt_value": "custom prompt template: text after the prompt",
    "model_list[].litellm_params.bos_token": "custom prompt template: beginning-of-sentence token",
    "model_list[].litellm_params.eos_token": "custom prompt template: end-of-sentence token",
    "model_list[].model_info": "extra model information (returned on /model/info; pricing, mode, ids)",
    "model_list[].model_info.id": "unique deployment id (fallback target; x-litellm-model-id)",
    "model_list[].model_info.mode": "model type for health checks (embedding, image_generation, completion, audio_transcription, rerank, batch, realtime ...)",
    "model_list[].model_info.base_model": "model name used for cost lookup and context window (e.g. Azure deployments)",
    "model_list[].model_info.access_groups": "model access groups usable in key/user/team 'models'",
    "model_list[].model_info.supported_environments": "LITELLM_ENVIRONMENT values in which the model is exposed",
    "model_list[].model_info.custom_tokenizer": "Hugging Face tokenizer used by /utils/token_counter for this model",
    "model_list[].model_info.health_check_model": "model used to health-check a wildcard route",
    "model_list[].model_info.health_check_timeout": "health check timeout for this model (default 60s)",
    "model_list[].model_info.input_cost_per_token": "custom/overriding price per input token",
    "model_list[].model_info.output_cost_per_token": "custom/overriding price per output token",
    "model_list[].model_info.input_cost_per_second": "custom price per second of runtime",
    "model_list[].model_info.metadata": "free-form metadata returned via GET /model/info",
    "model_list[].model_info.version": "free-form model info",
    "litellm_settings": "litellm module settings (litellm.<key> = value)",
    "litellm_settings.drop_params": "drop unsupported OpenAI params instead of raising",
    "litellm_settings.success_callback": "list of success callbacks",
    "litellm_settings.failure_callback": "list of failure callbacks",
    "litellm_settings.callbacks": "list of callbacks - runs on success and failure",
    "litellm_settings.set_verbose": "DEPRECATED verbose logging",
    "litellm_settings.json_logs": "logs in json format",
    "litellm_settings.request_timeout": "timeout for requests in seconds (default 6000)",
    "litellm_settings.num_retries": "retries per call on a model group",
    "litellm_settings.fallbacks": "fallback model groups for all errors after retries",
    "litellm_settings.context_window_fallbacks": "fallbacks on ContextWindowExceededError",
    "litellm_settings.content_policy_fallbacks": "fallbacks on ContentPolicyViolationError",
    "litellm_settings.default_fallbacks": "fallbacks used when a model group has none",
    "litellm_settings.allowed_fails": "failures per minute before a deployment is cooled down",
    "litellm_settings.cooldown_time": "seconds a deployment stays cooled down",
    "litellm_settings.cache": "enables caching",
    "litellm_settings.cache_params": "parameters for the cache",
    "litellm_settings.cache_params.type": "cache type: local, redis, redis-semantic, qdrant-semantic, s3, gcs, disk",
    "litellm_settings.cache_params.supported_call_types": "call types cached (others are not)",
    "litellm_settings.cache_params.mode": "default_off: caching only when a request opts in",
    "litellm_settings.cache_params.ttl": "cache ttl in seconds",
    "litellm_settings.cache_params.namespace": "namespace prefix of redis cache keys",
    "litellm_settings.cache_params.similarity_threshold": "similarity threshold for semantic cache",
    "litellm_settings.max_budget": "global proxy budget in USD",
    "litellm_settings.budget_duration": "reset period of the global proxy budget",
    "litellm_settings.max_end_user_budget": "budget for each 'user' (customer) passed to /chat/completions",
    "litellm_settings.max_internal_user_budget": "default budget for internal users",
    "litellm_settings.internal_user_budget_duration": "reset period of the default internal user budget",
    "litellm_settings.default_team_settings": "per-team settings (e.g. models, budget of auto-created teams)",
    "litellm_settings.priority_reservation": "share of model TPM/RPM reserved per key priority",
    "litellm_settings.priority_reservation_settings": "default priority and saturation threshold of priority reservation",
    "router_settings": "litellm Router settings (override the same keys under litellm_settings)",
    "router_settings.routing_strategy": "simple-shuffle (default), least-busy, usage-based-routing, latency-based-routing, cost-based-routing",
    "router_settings.model_group_alias": "alias model names to model groups (hidden: true keeps the alias off /v1/models)",
    "router_settings.num_retries": "number of retries for a request (default 3)",
    "router_settings.timeout": "default timeout for a request (default 10 minutes)",
    "router_settings.redis_host": "Redis host shared by several proxies for tpm/rpm tracking",
    "router_settings.redis_password": "Redis password for shared tpm/rpm tracking",
    "router_settings.redis_port": "Redis port for shared tpm/rpm tracking",
    "router_settings.fallbacks": "fallback models for all types of errors",
    "router_settings.enable_pre_call_checks": "check the context window (and region) before the call",
    "router_settings.enable_tag_filtering": "tag based routing for requests",
    "router_settings.tag_filtering_match_any": "true: a deployment matches if it has ANY requested tag",
    "router_settings.cache_params": "cache for router state (redis connection pool)",
    "general_settings": "proxy server settings",
    "general_settings.master_key": "the master key for the proxy (admin; required on every call when set)",
    "general_settings.database_url": "the URL for the database connection (keys, spend)",
    "general_settings.alerting": "list of alerting methods (slack, webhook, email)",
    "general_settings.alerting_threshold": "seconds before hanging/slow request alerts",
    "general_settings.alert_to_webhook_url": "webhook url(s) per alert type",
    "general_settings.custom_auth": "python function replacing the key check",
    "general_settings.custom_key_generate": "python function deciding /key/generate",
    "general_settings.proxy_batch_write_at": "seconds between batch writes of spend logs (default 10)",
    "general_settings.database_connection_pool_limit": "database connection pool limit",
    "general_settings.disable_spend_logs": "turns off writing each transaction to the database",
    "general_settings.disable_error_logs": "turns off writing LLM exceptions to the database",
    "general_settings.allow_requests_on_db_unavailable": "serve requests even when the DB cannot verify a key (VPC only)",
    "guardrails": "guardrail definitions (guardrail_name + litellm_params)",
    "guardrails[].guardrail_name": "name clients and keys use to select the guardrail",
    "guardrails[].litellm_params.guardrail": "guardrail provider (aporia, bedrock, guardrails_ai, lakera, aim, presidio ...)",
    "guardrails[].litellm_params.mode": "pre_call, post_call, during_call, logging_only (or a list, or tags/default)",
    "guardrails[].litellm_params.default_on": "run on every request without the client asking",
    "litellm_jwtauth": "JWT authentication settings",
    "guardrails[].litellm_params": "guardrail configuration parameters",
    "guardrails[].litellm_params.api_base": "base URL for the guardrail service",
    "guardrails[].litellm_params.api_key": "API key for the guardrail service",
    "guardrails[].litellm_params.guard_name": "Guardrails AI guard name",
    "guardrails[].litellm_params.mode.tags": "mode per request header tag (e.g. User-Agent)",
    "guardrails[].litellm_params.mode.default": "mode when no tag matches",
    "guardrails[].guardrail_info": "free-form info returned on GET /guardrails/list",
    "litellm_settings.cache_params.host": "Redis host (required if type is redis)",
    "litellm_settings.cache_params.port": "Redis port (required if type is redis)",
    "litellm_settings.cache_params.password": "Redis password (required if type is redis)",
    "litellm_settings.cache_params.redis_startup_nodes": "Redis Cluster startup nodes",
    "litellm_settings.cache_params.service_name": "Redis Sentinel service name",
    "litellm_settings.cache_params.sentinel_nodes": "Redis Sentinel nodes",
    "litellm_settings.cache_params.sentinel_password": "Redis Sentinel password",
    "litellm_settings.cache_params.qdrant_semantic_cache_embedding_model": "model_list model used to embed prompts for the qdrant semantic cache",
    "litellm_settings.cache_params.qdrant_collection_name": "qdrant collection of the semantic cache",
    "litellm_settings.cache_params.qdrant_quantization_config": "qdrant quantization (binary, scalar, product)",
    "litellm_settings.cache_params.redis_semantic_cache_embedding_model": "model_list model used to embed prompts for the redis semantic cache",
    "litellm_settings.cache_params.s3_bucket_name": "S3 bucket of the cache",
    "litellm_settings.cache_params.s3_region_name": "AWS region of the S3 bucket",
    "litellm_settings.cache_params.s3_aws_access_key_id": "AWS access key for the S3 cache",
    "litellm_settings.cache_params.s3_aws_secret_access_key": "AWS secret key for the S3 cache",
    "litellm_settings.cache_params.s3_endpoint_url": "S3 endpoint (Backblaze/Cloudflare buckets)",
    "litellm_settings.cache_params.gcs_bucket_name": "GCS bucket of the cache",
    "litellm_settings.cache_params.gcs_path_service_account": "path to the GCS service account JSON",
    "litellm_settings.cache_params.gcs_path": "GCS path prefix for cache objects",
    "litellm_settings.default_team_settings[].team_id": "team the settings apply to",
    "litellm_settings.default_team_settings[].max_budget": "budget of the team",
    "litellm_settings.priority_reservation_settings.default_priority": "weight given to keys without a priority (default 0.5)",
    "litellm_settings.priority_reservation_settings.saturation_threshold": "saturation above which priorities are enforced strictly",
    "litellm_settings.priority_reservation_settings.saturation_policy": "percentage mode: activate after N rate-limit errors",
    "litellm_jwtauth.team_id_upsert": "create teams named in JWTs that do not exist yet",
    "litellm_jwtauth.team_id_jwt_field": "JWT claim holding the team id",
    "router_settings.cache_params": "cache of router state (redis connection pool)",
    "router_settings.cache_params.max_connections": "maximum Redis connections in the pool",
    "model_list[].litellm_params.top_p": "default top_p for calls to this deployment",
    "model_list[].model_info.cache_creation_input_token_cost": "price per prompt-cache write token",
    "model_list[].model_info.cache_read_input_token_cost": "price per prompt-cache read token",
    "model_list[].model_info.input_cost_per_audio_token": "price per audio input token",
    "model_list[].model_info.output_cost_per_audio_token": "price per audio output token",
    "model_list[].model_info.my_custom_key": "custom model_info keys are returned on /model/info",
    "credential_list[].credential_values.api_key": "credential value (os.environ/ allowed)",
    "credential_list[].credential_values.api_base": "credential value (os.environ/ allowed)",
    "credential_list[].credential_values.api_version": "credential value",
    "model_list.model_name": "(misplaced: model_list written as a mapping in the published config 078)",
    "model_list.litellm_params": "(misplaced: model_list written as a mapping in the published config 078)",
    "model_list[].model": "(misplaced: litellm_params key at deployment level in the published config 092)",
    "model_list[].base_model": "(misplaced: model_info key at deployment level in the published config 092)",
    "model_list[].model_info.custom_tokenizer.identifier": "huggingface model identifier",
    "model_list[].model_info.custom_tokenizer.revision": "huggingface model revision (usually 'main')",
    "model_list[].model_info.custom_tokenizer.auth_token": "huggingface auth token",
    "litellm_settings.cache_params.redis_startup_nodes[].host": "Redis Cluster node host",
    "litellm_settings.cache_params.redis_startup_nodes[].port": "Redis Cluster node port",
    "router_settings.cache_params.type": "cache type of router state (redis)",
    "credential_list[].credential_info.description": "free-form credential information",
    "model_list.litellm_params.model": "(misplaced: model_list written as a mapping in the published config 078)",
    "model_list.litellm_params.api_key": "(misplaced: model_list written as a mapping in the published config 078)",
    "model_list[].api_base": "(misplaced: litellm_params key at deployment level in the published config 092)",
    "model_list[].api_key": "(misplaced: litellm_params key at deployment level in the published config 092)",
    "model_list[].api_version": "(misplaced: litellm_params key at deployment level in the published config 092)",

}


FEATURES = [  # (label, predicate over the set of key paths, the data and the raw text)
    ("wildcard models", lambda p, d, t: any("*" in str(m.get("model_name", "")) or
                                           "*" in str((m.get("litellm_params") or {}).get("model", ""))
                                           for m in deployments(d))),
    ("load balancing", lambda p, d, t: len([m.get("model_name") for m in deployments(d)]) >
                                       len({m.get("model_name") for m in deployments(d)})),
    ("os.environ/", lambda p, d, t: "os.environ/" in t or "os.envrion/" in t),
    ("fallbacks", lambda p, d, t: any("fallbacks" in k for k in p)),
    ("retries/timeouts/cooldowns", lambda p, d, t: any(k.endswith(x) for k in p for x in (
        ".num_retries", ".request_timeout", "router_settings.timeout", ".allowed_fails", ".cooldown_time"))),
    ("model_group_alias", lambda p, d, t: "router_settings.model_group_alias" in p),
    ("routing strategy", lambda p, d, t: "router_settings.routing_strategy" in p),
    ("pre-call checks", lambda p, d, t: "router_settings.enable_pre_call_checks" in p),
    ("tag routing", lambda p, d, t: any(k.endswith((".tags", ".tag_regex", ".enable_tag_filtering")) and
                                        k.startswith(("model_list", "router_settings")) for k in p)),
    ("caching", lambda p, d, t: "litellm_settings.cache" in p),
    ("redis", lambda p, d, t: "router_settings.redis_host" in p or "redis" in str(
        ((d.get("litellm_settings") or {}).get("cache_params") or {}).get("type", "") if isinstance(
            d.get("litellm_settings"), dict) else "") or "router_settings.cache_params" in p),
    ("budgets", lambda p, d, t: any(k.endswith(x) for k in p for x in (
        "max_budget", "budget_duration", "max_end_user_budget", "max_internal_user_budget"))),
    ("rate limits (rpm/tpm)", lambda p, d, t: any(k.endswith((".rpm", ".tpm")) for k in p) or
                                              "priority_reservation" in t),
    ("callbacks", lambda p, d, t: any(k.endswith(("success_callback", "failure_callback", ".callbacks"))
                                      for k in p)),
    ("alerting", lambda p, d, t: "general_settings.alerting" in p),
    ("guardrails", lambda p, d, t: "guardrails" in p),
    ("master key / auth", lambda p, d, t: any(k in p for k in (
        "general_settings.master_key", "general_settings.custom_auth",
        "general_settings.custom_key_generate", "litellm_jwtauth"))),
    ("database", lambda p, d, t: any(k.startswith("general_settings.database") for k in p) or
                                 "general_settings.disable_spend_logs" in p),
    ("pricing / base_model", lambda p, d, t: any("cost" in k or k.endswith(".base_model") for k in p)),
    ("model_info.mode / health", lambda p, d, t: any(k.startswith("model_list[].model_info.") and (
        k.rsplit(".", 1)[1] == "mode" or "health" in k.rsplit(".", 1)[1]) for k in p)),
    ("model_info id / custom keys", lambda p, d, t: any(k.startswith("model_list[].model_info.") and
                                                        k.rsplit(".", 1)[1] in ("id", "metadata", "version",
                                                                                "my_custom_key") for k in p)),
    ("access groups / environments", lambda p, d, t: any(k.endswith((".access_groups",
                                                                      ".supported_environments")) for k in p)),
    ("credentials", lambda p, d, t: "credential_list" in p or
                                    "model_list[].litellm_params.litellm_credential_name" in p),
    ("bedrock/vertex without region", lambda p, d, t: any(
        str(lp.get("model", "")).startswith(("bedrock/", "vertex_ai/", "sagemaker/")) and not
        ({"aws_region_name", "vertex_location"} & set(lp))
        for lp in ((m.get("litellm_params") or {}) for m in deployments(d)))),
    ("include", lambda p, d, t: "include" in p),
    ("environment_variables", lambda p, d, t: "environment_variables" in p),
    ("drop params", lambda p, d, t: any(k.endswith(("drop_params", "allowed_openai_params")) for k in p)),
    ("per-deployment defaults", lambda p, d, t: any(k.startswith("model_list[].litellm_params.") and
                                                    k.rsplit(".", 1)[1] in (
        "temperature", "max_tokens", "seed", "top_p", "top_k", "reasoning_effort", "extra_headers",
        "organization", "azure_ad_token", "requestMetadata", "mock_response") for k in p)),
    ("custom prompt template / tokenizer", lambda p, d, t: any(k.endswith((".roles", ".custom_tokenizer"))
                                                               for k in p)),
    ("misplaced keys (as published)", lambda p, d, t: any(k.startswith("model_list.") or
                                                          k in ("model_list[].model", "model_list[].base_model")
                                                          for k in p)),
    ("settings only (no model_list)", lambda p, d, t: "model_list" not in p),
]


def deployments(d):
    ml = d.get("model_list")
    return [m for m in ml if isinstance(m, dict)] if isinstance(ml, list) else []


def providers(d):
    out = []
    for m in deployments(d):
        model = str((m.get("litellm_params") or {}).get("model", m.get("model", "")))
        prov = model.split("/", 1)[0] if "/" in model else ("(wildcard)" if model == "*" else "(bare name)")
        if prov not in out:
            out.append(prov)
    return ", ".join(out)


def table(files):
    print("| File | Origin page - section | Providers (`model` prefixes) | Features exercised |")
    print("|------|------------------------|------------------------------|--------------------|")
    for f in files:
        text = open(f, encoding="utf-8").read()
        origin = re.search(r"^# origin: (\S+)", text, re.M).group(1)
        section = re.search(r"^# section: (.*)$", text, re.M).group(1)
        section = re.sub(r" \(.*$", "", section).replace("|", "/")
        data = load(f)
        paths = set()
        walk(data, "", paths)
        feats = [label for label, pred in FEATURES if pred(paths, data, text)]
        page = origin.replace("https://docs.litellm.ai/docs/", "")
        name = os.path.basename(f)
        print(f"| [{name}]({name}) | [{page}]({origin}) - {section} | {providers(data)} | {', '.join(feats)} |")


def load(path, seen=None):
    """Load a config and resolve `include` like LiteLLM (relative to the file)."""
    seen = seen or set()
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{os.path.basename(path)}: top level is {type(data).__name__}, not a mapping")
    inc = data.get("include")
    if inc:
        for name in [inc] if isinstance(inc, str) else inc:
            sub = os.path.join(os.path.dirname(path), name)
            if sub in seen:
                raise ValueError(f"include cycle at {name}")
            other = load(sub, seen | {sub})
            for k, v in other.items():
                if isinstance(data.get(k), list) and isinstance(v, list):
                    data[k] = data[k] + v
                elif isinstance(data.get(k), dict) and isinstance(v, dict):
                    data[k] = {**v, **data[k]}
                else:
                    data.setdefault(k, v)
    return data


def walk(node, path, out):
    if path and not path.endswith("[]"):
        out.add(path)
    if path in OPAQUE:
        return
    if isinstance(node, dict):
        for k, v in node.items():
            walk(v, f"{path}.{k}" if path else str(k), out)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                walk(item, path + "[]", out)


def corpus_files():
    return sorted(f for f in glob.glob(os.path.join(HERE, "*.yaml"))
                  if re.match(r"\d{3}-", os.path.basename(f)))


def main(argv):
    files = corpus_files()
    counts, bad = {}, []
    for f in files:
        try:
            data = load(f)
        except Exception as e:  # noqa: BLE001 - report every failure
            bad.append(f"{os.path.basename(f)}: {e}")
            continue
        paths = set()
        walk(data, "", paths)
        for p in paths:
            counts[p] = counts.get(p, 0) + 1
    if bad:
        print("\n".join(bad), file=sys.stderr)
        return 1
    print(f"{len(files)} configs parse; {len(counts)} distinct key paths", file=sys.stderr)
    if "--check" in argv:
        return 0
    if "--table" in argv:
        table(files)
        return 0
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    with open(os.path.join(HERE, "keys.tsv"), "w", encoding="utf-8") as out:
        out.write("key_path\tfiles\twhat_litellm_does\n")
        for p, n in rows:
            out.write(f"{p}\t{n}\t{DOC.get(p, '')}\n")
    if "--coverage" in argv:
        doc = os.path.join(HERE, "documented_keys.md")
        documented, section = set(), None
        for line in open(doc, encoding="utf-8"):
            m = re.match(r"## `([^`]+)`", line)
            if m:
                section = m.group(1)
            if section and line.startswith("| `"):
                first_cell = line.split("|")[1]
                for name in re.findall(r"`([^`]+)`", first_cell):
                    documented.add(f"{section}.{name}")
        unused = sorted(d for d in documented if d not in counts)
        print(f"documented but unused in corpus ({len(unused)}):")
        print("\n".join("  " + u for u in unused))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
