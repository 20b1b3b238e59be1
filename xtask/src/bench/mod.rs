//! `cargo xtask bench`: the gateway's added latency, throughput and peak memory, measured on
//! loopback against a fast fake upstream that lives in this process.
//!
//! 1. Build the release gateway (and, when run unoptimised as `cargo xtask` does, an optimised
//!    xtask, which then runs the benchmark so that the load generator is not the bottleneck).
//! 2. Start the fake upstream ([`upstream`]).
//! 3. Measure each target in turn, alone: the upstream straight ("direct"), Debian's nginx as a
//!    plain reverse proxy to it ([`nginx`], the anchor; skipped with a note when absent), the
//!    hyper floor ([`floor`]: hyper's server and client with a JSON parse each way, the least a
//!    gateway on Switchyard's HTTP stack does), and the gateway ([`gateway`]) in each configuration (the embedded default, answered by its
//!    mock models; one deployment; master key + SQLite spend), run with the logging a user gets (`info`: an access line per call). Each target
//!    gets: latency at one connection (plain, and streamed: first bytes and end) and
//!    throughput at many with the built-in load generator
//!    ([`load`]), its CPU time per request over that run ([`cpu`]), and throughput with `wrk`
//!    ([`wrk`], when installed) so the figures do not rest on our own client alone.
//! 4. Print the report, with the gateway's goals read against the proxy, and write it as JSON
//!    to `target/bench/report.json` ([`report`]).
//!
//! It fails only when something broke (a failed request, a gateway that did not start), never
//! because a target was missed.
//!
//! Usage: `cargo xtask bench [--requests N] [--connections C] [--duration SECS]`.
//!
//! `cargo xtask soak` ([`crate::soak`]) reuses the upstream, the gateway process, the load
//! generator's connections and the helpers here.

pub mod cpu;
pub mod floor;
pub mod gateway;
pub mod load;
pub mod nginx;
pub mod report;
pub mod upstream;
pub mod wrk;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use hyper::StatusCode;
use tokio::runtime::Runtime;

use crate::{cargo, exec, root};
use gateway::{ConfigExtras, Gateway};
use hyper::header::HeaderValue;
use report::{LatencySummary, Report, StreamSummary, TargetFigures, ThroughputSummary};

/// Unrecorded requests sent before each latency run, to warm connections and caches.
const WARMUP_REQUESTS: usize = 2_000;
/// How many times to ask the gateway's readiness probe, 100 ms apart, before giving up.
const READINESS_ATTEMPTS: u32 = 100;

/// The command line of `cargo xtask bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Options {
    /// Recorded sequential requests per target in the latency run.
    requests: usize,
    /// Parallel connections in the throughput runs.
    connections: usize,
    /// Length of each throughput run.
    duration: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            requests: 20_000,
            connections: 50,
            duration: Duration::from_secs(10),
        }
    }
}

const USAGE: &str = "usage: cargo xtask bench [--requests N] [--connections C] [--duration SECS]";

/// Runs the benchmark; `args` are the options after `bench`.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse_options(args)?;
    if build_release("bench", args)? == Built::RanOptimised {
        return Ok(());
    }
    benchmark(options)
}

/// What [`build_release`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// Built the gateway; this (optimised) xtask carries on.
    Gateway,
    /// Built the gateway and an optimised xtask, which ran the task to its end.
    RanOptimised,
}

/// Builds the release gateway (`target/release/switchyard`). When this xtask is unoptimised, as
/// `cargo xtask` runs it, also builds an optimised one and runs `task` with `args` in it: an
/// unoptimised load generator would eat the CPU the gateway needs and inflate every latency.
pub fn build_release(task: &str, args: &[String]) -> anyhow::Result<Built> {
    exec(cargo().args(["build", "--release", "-p", "switchyard"]))?;
    if !cfg!(debug_assertions) {
        return Ok(Built::Gateway);
    }
    exec(cargo().args(["build", "--release", "-p", "xtask"]))?;
    exec(
        Command::new(root().join("target/release/xtask"))
            .arg(task)
            .args(args),
    )?;
    Ok(Built::RanOptimised)
}

/// The name of the upstream measured straight.
pub const DIRECT_TARGET: &str = "direct (fake upstream)";

/// The name of the plain reverse proxy target, the yardstick of the gateway's goals.
pub const PROXY_TARGET: &str = "nginx proxy";

/// The master key of the gateway configs that have one.
const BENCH_MASTER_KEY: &str = "sk-bench-master-key";

/// The gateway configurations measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GatewayConfig {
    /// `switchyard serve` without a config: mock models, a local SQLite spend store.
    EmbeddedDefault,
    /// One deployment on the fake upstream, no key.
    OneDeployment,
    /// The same with a master key and SQLite spend records.
    MasterKeySqlite,
    /// Everything a call can go through: a virtual key with a budget and rate limits (SQLite
    /// spend and budget counters), the response cache missed by every call (unique prompts),
    /// spans and metrics exported over OTLP/HTTP to a local sink.
    FullStack,
}

impl GatewayConfig {
    const ALL: [Self; 4] = [
        Self::EmbeddedDefault,
        Self::OneDeployment,
        Self::MasterKeySqlite,
        Self::FullStack,
    ];
}

impl GatewayConfig {
    /// Its name in the report.
    fn name(self) -> &'static str {
        match self {
            Self::EmbeddedDefault => "gateway (embedded default, mock)",
            Self::OneDeployment => "gateway (one deployment)",
            Self::MasterKeySqlite => "gateway (master key + SQLite spend)",
            Self::FullStack => "gateway (full stack: virtual key, limits, cache miss, OTLP)",
        }
    }

    /// Its directory under the run's.
    fn slug(self) -> &'static str {
        match self {
            Self::EmbeddedDefault => "gateway-default",
            Self::OneDeployment => "gateway-plain",
            Self::MasterKeySqlite => "gateway-sqlite",
            Self::FullStack => "gateway-full",
        }
    }

    /// The model group its calls name.
    fn model(self) -> &'static str {
        match self {
            // A model of the embedded default (crates/switchyard-server/src/config/default.yaml).
            Self::EmbeddedDefault => "gpt-4o-mini",
            _ => gateway::BENCH_MODEL,
        }
    }

    /// Whether its figures are read against the proxy (it calls the same upstream).
    fn compared(self) -> bool {
        self != Self::EmbeddedDefault
    }
}

/// One target to measure: where it listens, the key its calls carry, and the process whose
/// CPU time counts (none for the upstream, which lives in this process).
struct Target<'a> {
    name: &'a str,
    addr: SocketAddr,
    /// The model group called.
    model: &'a str,
    authorization: Option<&'a str>,
    /// Each request's prompt made unique, so that the response cache misses.
    unique_prompts: bool,
    pid: Option<u32>,
    read_against_proxy: bool,
}

/// Starts the upstream, measures it straight, through nginx and through the gateway in each
/// configuration (one at a time, each alone on the machine), and publishes the report.
fn benchmark(options: Options) -> anyhow::Result<()> {
    let root = root();
    let bench_dir = root.join("target/bench");
    let work_dir = fresh_dir(&bench_dir.join("run"))?;

    // The machine has 2 cores, shared by all three parties: the fake upstream (1 worker thread
    // here), the load generator (1 worker thread here) and the target (the gateway: its own
    // runtime, one worker per core; nginx: one worker per core). Separate runtimes keep the
    // upstream's work off the load generator's thread; the figures are still those of a
    // crowded machine, not of a dedicated one.
    let upstream_runtime = runtime("bench-upstream")?;
    let load_runtime = runtime("bench-load")?;
    let upstream_addr = upstream_runtime.block_on(upstream::start())?;
    eprintln!("xtask: bench upstream listening on http://{upstream_addr}");

    let mut notes = Vec::new();
    let wrk = wrk::binary();
    if wrk.is_none() {
        notes.push(
            "wrk is not installed (`bash scripts/services.sh bench-tools` installs it): throughput from the built-in generator only"
                .to_owned(),
        );
    }
    let measurer = Measurer {
        load_runtime: &load_runtime,
        options,
        wrk: wrk.as_deref(),
        dir: &work_dir,
    };
    let mut targets = vec![measurer.measure(&Target {
        name: DIRECT_TARGET,
        addr: upstream_addr,
        model: gateway::BENCH_MODEL,
        authorization: None,
        unique_prompts: false,
        pid: None,
        read_against_proxy: false,
    })?];

    match nginx::binary() {
        Some(binary) => {
            let dir = fresh_dir(&work_dir.join("nginx"))?;
            let nginx = on_worker(
                &load_runtime,
                nginx::Nginx::start(binary, dir, upstream_addr),
            )??;
            eprintln!("xtask: nginx (pid {}) proxying on http://{}", nginx.pid(), nginx.addr);
            targets.push(measurer.measure(&Target {
                name: PROXY_TARGET,
                addr: nginx.addr,
                model: gateway::BENCH_MODEL,
                authorization: None,
                unique_prompts: false,
                pid: Some(nginx.pid()),
                read_against_proxy: false,
            })?);
        }
        None => notes.push(
            "nginx is not installed (`bash scripts/services.sh bench-tools` installs it): no plain proxy anchor, no goals read"
                .to_owned(),
        ),
    }

    // The hyper floor: this program again, as a process of its own (`floor.rs`).
    let mut floor_command = Command::new(std::env::current_exe().context("this program's path")?);
    floor_command.args(["bench-floor", &upstream_addr.to_string()]);
    let mut floor = Gateway::from_command(floor_command, &work_dir.join("floor.log"))?;
    eprintln!(
        "xtask: hyper floor (pid {}) listening on http://{}",
        floor.pid(),
        floor.addr
    );
    let mut figures = measurer.measure(&Target {
        name: floor::FLOOR_TARGET,
        addr: floor.addr,
        model: gateway::BENCH_MODEL,
        authorization: None,
        unique_prompts: false,
        pid: Some(floor.pid()),
        read_against_proxy: false,
    })?;
    floor.check_alive()?;
    figures.peak_rss_kib = Some(floor.peak_rss_kib()?);
    targets.push(figures);
    drop(floor);

    let binary = root.join("target/release/switchyard");
    let master = format!("Bearer {BENCH_MASTER_KEY}");
    for config in GatewayConfig::ALL {
        let dir = fresh_dir(&work_dir.join(config.slug()))?;
        let keyed = matches!(
            config,
            GatewayConfig::MasterKeySqlite | GatewayConfig::FullStack
        );
        let full = config == GatewayConfig::FullStack;
        let file = match config {
            GatewayConfig::EmbeddedDefault => None,
            _ => {
                let extras = ConfigExtras {
                    master_key: keyed.then(|| BENCH_MASTER_KEY.to_owned()),
                    sqlite_path: keyed.then(|| dir.join("spend.db")),
                    cache_max_size_mb: full.then_some(64.0),
                    otlp_endpoint: full.then(|| format!("http://{upstream_addr}")),
                    ..ConfigExtras::default()
                };
                Some(gateway::write_config(&dir, upstream_addr.port(), &extras)?)
            }
        };
        let mut gateway = Gateway::spawn(&binary, file.as_deref(), &dir.join("gateway.log"))?;
        eprintln!(
            "xtask: {} (pid {}) listening on http://{}",
            config.name(),
            gateway.pid(),
            gateway.addr
        );
        on_worker(&load_runtime, wait_until_ready(gateway.addr))??;
        let authorization = match config {
            GatewayConfig::FullStack => Some(on_worker(
                &load_runtime,
                virtual_key(gateway.addr, master.clone()),
            )??),
            GatewayConfig::MasterKeySqlite => Some(master.clone()),
            _ => None,
        };
        let exports_before = upstream::otlp_exports();
        let mut figures = measurer.measure(&Target {
            name: config.name(),
            addr: gateway.addr,
            model: config.model(),
            authorization: authorization.as_deref(),
            unique_prompts: full,
            pid: Some(gateway.pid()),
            read_against_proxy: config.compared(),
        })?;
        gateway.check_alive()?;
        figures.peak_rss_kib = Some(gateway.peak_rss_kib()?);
        targets.push(figures);
        if full {
            notes.push(format!(
                "full stack: the OTLP sink received {} export requests during its runs",
                upstream::otlp_exports() - exports_before
            ));
        }
    }
    notes.push(
        "the embedded default answers from its mock provider, without the upstream: its figures are the gateway's own cost, not read against the proxy".to_owned(),
    );
    notes.push(
        "the fake upstream sends a stream's chunks in one write, so the cost per chunk is the gateway's work on chunks that arrive together"
            .to_owned(),
    );

    upstream_runtime.shutdown_background();
    load_runtime.shutdown_background();
    let report = Report {
        requests: options.requests,
        connections: options.connections,
        duration_secs: options.duration.as_secs(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        targets,
        notes,
    };
    publish(&report, &bench_dir.join("report.json"))
}

/// Prints the report, writes it as JSON to `json_path`, and fails if any request failed.
fn publish(report: &Report, json_path: &Path) -> anyhow::Result<()> {
    print!("{}", report.text());
    let json = serde_json::to_string_pretty(&report.json()).context("serialising the report")?;
    std::fs::write(json_path, json + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    eprintln!("xtask: wrote {}", json_path.display());
    if report.errors() > 0 {
        bail!(
            "{} requests failed (see the messages above)",
            report.errors()
        );
    }
    Ok(())
}

/// Runs every measurement of a target with the same options and load generators.
struct Measurer<'a> {
    load_runtime: &'a Runtime,
    options: Options,
    wrk: Option<&'a Path>,
    dir: &'a Path,
}

impl Measurer<'_> {
    /// Latency at one connection, throughput with the built-in generator (and the target's CPU
    /// time over it), then throughput with wrk.
    fn measure(&self, target: &Target<'_>) -> anyhow::Result<TargetFigures> {
        let authorization = target
            .authorization
            .map(HeaderValue::from_str)
            .transpose()
            .context("the bench key is not a header value")?;
        let mut call = load::Call::new(target.model, authorization);
        if target.unique_prompts {
            call = call.unique_prompts();
        }
        let latency = self.latency(target, call.clone())?;
        let stream = self.stream(target, call.clone())?;
        let cpu_before = target.pid.map(cpu::process_tree_time).transpose()?;
        let throughput = self.throughput(target, call)?;
        let cpu_us_per_request = match (target.pid, cpu_before) {
            (Some(pid), Some(before)) if throughput.completed > 0 => {
                let used = cpu::process_tree_time(pid)?.saturating_sub(before);
                Some(used.as_secs_f64() * 1e6 / throughput.completed as f64)
            }
            _ => None,
        };
        let wrk = match self.wrk {
            Some(binary) => {
                eprintln!(
                    "xtask: wrk {}: {} connections",
                    target.name, self.options.connections
                );
                Some(wrk::run(
                    binary,
                    self.dir,
                    target.addr,
                    &load::chat_request(target.model, false),
                    target.authorization,
                    target.unique_prompts,
                    self.options.connections,
                    self.options.duration,
                )?)
            }
            None => None,
        };
        Ok(TargetFigures {
            name: target.name.to_owned(),
            read_against_proxy: target.read_against_proxy,
            latency,
            stream,
            throughput,
            wrk,
            cpu_us_per_request,
            peak_rss_kib: None,
        })
    }

    /// Warm-up, then `requests` sequential requests over one connection.
    fn latency(&self, target: &Target<'_>, call: load::Call) -> anyhow::Result<LatencySummary> {
        let (name, requests) = (target.name, self.options.requests);
        eprintln!("xtask: latency {name}: {WARMUP_REQUESTS} warm-up + {requests} requests");
        let run = on_worker(
            self.load_runtime,
            load::sequential_latencies(target.addr, call, WARMUP_REQUESTS, requests),
        )?
        .with_context(|| format!("latency run {name}"))?;
        report_first_error(name, run.first_error.as_deref());
        LatencySummary::of(&run)
            .with_context(|| format!("latency run {name}: no request succeeded"))
    }

    /// Warm-up, then `requests / 4` sequential streamed requests over one connection.
    fn stream(&self, target: &Target<'_>, call: load::Call) -> anyhow::Result<StreamSummary> {
        let (name, requests) = (target.name, (self.options.requests / 4).max(1));
        let warmup = WARMUP_REQUESTS / 4;
        eprintln!("xtask: stream {name}: {warmup} warm-up + {requests} requests");
        let run = on_worker(
            self.load_runtime,
            load::sequential_stream_latencies(target.addr, call, warmup, requests),
        )?
        .with_context(|| format!("stream run {name}"))?;
        report_first_error(name, run.first_error.as_deref());
        StreamSummary::of(&run).with_context(|| format!("stream run {name}: no request succeeded"))
    }

    /// `options.connections` parallel clients for `options.duration`.
    fn throughput(
        &self,
        target: &Target<'_>,
        call: load::Call,
    ) -> anyhow::Result<ThroughputSummary> {
        let (name, options) = (target.name, self.options);
        eprintln!(
            "xtask: throughput {name}: {} connections for {} s",
            options.connections,
            options.duration.as_secs()
        );
        let run = on_worker(
            self.load_runtime,
            load::throughput(target.addr, call, options.connections, options.duration),
        )?
        .with_context(|| format!("throughput run {name}"))?;
        report_first_error(name, run.first_error.as_deref());
        Ok(ThroughputSummary::of(&run))
    }
}

fn report_first_error(run: &str, first_error: Option<&str>) {
    if let Some(error) = first_error {
        eprintln!("xtask: {run}: first failed request: {error}");
    }
}

/// A virtual key made with the master key (`POST /key/generate`), limited to the bench model,
/// with a budget and rate limits far above what the benchmark spends, so every call checks and
/// charges them without being refused. Answers the whole `Authorization` value.
async fn virtual_key(addr: SocketAddr, master: String) -> anyhow::Result<String> {
    let master = HeaderValue::from_str(&master).context("the master key is not a header value")?;
    let request = serde_json::json!({
        "key_alias": "bench",
        "models": [gateway::BENCH_MODEL],
        "max_budget": 1_000_000.0,
        "rpm_limit": 1_000_000_000u64,
        "tpm_limit": 1_000_000_000_000u64,
    });
    let (status, body) = load::post_json(addr, "/key/generate", &master, &request).await?;
    if status != StatusCode::OK {
        bail!(
            "POST /key/generate answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let answer: serde_json::Value =
        serde_json::from_slice(&body).context("reading /key/generate's answer")?;
    let key = answer["key"]
        .as_str()
        .context("/key/generate answered no `key`")?;
    Ok(format!("Bearer {key}"))
}

/// Asks `GET /health/readiness` until it answers 200, at most [`READINESS_ATTEMPTS`] times.
pub async fn wait_until_ready(addr: SocketAddr) -> anyhow::Result<()> {
    let mut last = String::new();
    for _ in 0..READINESS_ATTEMPTS {
        match load::get_status(addr, "/health/readiness").await {
            Ok(StatusCode::OK) => return Ok(()),
            Ok(status) => last = format!("status {status}"),
            Err(error) => last = format!("{error:#}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the gateway at {addr} never became ready (last answer: {last})")
}

/// A tokio runtime with one worker thread named `name`.
pub fn runtime(name: &str) -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .with_context(|| format!("starting the {name} runtime"))
}

/// Runs `future` on `runtime`'s worker thread (not on the calling thread, so that the worker
/// both polls it and drives its sockets) and waits for its output.
pub fn on_worker<F>(runtime: &Runtime, future: F) -> anyhow::Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime
        .block_on(runtime.spawn(future))
        .context("a benchmark task panicked")
}

/// Empties (or creates) `dir` and returns it.
pub fn fresh_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.to_path_buf())
}

/// Reads `--requests N`, `--connections C` and `--duration SECS` (also as `--flag=value`).
fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options::default();
    for (flag, value) in flag_values(args, &["--requests", "--connections", "--duration"], USAGE)? {
        let number = positive_number(flag, &value)?;
        match flag {
            "--requests" => options.requests = number,
            "--connections" => options.connections = number,
            _ => options.duration = Duration::from_secs(number as u64),
        }
    }
    Ok(options)
}

/// Splits `args` into `(flag, value)` pairs, each flag one of `known` and followed by its value
/// (`--flag value` or `--flag=value`). `-h`, `--help` and unknown flags fail with `usage`.
pub fn flag_values<'k>(
    args: &[String],
    known: &[&'k str],
    usage: &str,
) -> anyhow::Result<Vec<(&'k str, String)>> {
    let mut pairs = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (arg.as_str(), None),
        };
        if matches!(flag, "-h" | "--help") {
            eprintln!("{usage}");
            bail!("help requested");
        }
        let Some(&known_flag) = known.iter().find(|known| **known == flag) else {
            bail!("unknown option `{flag}`\n{usage}");
        };
        let value = match inline_value {
            Some(value) => value,
            None => args
                .next()
                .with_context(|| format!("{flag} needs a value\n{usage}"))?
                .clone(),
        };
        pairs.push((known_flag, value));
    }
    Ok(pairs)
}

/// `value` as a whole number above zero, or an error naming `flag`.
pub fn positive_number(flag: &str, value: &str) -> anyhow::Result<usize> {
    match value.parse::<usize>() {
        Ok(number) if number > 0 => Ok(number),
        _ => bail!("{flag} takes a whole number above zero, not `{value}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn options_default_and_override() -> anyhow::Result<()> {
        assert_eq!(parse_options(&[])?, Options::default());
        let options = parse_options(&args(&["--duration", "5", "--requests=5000"]))?;
        assert_eq!(options.duration, Duration::from_secs(5));
        assert_eq!(options.requests, 5000);
        assert_eq!(options.connections, 50);
        assert!(parse_options(&args(&["--requests", "0"])).is_err());
        assert!(parse_options(&args(&["--bogus", "1"])).is_err());
        assert!(parse_options(&args(&["--duration"])).is_err());
        Ok(())
    }
}
