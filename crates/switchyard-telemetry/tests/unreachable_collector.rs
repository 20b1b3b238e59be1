//! An unreachable collector never slows recording down, and shutdown still returns: 1,000 spans
//! against a closed port, over gRPC and over HTTP, bounded by `tokio::time::timeout`.

use std::time::Duration;

use switchyard_telemetry::genai::{CallSpan, operation};
use switchyard_telemetry::{
    OtlpProtocol, OtlpSettings, TelemetryGuard, TelemetrySettings, tracer_layer,
};
use tracing_subscriber::layer::SubscriberExt;

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
    // The listener drops here: nothing accepts on that port any more.
}

async fn record_against_closed_port(protocol: OtlpProtocol) {
    let settings = TelemetrySettings {
        otlp: Some(OtlpSettings {
            endpoint: Some(format!("http://127.0.0.1:{}", closed_port())),
            protocol,
            timeout_ms: 500,
            ..OtlpSettings::default()
        }),
        ..TelemetrySettings::default()
    };
    let (layer, provider) = tracer_layer(&settings).expect("layer builds");
    let guard = TelemetryGuard::new(provider);

    let recording = tokio::task::spawn_blocking(move || {
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            for i in 0..1_000u64 {
                let call = CallSpan::start(operation::CHAT, "gpt-4o");
                let attempt = call.attempt("openai", "d", "gpt-4o", 1);
                attempt.record_usage(i, i);
                drop(attempt);
                call.record_usage(i, i);
            }
        });
    });
    tokio::time::timeout(Duration::from_secs(10), recording)
        .await
        .expect("recording 1,000 spans does not wait on the collector")
        .expect("recording did not panic");

    // The last export fails if spans were left (shutdown then reports it); what matters is that
    // it returns.
    let _ = tokio::time::timeout(Duration::from_secs(30), guard.shutdown())
        .await
        .expect("shutdown returns despite the unreachable collector");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_grpc_collector_does_not_block() {
    record_against_closed_port(OtlpProtocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_http_collector_does_not_block() {
    record_against_closed_port(OtlpProtocol::HttpProtobuf).await;
}
