//! The benchmark's figures: percentiles from raw latencies, the human-readable report printed
//! to stdout, and the same figures as JSON for `target/bench/report.json`.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use super::load::{LatencyRun, ThroughputRun};

/// Added p50 latency the gateway aims to stay under, in microseconds.
const ADDED_P50_TARGET_US: f64 = 60.0;
/// Gateway throughput the gateway aims to reach, in requests per second.
const THROUGHPUT_TARGET_RPS: f64 = 25_000.0;
/// Peak resident memory the gateway aims to stay under, in MiB.
const PEAK_RSS_TARGET_MIB: f64 = 40.0;

/// p50 and p99 of one latency run.
#[derive(Debug, Clone, Copy)]
pub struct LatencySummary {
    /// Median latency, in microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, in microseconds.
    pub p99_us: f64,
    /// How many latencies were recorded.
    pub samples: usize,
    /// How many requests failed.
    pub errors: u64,
}

impl LatencySummary {
    /// Summarises a run; `None` if no request succeeded.
    pub fn of(run: &LatencyRun) -> Option<Self> {
        let mut sorted = run.samples.clone();
        sorted.sort_unstable();
        Some(Self {
            p50_us: micros(percentile(&sorted, 0.50)?),
            p99_us: micros(percentile(&sorted, 0.99)?),
            samples: sorted.len(),
            errors: run.errors,
        })
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "p50_us": round1(self.p50_us),
            "p99_us": round1(self.p99_us),
            "samples": self.samples,
            "errors": self.errors,
        })
    }
}

/// Requests per second of one throughput run.
#[derive(Debug, Clone, Copy)]
pub struct ThroughputSummary {
    /// Successful requests per second.
    pub requests_per_second: f64,
    /// Successful requests.
    pub completed: u64,
    /// Failed requests.
    pub errors: u64,
    /// Length of the run, in seconds.
    pub seconds: f64,
}

impl ThroughputSummary {
    /// Summarises a run.
    pub fn of(run: &ThroughputRun) -> Self {
        Self {
            requests_per_second: run.requests_per_second(),
            completed: run.completed,
            errors: run.errors,
            seconds: run.elapsed.as_secs_f64(),
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "requests_per_second": self.requests_per_second.round(),
            "completed": self.completed,
            "errors": self.errors,
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
        })
    }
}

/// Everything the benchmark measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Recorded sequential requests per target.
    pub requests: usize,
    /// Parallel connections of the throughput runs.
    pub connections: usize,
    /// Length of each throughput run, in seconds.
    pub duration_secs: u64,
    /// CPUs the machine offers to all three processes together.
    pub cpus: usize,
    /// Latency at one connection, straight to the upstream.
    pub direct_latency: LatencySummary,
    /// Latency at one connection, through the gateway.
    pub gateway_latency: LatencySummary,
    /// Throughput straight to the upstream (the reference).
    pub direct_throughput: ThroughputSummary,
    /// Throughput through the gateway.
    pub gateway_throughput: ThroughputSummary,
    /// The gateway's peak resident memory (`VmHWM`), in KiB.
    pub gateway_peak_rss_kib: u64,
}

impl Report {
    /// Gateway p50 minus direct p50, in microseconds.
    pub fn added_p50_us(&self) -> f64 {
        self.gateway_latency.p50_us - self.direct_latency.p50_us
    }

    /// Gateway p99 minus direct p99, in microseconds.
    pub fn added_p99_us(&self) -> f64 {
        self.gateway_latency.p99_us - self.direct_latency.p99_us
    }

    /// The gateway's peak resident memory, in MiB.
    pub fn gateway_peak_rss_mib(&self) -> f64 {
        self.gateway_peak_rss_kib as f64 / 1024.0
    }

    /// Failed requests over all runs.
    pub fn errors(&self) -> u64 {
        self.direct_latency.errors
            + self.gateway_latency.errors
            + self.direct_throughput.errors
            + self.gateway_throughput.errors
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "switchyard bench (release build, loopback, {} cores shared by upstream, gateway and \
             load generator)",
            self.cpus
        );
        let _ = writeln!(out, "latency @1 connection, {} requests", self.requests);
        let _ = writeln!(out, "{}", latency_line("direct", &self.direct_latency));
        let _ = writeln!(out, "{}", latency_line("gateway", &self.gateway_latency));
        let _ = writeln!(
            out,
            "  added    p50 {:>5.0} us   p99 {:>5.0} us      (target p50 <= {ADDED_P50_TARGET_US} us)",
            self.added_p50_us(),
            self.added_p99_us()
        );
        let _ = writeln!(
            out,
            "throughput @{} connections, {} s",
            self.connections, self.duration_secs
        );
        let _ = writeln!(
            out,
            "{}",
            throughput_line("direct", &self.direct_throughput, "")
        );
        let target = format!("          (target >= {THROUGHPUT_TARGET_RPS} req/s)");
        let _ = writeln!(
            out,
            "{}",
            throughput_line("gateway", &self.gateway_throughput, &target)
        );
        let _ = writeln!(
            out,
            "peak RSS of the gateway: {:.1} MiB            (target < {PEAK_RSS_TARGET_MIB} MiB)",
            self.gateway_peak_rss_mib()
        );
        out
    }

    /// The report for machines.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "requests": self.requests,
            "connections": self.connections,
            "duration_secs": self.duration_secs,
            "cpus": self.cpus,
            "latency": {
                "direct": self.direct_latency.json(),
                "gateway": self.gateway_latency.json(),
                "added_p50_us": round1(self.added_p50_us()),
                "added_p99_us": round1(self.added_p99_us()),
            },
            "throughput": {
                "direct": self.direct_throughput.json(),
                "gateway": self.gateway_throughput.json(),
            },
            "gateway_peak_rss_kib": self.gateway_peak_rss_kib,
            "gateway_peak_rss_mib": round1(self.gateway_peak_rss_mib()),
            "targets": {
                "added_p50_us_max": ADDED_P50_TARGET_US,
                "gateway_requests_per_second_min": THROUGHPUT_TARGET_RPS,
                "gateway_peak_rss_mib_max": PEAK_RSS_TARGET_MIB,
                "added_p50_met": self.added_p50_us() <= ADDED_P50_TARGET_US,
                "throughput_met":
                    self.gateway_throughput.requests_per_second >= THROUGHPUT_TARGET_RPS,
                "peak_rss_met": self.gateway_peak_rss_mib() < PEAK_RSS_TARGET_MIB,
            },
        })
    }
}

fn latency_line(name: &str, latency: &LatencySummary) -> String {
    let mut line = format!(
        "  {name:<8} p50 {:>5.0} us   p99 {:>5.0} us",
        latency.p50_us, latency.p99_us
    );
    if latency.errors > 0 {
        let _ = write!(line, "      ({} errors)", latency.errors);
    }
    line
}

fn throughput_line(name: &str, throughput: &ThroughputSummary, suffix: &str) -> String {
    format!(
        "  {name:<8} {:>6.0} req/s  ({} errors){suffix}",
        throughput.requests_per_second, throughput.errors
    )
}

/// The nearest-rank percentile `quantile` (0 to 1) of ascending `sorted`; `None` if empty.
pub fn percentile(sorted: &[Duration], quantile: f64) -> Option<Duration> {
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

pub fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&sorted, 0.50), Some(Duration::from_micros(50)));
        assert_eq!(percentile(&sorted, 0.99), Some(Duration::from_micros(99)));
        assert_eq!(
            percentile(&sorted[..1], 0.99),
            Some(Duration::from_micros(1))
        );
        assert_eq!(percentile(&[], 0.5), None);
    }
}
