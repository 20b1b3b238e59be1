//! In-process OTLP trace receivers for the telemetry tests: the gRPC fake collector
//! (`fake-opentelemetry-collector`) and a tiny OTLP/HTTP (protobuf) one, both handing out spans as
//! [`ExportedSpan`]s, with the environment that points a gateway process at them.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::routing::post;
pub use fake_opentelemetry_collector::ExportedSpan;
use fake_opentelemetry_collector::FakeCollectorServer;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::sync::mpsc;

/// How often the gateway's batch processor exports (`OTEL_BSP_SCHEDULE_DELAY`, milliseconds):
/// short, so spans arrive soon after a call.
pub const BATCH_DELAY_MS: &str = "50";

/// A trace receiver the gateway exports to.
pub enum Collector {
    /// OTLP over gRPC.
    Grpc(FakeCollectorServer),
    /// OTLP protobuf over HTTP: `POST /v1/traces`.
    Http {
        /// `http://127.0.0.1:PORT`.
        endpoint: String,
        /// Spans as they arrive.
        spans: mpsc::UnboundedReceiver<ExportedSpan>,
    },
}

impl Collector {
    /// Starts a gRPC collector on a free loopback port.
    pub async fn grpc() -> Self {
        Self::Grpc(
            FakeCollectorServer::start()
                .await
                .expect("fake collector starts"),
        )
    }

    /// Starts an OTLP/HTTP receiver on a free loopback port.
    pub async fn http() -> Self {
        let (tx, spans) = mpsc::unbounded_channel();
        let app = axum::Router::new().route(
            "/v1/traces",
            post(move |body: Bytes| {
                let tx = tx.clone();
                async move {
                    let protobuf = [(header::CONTENT_TYPE, "application/x-protobuf")];
                    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                        return (StatusCode::BAD_REQUEST, protobuf, Vec::new());
                    };
                    let exported = request
                        .resource_spans
                        .into_iter()
                        .flat_map(|rs| rs.scope_spans)
                        .flat_map(|ss| ss.spans);
                    for span in exported {
                        let _ = tx.send(ExportedSpan::from(span));
                    }
                    let answer = ExportTraceServiceResponse::default().encode_to_vec();
                    (StatusCode::OK, protobuf, answer)
                }
            }),
        );
        let addr = crate::serve_on_loopback(app).await;
        Self::Http {
            endpoint: format!("http://{addr}"),
            spans,
        }
    }

    /// The environment that makes a gateway process export here, promptly.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let (endpoint, protocol) = match self {
            Self::Grpc(server) => (server.endpoint(), "grpc"),
            Self::Http { endpoint, .. } => (endpoint.clone(), "http/protobuf"),
        };
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", BATCH_DELAY_MS.to_owned()),
        ]
    }

    /// Collects spans until `done` holds for all received so far, or `within` runs out (then
    /// it panics, showing what did arrive).
    pub async fn spans_until(
        &mut self,
        within: Duration,
        done: impl Fn(&[ExportedSpan]) -> bool,
    ) -> Vec<ExportedSpan> {
        let deadline = tokio::time::Instant::now() + within;
        let mut spans = Vec::new();
        loop {
            if done(&spans) {
                return spans;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "spans did not arrive within {within:?}; got {:#?}",
                spans
                    .iter()
                    .map(|s: &ExportedSpan| (&s.name, &s.attributes))
                    .collect::<Vec<_>>()
            );
            let step = left.min(Duration::from_millis(200));
            match self {
                Self::Grpc(server) => spans.extend(server.exported_spans(1, step).await),
                Self::Http { spans: rx, .. } => {
                    if let Ok(Some(span)) = tokio::time::timeout(step, rx.recv()).await {
                        spans.push(span);
                        while let Ok(span) = rx.try_recv() {
                            spans.push(span);
                        }
                    }
                }
            }
        }
    }
}

/// The value of a span or event attribute as plain text (`gpt-4o`, `12`, `true`, `0.5`, or the
/// strings of an array joined by `,`), from the debug form the collector keeps.
pub fn value_of(debug: &str) -> String {
    let mut values = Vec::new();
    for kind in ["StringValue(", "IntValue(", "BoolValue(", "DoubleValue("] {
        let mut rest = debug;
        while let Some(at) = rest.find(kind) {
            let tail = &rest[at + kind.len()..];
            let end = tail.find(')').unwrap_or(tail.len());
            values.push(tail[..end].trim_matches('"').to_owned());
            rest = &tail[end..];
        }
    }
    values.join(",")
}

/// A span's attribute as plain text, `None` when absent.
pub fn attr(span: &ExportedSpan, key: &str) -> Option<String> {
    span.attributes.get(key).map(|v| value_of(v))
}
