//! JSON log lines carry the current `trace_id` and `span_id`, and stay valid JSON.

use std::io::Write;
use std::sync::{Arc, Mutex};

use switchyard_telemetry::genai::{CallSpan, operation};
use switchyard_telemetry::{TelemetrySettings, WithTraceIds, current_trace_id, tracer_layer};
use tracing_subscriber::fmt::format::{self, JsonFields};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn json_lines_carry_trace_and_span_ids() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let (layer, _provider) = tracer_layer(&TelemetrySettings::default()).expect("layer builds");
    let fmt = tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(WithTraceIds(
            format::format()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false),
        ))
        .with_writer(move || writer.clone());
    let subscriber = tracing_subscriber::registry().with(layer).with(fmt);

    let mut expected_trace = None;
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(answer = 42, "outside any span");
        let call = CallSpan::start(operation::CHAT, "gpt-4o");
        call.in_scope(|| {
            expected_trace = current_trace_id();
            tracing::info!(status = 200, "inside the call");
            tracing::info!(trace_id = "explicit", "access log");
        });
    });

    let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");

    assert_eq!(lines[0]["message"], "outside any span");
    assert!(lines[0].get("trace_id").is_none());

    let expected_trace = expected_trace.expect("the call is traced");
    assert_eq!(lines[1]["message"], "inside the call");
    assert_eq!(lines[1]["trace_id"], expected_trace.as_str());
    assert_eq!(lines[1]["span_id"].as_str().map(str::len), Some(16));
    assert_eq!(lines[1]["span"]["gen_ai.request.model"], "gpt-4o");

    // An event with its own trace_id keeps it, with no duplicate key.
    assert_eq!(lines[2]["trace_id"], "explicit");
    assert_eq!(
        text.lines()
            .nth(2)
            .map(|l| l.matches("\"trace_id\"").count()),
        Some(1)
    );
}
