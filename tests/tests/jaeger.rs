//! End to end against a real Jaeger (`scripts/services.sh` builds it, the harness starts it on
//! ports of its own): a gateway process exporting over OTLP gRPC shows up in Jaeger's query API
//! as a service, and one chat call is one trace whose call span has the attempt span as child.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::jaeger::Jaeger;
use switchyard_e2e::{FakeUpstream, Gateway};

/// How long spans may take to be queryable in Jaeger.
const TRACES_WITHIN: Duration = Duration::from_secs(30);

fn tag<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["tags"]
        .as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .map(|t| &t["value"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_one_trace_in_jaeger() {
    let Some(jaeger) = Jaeger::start().await else {
        return;
    };
    let upstream = FakeUpstream::start().await;
    let config = format!(
        "model_list:\n  - model_name: chat\n    litellm_params: {{model: openai/upstream-model, api_base: '{}'}}\n",
        upstream.api_base
    );
    let mut env = jaeger.env();
    env.push(("OTEL_SERVICE_NAME", "switchyard-jaeger-e2e".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let gateway = Gateway::spawn(&config, &env).await;

    let response = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);

    let traces = jaeger
        .traces_until("switchyard-jaeger-e2e", TRACES_WITHIN, |traces| {
            traces
                .iter()
                .any(|t| t["spans"].as_array().is_some_and(|s| s.len() >= 2))
        })
        .await;
    let services = jaeger.api("/api/services").await;
    assert!(
        services["data"]
            .as_array()
            .expect("a list of services")
            .iter()
            .any(|s| s == "switchyard-jaeger-e2e"),
        "{services}"
    );
    let trace = traces
        .iter()
        .find(|t| t["spans"].as_array().is_some_and(|s| s.len() >= 2))
        .expect("a trace with the call and its attempt");
    let spans = trace["spans"].as_array().expect("spans");
    let call = spans
        .iter()
        .find(|s| s["references"].as_array().is_none_or(Vec::is_empty))
        .expect("a root span");
    assert_eq!(tag(call, "gen_ai.operation.name"), Some(&json!("chat")));
    assert_eq!(tag(call, "gen_ai.request.model"), Some(&json!("chat")));
    let attempt = spans
        .iter()
        .find(|s| {
            s["references"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["spanID"] == call["spanID"]))
        })
        .expect("the attempt span is a child of the call span");
    assert_eq!(
        tag(attempt, "gen_ai.response.model"),
        Some(&json!("upstream-model")),
        "{attempt:#}"
    );
}
