//! What a call leaves in the gateway's telemetry: the attributes of its span (`gen_ai.call`) and
//! of each upstream attempt's span (`gen_ai.attempt`), and its counts in [`GatewayMetrics`], all
//! read from the call's [`CallRecord`]. Metric labels only ever hold configured names (model
//! groups, deployment ids, limit scopes) or `unknown`: never a model name a client made up.

use switchyard_layers::cost::Tokens;
use switchyard_router::{Deployment, ModelGroups};
use switchyard_telemetry::CallSpan;
use switchyard_telemetry::genai::{self, UsageDetails};
use switchyard_telemetry::metrics::{GatewayMetrics, UNKNOWN};
use switchyard_wire::{ChatRequest, ChatResponse, MessageContent, Role};

use crate::record::CallRecord;

/// The OpenAI error code of a refusal by the gateway's own rate limiter.
const RATE_LIMIT_EXCEEDED: &str = "rate_limit_exceeded";

/// `gen_ai.provider.name` of a provider family, as the GenAI conventions spell the well-known
/// ones (`aws.bedrock`, `gcp.gemini`, `gcp.vertex_ai`, `azure.ai.openai`, `azure.ai.inference`,
/// `mistral_ai`, `x_ai`; `openai`, `anthropic`, `groq`, `deepseek`, `cohere` and `perplexity`
/// are the family names already); other families keep their name
/// (<https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/>).
pub(crate) fn provider_name(family: &'static str) -> &'static str {
    match family {
        "bedrock" => "aws.bedrock",
        "azure_ai" => "azure.ai.inference",
        "gemini" => "gcp.gemini",
        "azure" => "azure.ai.openai",
        "mistral" => "mistral_ai",
        "xai" => "x_ai",
        "vertex_ai" => "gcp.vertex_ai",
        other => other,
    }
}

/// Starts the span of one upstream attempt on `deployment`, a child of the call's span; attempts
/// count from 1. It names the server the deployment calls (`server.address`, `server.port`: the
/// URL's port, else the scheme's).
pub(crate) fn attempt_span(call: &CallSpan, deployment: &Deployment, number: u32) -> CallSpan {
    let attempt = call.attempt(
        provider_name(deployment.provider.family()),
        &deployment.id,
        deployment.provider.upstream_model(),
        number,
    );
    // The endpoint's host and port are worked out only for a span that records them.
    if genai::attributes_recorded()
        && let Some(endpoint) = deployment.provider.endpoint()
        && let Some(host) = endpoint.host()
    {
        let default_port = if endpoint.scheme_str() == Some("http") {
            80
        } else {
            443
        };
        attempt.record_server(host, endpoint.port_u16().unwrap_or(default_port));
    }
    attempt
}

/// Records on an attempt's span what a complete chat answer says: model, id, finish reasons and
/// usage.
pub(crate) fn record_answer(span: &CallSpan, answer: &ChatResponse) {
    let reasons: Vec<&str> = answer
        .choices
        .iter()
        .filter_map(|c| c.finish_reason.as_deref())
        .collect();
    span.record_response(&answer.model, &answer.id, &reasons);
    if let Some(usage) = &answer.usage {
        let tokens = Tokens::from(usage);
        record_tokens(span, tokens, usage.reasoning_tokens().unwrap_or(0));
    }
}

/// Records token counts on a call's or an attempt's span: input and output, and the parts
/// providers break out (cache reads and writes, reasoning).
pub(crate) fn record_tokens(span: &CallSpan, tokens: Tokens, reasoning: u64) {
    span.record_usage(tokens.prompt, tokens.completion);
    span.record_usage_details(UsageDetails {
        cache_read: tokens.cache_read,
        cache_creation: tokens.cache_write,
        reasoning,
    });
}

/// Records what the gateway knows of a chat call once its options are taken and its group
/// chosen: request parameters, key alias, experiment variant, route reason and, when
/// `record_content` is on, the prompt messages as events.
pub(crate) fn open_chat(record: &CallRecord, request: &ChatRequest, record_content: bool) {
    let span = &record.span;
    span.record_request(
        request.max_completion_tokens.or(request.max_tokens),
        request.temperature,
    );
    note_caller(record);
    if record_content {
        for message in &request.messages {
            if let Some(content) = &message.content {
                span.record_content(role_name(message.role), &content.joined_text());
            }
        }
    }
}

/// Records the caller's key alias, experiment variant and route reason on the call's span.
pub(crate) fn note_caller(record: &CallRecord) {
    let span = &record.span;
    if let Some(alias) = &record.caller.key_alias {
        span.record_key_alias(alias);
    }
    if let Some((_, variant)) = &record.experiment {
        span.record_variant(variant);
    }
    if let Some(reason) = &record.route_reason {
        span.record_route_reason(reason);
    }
}

/// Records a complete answer's text as completion events on the call's span.
pub(crate) fn record_completion(span: &CallSpan, answer: &ChatResponse) {
    for choice in &answer.choices {
        if let Some(content) = &choice.message.content {
            span.record_content("assistant", &MessageContent::joined_text(content));
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::Developer => "developer",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        Role::Function => "function",
    }
}

/// Sets the call span's final attributes from the finished record: route, response, usage,
/// cost, time to first token, cache, and `error.type` with status ERROR on failure (or when a
/// started stream broke).
pub(crate) fn close_span(record: &CallRecord) {
    let span = &record.span;
    match &record.deployment {
        Some(deployment) => span.record_route(
            deployment,
            provider_name(record.provider.unwrap_or(UNKNOWN)),
            record.attempts,
            record.fallback_from.as_deref(),
        ),
        None if record.attempts > 0 => span.record_attempts(record.attempts),
        None => {}
    }
    if let Some(model) = &record.response_model {
        let reasons: Vec<&str> = record.finish_reasons.iter().map(String::as_str).collect();
        span.record_response(model, record.response_id.as_deref().unwrap_or(""), &reasons);
    }
    if let Some(ttft) = record.time_to_first_token {
        span.record_ttft(ttft);
    }
    if record.status < 400 {
        record_tokens(span, record.tokens, record.reasoning_tokens);
        span.record_cache_hit(record.cache_hit);
    }
    if let Some(cost) = record.cost {
        span.record_cost(cost.usd, cost.estimated);
    }
    match record.error_code {
        Some(code) => span.record_error(code),
        None if record.status >= 400 => span.record_error(&record.status.to_string()),
        None => {}
    }
}

/// Counts a finished call: requests by model, deployment and status with their duration, time
/// to first token, the gateway's overhead (for calls an upstream answered), tokens (not for cache hits: no upstream processed them), cost, cache hits,
/// fallbacks and refusals by the gateway's own rate limits.
pub(crate) fn count(metrics: &GatewayMetrics, groups: &ModelGroups, record: &CallRecord) {
    let configured = |name: &str| groups.get(name).is_some();
    let model = record
        .model_group
        .as_deref()
        .filter(|m| configured(m))
        .or_else(|| Some(record.model_requested.as_str()).filter(|m| configured(m)))
        .unwrap_or(UNKNOWN);
    let deployment = record.deployment.as_deref().unwrap_or("");
    metrics.record_request(model, deployment, record.status, record.latency);
    if let Some(ttft) = record.time_to_first_token {
        metrics.record_ttft(model, ttft);
    }
    if let Some(upstream_wait) = record.upstream_wait {
        let overhead = record.latency.saturating_sub(upstream_wait);
        metrics.record_overhead(model, deployment, overhead);
    }
    if record.cache_hit {
        metrics.record_cache_hit(model);
    } else if record.tokens.prompt > 0 || record.tokens.completion > 0 {
        metrics.record_usage(model, record.tokens.prompt, record.tokens.completion);
    }
    if let Some(cost) = record.cost {
        metrics.record_cost(model, cost.usd);
    }
    if let Some(from) = &record.fallback_from {
        let from = if configured(from) { from } else { UNKNOWN };
        metrics.record_fallback(from, model);
    }
    // Only the gateway's own limits name a scope; an upstream's 429 carries the same OpenAI
    // code (`rate_limit_exceeded`) and is not counted here.
    if record.error_code == Some(RATE_LIMIT_EXCEEDED)
        && let Some(scope) = &record.limit_scope
    {
        metrics.record_rate_limited(scope.as_str());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchyard_layers::cost::Cost;
    use switchyard_layers::rate_limit::Scope;
    use switchyard_providers::mock::{Mock, MockSettings};

    use super::*;
    use crate::caller::Caller;

    fn groups() -> ModelGroups {
        let mock = Mock::new(MockSettings::default());
        ModelGroups::new([Deployment::new(
            "gpt-eastus",
            "gpt",
            Box::new(mock),
            Duration::from_secs(1),
        )])
    }

    fn record(model: &str) -> CallRecord {
        CallRecord::start("chat", Caller::with_key_id("k"), model.to_owned())
    }

    #[test]
    fn labels_hold_configured_names_only() {
        let metrics = GatewayMetrics::new();
        let groups = groups();
        count(&metrics, &groups, &record("made-up-by-a-client"));
        let mut ok = record("gpt");
        ok.model_group = Some("gpt".into());
        ok.deployment = Some("gpt-eastus".into());
        ok.tokens.prompt = 10;
        ok.tokens.completion = 5;
        ok.cost = Some(Cost {
            usd: 0.5,
            estimated: false,
        });
        ok.fallback_from = Some("also-made-up".into());
        count(&metrics, &groups, &ok);
        let text = metrics.render();
        assert!(!text.contains("made-up"), "{text}");
        assert!(text.contains(
            r#"switchyard_requests_total{model="unknown",deployment="",status="200"} 1"#
        ));
        assert!(text.contains(
            r#"switchyard_requests_total{model="gpt",deployment="gpt-eastus",status="200"} 1"#
        ));
        assert!(text.contains(r#"switchyard_tokens_total{model="gpt",direction="input"} 10"#));
        assert!(text.contains(r#"switchyard_cost_usd_total{model="gpt"} 0.5"#));
        assert!(text.contains(r#"switchyard_fallbacks_total{from="unknown",to="gpt"} 1"#));
    }

    #[test]
    fn the_gateways_own_rate_limit_refusals_are_counted_by_scope() {
        let metrics = GatewayMetrics::new();
        let groups = groups();
        let mut refused = record("gpt");
        refused.status = 429;
        refused.error_code = Some(RATE_LIMIT_EXCEEDED);
        refused.limit_scope = Some(Scope::API_KEY);
        count(&metrics, &groups, &refused);
        let mut upstream_429 = record("gpt");
        upstream_429.status = 429;
        upstream_429.error_code = Some(RATE_LIMIT_EXCEEDED);
        count(&metrics, &groups, &upstream_429);
        let text = metrics.render();
        assert!(
            text.contains(r#"switchyard_rate_limited_total{scope="api_key"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"switchyard_requests_total{model="gpt",deployment="",status="429"} 2"#)
        );
    }

    #[test]
    fn well_known_families_take_their_convention_names() {
        assert_eq!(provider_name("bedrock"), "aws.bedrock");
        assert_eq!(provider_name("gemini"), "gcp.gemini");
        assert_eq!(provider_name("azure_ai"), "azure.ai.inference");
        assert_eq!(provider_name("azure"), "azure.ai.openai");
        assert_eq!(provider_name("mistral"), "mistral_ai");
        assert_eq!(provider_name("xai"), "x_ai");
        assert_eq!(provider_name("vertex_ai"), "gcp.vertex_ai");
        assert_eq!(provider_name("openai"), "openai");
    }
}
