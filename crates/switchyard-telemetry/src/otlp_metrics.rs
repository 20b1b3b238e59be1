//! OTLP export of the gateway's metrics beside Prometheus: the meter provider (a periodic reader
//! over the OTLP metric exporter, every `OTEL_METRIC_EXPORT_INTERVAL` milliseconds) and the
//! [`OtlpInstruments`] that [`GatewayMetrics`](crate::GatewayMetrics) records into besides its
//! registry, under the names `/metrics` shows (counters without the `_total` the OpenMetrics
//! encoder appends, as OpenTelemetry names them; Prometheus-compatible backends add it back).
//!
//! The instruments exist only once [`install`] has run, which [`Telemetry::init`]
//! (crate::Telemetry::init) does when OTLP export is on: without it, recording a call costs
//! nothing more than the Prometheus counts (no attribute is built for a no-op meter), and metrics
//! built in tests stay in their own registries.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _, ObservableGauge};
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::{MetricExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus_client::metrics::gauge::Gauge;

use crate::error::TelemetryError;
use crate::init::{TRACER_NAME, header_map, http_headers};
use crate::metrics::{DURATION_BUCKETS, Direction, OVERHEAD_BUCKETS, TTFT_BUCKETS};
use crate::settings::{OtlpProtocol, OtlpSettings};

/// The meter the gateway's metrics are exported through, once [`install`]ed.
static METER: OnceLock<Meter> = OnceLock::new();

/// Makes every [`GatewayMetrics`](crate::GatewayMetrics) built from now on record into
/// `provider`'s meter too. The first installed provider stays.
pub fn install(provider: &SdkMeterProvider) {
    let _ = METER.set(provider.meter(TRACER_NAME));
}

/// The meter provider exporting to `otlp`'s collector (`resource` names the service), read
/// every `OTEL_METRIC_EXPORT_INTERVAL` milliseconds (default 60 s) by the SDK's periodic
/// reader, on its own thread.
///
/// # Errors
/// An exporter that cannot be built (bad URL or header), or gRPC outside a Tokio runtime.
pub fn meter_provider(
    otlp: &OtlpSettings,
    resource: Resource,
) -> Result<SdkMeterProvider, TelemetryError> {
    let exporter = match otlp.protocol {
        OtlpProtocol::Grpc => {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(TelemetryError::NoRuntime);
            }
            MetricExporter::builder()
                .with_tonic()
                .with_endpoint(otlp.metrics_url())
                .with_timeout(otlp.timeout())
                .with_metadata(MetadataMap::from_headers(header_map(otlp)?))
                .build()?
        }
        OtlpProtocol::HttpProtobuf => MetricExporter::builder()
            .with_http()
            .with_endpoint(otlp.metrics_url())
            .with_timeout(otlp.timeout())
            .with_headers(http_headers(otlp)?)
            .build()?,
    };
    Ok(SdkMeterProvider::builder()
        .with_resource(resource)
        .with_periodic_exporter(exporter)
        .build())
}

/// The OpenTelemetry twins of the gateway's Prometheus metrics.
#[derive(Debug)]
pub(crate) struct OtlpInstruments {
    pub(crate) requests: Counter<u64>,
    pub(crate) request_duration: Histogram<f64>,
    pub(crate) ttft: Histogram<f64>,
    pub(crate) overhead: Histogram<f64>,
    pub(crate) tokens: Counter<u64>,
    pub(crate) cost_usd: Counter<f64>,
    pub(crate) cache_hits: Counter<u64>,
    pub(crate) fallbacks: Counter<u64>,
    pub(crate) cooldowns: Counter<u64>,
    pub(crate) rate_limited: Counter<u64>,
    pub(crate) redis_failures: Counter<u64>,
    pub(crate) spend_records_shed: Counter<u64>,
    pub(crate) budget_counter_failures: Counter<u64>,
    /// Read from the Prometheus gauge at each export; held so its callback stays registered.
    _in_flight: ObservableGauge<i64>,
}

impl OtlpInstruments {
    /// The instruments on the [`install`]ed meter, `None` when OTLP export is off.
    /// `in_flight` is the Prometheus gauge of calls in flight, read at each export.
    pub(crate) fn installed(in_flight: &Gauge) -> Option<Self> {
        let meter = METER.get()?;
        let counter = |name: &'static str, help: &'static str| {
            meter.u64_counter(name).with_description(help).build()
        };
        let seconds = |name: &'static str, help: &'static str, buckets: &[f64]| {
            meter
                .f64_histogram(name)
                .with_description(help)
                .with_unit("s")
                .with_boundaries(buckets.to_vec())
                .build()
        };
        let in_flight = in_flight.clone();
        Some(Self {
            requests: counter("switchyard_requests", "Gateway calls answered"),
            request_duration: seconds(
                "switchyard_request_duration_seconds",
                "Duration of gateway calls",
                &DURATION_BUCKETS,
            ),
            ttft: seconds(
                "switchyard_time_to_first_token_seconds",
                "Time from the call to the first streamed token",
                &TTFT_BUCKETS,
            ),
            overhead: seconds(
                "switchyard_gateway_overhead_seconds",
                "Time of a call not spent waiting on its upstream",
                &OVERHEAD_BUCKETS,
            ),
            tokens: counter("switchyard_tokens", "Tokens processed, by direction"),
            cost_usd: meter
                .f64_counter("switchyard_cost_usd")
                .with_description("Cost of calls in US dollars")
                .build(),
            cache_hits: counter(
                "switchyard_cache_hits",
                "Calls answered from the response cache",
            ),
            fallbacks: counter("switchyard_fallbacks", "Fallbacks between model groups"),
            cooldowns: counter("switchyard_cooldowns", "Deployments put in cooldown"),
            rate_limited: counter("switchyard_rate_limited", "Calls refused by a rate limit"),
            redis_failures: counter("switchyard_redis_failures", "Redis operations that failed"),
            spend_records_shed: counter(
                "switchyard_spend_records_shed",
                "Spend records dropped under back-pressure",
            ),
            budget_counter_failures: counter(
                "switchyard_budget_counter_failures",
                "Budget counter operations that failed",
            ),
            _in_flight: meter
                .i64_observable_gauge("switchyard_in_flight_requests")
                .with_description("Gateway calls in progress")
                .with_callback(move |observer| observer.observe(in_flight.get(), &[]))
                .build(),
        })
    }

    /// One answered call, as [`GatewayMetrics::record_request`](crate::GatewayMetrics::record_request).
    pub(crate) fn record_request(
        &self,
        model: &str,
        deployment: &str,
        status: u16,
        duration: Duration,
    ) {
        self.requests.add(
            1,
            &[
                label("model", model),
                label("deployment", deployment),
                KeyValue::new("status", i64::from(status)),
            ],
        );
        self.request_duration
            .record(duration.as_secs_f64(), &[label("model", model)]);
    }

    /// Tokens of one direction.
    pub(crate) fn record_tokens(&self, model: &str, direction: Direction, tokens: u64) {
        self.tokens.add(
            tokens,
            &[
                label("model", model),
                KeyValue::new("direction", direction.as_str()),
            ],
        );
    }
}

/// A label of a configured name. Only built when OTLP export is on.
pub(crate) fn label(key: &'static str, value: &str) -> KeyValue {
    KeyValue::new(key, value.to_owned())
}
