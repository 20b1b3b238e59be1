//! `cargo xtask soak`: the gateway under steady mixed traffic for minutes, to see that its memory
//! levels off and that nothing fails that should not.
//!
//! 1. Build the release gateway as `cargo xtask bench` does ([`crate::bench::build_release`]).
//! 2. Start the bench's fake upstream and write a config ([`crate::bench::gateway`]) with the
//!    bench model group (plain and streamed calls), a group whose upstream always fails, the
//!    response cache (small, in memory), a master key and a SQLite database in the out dir, so
//!    that spend records are written.
//! 3. Send requests open-loop at a fixed rate ([`traffic`]): about 50 % chat completions with
//!    new prompts (cache misses), 20 % streamed, 10 % to the failing group (502 expected) and
//!    20 % with a few repeated prompts (cache hits).
//! 4. Every 10 s, sample the gateway's RSS (`VmRSS`), the window's answers by outcome and their
//!    p50/p99 latency, and a few of the gateway's metrics ([`summary`]).
//! 5. Print the table, write `<out>/soak.json`, and fail if the gateway exited, if any answer
//!    was unexpected, or if the mean RSS of the last third of the run is above that of the
//!    middle third by more than 10 % and more than 5 MiB.
//!
//! Usage: `cargo xtask soak [--minutes 10] [--rate 200] [--out target/soak]`.

mod summary;
mod traffic;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::StatusCode;
use hyper::header::HeaderValue;
use tokio::runtime::Runtime;

use crate::bench::gateway::{self, ConfigExtras, Gateway};
use crate::bench::upstream::{self, FAILING_MODEL};
use crate::bench::{
    Built, build_release, flag_values, load, on_worker, positive_number, runtime, wait_until_ready,
};
use crate::root;
use summary::{Gauges, KEPT_ERRORS, Report, Sample, Window};
use traffic::{FAILING_GROUP, Pool, lock};

/// How often the gateway is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// The gateway's master key, which every request carries.
const MASTER_KEY: &str = "sk-soak-master-key";
/// `litellm_settings.cache_params.max_size_mb`: small, so that it fills and evicts early on.
const CACHE_MAX_SIZE_MB: f64 = 1.0;
/// The gateway's SQLite database, in the out dir.
const DATABASE_FILE: &str = "soak.db";
/// The files a run writes in the out dir (and removes first, so that none is stale).
const OUT_FILES: [&str; 6] = [
    "config.yaml",
    "gateway.log",
    "soak.json",
    DATABASE_FILE,
    "soak.db-wal",
    "soak.db-shm",
];
/// How long to leave the spend writer (which flushes every second) before counting records.
const SPEND_FLUSH_WAIT: Duration = Duration::from_secs(2);

const USAGE: &str = "usage: cargo xtask soak [--minutes 10] [--rate 200] [--out target/soak]";

/// The command line of `cargo xtask soak`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    /// How long the traffic runs.
    minutes: u64,
    /// Requests per second.
    rate: u32,
    /// Where the config, the gateway's log and database, and `soak.json` go (relative paths
    /// from the workspace root).
    out: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            minutes: 10,
            rate: 200,
            out: PathBuf::from("target/soak"),
        }
    }
}

/// Runs the soak test; `args` are the options after `soak`.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse_options(args)?;
    if build_release("soak", args)? == Built::RanOptimised {
        return Ok(());
    }
    soak(&options)
}

/// Starts the upstream and the gateway, runs the traffic, stops them, and publishes the report.
fn soak(options: &Options) -> anyhow::Result<()> {
    let out = root().join(&options.out);
    prepare_out_dir(&out)?;
    let upstream_runtime = runtime("soak-upstream")?;
    let load_runtime = runtime("soak-load")?;
    let upstream_addr = upstream_runtime.block_on(upstream::start())?;
    eprintln!("xtask: soak upstream listening on http://{upstream_addr}");

    let extras = ConfigExtras {
        groups: vec![(FAILING_GROUP.to_owned(), FAILING_MODEL.to_owned())],
        cache_max_size_mb: Some(CACHE_MAX_SIZE_MB),
        // A failing deployment is never left out, so that the failing group keeps answering
        // 502 (its upstream's failure) rather than 503 (nothing available).
        cooldown_secs: Some(0.0),
        master_key: Some(MASTER_KEY.to_owned()),
        sqlite_path: Some(out.join(DATABASE_FILE)),
        otlp_endpoint: None,
    };
    let config = gateway::write_config(&out, upstream_addr.port(), &extras)?;
    let binary = root().join("target/release/switchyard");
    let mut gateway = Gateway::spawn(&binary, Some(&config), &out.join("gateway.log"))?;
    eprintln!(
        "xtask: gateway (pid {}) listening on http://{}",
        gateway.pid(),
        gateway.addr
    );
    on_worker(&load_runtime, wait_until_ready(gateway.addr))??;

    let report = traffic_and_samples(&load_runtime, options, &mut gateway)?;
    drop(gateway);
    upstream_runtime.shutdown_background();
    load_runtime.shutdown_background();
    publish(&report, &out.join("soak.json"))
}

/// Runs the traffic for `options.minutes`, sampling the gateway every [`SAMPLE_EVERY`]; stops
/// early if the gateway exits.
fn traffic_and_samples(
    load_runtime: &Runtime,
    options: &Options,
    gateway: &mut Gateway,
) -> anyhow::Result<Report> {
    let mut report = Report {
        minutes: options.minutes,
        target_rate: options.rate,
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        idle_rss_kib: gateway.rss_kib()?,
        ..Report::default()
    };
    let duration = Duration::from_secs(options.minutes * 60);
    let windows = u32::try_from(duration.as_secs() / SAMPLE_EVERY.as_secs())
        .context("--minutes is too large")?;
    eprintln!(
        "xtask: soak: {} req/s for {} min, sampling every {} s",
        options.rate,
        options.minutes,
        SAMPLE_EVERY.as_secs()
    );
    let window = Arc::new(Mutex::new(Window::default()));
    let pool = Arc::new(Pool::new(gateway.addr, MASTER_KEY)?);
    let started = Instant::now();
    let mut driver = load_runtime.spawn(traffic::drive(
        pool,
        options.rate,
        duration,
        Arc::clone(&window),
    ));
    let mut previous: Option<Gauges> = None;
    for index in 1..=windows {
        let at = SAMPLE_EVERY * index;
        if index == windows {
            // The traffic stops at `duration`; the last window also holds the answers to the
            // requests still in flight then.
            load_runtime
                .block_on(&mut driver)
                .context("the load generator panicked")?;
        } else {
            std::thread::sleep((started + at).saturating_duration_since(Instant::now()));
        }
        if let Err(exit) = gateway.check_alive() {
            driver.abort();
            report.gateway_exit = Some(format!("{exit:#}"));
            // No RSS to sample; the window's errors still say what the clients saw.
            let closed = std::mem::take(&mut *lock(&window));
            let room = KEPT_ERRORS.saturating_sub(report.errors.len());
            report.errors.extend(closed.errors.into_iter().take(room));
            break;
        }
        let rss_kib = gateway.rss_kib()?;
        let gauges = scrape_metrics(load_runtime, gateway);
        let mut closed = std::mem::take(&mut *lock(&window));
        let room = KEPT_ERRORS.saturating_sub(report.errors.len());
        report.errors.extend(closed.errors.drain(..).take(room));
        let sample = Sample::of(at, closed, rss_kib, gauges, previous.as_ref());
        eprintln!(
            "xtask: soak {:>4} s: RSS {:.1} MiB, {} answered, {} unexpected, p99 {} ms",
            at.as_secs(),
            rss_kib as f64 / 1024.0,
            sample.counts.answered,
            sample.counts.unexpected(),
            sample
                .p99
                .map_or("-".to_owned(), |d| format!("{:.2}", d.as_secs_f64() * 1e3)),
        );
        previous = Some(gauges);
        report.samples.push(sample);
    }
    if report.gateway_exit.is_none() {
        std::thread::sleep(SPEND_FLUSH_WAIT);
        report.spend_records = count_spend_records(load_runtime, gateway)
            .map_err(|error| eprintln!("xtask: counting spend records failed: {error:#}"))
            .ok();
    }
    Ok(report)
}

/// The gateway's `/metrics`, or empty gauges if they could not be read (said on stderr).
fn scrape_metrics(load_runtime: &Runtime, gateway: &Gateway) -> Gauges {
    let addr = gateway.addr;
    let scraped = on_worker(load_runtime, async move {
        load::get(addr, "/metrics", None).await
    })
    .and_then(|answer| answer);
    match scraped {
        Ok((StatusCode::OK, body)) => Gauges::parse(&String::from_utf8_lossy(&body)),
        Ok((status, _)) => {
            eprintln!("xtask: GET /metrics answered {status}");
            Gauges::default()
        }
        Err(error) => {
            eprintln!("xtask: GET /metrics failed: {error:#}");
            Gauges::default()
        }
    }
}

/// The number of spend records in the gateway's database, from `GET /spend/report`.
fn count_spend_records(load_runtime: &Runtime, gateway: &Gateway) -> anyhow::Result<u64> {
    let addr = gateway.addr;
    let authorization = HeaderValue::from_str(&format!("Bearer {MASTER_KEY}"))
        .context("building the Authorization header")?;
    let (status, body) = on_worker(load_runtime, async move {
        load::get(addr, "/spend/report?group_by=model", Some(&authorization)).await
    })??;
    if status != StatusCode::OK {
        bail!(
            "GET /spend/report answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let totals: serde_json::Value =
        serde_json::from_slice(&body).context("parsing /spend/report")?;
    let totals = totals
        .as_array()
        .context("/spend/report did not answer a list")?;
    Ok(totals
        .iter()
        .filter_map(|total| total["requests"].as_u64())
        .sum())
}

/// Prints the report, writes it as JSON to `json_path`, and fails if the soak test failed.
fn publish(report: &Report, json_path: &Path) -> anyhow::Result<()> {
    print!("{}", report.text());
    let json = serde_json::to_string_pretty(&report.json()).context("serialising the report")?;
    std::fs::write(json_path, json + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    eprintln!("xtask: wrote {}", json_path.display());
    for error in &report.errors {
        eprintln!("xtask: unexpected: {error}");
    }
    let failures = report.failures();
    if !failures.is_empty() {
        bail!("the soak test failed:\n  {}", failures.join("\n  "));
    }
    println!("soak test passed");
    Ok(())
}

/// Creates `out` and removes the files an earlier run left there (only those: `--out` may name
/// a folder that holds other things).
fn prepare_out_dir(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for name in OUT_FILES {
        let path = out.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("removing {}", path.display()));
            }
        }
    }
    Ok(())
}

/// Reads `--minutes N`, `--rate R` and `--out PATH` (also as `--flag=value`).
fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options::default();
    for (flag, value) in flag_values(args, &["--minutes", "--rate", "--out"], USAGE)? {
        match flag {
            "--minutes" => options.minutes = positive_number(flag, &value)? as u64,
            "--rate" => {
                options.rate = u32::try_from(positive_number(flag, &value)?)
                    .with_context(|| format!("--rate {value} is too large"))?;
            }
            _ => options.out = PathBuf::from(value),
        }
    }
    Ok(options)
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
        let options = parse_options(&args(&["--minutes", "3", "--rate=50", "--out", "/tmp/s"]))?;
        assert_eq!(
            options,
            Options {
                minutes: 3,
                rate: 50,
                out: PathBuf::from("/tmp/s"),
            }
        );
        assert!(parse_options(&args(&["--minutes", "0"])).is_err());
        assert!(parse_options(&args(&["--rate", "-1"])).is_err());
        assert!(parse_options(&args(&["--requests", "1"])).is_err());
        assert!(parse_options(&args(&["--out"])).is_err());
        Ok(())
    }
}
