//! End to end: a gateway process exports its spans over OTLP (gRPC and HTTP) to an in-process
//! receiver that decodes the protobuf — one call span per call, one child span per upstream
//! attempt, GenAI attributes with the types the conventions give them (int counts, double
//! cost, bool flags: <https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/>), the
//! caller's `traceparent` continued and passed upstream — counts every call on `/metrics`,
//! and answers normally when the collector is down.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::otlp::{
    AttrValue, Collector, ExportedSpan, attr, int_attr, str_attr, string, strings,
};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, closed_port};

/// How long spans may take to reach the collector (they are exported every 50 ms).
const SPANS_WITHIN: Duration = Duration::from_secs(20);
/// A caller's trace context.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Groups on the fake upstream: `chat` (priced), `primary` (fails) falling back to `backup`,
/// and `broken` (fails, no fallback); `extra` is appended as is.
fn config(api_base: &str, extra: &str) -> String {
    let mut out = String::from("model_list:\n");
    for (group, upstream, price) in [
        ("chat", "upstream-model", true),
        ("primary", "broken", false),
        ("backup", "backup-model", false),
        ("broken", "broken", false),
    ] {
        let price = if price {
            ", input_cost_per_token: 0.000001, output_cost_per_token: 0.000002"
        } else {
            ""
        };
        out.push_str(&format!(
            "  - model_name: {group}\n    litellm_params: {{model: openai/{upstream}, api_base: '{api_base}'{price}}}\n    model_info: {{id: {group}-deployment}}\n"
        ));
    }
    out.push_str(&format!(
        "general_settings:\n  master_key: {MASTER_KEY}\nrouter_settings:\n  num_retries: 0\n  fallbacks: [{{primary: [backup]}}]\n{extra}"
    ));
    out
}

async fn traced_gateway(collector: &Collector, upstream: &FakeUpstream, extra: &str) -> Gateway {
    let env = collector.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Gateway::spawn(&config(&upstream.api_base, extra), &env).await
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 50, "temperature": 0.5,
           "messages": [{"role": "user", "content": text}]})
}

fn is_call(span: &ExportedSpan) -> bool {
    span.kind == "SPAN_KIND_SERVER"
}

fn children<'a>(spans: &'a [ExportedSpan], parent: &ExportedSpan) -> Vec<&'a ExportedSpan> {
    let mut out: Vec<&ExportedSpan> = spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_id && s.trace_id == parent.trace_id)
        .collect();
    out.sort_by_key(|s| int_attr(s, "switchyard.attempt"));
    out
}

/// The first call span `which` accepts, with the attempt spans under it.
fn tree(
    spans: &[ExportedSpan],
    which: impl Fn(&ExportedSpan) -> bool,
) -> Option<(ExportedSpan, Vec<ExportedSpan>)> {
    let call = spans.iter().find(|s| is_call(s) && which(s))?;
    let attempts = children(spans, call).into_iter().cloned().collect();
    Some((call.clone(), attempts))
}

/// Waits for one call span (the first that `which` accepts) and `attempts` attempt spans under
/// it; answers them.
async fn call_tree(
    collector: &mut Collector,
    attempts: usize,
    which: impl Fn(&ExportedSpan) -> bool + Copy,
) -> (ExportedSpan, Vec<ExportedSpan>) {
    let spans = collector
        .spans_until(SPANS_WITHIN, |spans| {
            tree(spans, which).is_some_and(|(_, found)| found.len() >= attempts)
        })
        .await;
    tree(&spans, which).expect("call span")
}

/// Asserts an attribute's typed value: its protobuf `AnyValue` variant and its content.
fn assert_attr(span: &ExportedSpan, key: &str, expected: AttrValue) {
    assert_eq!(
        attr(span, key),
        Some(&expected),
        "{key} on {:?}: {:#?}",
        span.name,
        span.attributes
    );
}

fn assert_error(span: &ExportedSpan, error_type: &str) {
    assert_attr(span, "error.type", string(error_type));
    assert_eq!(
        span.status.as_deref(),
        Some("STATUS_CODE_ERROR"),
        "{:?}",
        span.name
    );
}

/// `switchyard.cost_usd`, which must be a double.
fn cost_of(span: &ExportedSpan) -> f64 {
    match attr(span, "switchyard.cost_usd") {
        Some(AttrValue::DoubleValue(usd)) => *usd,
        other => panic!("switchyard.cost_usd is not a double: {other:?}"),
    }
}

fn int(n: i64) -> AttrValue {
    AttrValue::IntValue(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_call_is_one_call_span_with_one_attempt_child() {
    let mut collector = Collector::grpc().await;
    let upstream = FakeUpstream::start().await;
    let gateway = traced_gateway(&collector, &upstream, "").await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &chat("chat", "plain"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);

    let (call, attempts) = call_tree(&mut collector, 1, |_| true).await;
    assert_eq!(call.name, "chat chat");
    assert!(call.parent_span_id.is_empty(), "no caller context: a root");
    assert_ne!(call.status.as_deref(), Some("STATUS_CODE_ERROR"));
    for (key, value) in [
        ("gen_ai.operation.name", string("chat")),
        ("gen_ai.request.model", string("chat")),
        ("gen_ai.request.max_tokens", int(50)),
        ("gen_ai.request.temperature", AttrValue::DoubleValue(0.5)),
        ("gen_ai.provider.name", string("openai")),
        ("gen_ai.response.model", string("upstream-model")),
        ("gen_ai.response.id", string("chatcmpl-up")),
        ("gen_ai.response.finish_reasons", strings(&["stop"])),
        ("gen_ai.usage.input_tokens", int(10)),
        ("gen_ai.usage.output_tokens", int(5)),
        ("switchyard.deployment", string("chat-deployment")),
        ("switchyard.attempts", int(1)),
        ("switchyard.cache_hit", AttrValue::BoolValue(false)),
        ("switchyard.cost_estimated", AttrValue::BoolValue(false)),
    ] {
        assert_attr(&call, key, value);
    }
    // 10 x 1e-6 + 5 x 2e-6, the exact decimal (in binary floating point the sum drifts to
    // 1.9999999999999998e-05), as the cost header says it.
    assert_eq!(cost_of(&call), 0.00002);
    assert_eq!(
        response.headers()["x-switchyard-cost-usd"],
        cost_of(&call).to_string().as_str()
    );
    assert_eq!(call.attributes.get("error.type"), None);
    assert_eq!(call.attributes.get("switchyard.fallback_from"), None);

    let [attempt] = attempts.as_slice() else {
        panic!("one attempt: {attempts:#?}")
    };
    assert_eq!(attempt.name, "chat upstream-model");
    assert_eq!(attempt.kind, "SPAN_KIND_CLIENT");
    assert_eq!(attempt.trace_id, call.trace_id);
    for (key, value) in [
        ("gen_ai.provider.name", string("openai")),
        ("gen_ai.request.model", string("upstream-model")),
        ("gen_ai.response.id", string("chatcmpl-up")),
        ("gen_ai.usage.input_tokens", int(10)),
        ("gen_ai.usage.output_tokens", int(5)),
        ("switchyard.deployment", string("chat-deployment")),
        ("switchyard.attempt", int(1)),
        ("server.address", string("127.0.0.1")),
    ] {
        assert_attr(attempt, key, value);
    }
    let port: i64 = upstream
        .api_base
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/v1")
        .parse()
        .expect("the fake upstream's port");
    assert_attr(attempt, "server.port", int(port));
    assert_eq!(
        attr(&call, "server.address"),
        None,
        "the call span names no server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_call_gets_its_usage_and_cost_when_the_stream_ends() {
    let mut collector = Collector::http().await;
    let upstream = FakeUpstream::start().await;
    let gateway = traced_gateway(&collector, &upstream, "").await;
    let mut body = chat("chat", "stream it");
    body["stream"] = json!(true);
    let response = gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("the whole stream");
    assert!(text.contains("[DONE]"), "{text}");

    let (call, attempts) = call_tree(&mut collector, 1, |_| true).await;
    for (key, value) in [
        ("gen_ai.usage.input_tokens", int(10)),
        ("gen_ai.usage.output_tokens", int(5)),
        ("gen_ai.response.id", string("chatcmpl-up")),
        ("gen_ai.response.model", string("upstream-model")),
        ("gen_ai.response.finish_reasons", strings(&["stop"])),
        ("switchyard.cost_estimated", AttrValue::BoolValue(false)),
        ("switchyard.deployment", string("chat-deployment")),
    ] {
        assert_attr(&call, key, value);
    }
    assert_eq!(cost_of(&call), 0.00002);
    assert!(
        int_attr(&call, "switchyard.ttft_ms").is_some(),
        "time to first token, an int: {:?}",
        attr(&call, "switchyard.ttft_ms")
    );
    assert!(
        call.end_time_unix_nano >= attempts[0].end_time_unix_nano,
        "the call span lasts until the stream ends"
    );
}

/// One chat call to a gateway whose only group, `m`, is a deployment of `model` (LiteLLM's
/// `provider/model`) at `api_base`, exporting to `collector`; answers its call span and its one
/// attempt span.
async fn one_call(
    mut collector: Collector,
    model: &str,
    api_base: &str,
) -> (ExportedSpan, Vec<ExportedSpan>) {
    let config = format!(
        "model_list:\n  - model_name: m\n    litellm_params: {{model: {model}, api_base: '{api_base}', api_key: k}}\n"
    );
    let env = collector.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gateway = Gateway::spawn(&config, &env).await;
    let response = gateway
        .post("/v1/chat/completions", &chat("m", "think"), None)
        .await;
    assert_eq!(response.status(), 200);
    call_tree(&mut collector, 1, |_| true).await
}

// Anthropic reports the prompt tokens it read from and wrote to its cache apart
// (`thinking_response.json`: 12 fresh, 4,000 read, 2,000 written): the call and its attempt
// carry them as `gen_ai.usage.cache_read.input_tokens` and `.cache_creation.input_tokens`
// (ints), within `gen_ai.usage.input_tokens`, as the conventions define them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_cache_reads_and_writes_are_their_own_int_attributes() {
    let anthropic = switchyard_e2e::fake_anthropic::FakeAnthropic::start().await;
    let model = "anthropic/claude-thinking";
    let (call, attempts) = one_call(Collector::http().await, model, &anthropic.api_base).await;
    for span in [&call, &attempts[0]] {
        for (key, value) in [
            ("gen_ai.usage.input_tokens", int(6012)),
            ("gen_ai.usage.output_tokens", int(86)),
            ("gen_ai.usage.cache_read.input_tokens", int(4000)),
            ("gen_ai.usage.cache_creation.input_tokens", int(2000)),
            ("gen_ai.provider.name", string("anthropic")),
        ] {
            assert_attr(span, key, value);
        }
    }
}

// Gemini reports the tokens a model spent thinking (`thoughtsTokenCount`, 26 in
// `generate_text.json`) and those read from its context cache (`cachedContentTokenCount`, 4):
// `gen_ai.usage.reasoning.output_tokens` and `gen_ai.usage.cache_read.input_tokens`, ints, on the
// call and on its attempt, and no cache-creation count (Gemini reports none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_tokens_are_their_own_int_attribute() {
    let gemini = switchyard_e2e::fake_gemini::FakeGemini::start().await;
    let (call, attempts) = one_call(
        Collector::grpc().await,
        "gemini/gemini-text",
        &gemini.api_base,
    )
    .await;
    for span in [&call, &attempts[0]] {
        assert_attr(span, "gen_ai.usage.reasoning.output_tokens", int(26));
        assert_attr(span, "gen_ai.usage.cache_read.input_tokens", int(4));
        assert_attr(span, "gen_ai.provider.name", string("gcp.gemini"));
        assert_eq!(attr(span, "gen_ai.usage.cache_creation.input_tokens"), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_shows_its_attempts_as_siblings_under_the_call() {
    let mut collector = Collector::grpc().await;
    let upstream = FakeUpstream::start().await;
    let gateway = traced_gateway(&collector, &upstream, "").await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &chat("primary", "fall back"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-fallback-from"], "primary");

    let (call, attempts) = call_tree(&mut collector, 2, |_| true).await;
    assert_eq!(call.name, "chat primary");
    assert_attr(&call, "switchyard.fallback_from", string("primary"));
    assert_attr(&call, "switchyard.attempts", int(2));
    assert_attr(&call, "switchyard.deployment", string("backup-deployment"));
    assert_eq!(call.attributes.get("error.type"), None);

    let [failed, answered] = attempts.as_slice() else {
        panic!("two attempts: {attempts:#?}")
    };
    assert_eq!(failed.parent_span_id, call.span_id);
    assert_eq!(answered.parent_span_id, call.span_id);
    assert_attr(failed, "switchyard.attempt", int(1));
    assert_attr(
        failed,
        "switchyard.deployment",
        string("primary-deployment"),
    );
    assert_error(failed, "upstream_server_error");
    assert_attr(answered, "switchyard.attempt", int(2));
    assert_attr(
        answered,
        "switchyard.deployment",
        string("backup-deployment"),
    );
    assert_eq!(answered.name, "chat backup-model");
    assert_eq!(answered.attributes.get("error.type"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_hit_is_a_call_span_without_attempts_that_costs_nothing() {
    let mut collector = Collector::grpc().await;
    let upstream = FakeUpstream::start().await;
    let gateway = traced_gateway(&collector, &upstream, "litellm_settings:\n  cache: true\n").await;
    let body = chat("chat", "cache me");
    for expected in ["MISS", "HIT"] {
        let response = gateway
            .post("/v1/chat/completions", &body, Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-switchyard-cache"], expected);
    }
    assert_eq!(upstream.received().len(), 1);

    let is_hit =
        |s: &ExportedSpan| attr(s, "switchyard.cache_hit") == Some(&AttrValue::BoolValue(true));
    let is_miss =
        |s: &ExportedSpan| attr(s, "switchyard.cache_hit") == Some(&AttrValue::BoolValue(false));
    let spans = collector
        .spans_until(SPANS_WITHIN, |spans| {
            tree(spans, is_hit).is_some()
                && tree(spans, is_miss).is_some_and(|(_, attempts)| attempts.len() == 1)
        })
        .await;
    let (hit, attempts) = tree(&spans, is_hit).expect("the hit's call span");
    assert!(attempts.is_empty(), "no upstream attempt: {attempts:#?}");
    assert_eq!(cost_of(&hit), 0.0);
    assert_eq!(hit.attributes.get("switchyard.deployment"), None);
    assert_eq!(hit.name, "chat chat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_error_marks_the_call_and_its_attempt_as_errors() {
    let mut collector = Collector::grpc().await;
    let upstream = FakeUpstream::start().await;
    let gateway = traced_gateway(&collector, &upstream, "").await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &chat("broken", "fail"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 502);

    let (call, attempts) = call_tree(&mut collector, 1, |_| true).await;
    assert_error(&call, "upstream_server_error");
    assert_attr(&call, "switchyard.attempts", int(1));
    assert_eq!(call.attributes.get("gen_ai.usage.input_tokens"), None);
    assert_error(&attempts[0], "upstream_server_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_trace_continues_through_the_gateway_to_the_upstream() {
    let mut collector = Collector::http().await;
    let upstream = FakeUpstream::start().await;
    let gateway = traced_gateway(&collector, &upstream, "").await;
    let response = gateway
        .client
        .post(format!("{}/v1/chat/completions", gateway.base))
        .bearer_auth(MASTER_KEY)
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .json(&chat("chat", "traced"))
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(response.status(), 200);

    let (call, attempts) = call_tree(&mut collector, 1, |_| true).await;
    assert_eq!(call.trace_id, CALLER_TRACE);
    assert_eq!(call.parent_span_id, CALLER_SPAN);
    let attempt = &attempts[0];
    assert_eq!(attempt.trace_id, CALLER_TRACE);

    let received = upstream.received();
    let traceparent = received[0]
        .headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("the upstream request carries a traceparent");
    assert_eq!(
        traceparent,
        format!("00-{CALLER_TRACE}-{}-01", attempt.span_id),
        "the upstream call is a child of the attempt span"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_are_traced_too() {
    let mut collector = Collector::grpc().await;
    let upstream = FakeUpstream::start().await;
    let extra = "";
    let config = config(&upstream.api_base, extra).replace(
        "model_list:\n",
        &format!(
            "model_list:\n  - model_name: embed\n    litellm_params: {{model: openai/upstream-embed, api_base: '{}'}}\n    model_info: {{id: embed-deployment}}\n",
            upstream.api_base
        ),
    );
    let env = collector.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gateway = Gateway::spawn(&config, &env).await;
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "embed", "input": ["a", "b"]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);

    let (call, attempts) = call_tree(&mut collector, 1, |_| true).await;
    assert_eq!(call.name, "embeddings embed");
    assert_attr(&call, "gen_ai.operation.name", string("embeddings"));
    assert_attr(&call, "gen_ai.usage.input_tokens", int(4));
    assert_attr(&call, "switchyard.deployment", string("embed-deployment"));
    assert_eq!(attempts[0].name, "embeddings upstream-embed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_files_telemetry_section_exports_and_records_content() {
    let mut collector = Collector::grpc().await;
    let endpoint = collector.endpoint().to_owned();
    let upstream = FakeUpstream::start().await;
    let extra = format!(
        "telemetry:\n  record_content: true\n  otlp: {{endpoint: '{endpoint}', protocol: grpc}}\n"
    );
    let gateway = Gateway::spawn(
        &config(&upstream.api_base, &extra),
        &[("OTEL_BSP_SCHEDULE_DELAY", "50")],
    )
    .await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &chat("chat", "remember this"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);

    let (call, _) = call_tree(&mut collector, 1, |_| true).await;
    let event = |name: &str, key: &str| {
        call.events
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.attributes.get(key))
            .and_then(|v| match v {
                AttrValue::StringValue(text) => Some(text.as_str()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {name} event with a string {key}: {:#?}", call.events))
    };
    assert_eq!(
        event("gen_ai.content.prompt", "gen_ai.prompt"),
        "remember this"
    );
    assert_eq!(
        event("gen_ai.content.prompt", "gen_ai.message.role"),
        "user"
    );
    assert_eq!(
        event("gen_ai.content.completion", "gen_ai.completion"),
        "upstream says: remember this"
    );
}

/// `/metrics` as `series -> value`, where a series is written as the page writes it, such as
/// `switchyard_requests_total{model="m",deployment="d",status="200"}`.
async fn scrape(gateway: &Gateway) -> HashMap<String, f64> {
    let response = gateway.get("/metrics", None).await;
    assert_eq!(response.status(), 200, "no key needed");
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.expect("metrics text");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_a_known_sequence_of_calls_exactly() {
    let upstream = FakeUpstream::start().await;
    let config = switchyard_e2e::standard_config(&upstream.api_base, closed_port().await)
        + "rate_limits:\n  key: {rpm: 6}\n";
    let gateway = Gateway::start(&config, &[("UPSTREAM_KEY", "k")]).await;
    let ask =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let mut statuses = Vec::new();
    for model in [
        "gpt-4o-mini",
        "gpt-4o-mini",
        "gpt-4o-mini",
        "broken",
        "no-such-model",
        "rate-limited",
        "gpt-4o-mini",
    ] {
        let response = gateway
            .post("/v1/chat/completions", &ask(model), Some(MASTER_KEY))
            .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 502, 404, 429, 429]);

    let metrics = scrape(&gateway).await;
    let get = |series: &str| metrics.get(series).copied().unwrap_or(0.0);
    let requests = |model: &str, deployment: &str, status: u16| {
        get(&format!(
            "switchyard_requests_total{{model=\"{model}\",deployment=\"{deployment}\",status=\"{status}\"}}"
        ))
    };
    assert_eq!(requests("gpt-4o-mini", "gpt-4o-mini-deployment", 200), 3.0);
    assert_eq!(requests("broken", "", 502), 1.0);
    assert_eq!(requests("unknown", "", 404), 1.0, "{metrics:#?}");
    assert_eq!(requests("rate-limited", "", 429), 1.0, "the upstream's 429");
    assert_eq!(
        requests("gpt-4o-mini", "", 429),
        1.0,
        "the gateway's own 429"
    );
    let total: f64 = metrics
        .iter()
        .filter(|(k, _)| k.starts_with("switchyard_requests_total"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 7.0);
    assert_eq!(
        get("switchyard_rate_limited_total{scope=\"api_key\"}"),
        1.0,
        "only the gateway's own refusal"
    );
    assert_eq!(
        get("switchyard_cooldowns_total{deployment=\"rate-limited-deployment\"}"),
        1.0
    );
    assert_eq!(
        get("switchyard_tokens_total{model=\"gpt-4o-mini\",direction=\"input\"}"),
        30.0
    );
    assert_eq!(
        get("switchyard_tokens_total{model=\"gpt-4o-mini\",direction=\"output\"}"),
        15.0
    );
    assert_eq!(
        get("switchyard_request_duration_seconds_count{model=\"gpt-4o-mini\"}"),
        4.0
    );
    assert_eq!(
        get(
            "switchyard_gateway_overhead_seconds_count{model=\"gpt-4o-mini\",deployment=\"gpt-4o-mini-deployment\"}"
        ),
        3.0,
        "answered calls only: not the gateway's own refusal"
    );
    assert_eq!(get("switchyard_in_flight_requests"), 0.0);
    assert!(
        metrics.keys().all(|k| !k.contains("no-such-model")),
        "a client's model name never becomes a label"
    );
}

// The gateway's own time, the performance claim users check in production: a call's duration
// minus the time its upstream took (here a mock that waits 400 ms before answering).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overhead_histogram_leaves_the_upstreams_time_out() {
    let config = "model_list:\n  - model_name: slow\n    litellm_params: {model: mock/slow, mock_latency_ms: 400}\n    model_info: {id: slow-deployment}\n";
    let gateway = Gateway::spawn(config, &[]).await;
    for stream in [false, true] {
        let body = json!({"model": "slow", "stream": stream,
                          "messages": [{"role": "user", "content": "hi"}]});
        let response = gateway.post("/v1/chat/completions", &body, None).await;
        assert_eq!(response.status(), 200);
        response.text().await.expect("the whole answer");
    }
    let metrics = scrape(&gateway).await;
    let get = |series: &str| {
        metrics
            .get(series)
            .copied()
            .unwrap_or_else(|| panic!("no {series}: {metrics:#?}"))
    };
    let route = r#"{model="slow",deployment="slow-deployment"}"#;
    assert_eq!(
        get(&format!("switchyard_gateway_overhead_seconds_count{route}")),
        2.0
    );
    let calls = get(r#"switchyard_request_duration_seconds_sum{model="slow"}"#);
    let overhead = get(&format!("switchyard_gateway_overhead_seconds_sum{route}"));
    assert!(calls >= 0.8, "two calls of at least 400 ms: {calls}");
    assert!(
        overhead < 0.4,
        "neither call's 400 ms upstream wait counts as overhead: {overhead}"
    );
    assert!(overhead > 0.0, "the gateway's own time is not nothing");
}

/// The attributes of an OTLP data point as `key=value` texts.
fn point_labels(attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> Vec<String> {
    let mut labels: Vec<String> = attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                AttrValue::StringValue(text) => text.clone(),
                AttrValue::IntValue(n) => n.to_string(),
                other => format!("{other:?}"),
            };
            Some(format!("{}={value}", kv.key))
        })
        .collect();
    labels.sort();
    labels
}

// With OTLP on, the metrics `/metrics` shows are exported to the collector too, under the same
// names (OpenTelemetry counters without the `_total` suffix OpenMetrics adds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_exported_over_otlp_under_the_prometheus_names() {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;

    let mut collector = Collector::grpc().await;
    let upstream = FakeUpstream::start().await;
    let mut env = collector.env();
    env.push(("OTEL_METRIC_EXPORT_INTERVAL", "100".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gateway = Gateway::spawn(&config(&upstream.api_base, ""), &env).await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &chat("chat", "count me"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);

    let route = ["deployment=chat-deployment", "model=chat"].map(String::from);
    let requests = |metric: &opentelemetry_proto::tonic::metrics::v1::Metric| match &metric.data {
        Some(Data::Sum(sum)) if metric.name == "switchyard_requests" => {
            sum.data_points.iter().any(|p| {
                point_labels(&p.attributes)
                    == ["deployment=chat-deployment", "model=chat", "status=200"]
                    && p.value == Some(Number::AsInt(1))
            })
        }
        _ => false,
    };
    let histogram = |metric: &opentelemetry_proto::tonic::metrics::v1::Metric,
                     name: &str,
                     labels: &[String]| {
        match &metric.data {
            Some(Data::Histogram(h)) if metric.name == name && metric.unit == "s" => h
                .data_points
                .iter()
                .any(|p| point_labels(&p.attributes) == labels && p.count == 1),
            _ => false,
        }
    };
    let tokens = |metric: &opentelemetry_proto::tonic::metrics::v1::Metric| match &metric.data {
        Some(Data::Sum(sum)) if metric.name == "switchyard_tokens" => {
            sum.data_points.iter().any(|p| {
                point_labels(&p.attributes) == ["direction=input", "model=chat"]
                    && p.value == Some(Number::AsInt(10))
            })
        }
        _ => false,
    };
    let cost = |metric: &opentelemetry_proto::tonic::metrics::v1::Metric| match &metric.data {
        Some(Data::Sum(sum)) if metric.name == "switchyard_cost_usd" => sum
            .data_points
            .iter()
            .any(|p| p.value == Some(Number::AsDouble(0.00002))),
        _ => false,
    };
    collector
        .metrics_until(SPANS_WITHIN, |metrics| {
            metrics.iter().any(requests)
                && metrics.iter().any(|m| {
                    histogram(
                        m,
                        "switchyard_request_duration_seconds",
                        &["model=chat".to_owned()],
                    )
                })
                && metrics
                    .iter()
                    .any(|m| histogram(m, "switchyard_gateway_overhead_seconds", &route))
                && metrics.iter().any(tokens)
                && metrics.iter().any(cost)
                && metrics
                    .iter()
                    .any(|m| m.name == "switchyard_in_flight_requests")
        })
        .await;
}

// A stream passed through as the upstream sent it (Anthropic's Messages events) gets its time to
// first token and its overhead too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passed_through_stream_counts_its_time_to_first_token_and_overhead() {
    let anthropic = switchyard_e2e::fake_anthropic::FakeAnthropic::start().await;
    let config = format!(
        "model_list:\n  - model_name: claude\n    litellm_params: {{model: anthropic/claude-text, api_base: '{}', api_key: k}}\n    model_info: {{id: claude-deployment}}\n",
        anthropic.api_base
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let body = json!({"model": "claude", "max_tokens": 50, "stream": true,
                      "messages": [{"role": "user", "content": "hi"}]});
    let response = gateway.post("/v1/messages", &body, None).await;
    assert_eq!(response.status(), 200);
    let events = response.text().await.expect("the stream");
    assert!(events.contains("message_stop"), "{events}");
    let metrics = scrape(&gateway).await;
    let get = |series: &str| metrics.get(series).copied().unwrap_or(0.0);
    assert_eq!(
        get(r#"switchyard_time_to_first_token_seconds_count{model="claude"}"#),
        1.0,
        "{metrics:#?}"
    );
    assert_eq!(
        get(
            r#"switchyard_gateway_overhead_seconds_count{model="claude",deployment="claude-deployment"}"#
        ),
        1.0
    );
}

#[tokio::test]
async fn a_stream_counts_as_in_flight_until_it_ends() {
    let upstream = FakeUpstream::start().await;
    let config = switchyard_e2e::standard_config(&upstream.api_base, closed_port().await);
    let gateway = Gateway::start(&config, &[("UPSTREAM_KEY", "k")]).await;
    let body = json!({"model": "slow-stream", "stream": true,
                      "messages": [{"role": "user", "content": "hi"}]});
    let response = gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let in_flight = |metrics: &HashMap<String, f64>| metrics["switchyard_in_flight_requests"];
    assert_eq!(in_flight(&scrape(&gateway).await), 1.0);
    drop(response);
    assert!(upstream.stream_dropped(Duration::from_secs(5)).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while in_flight(&scrape(&gateway).await) != 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the call stays in flight after its stream was dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_collector_down_calls_still_answer_promptly() {
    let upstream = FakeUpstream::start().await;
    for protocol in ["grpc", "http/protobuf"] {
        let endpoint = format!("http://127.0.0.1:{}", closed_port().await);
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ];
        let gateway = Gateway::spawn(&config(&upstream.api_base, ""), &env).await;
        for i in 0..20 {
            let body = chat("chat", &format!("call {i}"));
            let call = gateway.post("/v1/chat/completions", &body, Some(MASTER_KEY));
            let response = tokio::time::timeout(Duration::from_secs(2), call)
                .await
                .unwrap_or_else(|_| panic!("{protocol}: call {i} waited on the collector"));
            assert_eq!(response.status(), 200, "{protocol}: call {i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_experiment_variant_and_the_key_alias_are_on_the_call_span() {
    let mut collector = Collector::grpc().await;
    let upstream = FakeUpstream::start().await;
    let experiment = "experiments:\n  - name: tone\n    model: tone-test\n    variants:\n      - {name: only, model: chat, weight: 1}\n";
    let gateway = traced_gateway(&collector, &upstream, experiment).await;
    let created: Value = gateway
        .post(
            "/key/generate",
            &json!({"key_alias": "ci-bot"}),
            Some(MASTER_KEY),
        )
        .await
        .json()
        .await
        .expect("a key");
    let secret = created["key"].as_str().expect("the secret").to_owned();
    let response = gateway
        .post(
            "/v1/chat/completions",
            &chat("tone-test", "hi"),
            Some(&secret),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("x-switchyard-variant")
            .and_then(|v| v.to_str().ok()),
        Some("only")
    );
    let (call, _) = call_tree(&mut collector, 1, |s| {
        str_attr(s, "gen_ai.request.model") == Some("tone-test")
    })
    .await;
    assert_attr(&call, "switchyard.experiment.variant", string("only"));
    assert_attr(&call, "switchyard.key_alias", string("ci-bot"));
    assert!(
        call.attributes
            .values()
            .all(|v| !format!("{v:?}").contains(&secret)),
        "the key itself is not on the span"
    );
}
