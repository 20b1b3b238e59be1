//! Switchyard's telemetry: traces after the OpenTelemetry GenAI semantic conventions exported over
//! OTLP, W3C trace context in and out, Prometheus metrics from an owned registry, and JSON or
//! pretty logs. Depends on no other Switchyard crate; the server wires it in.
//!
//! - [`settings`]: [`TelemetrySettings`], the config section plus `OTEL_*` variables.
//! - [`init`](mod@init): [`Telemetry::init`] (global subscriber), [`tracer_layer`] (building
//!   block for local subscribers), [`TelemetryGuard`] (flush and shutdown).
//! - [`genai`]: [`CallSpan`] for a gateway call and its upstream attempts.
//! - [`propagation`]: `traceparent` extraction and injection.
//! - [`metrics`]: [`GatewayMetrics`], rendered as OpenMetrics text.
//! - [`otlp_metrics`]: the same metrics exported over OTLP, when OTLP export is on.
//! - [`logs`]: the JSON event format that adds `trace_id`/`span_id`.
//! - [`log_writer`]: the batched log sink (per-thread buffers written out on a timer).
//!
//! Nothing here blocks a request: spans go to a bounded queue drained by the exporter's thread,
//! and export failures are logged, never returned.

pub mod error;
pub mod genai;
pub mod in_span;
pub mod init;
pub mod log_writer;
pub mod logs;
pub mod metrics;
pub mod otlp_metrics;
pub mod propagation;
pub mod settings;

pub use error::TelemetryError;
pub use genai::{CallSpan, UsageDetails, attempt_span, record_content_event};
pub use in_span::{InSpan, InSpanExt};
pub use init::{Telemetry, TelemetryGuard, TracerLayer, tracer_layer, tracer_provider};
pub use logs::JsonLines;
pub use metrics::{GatewayMetrics, InFlightGuard};
pub use propagation::{current_trace_id, extract_parent, inject_current, set_parent_from};
pub use settings::{LogFormat, OtlpProtocol, OtlpSettings, TelemetrySettings};
