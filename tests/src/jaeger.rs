//! A real Jaeger (v2, all-in-one, in-memory storage) for the tracing tests: started from the
//! binary `scripts/services.sh` builds (`SWITCHYARD_JAEGER_BIN`, which `cargo xtask test` sets),
//! on free loopback ports of its own, with its OTLP receivers and its query API; killed on drop.
//!
//! Without the binary a test says it was skipped and passes, unless [`REQUIRE_VAR`] (CI's
//! `.ci/run` sets it) or `CI` is set: then it fails, so CI cannot pass without Jaeger.

use std::time::Duration;

use serde_json::Value;

/// Set (to anything but empty or `0`) to turn a skip for want of Jaeger into a failure.
pub const REQUIRE_VAR: &str = "SWITCHYARD_REQUIRE_JAEGER";

/// How long Jaeger may take to open its ports.
const START_WITHIN: Duration = Duration::from_secs(60);

/// A running Jaeger process.
pub struct Jaeger {
    /// OTLP over gRPC: `http://127.0.0.1:PORT`.
    pub otlp_grpc: String,
    /// OTLP over HTTP/protobuf: `http://127.0.0.1:PORT`.
    pub otlp_http: String,
    /// The query API and UI: `http://127.0.0.1:PORT`.
    pub query: String,
    client: reqwest::Client,
    process: tokio::process::Child,
    workdir: tempfile::TempDir,
}

impl Jaeger {
    /// Starts Jaeger; `None` (with a line saying the test is skipped) when `SWITCHYARD_JAEGER_BIN`
    /// is unset or names no file. With [`REQUIRE_VAR`] or `CI` set, that fails the test instead.
    pub async fn start() -> Option<Self> {
        let binary = match std::env::var("SWITCHYARD_JAEGER_BIN") {
            Ok(path) if std::path::Path::new(&path).is_file() => path,
            found => {
                let why = match found {
                    Ok(path) if !path.is_empty() => format!("no Jaeger binary at {path}"),
                    _ => "SWITCHYARD_JAEGER_BIN is not set".to_owned(),
                };
                let required = std::env::var(REQUIRE_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
                    || std::env::var_os("CI").is_some();
                assert!(
                    !required,
                    "{why}, and {REQUIRE_VAR} (or CI) says Jaeger is required: run the tests with \
                     `cargo xtask test`, which builds it with `scripts/services.sh`"
                );
                println!(
                    "skipped: {why} (`cargo xtask test` sets it; {REQUIRE_VAR}=1 fails instead)"
                );
                return None;
            }
        };
        let ports = [
            free_port().await,
            free_port().await,
            free_port().await,
            free_port().await,
            free_port().await,
        ];
        let [grpc, http, query, query_grpc, health] = ports;
        let workdir = tempfile::Builder::new()
            .prefix("switchyard-jaeger-")
            .tempdir()
            .expect("a folder for Jaeger");
        let config = workdir.path().join("jaeger.yaml");
        std::fs::write(&config, config_yaml(grpc, http, query, query_grpc, health))
            .expect("write Jaeger's config");
        let log = std::fs::File::create(workdir.path().join("jaeger.log")).expect("Jaeger's log");
        let process = tokio::process::Command::new(&binary)
            .arg("--config")
            .arg(&config)
            .current_dir(workdir.path())
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Jaeger at {binary}: {e}"));
        let jaeger = Self {
            otlp_grpc: format!("http://127.0.0.1:{grpc}"),
            otlp_http: format!("http://127.0.0.1:{http}"),
            query: format!("http://127.0.0.1:{query}"),
            client: reqwest::Client::new(),
            process,
            workdir,
        };
        jaeger.wait_ready(&format!("http://127.0.0.1:{grpc}")).await;
        Some(jaeger)
    }

    /// Waits until the query API answers and the OTLP gRPC port accepts connections.
    async fn wait_ready(&self, grpc: &str) {
        let deadline = tokio::time::Instant::now() + START_WITHIN;
        let grpc_addr = grpc.trim_start_matches("http://").to_owned();
        loop {
            let query_up = self
                .client
                .get(format!("{}/api/services", self.query))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            let grpc_up = tokio::net::TcpStream::connect(&grpc_addr).await.is_ok();
            if query_up && grpc_up {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Jaeger did not come up within {START_WITHIN:?}; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What Jaeger has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.workdir.path().join("jaeger.log")).unwrap_or_default()
    }

    /// The environment that makes a gateway process export its spans here over OTLP gRPC,
    /// promptly, and no metrics (Jaeger takes traces only).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", self.otlp_grpc.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50".to_owned()),
            ("OTEL_METRICS_EXPORTER", "none".to_owned()),
        ]
    }

    /// `GET {query}{path}` as JSON (the query API Jaeger's UI uses).
    pub async fn api(&self, path: &str) -> Value {
        self.get_json(&[], path).await
    }

    /// `GET {query}{path}?{params}` as JSON.
    async fn get_json(&self, params: &[(&str, &str)], path: &str) -> Value {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.query), params)
            .expect("a query API URL");
        let response = self
            .client
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("Jaeger's query API at {path} {params:?}: {e}"));
        assert!(
            response.status().is_success(),
            "{path} {params:?}: {}",
            response.status()
        );
        response.json().await.expect("Jaeger answers JSON")
    }

    /// The traces Jaeger finds for `search` (`/api/traces` with these query parameters:
    /// `service`, and `operation`, `tags` (a JSON object of tag values), `limit`, ...), polled
    /// until `done` accepts them or `within` runs out (then it panics, showing what there was).
    pub async fn traces_until(
        &self,
        search: &[(&str, &str)],
        within: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let answer = self.get_json(search, "/api/traces").await;
            let traces = answer["data"].as_array().cloned().unwrap_or_default();
            if done(&traces) {
                return traces;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Jaeger's traces for {search:?} never matched within {within:?}: {traces:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.id()
    }
}

/// Jaeger v2's configuration (an OpenTelemetry Collector file): OTLP in, memory storage, query
/// API, health check and its own metrics off, each on the given loopback port.
fn config_yaml(grpc: u16, http: u16, query: u16, query_grpc: u16, health: u16) -> String {
    format!(
        r#"service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
processors:
  batch:
    timeout: 50ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"#
    )
}

async fn free_port() -> u16 {
    crate::closed_port().await
}
