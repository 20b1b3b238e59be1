//! GenAI spans exported over OTLP/HTTP (protobuf) to a tiny in-process receiver that decodes
//! `ExportTraceServiceRequest`: names, parent/child relation, attributes, resource and headers.

use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use http::HeaderMap;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use switchyard_telemetry::genai::{CallSpan, operation};
use switchyard_telemetry::{
    OtlpProtocol, OtlpSettings, TelemetryGuard, TelemetrySettings, tracer_layer,
};
use tokio::sync::mpsc;
use tracing_subscriber::layer::SubscriberExt;

struct Received {
    headers: HeaderMap,
    request: ExportTraceServiceRequest,
}

/// Serves `POST /v1/traces` on 127.0.0.1:0; returns its base URL and what it receives.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let request =
                    ExportTraceServiceRequest::decode(body).expect("a valid OTLP protobuf body");
                let _ = tx.send(Received { headers, request });
                (
                    [(http::header::CONTENT_TYPE, "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), rx)
}

fn string_attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            Value::IntValue(i) => Some(i.to_string()),
            Value::DoubleValue(d) => Some(d.to_string()),
            Value::BoolValue(b) => Some(b.to_string()),
            Value::ArrayValue(a) => Some(format!("{a:?}")),
            other => Some(format!("{other:?}")),
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_and_attempt_spans_reach_an_http_receiver() {
    let (base, mut received) = receiver().await;
    let settings = TelemetrySettings {
        service_name: "switchyard-http-test".into(),
        otlp: Some(OtlpSettings {
            endpoint: Some(base),
            protocol: OtlpProtocol::HttpProtobuf,
            // A decoded value with a literal `%`: it must reach the collector unchanged.
            headers: [("x-collector-key".to_owned(), "s3cr%20t".to_owned())].into(),
            timeout_ms: 5_000,
            ..OtlpSettings::default()
        }),
        ..TelemetrySettings::default()
    };
    let (layer, provider) = tracer_layer(&settings).expect("layer builds");
    let guard = TelemetryGuard::new(provider);
    {
        let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        let call = CallSpan::start(operation::EMBEDDINGS, "text-embedding-3-small");
        call.in_scope(|| {
            let attempt = call.attempt("openai", "emb-1", "text-embedding-3-small", 1);
            attempt.record_usage(7, 0);
            attempt.record_response("text-embedding-3-small", "", &[]);
            drop(attempt);
            call.record_usage(7, 0);
        });
    }
    tokio::time::timeout(Duration::from_secs(20), guard.shutdown())
        .await
        .expect("shutdown returns")
        .expect("spans exported");

    let mut spans: Vec<Span> = Vec::new();
    let mut headers = None;
    let mut resource_service = None;
    while spans.len() < 2 {
        let got = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("an export arrives")
            .expect("receiver alive");
        headers = Some(got.headers);
        for rs in got.request.resource_spans {
            if let Some(resource) = &rs.resource {
                resource_service = string_attr(&resource.attributes, "service.name");
            }
            spans.extend(rs.scope_spans.into_iter().flat_map(|ss| ss.spans));
        }
    }
    let headers = headers.expect("headers");
    assert_eq!(
        headers.get("x-collector-key").and_then(|v| v.to_str().ok()),
        Some("s3cr%20t")
    );
    assert_eq!(resource_service.as_deref(), Some("switchyard-http-test"));

    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name}"))
    };
    // Call and attempt share the model here, so tell them apart by kind.
    let call = spans.iter().find(|s| s.kind == 2).expect("a SERVER span");
    let attempt = spans.iter().find(|s| s.kind == 3).expect("a CLIENT span");
    assert_eq!(
        find("embeddings text-embedding-3-small").trace_id,
        call.trace_id
    );
    assert_eq!(call.name, "embeddings text-embedding-3-small");
    assert_eq!(attempt.name, "embeddings text-embedding-3-small");
    assert_eq!(attempt.trace_id, call.trace_id);
    assert_eq!(attempt.parent_span_id, call.span_id);
    assert!(
        call.parent_span_id.is_empty(),
        "no caller context: the call is a root"
    );

    assert_eq!(
        string_attr(&call.attributes, "gen_ai.operation.name").as_deref(),
        Some("embeddings")
    );
    assert_eq!(
        string_attr(&call.attributes, "gen_ai.usage.input_tokens").as_deref(),
        Some("7")
    );
    assert_eq!(
        string_attr(&attempt.attributes, "gen_ai.provider.name").as_deref(),
        Some("openai")
    );
    assert_eq!(
        string_attr(&attempt.attributes, "switchyard.deployment").as_deref(),
        Some("emb-1")
    );
    assert_eq!(
        string_attr(&attempt.attributes, "switchyard.attempt").as_deref(),
        Some("1")
    );
    assert_eq!(
        string_attr(&attempt.attributes, "gen_ai.response.finish_reasons"),
        None
    );
    assert_eq!(string_attr(&attempt.attributes, "gen_ai.response.id"), None);
}
