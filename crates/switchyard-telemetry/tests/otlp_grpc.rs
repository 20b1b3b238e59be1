//! GenAI spans exported over OTLP/gRPC to an in-process fake collector: names, kinds, the
//! parent/child relation, the caller's trace continued, attributes, status and content events.

use std::time::Duration;

use fake_opentelemetry_collector::{ExportedSpan, FakeCollectorServer};
use http::{HeaderMap, HeaderValue};
use switchyard_telemetry::genai::{CallSpan, operation};
use switchyard_telemetry::{
    OtlpProtocol, OtlpSettings, TelemetryGuard, TelemetrySettings, inject_current, set_parent_from,
    tracer_layer,
};
use tracing_subscriber::layer::SubscriberExt;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn span<'a>(spans: &'a [ExportedSpan], name: &str) -> &'a ExportedSpan {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span named {name:?} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

fn attr<'a>(span: &'a ExportedSpan, key: &str) -> &'a str {
    span.attributes.get(key).unwrap_or_else(|| {
        panic!(
            "span {:?} has no attribute {key}: {:?}",
            span.name, span.attributes
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_and_attempt_spans_reach_a_grpc_collector() {
    let mut collector = FakeCollectorServer::start()
        .await
        .expect("fake collector starts");
    let settings = TelemetrySettings {
        service_name: "switchyard-test".into(),
        otlp: Some(OtlpSettings {
            endpoint: Some(collector.endpoint()),
            protocol: OtlpProtocol::Grpc,
            timeout_ms: 5_000,
            ..OtlpSettings::default()
        }),
        ..TelemetrySettings::default()
    };
    let (layer, provider) = tracer_layer(&settings).expect("layer builds");
    let guard = TelemetryGuard::new(provider);

    let mut incoming = HeaderMap::new();
    incoming.insert(
        "traceparent",
        HeaderValue::from_str(&format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01")).expect("header"),
    );
    let mut upstream = HeaderMap::new();
    {
        let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        let call = CallSpan::start(operation::CHAT, "gpt-4o");
        assert!(
            set_parent_from(&call, &incoming),
            "the caller's traceparent attaches"
        );
        call.in_scope(|| {
            call.record_request(Some(256), Some(0.25));
            call.record_key_alias("team-a");
            call.record_variant("B");
            call.record_content("user", "hello there");

            let failed = call.attempt("openai", "gpt-4o-eastus", "gpt-4o-2024-08-06", 1);
            failed.record_error("timeout");
            drop(failed);

            let attempt = call.attempt("anthropic", "claude-west", "claude-sonnet-4", 2);
            attempt.in_scope(|| inject_current(&mut upstream));
            attempt.record_response("claude-sonnet-4-20250514", "msg_01", &["stop"]);
            attempt.record_usage(12, 34);
            attempt.record_ttft(Duration::from_millis(120));
            drop(attempt);

            call.record_route("claude-west", "anthropic", 2, Some("gpt-4o"));
            call.record_usage(12, 34);
            call.record_cost(0.0125, true);
            call.record_cache_hit(false);
        });
    }
    tokio::time::timeout(Duration::from_secs(20), guard.shutdown())
        .await
        .expect("shutdown returns")
        .expect("spans exported");

    let spans = collector.exported_spans(3, Duration::from_secs(10)).await;
    assert_eq!(spans.len(), 3, "{spans:#?}");

    let call = span(&spans, "chat gpt-4o");
    let failed = span(&spans, "chat gpt-4o-2024-08-06");
    let attempt = span(&spans, "chat claude-sonnet-4");

    // The caller's trace continues through the gateway, attempts are children of the call.
    for s in [call, failed, attempt] {
        assert_eq!(s.trace_id, CALLER_TRACE);
    }
    assert_eq!(call.parent_span_id, CALLER_SPAN);
    assert_eq!(failed.parent_span_id, call.span_id);
    assert_eq!(attempt.parent_span_id, call.span_id);
    assert_eq!(call.kind, "SPAN_KIND_SERVER");
    assert_eq!(attempt.kind, "SPAN_KIND_CLIENT");

    // The upstream request carries the attempt's context.
    let traceparent = upstream
        .get("traceparent")
        .expect("traceparent injected")
        .to_str()
        .expect("ascii");
    assert_eq!(
        traceparent,
        format!("00-{CALLER_TRACE}-{}-01", attempt.span_id)
    );

    assert!(attr(call, "gen_ai.operation.name").contains("chat"));
    assert!(attr(call, "gen_ai.request.model").contains("gpt-4o"));
    assert!(attr(call, "gen_ai.request.max_tokens").contains("256"));
    assert!(attr(call, "gen_ai.request.temperature").contains("0.25"));
    assert!(attr(call, "gen_ai.provider.name").contains("anthropic"));
    assert!(attr(call, "gen_ai.usage.input_tokens").contains("12"));
    assert!(attr(call, "gen_ai.usage.output_tokens").contains("34"));
    assert!(attr(call, "switchyard.cost_usd").contains("0.0125"));
    assert!(attr(call, "switchyard.cost_estimated").contains("true"));
    assert!(attr(call, "switchyard.deployment").contains("claude-west"));
    assert!(attr(call, "switchyard.attempts").contains('2'));
    assert!(attr(call, "switchyard.fallback_from").contains("gpt-4o"));
    assert!(attr(call, "switchyard.cache_hit").contains("false"));
    assert!(attr(call, "switchyard.key_alias").contains("team-a"));
    assert!(attr(call, "switchyard.experiment.variant").contains('B'));
    assert!(
        !call.attributes.contains_key("error.type"),
        "fields never recorded are not exported"
    );

    assert!(attr(attempt, "gen_ai.provider.name").contains("anthropic"));
    assert!(attr(attempt, "gen_ai.request.model").contains("claude-sonnet-4"));
    assert!(attr(attempt, "gen_ai.response.model").contains("claude-sonnet-4-20250514"));
    assert!(attr(attempt, "gen_ai.response.id").contains("msg_01"));
    assert!(attr(attempt, "gen_ai.response.finish_reasons").contains("stop"));
    assert!(attr(attempt, "switchyard.attempt").contains('2'));
    assert!(attr(attempt, "switchyard.ttft_ms").contains("120"));
    assert!(attr(attempt, "switchyard.deployment").contains("claude-west"));

    assert!(attr(failed, "error.type").contains("timeout"));
    let status = failed.status.as_ref().expect("status set");
    assert_eq!(status.code, "STATUS_CODE_ERROR");

    let event = call
        .events
        .iter()
        .find(|e| e.name == "gen_ai.content.prompt")
        .expect("content event");
    assert!(
        event
            .attributes
            .get("gen_ai.prompt")
            .is_some_and(|v| v.contains("hello there"))
    );
    assert!(
        event
            .attributes
            .get("gen_ai.message.role")
            .is_some_and(|v| v.contains("user"))
    );
}
