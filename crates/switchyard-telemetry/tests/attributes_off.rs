//! `genai::record_attributes(false)` (what `Telemetry::init` does without an exporter): call and
//! attempt spans are still made, with their trace ids and their parent, but bare: named by their
//! tracing name and carrying none of the GenAI attributes. In its own test binary: the switch is
//! process-wide.

use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use switchyard_telemetry::genai::{CallSpan, attr, operation, record_attributes};
use tracing_subscriber::layer::SubscriberExt;

/// The spans exported after `work`.
fn exported(work: impl FnOnce()) -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), work);
    provider.force_flush().expect("flushed");
    exporter.get_finished_spans().expect("spans")
}

fn call() {
    let call = CallSpan::start(operation::CHAT, "gpt-4o");
    call.record_request(Some(100), Some(0.5));
    let attempt = call.attempt("openai", "gpt-4o-eastus", "gpt-4o-2024-08-06", 1);
    attempt.record_server("api.openai.com", 443);
    attempt.record_usage(12, 34);
    drop(attempt);
    call.record_route("gpt-4o-eastus", "openai", 1, None);
    call.record_usage(12, 34);
    call.record_cost(0.000006, false);
    call.record_error("timeout");
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|span| span.name == name)
        .unwrap_or_else(|| panic!("a span named {name}: {spans:?}"))
}

fn keys(span: &SpanData) -> Vec<String> {
    span.attributes
        .iter()
        .map(|kv| kv.key.to_string())
        .collect()
}

#[test]
fn without_recording_spans_are_bare_but_keep_their_ids_and_parent() {
    // On (the default): named as the conventions say, with the recorders' attributes.
    let spans = exported(call);
    let call_keys = keys(named(&spans, "chat gpt-4o"));
    for key in [
        attr::GEN_AI_OPERATION_NAME,
        attr::GEN_AI_REQUEST_MODEL,
        attr::GEN_AI_USAGE_INPUT_TOKENS,
        attr::COST_USD,
    ] {
        assert!(call_keys.contains(&key.to_owned()), "{key}: {call_keys:?}");
    }
    let attempt_keys = keys(named(&spans, "chat gpt-4o-2024-08-06"));
    assert!(attempt_keys.contains(&attr::GEN_AI_PROVIDER_NAME.to_owned()));
    assert!(attempt_keys.contains(&attr::SERVER_ADDRESS.to_owned()));

    record_attributes(false);
    let spans = exported(call);
    record_attributes(true);
    assert_eq!(spans.len(), 2, "{spans:?}");
    let call = named(&spans, "gen_ai.call");
    let attempt = named(&spans, "gen_ai.attempt");
    for span in [call, attempt] {
        let keys = keys(span);
        assert!(
            !keys.iter().any(|key| ["gen_ai.", "switchyard.", "server."]
                .iter()
                .any(|prefix| key.starts_with(prefix))),
            "{} has GenAI attributes: {keys:?}",
            span.name
        );
        assert_ne!(span.span_context.trace_id(), TraceId::INVALID);
        assert_ne!(span.span_context.span_id(), SpanId::INVALID);
    }
    // The attempt is still the call's child, in the call's trace: what the log lines' ids and
    // the upstream `traceparent` rest on.
    assert_eq!(
        attempt.span_context.trace_id(),
        call.span_context.trace_id()
    );
    assert_eq!(attempt.parent_span_id, call.span_context.span_id());
}
