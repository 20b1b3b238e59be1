//! End to end against a real Jaeger v2 (`scripts/services.sh` builds it, the harness starts it on
//! ports of its own): a gateway process exporting over OTLP gRPC makes three calls (a plain one,
//! one that falls back, a streamed one), and Jaeger's query API (the one its UI uses) finds them
//! by service, by operation and by the tag `gen_ai.request.model`, each as one trace with the
//! call span over its attempt spans, and gives token counts as `int64` tags and the cost as a
//! `float64` one.
//!
//! Without Jaeger the test says it was skipped; CI (`.ci/run` sets `SWITCHYARD_REQUIRE_JAEGER`)
//! fails instead.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::jaeger::Jaeger;
use switchyard_e2e::{FakeUpstream, Gateway};

/// How long spans may take to be queryable in Jaeger.
const TRACES_WITHIN: Duration = Duration::from_secs(30);
/// The gateway's `service.name`.
const SERVICE: &str = "switchyard-jaeger-e2e";

/// `chat` (priced: 1e-6 per input token, 2e-6 per output token), and `primary` (its upstream
/// fails) falling back to `backup`.
fn config(api_base: &str) -> String {
    format!(
        "model_list:
  - model_name: chat
    litellm_params: {{model: openai/upstream-model, api_base: '{api_base}', input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}
  - model_name: primary
    litellm_params: {{model: openai/broken, api_base: '{api_base}'}}
  - model_name: backup
    litellm_params: {{model: openai/backup-model, api_base: '{api_base}'}}
router_settings:
  num_retries: 0
  fallbacks: [{{primary: [backup]}}]
"
    )
}

/// A Jaeger tag: `{"key", "type", "value"}`.
fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["tags"].as_array()?.iter().find(|t| t["key"] == key)
}

/// Asserts a tag's Jaeger type (`int64`, `float64`, `bool`, `string`) and value.
fn assert_tag(span: &Value, key: &str, kind: &str, value: Value) {
    let found = tag(span, key).unwrap_or_else(|| panic!("no tag {key} on {span:#}"));
    assert_eq!(found["type"], kind, "{key}: {found}");
    assert_eq!(found["value"], value, "{key}: {found}");
}

fn spans(trace: &Value) -> &[Value] {
    trace["spans"].as_array().map_or(&[], Vec::as_slice)
}

/// The trace's root span (no parent reference), and the spans that name it as their parent.
fn call_and_attempts(trace: &Value) -> (&Value, Vec<&Value>) {
    let spans = spans(trace);
    let roots: Vec<&Value> = spans
        .iter()
        .filter(|s| s["references"].as_array().is_none_or(Vec::is_empty))
        .collect();
    let [call] = roots.as_slice() else {
        panic!("one root span: {trace:#}")
    };
    let mut attempts: Vec<&Value> = spans
        .iter()
        .filter(|s| {
            s["references"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|r| r["refType"] == "CHILD_OF" && r["spanID"] == call["spanID"])
            })
        })
        .collect();
    attempts.sort_by_key(|s| tag(s, "switchyard.attempt").and_then(|t| t["value"].as_i64()));
    (call, attempts)
}

fn operation(span: &Value) -> &str {
    span["operationName"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_found_in_jaeger_by_service_operation_and_model_with_typed_tags() {
    let Some(jaeger) = Jaeger::start().await else {
        return;
    };
    let upstream = FakeUpstream::start().await;
    let mut env = jaeger.env();
    env.push(("OTEL_SERVICE_NAME", SERVICE.to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gateway = Gateway::spawn(&config(&upstream.api_base), &env).await;

    let ask = |model: &str, stream: bool| {
        json!({"model": model, "stream": stream, "max_tokens": 50,
               "messages": [{"role": "user", "content": "hi"}]})
    };
    let plain = gateway
        .post("/v1/chat/completions", &ask("chat", false), None)
        .await;
    assert_eq!(plain.status(), 200);
    let fallback = gateway
        .post("/v1/chat/completions", &ask("primary", false), None)
        .await;
    assert_eq!(fallback.status(), 200);
    assert_eq!(fallback.headers()["x-switchyard-fallback-from"], "primary");
    let streamed = gateway
        .post("/v1/chat/completions", &ask("chat", true), None)
        .await;
    assert_eq!(streamed.status(), 200);
    assert!(
        streamed
            .text()
            .await
            .expect("the stream")
            .contains("[DONE]")
    );

    // By service: all three calls, each a trace of its call span and its attempts.
    let traces = jaeger
        .traces_until(
            &[("service", SERVICE), ("limit", "100")],
            TRACES_WITHIN,
            |traces| traces.len() >= 3 && traces.iter().map(|t| spans(t).len()).sum::<usize>() >= 7,
        )
        .await;
    assert_eq!(traces.len(), 3, "{traces:#?}");
    let services = jaeger.api("/api/services").await;
    assert!(
        services["data"]
            .as_array()
            .expect("a list of services")
            .iter()
            .any(|s| s == SERVICE),
        "{services}"
    );
    let operations = jaeger
        .api(&format!("/api/services/{SERVICE}/operations"))
        .await;
    for name in [
        "chat chat",
        "chat primary",
        "chat upstream-model",
        "chat backup-model",
        "chat broken",
    ] {
        assert!(
            operations["data"]
                .as_array()
                .is_some_and(|ops| ops.iter().any(|o| o == name)),
            "operation {name}: {operations}"
        );
    }

    // By operation: the fallback's call span, over two attempts (the failed one, then the
    // backup's).
    let by_operation = jaeger
        .traces_until(
            &[("service", SERVICE), ("operation", "chat primary")],
            TRACES_WITHIN,
            |traces| !traces.is_empty(),
        )
        .await;
    let [fallback_trace] = by_operation.as_slice() else {
        panic!("one trace for the operation: {by_operation:#?}")
    };
    let (call, attempts) = call_and_attempts(fallback_trace);
    assert_eq!(operation(call), "chat primary");
    assert_tag(call, "switchyard.attempts", "int64", json!(2));
    assert_tag(call, "switchyard.fallback_from", "string", json!("primary"));
    let [failed, answered] = attempts.as_slice() else {
        panic!("two attempts under the call: {fallback_trace:#}")
    };
    assert_eq!(operation(failed), "chat broken");
    assert_tag(failed, "switchyard.attempt", "int64", json!(1));
    assert_tag(
        failed,
        "error.type",
        "string",
        json!("upstream_server_error"),
    );
    assert_tag(failed, "error", "bool", json!(true));
    assert_eq!(operation(answered), "chat backup-model");
    assert_tag(answered, "switchyard.attempt", "int64", json!(2));
    assert_tag(answered, "gen_ai.usage.input_tokens", "int64", json!(10));

    // By tag: the two calls that asked for `chat` (the plain one and the streamed one), not
    // the fallback.
    let model_tag = json!({"gen_ai.request.model": "chat"}).to_string();
    let by_model = jaeger
        .traces_until(
            &[("service", SERVICE), ("tags", &model_tag)],
            TRACES_WITHIN,
            |traces| traces.len() >= 2,
        )
        .await;
    assert_eq!(by_model.len(), 2, "{by_model:#?}");
    let (mut plain_call, mut streamed_call) = (None, None);
    for trace in &by_model {
        let (call, attempts) = call_and_attempts(trace);
        assert_eq!(operation(call), "chat chat");
        assert_tag(call, "gen_ai.request.model", "string", json!("chat"));
        assert_tag(call, "span.kind", "string", json!("server"));
        let [attempt] = attempts.as_slice() else {
            panic!("one attempt under the call: {trace:#}")
        };
        assert_eq!(operation(attempt), "chat upstream-model");
        assert_tag(attempt, "span.kind", "string", json!("client"));
        assert_tag(attempt, "gen_ai.provider.name", "string", json!("openai"));
        assert_tag(attempt, "server.address", "string", json!("127.0.0.1"));
        assert_eq!(
            tag(attempt, "server.port").map(|t| &t["type"]),
            Some(&json!("int64"))
        );
        if tag(call, "switchyard.ttft_ms").is_some() {
            streamed_call = Some(call);
        } else {
            plain_call = Some(call);
        }
    }
    let plain_call = plain_call.expect("the plain call");
    let streamed_call = streamed_call.expect("the streamed call, with its time to first token");
    for call in [plain_call, streamed_call] {
        assert_tag(call, "gen_ai.usage.input_tokens", "int64", json!(10));
        assert_tag(call, "gen_ai.usage.output_tokens", "int64", json!(5));
        assert_tag(call, "gen_ai.request.max_tokens", "int64", json!(50));
        assert_tag(call, "switchyard.attempts", "int64", json!(1));
        // 10 x 1e-6 + 5 x 2e-6, exactly.
        assert_tag(call, "switchyard.cost_usd", "float64", json!(0.00002));
        assert_tag(call, "switchyard.cost_estimated", "bool", json!(false));
        assert_tag(call, "switchyard.cache_hit", "bool", json!(false));
    }
    assert_eq!(
        tag(streamed_call, "switchyard.ttft_ms").map(|t| &t["type"]),
        Some(&json!("int64"))
    );
    assert_eq!(
        plain.headers()["x-switchyard-cost-usd"],
        "0.00002",
        "the header shows the span's cost"
    );
}
