//! The benchmark's figures: percentiles from raw latencies, the human-readable report printed
//! to stdout (one row per target measured), the goals of the gateway read against the plain
//! proxy anchor, and the same figures as JSON for `target/bench/report.json`.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use super::load::{LatencyRun, StreamRun, ThroughputRun};
use super::wrk::WrkRun;

/// Gateway throughput at least this share of the plain proxy's.
const THROUGHPUT_VS_PROXY_MIN: f64 = 0.5;
/// Gateway p50 at one connection at most the proxy's plus this, in microseconds.
const P50_OVER_PROXY_MAX_US: f64 = 30.0;
/// Gateway p99 at one connection at most this multiple of the proxy's.
const P99_VS_PROXY_MAX: f64 = 2.0;
/// The gateway's first streamed bytes at most this much later than the upstream's, in
/// microseconds.
const STREAM_FIRST_BYTE_OVERHEAD_MAX_US: f64 = 100.0;
/// Data events in the fake upstream's stream (five chunks and `[DONE]`), for the cost per
/// chunk.
const UPSTREAM_STREAM_EVENTS: f64 = 6.0;
/// Peak resident memory the gateway stays under, in MiB.
const PEAK_RSS_MAX_MIB: f64 = 40.0;
/// The built-in and the external load generator agree within this share.
const GENERATORS_AGREE_WITHIN: f64 = 0.2;

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

/// p50 of the first bytes and of the end of streamed requests at one connection.
#[derive(Debug, Clone, Copy)]
pub struct StreamSummary {
    /// Median time to the first body bytes, in microseconds.
    pub first_byte_p50_us: f64,
    /// Median time to the end of the stream, in microseconds.
    pub complete_p50_us: f64,
    /// How many requests failed.
    pub errors: u64,
}

impl StreamSummary {
    /// Summarises a run; `None` if no request succeeded.
    pub fn of(run: &StreamRun) -> Option<Self> {
        let p50 = |samples: &[Duration]| {
            let mut sorted = samples.to_vec();
            sorted.sort_unstable();
            percentile(&sorted, 0.50).map(micros)
        };
        Some(Self {
            first_byte_p50_us: p50(&run.first_byte)?,
            complete_p50_us: p50(&run.complete)?,
            errors: run.errors,
        })
    }

    /// Time from the first bytes to the end.
    fn tail_us(&self) -> f64 {
        self.complete_p50_us - self.first_byte_p50_us
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "first_byte_p50_us": round1(self.first_byte_p50_us),
            "complete_p50_us": round1(self.complete_p50_us),
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

/// What was measured of one target: straight to the upstream, the proxy anchor, or the
/// gateway in one configuration.
#[derive(Debug, Clone)]
pub struct TargetFigures {
    /// What this target is ("direct", "nginx proxy", "gateway (...)").
    pub name: String,
    /// Whether the goals apply to it: the gateway calling the same upstream as the proxy.
    pub read_against_proxy: bool,
    /// Latency at one connection.
    pub latency: LatencySummary,
    /// Streamed requests at one connection.
    pub stream: StreamSummary,
    /// Throughput with the built-in load generator.
    pub throughput: ThroughputSummary,
    /// Throughput with wrk, when installed.
    pub wrk: Option<WrkRun>,
    /// CPU time (user + system) of the target's processes per request of the built-in
    /// throughput run, in microseconds; none for the upstream, which shares this process.
    pub cpu_us_per_request: Option<f64>,
    /// Peak resident memory (`VmHWM`), in KiB, for the gateway.
    pub peak_rss_kib: Option<u64>,
}

impl TargetFigures {
    fn peak_rss_mib(&self) -> Option<f64> {
        self.peak_rss_kib.map(|kib| kib as f64 / 1024.0)
    }

    /// wrk's rate over the built-in generator's, when both ran.
    fn generator_ratio(&self) -> Option<f64> {
        let wrk = self.wrk?;
        (self.throughput.requests_per_second > 0.0)
            .then(|| wrk.requests_per_second / self.throughput.requests_per_second)
    }

    fn errors(&self) -> u64 {
        self.latency.errors
            + self.stream.errors
            + self.throughput.errors
            + self.wrk.map_or(0, |w| w.errors)
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "latency": self.latency.json(),
            "stream": self.stream.json(),
            "throughput": self.throughput.json(),
            "wrk_requests_per_second": self.wrk.map(|w| w.requests_per_second.round()),
            "wrk_errors": self.wrk.map(|w| w.errors),
            "generators_ratio": self.generator_ratio().map(round2),
            "cpu_us_per_request": self.cpu_us_per_request.map(round1),
            "peak_rss_kib": self.peak_rss_kib,
            "peak_rss_mib": self.peak_rss_mib().map(round1),
        })
    }
}

/// A gateway target read against the proxy anchor: the goals of issue 15.
#[derive(Debug, Clone, Copy)]
struct Goals {
    throughput_vs_proxy: f64,
    p50_over_proxy_us: f64,
    p99_vs_proxy: f64,
    /// First streamed bytes later than straight from the upstream.
    stream_first_byte_overhead_us: f64,
    /// Time added after the first bytes, per upstream stream event.
    stream_per_chunk_overhead_us: f64,
}

impl Goals {
    fn of(gateway: &TargetFigures, proxy: &TargetFigures, direct: &TargetFigures) -> Self {
        Self {
            stream_first_byte_overhead_us: gateway.stream.first_byte_p50_us
                - direct.stream.first_byte_p50_us,
            stream_per_chunk_overhead_us: (gateway.stream.tail_us() - direct.stream.tail_us())
                / UPSTREAM_STREAM_EVENTS,
            throughput_vs_proxy: gateway.throughput.requests_per_second
                / proxy.throughput.requests_per_second.max(f64::MIN_POSITIVE),
            p50_over_proxy_us: gateway.latency.p50_us - proxy.latency.p50_us,
            p99_vs_proxy: gateway.latency.p99_us / proxy.latency.p99_us.max(f64::MIN_POSITIVE),
        }
    }

    fn json(&self, gateway: &TargetFigures) -> serde_json::Value {
        json!({
            "throughput_vs_proxy": round2(self.throughput_vs_proxy),
            "throughput_met": self.throughput_vs_proxy >= THROUGHPUT_VS_PROXY_MIN,
            "p50_over_proxy_us": round1(self.p50_over_proxy_us),
            "p50_met": self.p50_over_proxy_us <= P50_OVER_PROXY_MAX_US,
            "p99_vs_proxy": round2(self.p99_vs_proxy),
            "p99_met": self.p99_vs_proxy <= P99_VS_PROXY_MAX,
            "stream_first_byte_overhead_us": round1(self.stream_first_byte_overhead_us),
            "stream_first_byte_met":
                self.stream_first_byte_overhead_us <= STREAM_FIRST_BYTE_OVERHEAD_MAX_US,
            "stream_per_chunk_overhead_us": round1(self.stream_per_chunk_overhead_us),
            "peak_rss_met": gateway.peak_rss_mib().map(|mib| mib < PEAK_RSS_MAX_MIB),
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
    /// CPUs the machine offers to all processes together.
    pub cpus: usize,
    /// Every target, the upstream direct first.
    pub targets: Vec<TargetFigures>,
    /// What was skipped, and why.
    pub notes: Vec<String>,
}

impl Report {
    /// Failed requests over all runs.
    pub fn errors(&self) -> u64 {
        self.targets.iter().map(TargetFigures::errors).sum()
    }

    /// The plain proxy anchor and the upstream direct, when both ran.
    fn anchors(&self) -> Option<(&TargetFigures, &TargetFigures)> {
        let proxy = self
            .targets
            .iter()
            .find(|t| t.name == super::PROXY_TARGET)?;
        let direct = self
            .targets
            .iter()
            .find(|t| t.name == super::DIRECT_TARGET)?;
        Some((proxy, direct))
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "switchyard bench (release build, loopback, {} cores shared by upstream, target and \
             load generator; latency at 1 connection over {} requests, throughput at {} \
             connections for {} s)",
            self.cpus, self.requests, self.connections, self.duration_secs
        );
        let _ = writeln!(
            out,
            "  {:<36} {:>7} {:>7} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8}",
            "target",
            "p50 us",
            "p99 us",
            "stream 1st",
            "stream end",
            "req/s",
            "wrk req/s",
            "CPU us/rq",
            "RSS MiB"
        );
        for target in &self.targets {
            let optional = |value: Option<f64>, precision: usize| {
                value.map_or_else(|| "-".to_owned(), |v| format!("{v:.precision$}"))
            };
            let _ = write!(
                out,
                "  {:<36} {:>7.0} {:>7.0} {:>10.0} {:>10.0} {:>8.0} {:>9} {:>9} {:>8}",
                target.name,
                target.latency.p50_us,
                target.latency.p99_us,
                target.stream.first_byte_p50_us,
                target.stream.complete_p50_us,
                target.throughput.requests_per_second,
                optional(target.wrk.map(|w| w.requests_per_second), 0),
                optional(target.cpu_us_per_request, 1),
                optional(target.peak_rss_mib(), 1),
            );
            if target.errors() > 0 {
                let _ = write!(out, "  ({} errors)", target.errors());
            }
            out.push('\n');
        }
        if let Some((proxy, direct)) = self.anchors() {
            let _ = writeln!(
                out,
                "goals: throughput >= {THROUGHPUT_VS_PROXY_MIN}x the proxy, p50 <= proxy + {P50_OVER_PROXY_MAX_US} us, \
                 p99 <= {P99_VS_PROXY_MAX}x the proxy, first streamed bytes <= direct + \
                 {STREAM_FIRST_BYTE_OVERHEAD_MAX_US} us, peak RSS < {PEAK_RSS_MAX_MIB} MiB"
            );
            for gateway in self.targets.iter().filter(|t| t.read_against_proxy) {
                let goals = Goals::of(gateway, proxy, direct);
                let _ = writeln!(
                    out,
                    "  {:<36} {:.2}x  p50 {:+.0} us  p99 {:.2}x  stream first byte {:+.0} us, {:+.1} us per chunk",
                    gateway.name,
                    goals.throughput_vs_proxy,
                    goals.p50_over_proxy_us,
                    goals.p99_vs_proxy,
                    goals.stream_first_byte_overhead_us,
                    goals.stream_per_chunk_overhead_us
                );
            }
        }
        for target in &self.targets {
            if let Some(ratio) = target.generator_ratio()
                && (ratio - 1.0).abs() > GENERATORS_AGREE_WITHIN
            {
                let _ = writeln!(
                    out,
                    "note: for {}, wrk and the built-in generator differ by more than {:.0} % ({ratio:.2}x)",
                    target.name,
                    GENERATORS_AGREE_WITHIN * 100.0
                );
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }

    /// The report for machines.
    pub fn json(&self) -> serde_json::Value {
        let goals: serde_json::Map<String, serde_json::Value> = self
            .anchors()
            .map(|(proxy, direct)| {
                self.targets
                    .iter()
                    .filter(|t| t.read_against_proxy)
                    .map(|g| (g.name.clone(), Goals::of(g, proxy, direct).json(g)))
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "requests": self.requests,
            "connections": self.connections,
            "duration_secs": self.duration_secs,
            "cpus": self.cpus,
            "targets": self.targets.iter().map(TargetFigures::json).collect::<Vec<_>>(),
            "goals": {
                "throughput_vs_proxy_min": THROUGHPUT_VS_PROXY_MIN,
                "p50_over_proxy_max_us": P50_OVER_PROXY_MAX_US,
                "p99_vs_proxy_max": P99_VS_PROXY_MAX,
                "stream_first_byte_overhead_max_us": STREAM_FIRST_BYTE_OVERHEAD_MAX_US,
                "peak_rss_max_mib": PEAK_RSS_MAX_MIB,
                "generators_agree_within": GENERATORS_AGREE_WITHIN,
                "by_target": goals,
            },
            "notes": self.notes,
        })
    }
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

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
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
