//! Starting and stopping telemetry: the global subscriber ([`Telemetry::init`]), the
//! OpenTelemetry layer as a building block ([`tracer_layer`]) and the guard that flushes spans at
//! shutdown ([`TelemetryGuard`]).

use std::collections::HashMap;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::filter::{FilterExt, Filtered, Targets, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::error::TelemetryError;
use crate::log_writer::{BatchWriter, BatchWriterGuard};
use crate::logs::fmt_layer;
use crate::otlp_metrics;
use crate::settings::{OtlpProtocol, OtlpSettings, TelemetrySettings};

/// Instrumentation scope name of the gateway's spans.
pub const TRACER_NAME: &str = "switchyard";

/// The OpenTelemetry layer [`tracer_layer`] returns: spans at INFO and above, minus the crates
/// the exporter itself runs on (so exporting never traces itself).
pub type TracerLayer<S> = Filtered<OpenTelemetryLayer<S, SdkTracer>, Targets, S>;

/// Entry point: installs logging and tracing for the process.
#[derive(Debug)]
pub struct Telemetry;

impl Telemetry {
    /// Installs the global tracing subscriber and the W3C `traceparent` propagator:
    ///
    /// - logs: `RUST_LOG` (default `info`) filters a fmt layer on stderr, JSON with
    ///   `trace_id`/`span_id` or pretty, per [`TelemetrySettings::log_format`]; `log` records are
    ///   forwarded too;
    /// - traces: an OpenTelemetry layer ([`tracer_layer`]) with its own filter (INFO), so
    ///   `RUST_LOG=warn` quiets logs without losing spans. It is installed even without OTLP: spans
    ///   then get trace ids (logs carry them, upstream requests continue the caller's trace) but
    ///   nothing is exported, and [`CallSpan`](crate::genai::CallSpan)'s attributes are not
    ///   recorded ([`record_attributes`](crate::genai::record_attributes));
    /// - metrics: with OTLP (and [`OtlpSettings::metrics`]), a meter provider exporting the
    ///   gateway's metrics to the same collector, installed for every
    ///   [`GatewayMetrics`](crate::GatewayMetrics) built afterwards ([`otlp_metrics`]).
    ///
    /// Call it once, early, from within the Tokio runtime when OTLP uses gRPC. Keep the guard and
    /// call [`TelemetryGuard::shutdown`] before exiting, or buffered spans are lost.
    ///
    /// # Errors
    /// An invalid setting or `RUST_LOG`, an exporter that cannot be built, gRPC without a
    /// runtime, or a subscriber already installed.
    pub fn init(settings: &TelemetrySettings) -> Result<TelemetryGuard, TelemetryError> {
        settings.validate()?;
        let filter = EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .from_env()?;
        let (tracer, provider) = tracer_layer(settings)?;
        // Lines are appended to the calling thread's buffer and written in batches by a writer
        // thread on a timer: no system call or wake-up per line on a call's response path, and
        // a slow or blocked stderr never stalls a request (see `log_writer`).
        let (writer, log_guard) = BatchWriter::new(std::io::stderr());
        tracing_subscriber::registry()
            .with(tracer)
            // The log layer sees events only: spans are the OpenTelemetry layer's. Letting it see
            // spans would have it format every span's fields as JSON when the span opens and
            // again on every `record` (re-reading what it wrote), a cost on every call whether
            // or not anything is logged inside the span; log lines carry the span's
            // `trace_id`/`span_id` instead (`logs::JsonLines`).
            .with(
                fmt_layer(settings.log_format, writer)
                    .with_filter(filter.and(filter_fn(|meta| meta.is_event()))),
            )
            .try_init()
            .map_err(|_| TelemetryError::AlreadyInitialized)?;
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        // Without an exporter no one reads span attributes: calls skip recording them.
        crate::genai::record_attributes(settings.otlp.is_some());
        let mut guard = TelemetryGuard::new(provider);
        guard.log_writer = Some(log_guard);
        if let Some(otlp) = &settings.otlp {
            tracing::info!(
                endpoint = %otlp.traces_url(),
                protocol = ?otlp.protocol,
                sample_ratio = settings.sample_ratio,
                "exporting traces over OTLP"
            );
            if otlp.metrics {
                let meters = otlp_metrics::meter_provider(otlp, resource(settings))?;
                otlp_metrics::install(&meters);
                tracing::info!(endpoint = %otlp.metrics_url(), "exporting metrics over OTLP");
                guard.meter_provider = Some(meters);
            }
        }
        Ok(guard)
    }
}

/// Builds the OpenTelemetry layer and its tracer provider from `settings`, without installing
/// anything, so tests can use a local subscriber:
///
/// ```no_run
/// # async fn demo() -> Result<(), switchyard_telemetry::TelemetryError> {
/// use switchyard_telemetry::{TelemetryGuard, TelemetrySettings, tracer_layer};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let settings = TelemetrySettings::default();
/// let (layer, provider) = tracer_layer(&settings)?;
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || tracing::info_span!("work").in_scope(|| {}));
/// TelemetryGuard::new(provider).shutdown().await?;
/// # Ok(()) }
/// ```
///
/// With `settings.otlp`, spans go through a batch processor (a bounded queue, 2048 spans by
/// default or `OTEL_BSP_MAX_QUEUE_SIZE`, drained by its own thread: recording never waits on the
/// network; when the queue is full spans are dropped, and export failures are logged by the SDK)
/// to the OTLP exporter. Without it the provider has no processor. Sampling is parent-based with
/// a trace-id ratio for new traces; the resource carries `service.name`.
///
/// # Errors
/// An exporter that cannot be built (bad URL or header, `https` over gRPC, which would need a TLS
/// feature), or gRPC outside a Tokio runtime.
pub fn tracer_layer<S>(
    settings: &TelemetrySettings,
) -> Result<(TracerLayer<S>, SdkTracerProvider), TelemetryError>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let provider = tracer_provider(settings)?;
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(TRACER_NAME))
        .with_tracked_inactivity(false)
        .with_threads(false)
        // Entering a span does not make its context OpenTelemetry's current one: nothing in the
        // gateway reads that context (log lines find the current span through the subscriber,
        // `logs::JsonLines`; upstream requests carry the span they are for), and activating it
        // on every enter and exit cost about 5k instructions a call.
        .with_context_activation(false)
        .with_filter(otel_filter());
    Ok((layer, provider))
}

/// The tracer provider alone (see [`tracer_layer`]).
///
/// # Errors
/// As [`tracer_layer`].
pub fn tracer_provider(settings: &TelemetrySettings) -> Result<SdkTracerProvider, TelemetryError> {
    settings.validate()?;
    let resource = resource(settings);
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)));
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(sampler);
    if let Some(otlp) = &settings.otlp {
        builder = builder.with_batch_exporter(span_exporter(otlp)?);
    }
    Ok(builder.build())
}

/// The resource of exported spans and metrics: `service.name`.
fn resource(settings: &TelemetrySettings) -> Resource {
    Resource::builder()
        .with_service_name(settings.service_name.clone())
        .build()
}

/// The crates the exporter runs on: their spans and events must not feed the exporter back.
fn otel_filter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("opentelemetry", LevelFilter::OFF)
        .with_target("opentelemetry_sdk", LevelFilter::OFF)
        .with_target("opentelemetry_otlp", LevelFilter::OFF)
        .with_target("tonic", LevelFilter::OFF)
        .with_target("h2", LevelFilter::OFF)
        .with_target("hyper", LevelFilter::OFF)
        .with_target("reqwest", LevelFilter::OFF)
}

fn span_exporter(otlp: &OtlpSettings) -> Result<SpanExporter, TelemetryError> {
    let headers = header_map(otlp)?;
    let exporter = match otlp.protocol {
        OtlpProtocol::Grpc => {
            // tonic's lazy channel spawns its worker on the current runtime.
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(TelemetryError::NoRuntime);
            }
            SpanExporter::builder()
                .with_tonic()
                .with_endpoint(otlp.traces_url())
                .with_timeout(otlp.timeout())
                .with_metadata(MetadataMap::from_headers(headers))
                .build()?
        }
        OtlpProtocol::HttpProtobuf => SpanExporter::builder()
            .with_http()
            .with_endpoint(otlp.traces_url())
            .with_timeout(otlp.timeout())
            .with_headers(http_headers(otlp)?)
            .build()?,
    };
    Ok(exporter)
}

/// The configured headers (checked) for an OTLP/HTTP exporter, whose `with_headers`
/// percent-decodes values again: ours are decoded already, so their `%` is escaped to keep them
/// as they are.
pub(crate) fn http_headers(otlp: &OtlpSettings) -> Result<HashMap<String, String>, TelemetryError> {
    header_map(otlp)?;
    Ok(otlp
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.replace('%', "%25")))
        .collect())
}

/// Checks the configured headers; errors name the header, never its value.
pub(crate) fn header_map(otlp: &OtlpSettings) -> Result<HeaderMap, TelemetryError> {
    let mut map = HeaderMap::new();
    for (name, value) in &otlp.headers {
        let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            TelemetryError::invalid(
                "telemetry.otlp.headers",
                format!("`{name}` is not a valid header name"),
            )
        })?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            TelemetryError::invalid(
                "telemetry.otlp.headers",
                format!("the value of `{name}` is not a valid header value"),
            )
        })?;
        map.insert(header, value);
    }
    Ok(map)
}

/// Owns the tracer provider (and the meter provider, when metrics are exported); flush and
/// shut it down before the process exits, or buffered spans are lost.
#[derive(Debug)]
#[must_use = "dropping the guard without `shutdown` loses buffered spans"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    meter_provider: Option<SdkMeterProvider>,
    /// The log writer thread: dropping it writes the lines still buffered.
    log_writer: Option<BatchWriterGuard>,
}

impl TelemetryGuard {
    /// Wraps a provider built with [`tracer_layer`] or [`tracer_provider`].
    pub fn new(provider: SdkTracerProvider) -> Self {
        Self {
            provider,
            meter_provider: None,
            log_writer: None,
        }
    }

    /// The tracer provider.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Exports the spans buffered so far. The SDK call blocks, so it runs on the blocking pool.
    ///
    /// # Errors
    /// The export failed or timed out.
    pub async fn flush(&self) -> Result<(), TelemetryError> {
        let provider = self.provider.clone();
        tokio::task::spawn_blocking(move || provider.force_flush()).await??;
        Ok(())
    }

    /// Exports what is buffered and stops the exporter. The SDK call blocks (until the last
    /// export ends or times out), so it runs on the blocking pool.
    ///
    /// # Errors
    /// The last export failed (spans were lost; the process can exit anyway).
    pub async fn shutdown(self) -> Result<(), TelemetryError> {
        let Self {
            provider,
            meter_provider,
            log_writer,
        } = self;
        // The last metrics are exported as the meter provider shuts down; a failure there is
        // the SDK's to log, and never keeps the process from exiting.
        if let Some(meters) = meter_provider {
            let _ = tokio::task::spawn_blocking(move || meters.shutdown()).await;
        }
        let exported = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        // Writes the log lines still queued (blocking, but the gateway has stopped serving).
        drop(log_writer);
        exported??;
        Ok(())
    }
}
