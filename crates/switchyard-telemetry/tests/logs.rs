//! JSON log lines carry the current `trace_id` and `span_id`, and stay valid JSON.

use std::io::Write;
use std::sync::{Arc, Mutex};

use switchyard_telemetry::genai::{CallSpan, operation};
use switchyard_telemetry::{JsonLines, TelemetrySettings, current_trace_id, tracer_layer};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
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
    // As `Telemetry::init` builds it: the log layer sees events only, never spans, and
    // OpenTelemetry's current context is not set when a span is entered.
    let fmt = JsonLines::layer(move || writer.clone()).with_filter(filter_fn(|m| m.is_event()));
    let subscriber = tracing_subscriber::registry().with(layer).with(fmt);

    let mut expected_trace = None;
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(answer = 42, "outside any span");
        tracing::warn!(
            text = "quote \" backslash \\ newline \n tab \t bell \u{7} é",
            ratio = 0.25,
            tiny = 1.5e-9,
            huge = 4.0e21,
            zero = 0.0,
            nan = f64::NAN,
            flag = true,
            negative = -3,
            debug = ?vec!["a", "b"],
            "fields of every kind"
        );
        let call = CallSpan::start(operation::CHAT, "gpt-4o");
        call.in_scope(|| {
            expected_trace = current_trace_id();
            tracing::info!(status = 200, "inside the call");
            tracing::info!(trace_id = "explicit", "access log");
        });
    });

    let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 4, "{text}");

    assert_eq!(lines[0]["message"], "outside any span");
    assert_eq!(lines[0]["answer"], 42);
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(lines[0]["target"], "logs");
    let timestamp = lines[0]["timestamp"].as_str().expect("a timestamp");
    assert!(
        time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "RFC 3339: {timestamp}"
    );
    assert!(lines[0].get("trace_id").is_none());

    // Every kind of field, and text that must be escaped, comes back as it was given.
    let kinds = lines.remove(1);
    assert_eq!(kinds["level"], "WARN");
    assert_eq!(kinds["message"], "fields of every kind");
    assert_eq!(
        kinds["text"],
        "quote \" backslash \\ newline \n tab \t bell \u{7} é"
    );
    assert_eq!(kinds["ratio"], 0.25);
    assert_eq!(kinds["tiny"], 1.5e-9);
    assert_eq!(kinds["huge"], 4.0e21);
    assert_eq!(kinds["zero"], 0.0);
    assert_eq!(kinds["nan"], serde_json::Value::Null);
    assert_eq!(kinds["flag"], true);
    assert_eq!(kinds["negative"], -3);
    assert_eq!(kinds["debug"], "[\"a\", \"b\"]");

    let expected_trace = expected_trace.expect("the call is traced");
    assert_eq!(lines[1]["message"], "inside the call");
    assert_eq!(lines[1]["trace_id"], expected_trace.as_str());
    assert_eq!(lines[1]["span_id"].as_str().map(str::len), Some(16));

    // An event with its own trace_id keeps it, with no duplicate key.
    assert_eq!(lines[2]["trace_id"], "explicit");
    assert_eq!(
        text.lines()
            .nth(3)
            .map(|l| l.matches("\"trace_id\"").count()),
        Some(1)
    );
}
