//! In-process OTLP receivers for the telemetry tests, over gRPC (tonic services of
//! `opentelemetry-proto`) or HTTP/protobuf (`POST /v1/traces`, `POST /v1/metrics`): they decode
//! what a gateway process exports and keep it typed, so tests assert an attribute's protobuf
//! `AnyValue` variant (`IntValue`, `DoubleValue`, `BoolValue`, ...), never its text.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
pub use opentelemetry_proto::tonic::common::v1::any_value::Value as AttrValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
pub use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatus;
use prost::Message;
use tokio::sync::mpsc;

/// How often the gateway's batch processor exports (`OTEL_BSP_SCHEDULE_DELAY`, milliseconds):
/// short, so spans arrive soon after a call.
pub const BATCH_DELAY_MS: &str = "50";

const PROTOBUF: &str = "application/x-protobuf";

/// One exported span, decoded: ids in hex, kind and status by their protobuf names
/// (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`), attributes with their typed values.
#[derive(Debug, Clone)]
pub struct ExportedSpan {
    /// Trace id, 32 hex digits.
    pub trace_id: String,
    /// Span id, 16 hex digits.
    pub span_id: String,
    /// Parent span id, empty for a root.
    pub parent_span_id: String,
    /// The span's name.
    pub name: String,
    /// `SPAN_KIND_SERVER`, `SPAN_KIND_CLIENT`, ...
    pub kind: String,
    /// End time, Unix nanoseconds.
    pub end_time_unix_nano: u64,
    /// Attributes by key.
    pub attributes: BTreeMap<String, AttrValue>,
    /// Events, in order.
    pub events: Vec<ExportedEvent>,
    /// `STATUS_CODE_OK`, `STATUS_CODE_ERROR` or `STATUS_CODE_UNSET`, when a status was sent.
    pub status: Option<String>,
}

/// One span event, decoded.
#[derive(Debug, Clone)]
pub struct ExportedEvent {
    /// The event's name.
    pub name: String,
    /// Attributes by key.
    pub attributes: BTreeMap<String, AttrValue>,
}

impl From<opentelemetry_proto::tonic::trace::v1::Span> for ExportedSpan {
    fn from(span: opentelemetry_proto::tonic::trace::v1::Span) -> Self {
        Self {
            trace_id: hex(&span.trace_id),
            span_id: hex(&span.span_id),
            parent_span_id: hex(&span.parent_span_id),
            name: span.name,
            kind: SpanKind::try_from(span.kind)
                .map_or("unknown", |k| k.as_str_name())
                .to_owned(),
            end_time_unix_nano: span.end_time_unix_nano,
            attributes: attributes(span.attributes),
            events: span
                .events
                .into_iter()
                .map(|event| ExportedEvent {
                    name: event.name,
                    attributes: attributes(event.attributes),
                })
                .collect(),
            status: span.status.map(|status| {
                OtlpStatus::try_from(status.code)
                    .map_or("unknown", |c| c.as_str_name())
                    .to_owned()
            }),
        }
    }
}

fn attributes(list: Vec<KeyValue>) -> BTreeMap<String, AttrValue> {
    list.into_iter()
        .filter_map(|kv| Some((kv.key, kv.value?.value?)))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OTLP `string` value.
pub fn string(text: &str) -> AttrValue {
    AttrValue::StringValue(text.to_owned())
}

/// An OTLP array of strings (`gen_ai.response.finish_reasons`).
pub fn strings(texts: &[&str]) -> AttrValue {
    AttrValue::ArrayValue(ArrayValue {
        values: texts
            .iter()
            .map(|t| AnyValue {
                value: Some(string(t)),
            })
            .collect(),
    })
}

/// A span's attribute, `None` when absent.
pub fn attr<'a>(span: &'a ExportedSpan, key: &str) -> Option<&'a AttrValue> {
    span.attributes.get(key)
}

/// A span's string attribute, `None` when absent or of another type.
pub fn str_attr<'a>(span: &'a ExportedSpan, key: &str) -> Option<&'a str> {
    match span.attributes.get(key)? {
        AttrValue::StringValue(text) => Some(text),
        _ => None,
    }
}

/// A span's int attribute, `None` when absent or of another type.
pub fn int_attr(span: &ExportedSpan, key: &str) -> Option<i64> {
    match span.attributes.get(key)? {
        AttrValue::IntValue(n) => Some(*n),
        _ => None,
    }
}

/// What a receiver hands the test: spans and metrics as they arrive.
type Sinks = (
    mpsc::UnboundedSender<ExportedSpan>,
    mpsc::UnboundedSender<Metric>,
);

/// A receiver the gateway exports to.
pub struct Collector {
    endpoint: String,
    protocol: &'static str,
    spans: mpsc::UnboundedReceiver<ExportedSpan>,
    metrics: mpsc::UnboundedReceiver<Metric>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Collector {
    /// Starts an OTLP/gRPC receiver (traces and metrics) on a free loopback port.
    pub async fn grpc() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let ((span_tx, metric_tx), spans, metrics) = channels();
        let server = tokio::spawn(async move {
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Receiver(span_tx)))
                .add_service(MetricsServiceServer::new(Receiver(metric_tx)))
                .serve_with_incoming(incoming)
                .await;
        });
        Self::new(addr, "grpc", spans, metrics, server)
    }

    /// Starts an OTLP/HTTP (protobuf) receiver on a free loopback port: `POST /v1/traces` and
    /// `POST /v1/metrics`.
    pub async fn http() -> Self {
        let ((span_tx, metric_tx), spans, metrics) = channels();
        let app = axum::Router::new()
            .route(
                "/v1/traces",
                post(move |body: Bytes| {
                    let tx = span_tx.clone();
                    async move {
                        let protobuf = [(header::CONTENT_TYPE, PROTOBUF)];
                        let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                            return (StatusCode::BAD_REQUEST, protobuf, Vec::new());
                        };
                        send_spans(&tx, request);
                        let answer = ExportTraceServiceResponse::default().encode_to_vec();
                        (StatusCode::OK, protobuf, answer)
                    }
                }),
            )
            .route(
                "/v1/metrics",
                post(move |body: Bytes| {
                    let tx = metric_tx.clone();
                    async move {
                        let protobuf = [(header::CONTENT_TYPE, PROTOBUF)];
                        let Ok(request) = ExportMetricsServiceRequest::decode(body) else {
                            return (StatusCode::BAD_REQUEST, protobuf, Vec::new());
                        };
                        send_metrics(&tx, request);
                        let answer = ExportMetricsServiceResponse::default().encode_to_vec();
                        (StatusCode::OK, protobuf, answer)
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self::new(addr, "http/protobuf", spans, metrics, server)
    }

    fn new(
        addr: SocketAddr,
        protocol: &'static str,
        spans: mpsc::UnboundedReceiver<ExportedSpan>,
        metrics: mpsc::UnboundedReceiver<Metric>,
        server: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            endpoint: format!("http://{addr}"),
            protocol,
            spans,
            metrics,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The environment that makes a gateway process export here, promptly.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", self.protocol.to_owned()),
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
        let spans = collect_until(&mut self.spans, within, done).await;
        spans.unwrap_or_else(|spans| {
            let seen: Vec<_> = spans.iter().map(|s| (&s.name, &s.attributes)).collect();
            panic!("spans did not arrive within {within:?}; got {seen:#?}")
        })
    }

    /// Collects exported metrics (each export's points of one metric) until `done` holds for
    /// all received so far, or `within` runs out (then it panics, naming what did arrive).
    pub async fn metrics_until(
        &mut self,
        within: Duration,
        done: impl Fn(&[Metric]) -> bool,
    ) -> Vec<Metric> {
        let metrics = collect_until(&mut self.metrics, within, done).await;
        metrics.unwrap_or_else(|metrics| {
            let names: Vec<_> = metrics.iter().map(|m| &m.name).collect();
            panic!("metrics did not arrive within {within:?}; got {names:?}")
        })
    }
}

fn channels() -> (
    Sinks,
    mpsc::UnboundedReceiver<ExportedSpan>,
    mpsc::UnboundedReceiver<Metric>,
) {
    let (span_tx, spans) = mpsc::unbounded_channel();
    let (metric_tx, metrics) = mpsc::unbounded_channel();
    ((span_tx, metric_tx), spans, metrics)
}

/// Receives into `items` until `done` accepts them (`Ok`) or `within` runs out (`Err` with
/// what came).
async fn collect_until<T>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    within: Duration,
    done: impl Fn(&[T]) -> bool,
) -> Result<Vec<T>, Vec<T>> {
    let deadline = tokio::time::Instant::now() + within;
    let mut items = Vec::new();
    loop {
        if done(&items) {
            return Ok(items);
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(item)) => {
                items.push(item);
                while let Ok(item) = rx.try_recv() {
                    items.push(item);
                }
            }
            Ok(None) | Err(_) => return Err(items),
        }
    }
}

fn send_spans(tx: &mpsc::UnboundedSender<ExportedSpan>, request: ExportTraceServiceRequest) {
    let spans = request
        .resource_spans
        .into_iter()
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans);
    for span in spans {
        let _ = tx.send(ExportedSpan::from(span));
    }
}

fn send_metrics(tx: &mpsc::UnboundedSender<Metric>, request: ExportMetricsServiceRequest) {
    let metrics = request
        .resource_metrics
        .into_iter()
        .flat_map(|rm| rm.scope_metrics)
        .flat_map(|sm| sm.metrics);
    for metric in metrics {
        let _ = tx.send(metric);
    }
}

/// The gRPC services: hand on what arrives.
struct Receiver<T>(mpsc::UnboundedSender<T>);

#[tonic::async_trait]
impl TraceService for Receiver<ExportedSpan> {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        send_spans(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver<Metric> {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        send_metrics(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}
