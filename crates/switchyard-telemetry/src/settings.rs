//! Telemetry configuration: the `telemetry` section of the config file, completed by the standard
//! `OTEL_*` environment variables, which win over the file when they are set.

use std::collections::BTreeMap;
use std::fmt;
use std::io::IsTerminal;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::TelemetryError;

/// Service name used when neither the configuration nor `OTEL_SERVICE_NAME` names one.
pub const DEFAULT_SERVICE_NAME: &str = "switchyard";
/// Default OTLP export timeout, as the OpenTelemetry specification sets it.
pub const DEFAULT_OTLP_TIMEOUT_MS: u64 = 10_000;
/// Default collector address for OTLP over gRPC.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Default collector address for OTLP over HTTP (the `/v1/traces` path is appended).
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";

/// What to trace, where to export it and how to log.
///
/// Every field has a default, so an empty (or missing) section is valid. Unknown keys are accepted
/// (the server warns about them by path). Apply the environment with
/// [`TelemetrySettings::from_env_over`] once, at start.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(default)]
pub struct TelemetrySettings {
    /// `service.name` of the exported spans. Default: `OTEL_SERVICE_NAME`, else `switchyard`.
    pub service_name: String,
    /// OTLP trace export. Absent: no spans are exported (logs and metrics still work).
    pub otlp: Option<OtlpSettings>,
    /// Fraction of new traces that are sampled, 0.0 to 1.0. A trace continued from a caller's
    /// `traceparent` follows the caller's decision (parent-based sampling). Default 1.0.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub sample_ratio: f64,
    /// Log line format. Default: `pretty` when the log output (stderr) is a terminal, else `json`.
    pub log_format: LogFormat,
    /// Record prompts and completions as span events. They may hold personal data: off by default.
    pub record_content: bool,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            service_name: std::env::var("OTEL_SERVICE_NAME")
                .ok()
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned()),
            otlp: None,
            sample_ratio: 1.0,
            log_format: LogFormat::detect(),
            record_content: false,
        }
    }
}

/// Where and how spans are exported over OTLP.
#[derive(Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(default)]
pub struct OtlpSettings {
    /// Base collector URL (`OTEL_EXPORTER_OTLP_ENDPOINT`). For `http/protobuf`, `/v1/traces` is
    /// appended. Default: `http://localhost:4317` (gRPC) or `http://localhost:4318` (HTTP).
    pub endpoint: Option<String>,
    /// Full URL for traces (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), used as is; wins over
    /// `endpoint`.
    pub traces_endpoint: Option<String>,
    /// Transport. Default `grpc`.
    pub protocol: OtlpProtocol,
    /// Extra request headers (for example a collector's API key). Never logged.
    pub headers: BTreeMap<String, String>,
    /// Timeout of one export request, in milliseconds. Default 10000.
    pub timeout_ms: u64,
    /// Export the gateway's metrics too, under the names `/metrics` shows, every
    /// `OTEL_METRIC_EXPORT_INTERVAL` milliseconds (default 60000). Default `true`;
    /// `OTEL_METRICS_EXPORTER=none` turns it off (for a collector that takes traces only).
    pub metrics: bool,
}

impl Default for OtlpSettings {
    fn default() -> Self {
        Self {
            endpoint: None,
            traces_endpoint: None,
            protocol: OtlpProtocol::Grpc,
            headers: BTreeMap::new(),
            timeout_ms: DEFAULT_OTLP_TIMEOUT_MS,
            metrics: true,
        }
    }
}

impl OtlpSettings {
    /// The URL spans are sent to: `traces_endpoint` as is, else `endpoint` (with `/v1/traces`
    /// appended for HTTP), else the protocol's default.
    pub fn traces_url(&self) -> String {
        if let Some(url) = self.traces_endpoint.as_deref().filter(|u| !u.is_empty()) {
            return url.to_owned();
        }
        let base = self.endpoint.as_deref().filter(|u| !u.is_empty());
        match self.protocol {
            OtlpProtocol::Grpc => base.unwrap_or(DEFAULT_GRPC_ENDPOINT).to_owned(),
            OtlpProtocol::HttpProtobuf => {
                let base = base.unwrap_or(DEFAULT_HTTP_ENDPOINT);
                format!("{}/v1/traces", base.trim_end_matches('/'))
            }
        }
    }

    /// The URL metrics are sent to: `endpoint` (with `/v1/metrics` appended for HTTP), else the
    /// address of `traces_endpoint` (a gRPC address as is; over HTTP its `/v1/traces` replaced),
    /// else the protocol's default.
    pub fn metrics_url(&self) -> String {
        let base = self.endpoint.as_deref().filter(|u| !u.is_empty());
        let traces = self.traces_endpoint.as_deref().filter(|u| !u.is_empty());
        match self.protocol {
            OtlpProtocol::Grpc => base.or(traces).unwrap_or(DEFAULT_GRPC_ENDPOINT).to_owned(),
            OtlpProtocol::HttpProtobuf => {
                let base = base
                    .or_else(|| traces.map(|url| url.trim_end_matches("/v1/traces")))
                    .unwrap_or(DEFAULT_HTTP_ENDPOINT);
                format!("{}/v1/metrics", base.trim_end_matches('/'))
            }
        }
    }

    /// The export timeout as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

// Header values are credentials (collector API keys): print the names only.
impl fmt::Debug for OtlpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.keys().map(|k| (k, "<redacted>")))
                    .finish()
            }
        }
        f.debug_struct("OtlpSettings")
            .field("endpoint", &self.endpoint)
            .field("traces_endpoint", &self.traces_endpoint)
            .field("protocol", &self.protocol)
            .field("headers", &Redacted(&self.headers))
            .field("timeout_ms", &self.timeout_ms)
            .field("metrics", &self.metrics)
            .finish()
    }
}

/// OTLP transport, named as `OTEL_EXPORTER_OTLP_PROTOCOL` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
pub enum OtlpProtocol {
    /// OTLP over gRPC (`grpc`), usually port 4317.
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP protobuf over HTTP (`http/protobuf`), usually port 4318.
    #[serde(rename = "http/protobuf", alias = "http_protobuf")]
    HttpProtobuf,
}

impl OtlpProtocol {
    /// Parses the value of `OTEL_EXPORTER_OTLP_PROTOCOL`; `http/json` is not supported.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            "grpc" => Some(Self::Grpc),
            "http/protobuf" => Some(Self::HttpProtobuf),
            _ => None,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, with `trace_id`/`span_id` when inside a traced span.
    Json,
    /// Human-readable lines, colored on a terminal.
    Pretty,
}

impl LogFormat {
    /// `Pretty` when stderr, where logs are written, is a terminal; else `Json`.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            Self::Pretty
        } else {
            Self::Json
        }
    }
}

impl TelemetrySettings {
    /// Applies the standard OpenTelemetry environment variables over these settings, reading them
    /// through `env` (pass `|k| std::env::var(k).ok()` in the binary, a map in tests). Empty
    /// values count as unset, as the specification says.
    ///
    /// Read: `OTEL_SDK_DISABLED` (`true` drops the export), `OTEL_SERVICE_NAME`,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` (`grpc` or `http/protobuf`),
    /// `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS` (`k=v,k2=v2`, values percent-decoded, merged over the
    /// file's), `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` (milliseconds), `OTEL_TRACES_SAMPLER`
    /// (`always_on`, `always_off`, `traceidratio` and their `parentbased_` forms: sampling is
    /// always parent-based here), `OTEL_TRACES_SAMPLER_ARG` (the ratio) and
    /// `OTEL_METRICS_EXPORTER` (`otlp`, or `none` to export traces only). Setting any OTLP
    /// variable turns the export on.
    ///
    /// # Errors
    /// [`TelemetryError::InvalidSetting`] naming the variable when a value does not parse. The
    /// message never contains a header value.
    pub fn from_env_over(
        mut self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TelemetryError> {
        let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());

        if let Some(name) = get("OTEL_SERVICE_NAME") {
            self.service_name = name.trim().to_owned();
        }

        let endpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT");
        let traces_endpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let protocol = match get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .map(|v| ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", v))
            .or_else(|| {
                get("OTEL_EXPORTER_OTLP_PROTOCOL").map(|v| ("OTEL_EXPORTER_OTLP_PROTOCOL", v))
            }) {
            Some((name, value)) => Some(OtlpProtocol::parse(&value).ok_or_else(|| {
                TelemetryError::invalid(
                    name,
                    format!("`{}` is not `grpc` or `http/protobuf`", value.trim()),
                )
            })?),
            None => None,
        };
        let headers = match get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
            .map(|v| ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", v))
            .or_else(|| {
                get("OTEL_EXPORTER_OTLP_HEADERS").map(|v| ("OTEL_EXPORTER_OTLP_HEADERS", v))
            }) {
            Some((name, value)) => Some(
                parse_headers(&value).map_err(|reason| TelemetryError::invalid(name, reason))?,
            ),
            None => None,
        };
        let timeout_ms = match get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .map(|v| ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", v))
            .or_else(|| {
                get("OTEL_EXPORTER_OTLP_TIMEOUT").map(|v| ("OTEL_EXPORTER_OTLP_TIMEOUT", v))
            }) {
            Some((name, value)) => Some(value.trim().parse::<u64>().map_err(|_| {
                TelemetryError::invalid(
                    name,
                    format!("`{}` is not a number of milliseconds", value.trim()),
                )
            })?),
            None => None,
        };

        let metrics = match get("OTEL_METRICS_EXPORTER").map(|v| v.trim().to_ascii_lowercase()) {
            None => None,
            Some(value) if value == "otlp" => Some(true),
            Some(value) if value == "none" => Some(false),
            Some(other) => {
                return Err(TelemetryError::invalid(
                    "OTEL_METRICS_EXPORTER",
                    format!("`{other}` is not supported (use otlp or none)"),
                ));
            }
        };

        let any_otlp = endpoint.is_some()
            || traces_endpoint.is_some()
            || protocol.is_some()
            || headers.is_some()
            || timeout_ms.is_some();
        if any_otlp {
            let otlp = self.otlp.get_or_insert_with(OtlpSettings::default);
            if let Some(endpoint) = endpoint {
                otlp.endpoint = Some(endpoint.trim().to_owned());
                // A base endpoint from the environment replaces the file's address entirely.
                otlp.traces_endpoint = None;
            }
            if let Some(url) = traces_endpoint {
                otlp.traces_endpoint = Some(url.trim().to_owned());
            }
            if let Some(protocol) = protocol {
                otlp.protocol = protocol;
            }
            if let Some(headers) = headers {
                otlp.headers.extend(headers);
            }
            if let Some(timeout_ms) = timeout_ms {
                otlp.timeout_ms = timeout_ms;
            }
        }
        if let (Some(otlp), Some(metrics)) = (self.otlp.as_mut(), metrics) {
            otlp.metrics = metrics;
        }

        let sampler = get("OTEL_TRACES_SAMPLER").map(|s| s.trim().to_ascii_lowercase());
        match sampler.as_deref() {
            Some("always_on" | "parentbased_always_on") => self.sample_ratio = 1.0,
            Some("always_off" | "parentbased_always_off") => self.sample_ratio = 0.0,
            None | Some("traceidratio" | "parentbased_traceidratio") => {
                if let Some(arg) = get("OTEL_TRACES_SAMPLER_ARG") {
                    self.sample_ratio = parse_ratio(&arg).map_err(|reason| {
                        TelemetryError::invalid("OTEL_TRACES_SAMPLER_ARG", reason)
                    })?;
                }
            }
            Some(other) => {
                return Err(TelemetryError::invalid(
                    "OTEL_TRACES_SAMPLER",
                    format!(
                        "`{other}` is not supported (use always_on, always_off or traceidratio)"
                    ),
                ));
            }
        }

        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            self.otlp = None;
        }
        Ok(self)
    }

    /// Checks the values the environment cannot have checked (they may come from the file).
    ///
    /// # Errors
    /// [`TelemetryError::InvalidSetting`] for a sample ratio outside 0..=1 or a zero timeout.
    pub fn validate(&self) -> Result<(), TelemetryError> {
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(TelemetryError::invalid(
                "telemetry.sample_ratio",
                format!("{} is not between 0 and 1", self.sample_ratio),
            ));
        }
        if let Some(otlp) = &self.otlp
            && otlp.timeout_ms == 0
        {
            return Err(TelemetryError::invalid(
                "telemetry.otlp.timeout_ms",
                "must be above 0".to_owned(),
            ));
        }
        Ok(())
    }
}

fn parse_ratio(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!(
            "`{}` is not a number between 0 and 1",
            value.trim()
        )),
    }
}

/// Parses `k=v,k2=v2` (W3C baggage-like, as `OTEL_EXPORTER_OTLP_HEADERS` is written): keys and
/// values are trimmed, values percent-decoded. Errors name the entry by position or key, never
/// by value.
fn parse_headers(input: &str) -> Result<BTreeMap<String, String>, String> {
    let mut headers = BTreeMap::new();
    for (index, entry) in input.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((key, value)) = entry.split_once('=') else {
            return Err(format!("entry {} has no `=`", index + 1));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("entry {} has an empty name", index + 1));
        }
        let value = percent_decode(value.trim())
            .ok_or_else(|| format!("the value of `{key}` is not valid percent-encoded UTF-8"))?;
        headers.insert(key.to_owned(), value);
    }
    Ok(headers)
}

fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%3Dc").as_deref(), Some("a b=c"));
        assert_eq!(percent_decode("100%").as_deref(), None);
        assert_eq!(percent_decode("%zz").as_deref(), None);
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
    }

    #[test]
    fn traces_url_per_protocol() {
        let mut otlp = OtlpSettings::default();
        assert_eq!(otlp.traces_url(), DEFAULT_GRPC_ENDPOINT);
        otlp.protocol = OtlpProtocol::HttpProtobuf;
        assert_eq!(otlp.traces_url(), "http://localhost:4318/v1/traces");
        otlp.endpoint = Some("http://c:4318/".into());
        assert_eq!(otlp.traces_url(), "http://c:4318/v1/traces");
        otlp.traces_endpoint = Some("http://t/custom".into());
        assert_eq!(otlp.traces_url(), "http://t/custom");
    }

    #[test]
    fn metrics_url_per_protocol() {
        let mut otlp = OtlpSettings::default();
        assert_eq!(otlp.metrics_url(), DEFAULT_GRPC_ENDPOINT);
        otlp.traces_endpoint = Some("http://t:4317".into());
        assert_eq!(otlp.metrics_url(), "http://t:4317");
        otlp.protocol = OtlpProtocol::HttpProtobuf;
        otlp.traces_endpoint = Some("http://t:4318/v1/traces".into());
        assert_eq!(otlp.metrics_url(), "http://t:4318/v1/metrics");
        otlp.endpoint = Some("http://c:4318/".into());
        assert_eq!(otlp.metrics_url(), "http://c:4318/v1/metrics");
    }

    #[test]
    fn metrics_export_follows_otel_metrics_exporter() {
        let env = |value: &'static str| {
            move |name: &str| match name {
                "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://c:4317".to_owned()),
                "OTEL_METRICS_EXPORTER" => Some(value.to_owned()),
                _ => None,
            }
        };
        let with = |value| {
            TelemetrySettings::default()
                .from_env_over(env(value))
                .map(|s| s.otlp.expect("otlp").metrics)
                .ok()
        };
        assert_eq!(with(""), Some(true), "on by default");
        assert_eq!(with("otlp"), Some(true));
        assert_eq!(with("none"), Some(false));
        assert_eq!(with("prometheus"), None, "refused");
    }

    #[test]
    fn deserializes_from_yaml_like_json() {
        let settings: TelemetrySettings = serde_json::from_value(serde_json::json!({
            "service_name": "gw",
            "otlp": {"endpoint": "http://c:4318", "protocol": "http/protobuf", "headers": {"k": "v"}},
            "log_format": "json",
            "unknown": 1
        }))
        .expect("valid settings");
        assert_eq!(settings.service_name, "gw");
        assert_eq!(settings.log_format, LogFormat::Json);
        let otlp = settings.otlp.expect("otlp");
        assert_eq!(otlp.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(otlp.timeout_ms, DEFAULT_OTLP_TIMEOUT_MS);
        assert_eq!(settings.sample_ratio, 1.0);
    }
}
