//! `TelemetryError`: what can go wrong while configuring, starting or stopping telemetry. Nothing
//! on the request path returns it: export failures are logged by the SDK, never propagated.

/// A telemetry setup or shutdown failure.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A setting or `OTEL_*` variable has a value we cannot use. `reason` never holds a header
    /// value.
    #[error("invalid telemetry setting {name}: {reason}")]
    InvalidSetting {
        /// The setting path or environment variable.
        name: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// `RUST_LOG` holds a directive that does not parse.
    #[error("invalid RUST_LOG: {0}")]
    LogFilter(#[from] tracing_subscriber::filter::FromEnvError),
    /// OTLP over gRPC needs a Tokio runtime at start (the channel's worker is spawned on it).
    #[error("OTLP over gRPC must be started from within a Tokio runtime")]
    NoRuntime,
    /// The OTLP exporter could not be built (bad endpoint, TLS needed but not compiled in, ...).
    #[error("building the OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A global tracing subscriber (or `log` logger) was already installed.
    #[error("a global tracing subscriber or logger is already installed")]
    AlreadyInitialized,
    /// Flushing or shutting the tracer provider down failed (spans may have been lost).
    #[error("shutting the tracer provider down: {0}")]
    Shutdown(#[from] opentelemetry_sdk::error::OTelSdkError),
    /// The blocking shutdown task panicked or was cancelled.
    #[error("the telemetry shutdown task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl TelemetryError {
    pub(crate) fn invalid(name: &'static str, reason: String) -> Self {
        Self::InvalidSetting { name, reason }
    }
}
