//! W3C trace context in and out, with no collector: an incoming `traceparent` continues the trace,
//! and the injected `traceparent` is valid and carries the same trace id.

use http::{HeaderMap, HeaderValue};
use switchyard_telemetry::genai::{CallSpan, operation};
use switchyard_telemetry::propagation::{
    current_trace_id, extract_parent, inject_current, set_parent_from,
};
use switchyard_telemetry::{TelemetrySettings, tracer_layer};
use tracing_subscriber::layer::SubscriberExt;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn is_valid_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    parts.len() == 4
        && parts[0] == "00"
        && hex(parts[1], 32)
        && parts[1] != "0".repeat(32)
        && hex(parts[2], 16)
        && parts[2] != "0".repeat(16)
        && hex(parts[3], 2)
}

fn subscriber() -> impl tracing::Subscriber + Send + Sync {
    let (layer, _provider) = tracer_layer(&TelemetrySettings::default()).expect("layer builds");
    tracing_subscriber::registry().with(layer)
}

#[test]
fn incoming_traceparent_continues_the_trace_and_is_injected_onwards() {
    let mut incoming = HeaderMap::new();
    incoming.insert(
        "traceparent",
        HeaderValue::from_str(&format!("00-{TRACE}-b7ad6b7169203331-01")).expect("header"),
    );
    incoming.insert("tracestate", HeaderValue::from_static("vendor=opaque"));

    tracing::subscriber::with_default(subscriber(), || {
        let call = CallSpan::start(operation::CHAT, "m");
        assert!(set_parent_from(&call, &incoming));
        call.in_scope(|| {
            assert_eq!(current_trace_id().as_deref(), Some(TRACE));
            let attempt = call.attempt("openai", "d", "m", 1);
            attempt.in_scope(|| {
                let mut out = HeaderMap::new();
                inject_current(&mut out);
                let traceparent = out
                    .get("traceparent")
                    .expect("injected")
                    .to_str()
                    .expect("ascii");
                assert!(is_valid_traceparent(traceparent), "{traceparent}");
                assert!(
                    traceparent.starts_with(&format!("00-{TRACE}-")),
                    "{traceparent}"
                );
                assert!(
                    !traceparent.contains("b7ad6b7169203331"),
                    "our own span id, not the caller's"
                );
                assert!(
                    traceparent.ends_with("-01"),
                    "sampled, as the caller decided"
                );
                assert_eq!(
                    out.get("tracestate").and_then(|v| v.to_str().ok()),
                    Some("vendor=opaque")
                );
            });
        });
    });
}

#[test]
fn without_a_caller_a_new_valid_trace_is_started() {
    tracing::subscriber::with_default(subscriber(), || {
        let call = CallSpan::start(operation::CHAT, "m");
        assert!(!set_parent_from(&call, &HeaderMap::new()));
        call.in_scope(|| {
            let mut out = HeaderMap::new();
            inject_current(&mut out);
            let traceparent = out
                .get("traceparent")
                .expect("injected")
                .to_str()
                .expect("ascii")
                .to_owned();
            assert!(is_valid_traceparent(&traceparent), "{traceparent}");
            let trace_id = current_trace_id().expect("traced");
            assert_eq!(traceparent.split('-').nth(1), Some(trace_id.as_str()));
            // What we send out is what a downstream gateway would continue.
            let downstream = extract_parent(&out);
            use opentelemetry::trace::TraceContextExt;
            assert_eq!(
                downstream.span().span_context().trace_id().to_string(),
                trace_id
            );
        });
    });
}

#[test]
fn a_sampled_out_caller_is_respected() {
    let mut incoming = HeaderMap::new();
    incoming.insert(
        "traceparent",
        HeaderValue::from_str(&format!("00-{TRACE}-b7ad6b7169203331-00")).expect("header"),
    );
    tracing::subscriber::with_default(subscriber(), || {
        let call = CallSpan::start(operation::CHAT, "m");
        assert!(set_parent_from(&call, &incoming));
        call.in_scope(|| {
            let mut out = HeaderMap::new();
            inject_current(&mut out);
            let traceparent = out
                .get("traceparent")
                .expect("injected")
                .to_str()
                .expect("ascii");
            assert!(
                traceparent.starts_with(&format!("00-{TRACE}-")) && traceparent.ends_with("-00"),
                "{traceparent}"
            );
        });
    });
}
