//! The gateway under test as a child process: its config file, starting it on a free port,
//! learning that port from its first stdout line, waiting until it is ready, reading its memory
//! (current and peak), and killing it when the benchmark or soak test ends (also on error,
//! through `Drop`).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

/// The first stdout line of `switchyard serve`, before the address.
const LISTENING_PREFIX: &str = "switchyard listening on http://";

/// How long the gateway may take to print its address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The model group every config has, served by the fake upstream.
pub const BENCH_MODEL: &str = "bench-model";

/// What a config holds besides [`BENCH_MODEL`] (the benchmark uses none of it).
#[derive(Debug, Clone, Default)]
pub struct ConfigExtras {
    /// More model groups served by the fake upstream: (group name, upstream model).
    pub groups: Vec<(String, String)>,
    /// `litellm_settings.cache` on, in memory, with `cache_params.max_size_mb`.
    pub cache_max_size_mb: Option<f64>,
    /// `router_settings.cooldown_time`, in seconds.
    pub cooldown_secs: Option<f64>,
    /// `general_settings.master_key`.
    pub master_key: Option<String>,
    /// `general_settings.database_url`: this SQLite file.
    pub sqlite_path: Option<PathBuf>,
    /// `telemetry.otlp`: spans and metrics exported over OTLP/HTTP to this base URL.
    pub otlp_endpoint: Option<String>,
}

/// Writes a LiteLLM-layout config into `dir`: the model group [`BENCH_MODEL`] and `extras`, all
/// served by the fake upstream on `upstream_port`, priced (a key with a budget may call only
/// priced models). Returns the file's path.
pub fn write_config(
    dir: &Path,
    upstream_port: u16,
    extras: &ConfigExtras,
) -> anyhow::Result<PathBuf> {
    let path = dir.join("config.yaml");
    std::fs::write(&path, config_yaml(upstream_port, extras))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The text of [`write_config`]'s file. Strings that come from outside are written as JSON
/// strings, which YAML reads as double-quoted scalars.
fn config_yaml(upstream_port: u16, extras: &ConfigExtras) -> String {
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    let mut text = String::from("model_list:\n");
    let bench = (BENCH_MODEL.to_owned(), BENCH_MODEL.to_owned());
    for (group, model) in std::iter::once(&bench).chain(&extras.groups) {
        let _ = write!(
            text,
            "  - model_name: {}\n    litellm_params:\n      model: {}\n      \
             api_base: http://127.0.0.1:{upstream_port}/v1\n      api_key: sk-bench-upstream\n      \
             input_cost_per_token: 0.000001\n      output_cost_per_token: 0.000002\n",
            quoted(group),
            quoted(&format!("openai/{model}")),
        );
    }
    if let Some(max_size_mb) = extras.cache_max_size_mb {
        let _ = write!(
            text,
            "litellm_settings:\n  cache: true\n  cache_params:\n    type: local\n    \
             max_size_mb: {max_size_mb}\n"
        );
    }
    if let Some(secs) = extras.cooldown_secs {
        let _ = write!(text, "router_settings:\n  cooldown_time: {secs}\n");
    }
    if extras.master_key.is_some() || extras.sqlite_path.is_some() {
        text.push_str("general_settings:\n");
    }
    if let Some(key) = &extras.master_key {
        let _ = writeln!(text, "  master_key: {}", quoted(key));
    }
    if let Some(path) = &extras.sqlite_path {
        let url = format!("sqlite://{}", path.display());
        let _ = writeln!(text, "  database_url: {}", quoted(&url));
    }
    if let Some(endpoint) = &extras.otlp_endpoint {
        let _ = write!(
            text,
            "telemetry:\n  otlp:\n    endpoint: {}\n    protocol: http/protobuf\n",
            quoted(endpoint)
        );
    }
    text
}

/// A running gateway. Dropping it kills the process and waits for it.
#[derive(Debug)]
pub struct Gateway {
    child: Child,
    /// Where the gateway listens.
    pub addr: SocketAddr,
    /// Where the gateway's stderr (its log) goes.
    pub log_path: PathBuf,
}

impl Gateway {
    /// Starts `binary serve -c config -p 0 --host 127.0.0.1` (without `-c`, the embedded
    /// default) in `config`'s directory or `log_path`'s, with the logging a user gets (the
    /// default filter, `info`: one access log line per call; `RUST_LOG` is cleared), its stderr
    /// going to `log_path`, and waits (at most 30 s) for the line that gives its address.
    pub fn spawn(binary: &Path, config: Option<&Path>, log_path: &Path) -> anyhow::Result<Self> {
        let mut command = Command::new(binary);
        command.arg("serve");
        if let Some(config) = config {
            command.arg("-c").arg(config);
        }
        // Its working directory holds what it writes of its own (the embedded default's
        // `switchyard.db`).
        if let Some(dir) = log_path.parent() {
            command.current_dir(dir);
        }
        command
            .args(["-p", "0", "--host", "127.0.0.1"])
            .env_remove("RUST_LOG");
        Self::from_command(command, log_path)
    }

    /// Starts `command`, a process that prints `switchyard listening on http://<addr>` first
    /// as the gateway does (the bench's hyper floor, `floor.rs`), its stderr into `log_path`.
    pub fn from_command(mut command: Command, log_path: &Path) -> anyhow::Result<Self> {
        let log = File::create(log_path)
            .with_context(|| format!("creating the log {}", log_path.display()))?;
        let binary = command.get_program().to_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {}", binary.to_string_lossy()))?;
        let stdout = child.stdout.take();
        // From here on, `Drop` kills the child whatever happens.
        let mut gateway = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_path: log_path.to_path_buf(),
        };
        let stdout = stdout.context("the gateway's stdout was not captured")?;
        gateway.addr = gateway.read_listening_addr(stdout)?;
        Ok(gateway)
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The gateway's peak resident memory so far (`VmHWM` in `/proc/<pid>/status`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        self.status_kib("VmHWM")
    }

    /// The gateway's resident memory now (`VmRSS` in `/proc/<pid>/status`), in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        self.status_kib("VmRSS")
    }

    fn status_kib(&self, field: &str) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        parse_status_kib(&status, field).with_context(|| format!("no {field} line in {path}"))
    }

    /// Fails if the gateway process has exited, saying how and showing its log.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait().context("checking on the gateway")? {
            None => Ok(()),
            Some(status) => bail!(
                "the gateway exited ({status}); its log:\n{}",
                self.log_tail()
            ),
        }
    }

    fn read_listening_addr(&mut self, stdout: ChildStdout) -> anyhow::Result<SocketAddr> {
        let first_line = spawn_stdout_reader(stdout);
        let line = match first_line.recv_timeout(STARTUP_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(error)) => {
                self.check_alive()?;
                bail!("reading the gateway's stdout: {error}");
            }
            Err(_) => {
                self.check_alive()?;
                bail!(
                    "the gateway printed no address within {} s; its log:\n{}",
                    STARTUP_TIMEOUT.as_secs(),
                    self.log_tail()
                );
            }
        };
        let addr = line.trim_end().strip_prefix(LISTENING_PREFIX).with_context(|| {
            format!("unexpected first line from the gateway: {line:?} (expected {LISTENING_PREFIX}…)")
        })?;
        addr.parse()
            .with_context(|| format!("parsing the gateway's address {addr:?}"))
    }

    /// The last lines of the gateway's log, for error messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Err(error) = self.child.kill() {
            eprintln!(
                "xtask: killing the gateway (pid {}) failed: {error}",
                self.child.id()
            );
        }
        if let Err(error) = self.child.wait() {
            eprintln!(
                "xtask: waiting for the gateway (pid {}) failed: {error}",
                self.child.id()
            );
        }
    }
}

/// Reads the first line of `stdout` on its own thread and sends it back; then keeps draining
/// stdout so the gateway can never block on a full pipe. The thread ends when the gateway does.
fn spawn_stdout_reader(stdout: ChildStdout) -> mpsc::Receiver<std::io::Result<String>> {
    let (first_line_tx, first_line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = match reader.read_line(&mut line) {
            Ok(0) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the gateway closed its stdout without printing its address",
            )),
            Ok(_) => Ok(line),
            Err(error) => Err(error),
        };
        let got_line = first.is_ok();
        // The receiver may have given up already; nothing to do about it then.
        let _ = first_line_tx.send(first);
        if got_line {
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        }
    });
    first_line_rx
}

/// The value of a `Field:  12345 kB` line (`VmHWM`, `VmRSS`...) of a `/proc/<pid>/status` text.
pub fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        line.strip_prefix(field)?
            .strip_prefix(':')?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_kib() {
        let status = "Name:\tswitchyard\nVmPeak:\t  200000 kB\nVmHWM:\t   18840 kB\n\
                      VmRSS:\t   17000 kB\nRssAnon:\t 9000 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(18840));
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(17000));
        assert_eq!(
            parse_status_kib(status, "Vm"),
            None,
            "a whole field name only"
        );
        assert_eq!(parse_status_kib("Name:\tx\n", "VmRSS"), None);
        assert_eq!(parse_status_kib("VmRSS:\tlots kB\n", "VmRSS"), None);
    }

    #[test]
    fn the_bench_config_has_one_model_and_extras_add_sections() {
        let bench = config_yaml(8080, &ConfigExtras::default());
        assert_eq!(bench.matches("model_name:").count(), 1);
        assert!(bench.contains("api_base: http://127.0.0.1:8080/v1"));
        assert!(!bench.contains("settings:"));
        let soak = config_yaml(
            8080,
            &ConfigExtras {
                groups: vec![("soak-fail".to_owned(), "fail".to_owned())],
                cache_max_size_mb: Some(1.0),
                cooldown_secs: Some(0.0),
                master_key: Some("sk-soak".to_owned()),
                sqlite_path: Some(PathBuf::from("/tmp/soak dir/soak.db")),
                otlp_endpoint: Some("http://127.0.0.1:8080".to_owned()),
            },
        );
        assert!(soak.contains("model_name: \"soak-fail\"\n"));
        assert!(soak.contains("model: \"openai/fail\"\n"));
        assert!(soak.contains("litellm_settings:\n  cache: true\n"));
        assert!(soak.contains("    max_size_mb: 1\n"));
        assert!(soak.contains("router_settings:\n  cooldown_time: 0\n"));
        assert!(soak.contains("  master_key: \"sk-soak\"\n"));
        assert!(soak.contains("  database_url: \"sqlite:///tmp/soak dir/soak.db\"\n"));
        assert!(soak.contains(
            "telemetry:\n  otlp:\n    endpoint: \"http://127.0.0.1:8080\"\n    protocol: http/protobuf\n"
        ));
    }
}
