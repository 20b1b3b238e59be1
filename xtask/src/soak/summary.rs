//! The soak test's figures: answers tallied per 10-second window, the samples taken at the end of
//! each window, the judgement on memory, the table printed at the end and `soak.json`.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use super::traffic::Kind;
use crate::bench::report::{percentile, round1};

/// How many unexpected errors are kept word for word.
pub const KEPT_ERRORS: usize = 10;
/// Memory "levels off" unless the last third's mean RSS is above the middle third's by more
/// than this share...
const GROWTH_RATIO_LIMIT: f64 = 0.10;
/// ... and by more than this many KiB.
const GROWTH_KIB_LIMIT: f64 = 5.0 * 1024.0;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The answer expected of its kind.
    Ok,
    /// The failing group's 502.
    Expected502,
    /// Any other status (a 5xx on a good model, a 503 on the failing one...).
    BadStatus,
    /// Status 200 with a body that is not a whole completion or stream.
    BadBody,
    /// The connection failed or broke.
    Connection,
    /// No answer in time.
    Timeout,
}

/// Answers counted by outcome and kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests answered (or failed), whatever the outcome.
    pub answered: u64,
    /// Answered as expected, 502s of the failing group aside.
    pub ok: u64,
    /// The failing group's 502s.
    pub expected_502: u64,
    /// Unexpected statuses.
    pub bad_status: u64,
    /// Unexpected bodies.
    pub bad_body: u64,
    /// Connection errors.
    pub connection: u64,
    /// Timeouts.
    pub timeout: u64,
    /// Due requests not sent because too many were in flight.
    pub skipped: u64,
    /// Answered requests by kind, in [`Kind::ALL`]'s order.
    pub by_kind: [u64; 4],
}

impl Counts {
    /// Everything that should not have happened.
    pub fn unexpected(&self) -> u64 {
        self.bad_status + self.bad_body + self.connection + self.timeout
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Self) {
        self.answered += other.answered;
        self.ok += other.ok;
        self.expected_502 += other.expected_502;
        self.bad_status += other.bad_status;
        self.bad_body += other.bad_body;
        self.connection += other.connection;
        self.timeout += other.timeout;
        self.skipped += other.skipped;
        for (total, count) in self.by_kind.iter_mut().zip(other.by_kind) {
            *total += count;
        }
    }

    fn json(&self) -> serde_json::Value {
        let by_kind: serde_json::Map<String, serde_json::Value> = Kind::ALL
            .iter()
            .map(|kind| (kind.name().to_owned(), self.by_kind[kind.index()].into()))
            .collect();
        json!({
            "answered": self.answered,
            "ok": self.ok,
            "expected_502": self.expected_502,
            "unexpected": {
                "status": self.bad_status,
                "body": self.bad_body,
                "connection": self.connection,
                "timeout": self.timeout,
            },
            "skipped": self.skipped,
            "by_kind": by_kind,
        })
    }
}

/// The answers of the current window, filled by the load generator and taken by the sampler.
#[derive(Debug, Default)]
pub struct Window {
    /// The answers counted, and the requests skipped.
    pub counts: Counts,
    /// The latency of every answer, from when its request was due.
    pub latencies: Vec<Duration>,
    /// The first unexpected errors, word for word.
    pub errors: Vec<String>,
}

impl Window {
    /// Counts one answer; `describe` says what went wrong, if it did and fewer than
    /// [`KEPT_ERRORS`] are kept.
    pub fn record(
        &mut self,
        kind: Kind,
        outcome: Outcome,
        latency: Duration,
        describe: impl FnOnce() -> String,
    ) {
        let counts = &mut self.counts;
        counts.answered += 1;
        counts.by_kind[kind.index()] += 1;
        let counter = match outcome {
            Outcome::Ok => &mut counts.ok,
            Outcome::Expected502 => &mut counts.expected_502,
            Outcome::BadStatus => &mut counts.bad_status,
            Outcome::BadBody => &mut counts.bad_body,
            Outcome::Connection => &mut counts.connection,
            Outcome::Timeout => &mut counts.timeout,
        };
        *counter += 1;
        let unexpected = !matches!(outcome, Outcome::Ok | Outcome::Expected502);
        if unexpected && self.errors.len() < KEPT_ERRORS {
            self.errors.push(describe());
        }
        self.latencies.push(latency);
    }
}

/// What the gateway's `/metrics` said at a sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gauges {
    /// `switchyard_cache_hits_total`, summed over models, since the start.
    pub cache_hits: Option<f64>,
    /// `switchyard_runtime_alive_tasks`.
    pub alive_tasks: Option<f64>,
    /// `switchyard_open_connections`.
    pub open_connections: Option<f64>,
    /// `switchyard_spend_records_shed_total`.
    pub spend_records_shed: Option<f64>,
}

impl Gauges {
    /// Reads the gauges from a Prometheus text exposition.
    pub fn parse(metrics: &str) -> Self {
        Self {
            cache_hits: metric_sum(metrics, "switchyard_cache_hits_total"),
            alive_tasks: metric_sum(metrics, "switchyard_runtime_alive_tasks"),
            open_connections: metric_sum(metrics, "switchyard_open_connections"),
            spend_records_shed: metric_sum(metrics, "switchyard_spend_records_shed_total"),
        }
    }
}

/// The sum of every series of metric `name` in a Prometheus text exposition; `None` if it has
/// none.
pub fn metric_sum(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            if !(rest.starts_with('{') || rest.starts_with(' ')) {
                return None;
            }
            rest.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .fold(None, |sum, value| Some(sum.unwrap_or(0.0) + value))
}

/// One row of the table: the window that ended `at` after the start.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The end of the window, from the start of the traffic.
    pub at: Duration,
    /// The gateway's resident memory at the end of the window, in KiB.
    pub rss_kib: u64,
    /// The window's answers.
    pub counts: Counts,
    /// Median latency of the window's answers.
    pub p50: Option<Duration>,
    /// 99th percentile latency of the window's answers.
    pub p99: Option<Duration>,
    /// Cache hits during the window (from `/metrics`).
    pub cache_hits: Option<f64>,
    /// The gateway's `/metrics` at the end of the window.
    pub gauges: Gauges,
}

impl Sample {
    /// Closes `window` as the sample at `at`, with the gateway's memory and metrics then; the
    /// cache hits of the window are those since `previous`.
    pub fn of(
        at: Duration,
        window: Window,
        rss_kib: u64,
        gauges: Gauges,
        previous: Option<&Gauges>,
    ) -> Self {
        let mut latencies = window.latencies;
        latencies.sort_unstable();
        let before = previous.and_then(|gauges| gauges.cache_hits).unwrap_or(0.0);
        Self {
            at,
            rss_kib,
            counts: window.counts,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            cache_hits: gauges.cache_hits.map(|hits| hits - before),
            gauges,
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "at_secs": self.at.as_secs(),
            "rss_kib": self.rss_kib,
            "rss_mib": round1(mib(self.rss_kib as f64)),
            "counts": self.counts.json(),
            "p50_ms": self.p50.map(|d| round3(millis(d))),
            "p99_ms": self.p99.map(|d| round3(millis(d))),
            "cache_hits": self.cache_hits,
            "alive_tasks": self.gauges.alive_tasks,
            "open_connections": self.gauges.open_connections,
        })
    }
}

/// The mean RSS of the middle and the last third of the samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    /// Mean RSS of the middle third, in KiB.
    pub middle_kib: f64,
    /// Mean RSS of the last third, in KiB.
    pub last_kib: f64,
}

impl Memory {
    /// Splits `rss_kib` (one value per sample, in time order) in thirds and averages the middle
    /// and the last one; `None` with fewer than three samples.
    pub fn of(rss_kib: &[u64]) -> Option<Self> {
        let n = rss_kib.len();
        if n < 3 {
            return None;
        }
        let mean =
            |part: &[u64]| part.iter().map(|&kib| kib as f64).sum::<f64>() / part.len() as f64;
        Some(Self {
            middle_kib: mean(&rss_kib[n / 3..2 * n / 3]),
            last_kib: mean(&rss_kib[2 * n / 3..]),
        })
    }

    /// Growth from the middle third to the last, in KiB (negative if it shrank).
    pub fn growth_kib(&self) -> f64 {
        self.last_kib - self.middle_kib
    }

    /// Growth as a share of the middle third's mean.
    pub fn growth_ratio(&self) -> f64 {
        if self.middle_kib > 0.0 {
            self.growth_kib() / self.middle_kib
        } else {
            0.0
        }
    }

    /// Whether memory levels off: it did not grow by more than 10 % *and* more than 5 MiB.
    pub fn levels_off(&self) -> bool {
        !(self.growth_ratio() > GROWTH_RATIO_LIMIT && self.growth_kib() > GROWTH_KIB_LIMIT)
    }

    fn text(&self) -> String {
        format!(
            "memory: middle third {:.1} MiB, last third {:.1} MiB: {:+.1} MiB ({:+.1} %), {}",
            mib(self.middle_kib),
            mib(self.last_kib),
            mib(self.growth_kib()),
            self.growth_ratio() * 100.0,
            if self.levels_off() {
                "levels off"
            } else {
                "GROWS (more than 10 % and 5 MiB)"
            }
        )
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "middle_third_mean_mib": round3(mib(self.middle_kib)),
            "last_third_mean_mib": round3(mib(self.last_kib)),
            "growth_mib": round3(mib(self.growth_kib())),
            "growth_percent": round3(self.growth_ratio() * 100.0),
            "levels_off": self.levels_off(),
        })
    }
}

/// Everything the soak test saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Planned length of the traffic, in minutes.
    pub minutes: u64,
    /// Requests per second aimed at.
    pub target_rate: u32,
    /// CPUs shared by the upstream, the gateway and the load generator.
    pub cpus: usize,
    /// The gateway's RSS before the traffic started, in KiB.
    pub idle_rss_kib: u64,
    /// One per window.
    pub samples: Vec<Sample>,
    /// The first unexpected errors, word for word.
    pub errors: Vec<String>,
    /// Spend records in the database at the end (from `/spend/report`).
    pub spend_records: Option<u64>,
    /// How the gateway exited, if it did.
    pub gateway_exit: Option<String>,
}

impl Report {
    /// The counts of every window together.
    pub fn totals(&self) -> Counts {
        let mut totals = Counts::default();
        for sample in &self.samples {
            totals.add(&sample.counts);
        }
        totals
    }

    /// Seconds the traffic ran (the end of the last window).
    pub fn elapsed_secs(&self) -> f64 {
        self.samples.last().map_or(0.0, |s| s.at.as_secs_f64())
    }

    /// The memory judgement over the samples.
    pub fn memory(&self) -> Option<Memory> {
        let rss: Vec<u64> = self.samples.iter().map(|s| s.rss_kib).collect();
        Memory::of(&rss)
    }

    /// Why the soak test failed; empty if it passed.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if let Some(exit) = &self.gateway_exit {
            failures.push(format!("the gateway exited: {exit}"));
        }
        let totals = self.totals();
        if totals.unexpected() > 0 {
            failures.push(format!(
                "{} unexpected errors ({} status, {} body, {} connection, {} timeout)",
                totals.unexpected(),
                totals.bad_status,
                totals.bad_body,
                totals.connection,
                totals.timeout
            ));
        }
        if let Some(memory) = self.memory()
            && !memory.levels_off()
        {
            failures.push(format!(
                "memory does not level off: {:+.1} MiB ({:+.1} %) from the middle third to the last",
                mib(memory.growth_kib()),
                memory.growth_ratio() * 100.0
            ));
        }
        failures
    }

    /// The report for people: the table, the rates, the memory judgement.
    pub fn text(&self) -> String {
        let totals = self.totals();
        let elapsed = self.elapsed_secs().max(f64::EPSILON);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "switchyard soak ({} min, release build, loopback, {} cores shared by upstream, \
             gateway and load generator)",
            self.minutes, self.cpus
        );
        let _ = writeln!(
            out,
            "rate: target {} req/s, sent {:.1} req/s, answered {:.1} req/s; mix answered: {}",
            self.target_rate,
            (totals.answered + totals.skipped) as f64 / elapsed,
            totals.answered as f64 / elapsed,
            Kind::ALL
                .iter()
                .map(|k| format!("{} {}", k.name(), totals.by_kind[k.index()]))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            out,
            "{:>6} {:>8} {:>8} {:>8} {:>7} {:>6} {:>5} {:>5} {:>7} {:>7} {:>6} {:>8} {:>8} {:>6}",
            "time",
            "RSS MiB",
            "requests",
            "ok",
            "502 exp",
            "status",
            "body",
            "conn",
            "timeout",
            "skipped",
            "hits",
            "p50 ms",
            "p99 ms",
            "tasks"
        );
        let _ = writeln!(
            out,
            "{:>6} {:>8.1} {:>8} (idle, before the traffic)",
            "0 s",
            mib(self.idle_rss_kib as f64),
            0
        );
        for sample in &self.samples {
            let c = &sample.counts;
            let _ = writeln!(
                out,
                "{:>6} {:>8.1} {:>8} {:>8} {:>7} {:>6} {:>5} {:>5} {:>7} {:>7} {:>6} {:>8} {:>8} {:>6}",
                format!("{} s", sample.at.as_secs()),
                mib(sample.rss_kib as f64),
                c.answered,
                c.ok,
                c.expected_502,
                c.bad_status,
                c.bad_body,
                c.connection,
                c.timeout,
                c.skipped,
                optional(sample.cache_hits, 0),
                sample
                    .p50
                    .map_or("-".to_owned(), |d| format!("{:.2}", millis(d))),
                sample
                    .p99
                    .map_or("-".to_owned(), |d| format!("{:.2}", millis(d))),
                optional(sample.gauges.alive_tasks, 0),
            );
        }
        let _ = writeln!(
            out,
            "{:>6} {:>8} {:>8} {:>8} {:>7} {:>6} {:>5} {:>5} {:>7} {:>7} {:>6}",
            "total",
            "",
            totals.answered,
            totals.ok,
            totals.expected_502,
            totals.bad_status,
            totals.bad_body,
            totals.connection,
            totals.timeout,
            totals.skipped,
            optional(self.samples.last().and_then(|s| s.gauges.cache_hits), 0),
        );
        match self.memory() {
            Some(memory) => {
                let _ = writeln!(out, "{}", memory.text());
            }
            None => {
                let _ = writeln!(out, "memory: fewer than 3 samples, not judged");
            }
        }
        let shed = self
            .samples
            .last()
            .and_then(|s| s.gauges.spend_records_shed);
        let _ = writeln!(
            out,
            "spend records in the database: {} ({} shed)",
            self.spend_records
                .map_or("unknown".to_owned(), |n| n.to_string()),
            optional(shed, 0)
        );
        out
    }

    /// The report for machines (`soak.json`).
    pub fn json(&self) -> serde_json::Value {
        let totals = self.totals();
        let elapsed = self.elapsed_secs().max(f64::EPSILON);
        let last = self.samples.last().map(|s| s.gauges).unwrap_or_default();
        json!({
            "minutes": self.minutes,
            "cpus": self.cpus,
            "rate": {
                "target_per_sec": self.target_rate,
                "sent_per_sec": round1((totals.answered + totals.skipped) as f64 / elapsed),
                "answered_per_sec": round1(totals.answered as f64 / elapsed),
            },
            "idle_rss_kib": self.idle_rss_kib,
            "samples": self.samples.iter().map(Sample::json).collect::<Vec<_>>(),
            "totals": totals.json(),
            "cache_hits": last.cache_hits,
            "spend_records": self.spend_records,
            "spend_records_shed": last.spend_records_shed,
            "memory": self.memory().map(|m| m.json()),
            "gateway_exit": self.gateway_exit,
            "first_unexpected_errors": self.errors,
            "failures": self.failures(),
            "passed": self.failures().is_empty(),
        })
    }
}

fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn mib(kib: f64) -> f64 {
    kib / 1024.0
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024;

    #[test]
    fn memory_levels_off_unless_it_grows_by_10_percent_and_5_mib() {
        let flat = [20 * MIB, 30 * MIB, 30 * MIB, 31 * MIB, 31 * MIB, 31 * MIB];
        let memory = Memory::of(&flat).expect("six samples");
        assert_eq!(memory.middle_kib, 30.5 * 1024.0);
        assert_eq!(memory.last_kib, 31.0 * 1024.0);
        assert!(memory.levels_off());

        // +20 % but only +4 MiB: small and fine.
        let small = [10 * MIB, 10 * MIB, 20 * MIB, 20 * MIB, 24 * MIB, 24 * MIB];
        assert!(Memory::of(&small).expect("six").levels_off());
        // +6 MiB but only +3 % of a big process: fine.
        let big = [
            200 * MIB,
            200 * MIB,
            200 * MIB,
            206 * MIB,
            206 * MIB,
            206 * MIB,
        ];
        assert!(Memory::of(&big).expect("six").levels_off());
        // +10 MiB and +50 %: a leak.
        let leak = [10 * MIB, 10 * MIB, 20 * MIB, 20 * MIB, 30 * MIB, 30 * MIB];
        let memory = Memory::of(&leak).expect("six");
        assert!(!memory.levels_off());
        assert_eq!(memory.growth_kib(), 10.0 * 1024.0);
        assert_eq!(memory.growth_ratio(), 0.5);
        // Just over both limits fails; just under either passes.
        let edge = |last_mib: f64| Memory {
            middle_kib: 40.0 * 1024.0,
            last_kib: last_mib * 1024.0,
        };
        assert!(!edge(45.1).levels_off());
        assert!(edge(45.0).levels_off());
        // Shrinking is fine.
        let shrink = [50 * MIB, 50 * MIB, 50 * MIB, 50 * MIB, 20 * MIB, 20 * MIB];
        assert!(Memory::of(&shrink).expect("six").levels_off());
    }

    #[test]
    fn memory_thirds_split_by_sample_count() {
        assert_eq!(Memory::of(&[1, 2]), None);
        let three = Memory::of(&[1, 2, 3]).expect("three");
        assert_eq!((three.middle_kib, three.last_kib), (2.0, 3.0));
        // 7 samples: the first 2, the middle 2, the last 3.
        let seven = Memory::of(&[0, 0, 4, 6, 10, 10, 10]).expect("seven");
        assert_eq!((seven.middle_kib, seven.last_kib), (5.0, 10.0));
    }

    #[test]
    fn metrics_are_summed_over_series_of_the_exact_name() {
        let text = "# HELP switchyard_cache_hits Calls answered from the response cache.\n\
                    # TYPE switchyard_cache_hits counter\n\
                    switchyard_cache_hits_total{model=\"a\"} 3\n\
                    switchyard_cache_hits_total{model=\"b\"} 4\n\
                    switchyard_runtime_alive_tasks 25\n\
                    switchyard_runtime_alive_tasks_extra 7\n\
                    # EOF\n";
        assert_eq!(metric_sum(text, "switchyard_cache_hits_total"), Some(7.0));
        assert_eq!(
            metric_sum(text, "switchyard_runtime_alive_tasks"),
            Some(25.0)
        );
        assert_eq!(metric_sum(text, "switchyard_open_connections"), None);
    }

    #[test]
    fn windows_count_outcomes_and_keep_the_first_errors() {
        let mut window = Window::default();
        let ms = Duration::from_millis;
        window.record(Kind::Plain, Outcome::Ok, ms(1), String::new);
        window.record(Kind::Failing, Outcome::Expected502, ms(2), || {
            unreachable!("an expected outcome is not described")
        });
        for _ in 0..12 {
            window.record(Kind::Stream, Outcome::Connection, ms(3), || {
                "broke".to_owned()
            });
        }
        window.counts.skipped = 2;
        assert_eq!(window.errors.len(), KEPT_ERRORS);
        let sample = Sample::of(
            Duration::from_secs(10),
            window,
            1024,
            Gauges {
                cache_hits: Some(15.0),
                ..Gauges::default()
            },
            Some(&Gauges {
                cache_hits: Some(5.0),
                ..Gauges::default()
            }),
        );
        let c = sample.counts;
        assert_eq!(
            (c.answered, c.ok, c.expected_502, c.connection),
            (14, 1, 1, 12)
        );
        assert_eq!((c.unexpected(), c.skipped), (12, 2));
        assert_eq!(c.by_kind, [1, 12, 1, 0]);
        assert_eq!(sample.p50, Some(ms(3)));
        assert_eq!(sample.cache_hits, Some(10.0));
        let report = Report {
            samples: vec![sample],
            ..Report::default()
        };
        assert_eq!(report.failures().len(), 1, "{:?}", report.failures());
    }
}
