//! `genai::record_attributes(false)` (what `Telemetry::init` does without an exporter): call and
//! attempt spans are still made, with their names and trace ids, but carry none of the
//! attributes the recorders would add. In its own test binary: the switch is process-wide.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use switchyard_telemetry::genai::{CallSpan, attr, operation, record_attributes};
use tracing_subscriber::layer::SubscriberExt;

/// Each exported span's name and attribute keys after `work`.
fn exported(work: impl FnOnce()) -> Vec<(String, Vec<String>)> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), work);
    provider.force_flush().expect("flushed");
    exporter
        .get_finished_spans()
        .expect("spans")
        .into_iter()
        .map(|span| {
            let keys = span
                .attributes
                .iter()
                .map(|kv| kv.key.to_string())
                .collect();
            (span.name.to_string(), keys)
        })
        .collect()
}

fn call() {
    let call = CallSpan::start(operation::CHAT, "gpt-4o");
    let attempt = call.attempt("openai", "gpt-4o-eastus", "gpt-4o-2024-08-06", 1);
    attempt.record_usage(12, 34);
    drop(attempt);
    call.record_route("gpt-4o-eastus", "openai", 1, None);
    call.record_usage(12, 34);
    call.record_cost(0.000006, false);
    call.record_error("timeout");
}

#[test]
fn without_recording_spans_keep_their_names_but_get_no_attributes() {
    let keys_of = |spans: &[(String, Vec<String>)], name: &str| {
        spans
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("a span named {name}: {spans:?}"))
            .1
            .clone()
    };
    // On (the default): the recorders' attributes are there.
    let spans = exported(call);
    assert!(keys_of(&spans, "chat gpt-4o").contains(&attr::GEN_AI_USAGE_INPUT_TOKENS.to_owned()));
    assert!(keys_of(&spans, "chat gpt-4o").contains(&attr::COST_USD.to_owned()));
    assert!(
        keys_of(&spans, "chat gpt-4o-2024-08-06").contains(&attr::GEN_AI_PROVIDER_NAME.to_owned())
    );

    record_attributes(false);
    let spans = exported(call);
    record_attributes(true);
    for name in ["chat gpt-4o", "chat gpt-4o-2024-08-06"] {
        let keys = keys_of(&spans, name);
        for recorded in [
            attr::GEN_AI_USAGE_INPUT_TOKENS,
            attr::GEN_AI_USAGE_OUTPUT_TOKENS,
            attr::COST_USD,
            attr::GEN_AI_PROVIDER_NAME,
            attr::DEPLOYMENT,
            attr::ERROR_TYPE,
        ] {
            assert!(
                !keys.contains(&recorded.to_owned()),
                "{name} has {recorded}: {keys:?}"
            );
        }
    }
}
