//! Leak checks through `/metrics`: a gateway's open client connections, alive runtime tasks and
//! calls in flight, read before a fault and polled (with a bound) until they are back.
//!
//! Every scrape uses a connection of its own, closed after it, so the scrape itself always
//! counts as one open connection and leaves nothing behind.

use std::time::{Duration, Instant};

use crate::Gateway;

/// The gauges a leak would move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauges {
    /// `switchyard_open_connections` (the scrape's own connection included).
    pub open_connections: i64,
    /// `switchyard_runtime_alive_tasks`.
    pub alive_tasks: i64,
    /// `switchyard_in_flight_requests`.
    pub in_flight: i64,
}

impl Gauges {
    /// Whether nothing is above `baseline` (fewer is fine: a task of the baseline may end).
    pub fn within(&self, baseline: &Self) -> bool {
        self.open_connections <= baseline.open_connections
            && self.alive_tasks <= baseline.alive_tasks
            && self.in_flight <= baseline.in_flight
    }
}

/// Reads the gauges once, over a fresh connection.
pub async fn read(gateway: &Gateway) -> Gauges {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let text = client
        .get(format!("{}/metrics", gateway.base))
        .header("connection", "close")
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("/metrics body");
    let gauge = |name: &str| -> i64 {
        text.lines()
            .find_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
                rest.trim().parse::<f64>().ok()
            })
            .map(|v| v as i64)
            .unwrap_or_else(|| panic!("/metrics has no `{name}`:\n{text}"))
    };
    Gauges {
        open_connections: gauge("switchyard_open_connections"),
        alive_tasks: gauge("switchyard_runtime_alive_tasks"),
        in_flight: gauge("switchyard_in_flight_requests"),
    }
}

/// The gauges once they have settled: the same three reads in a row (at most 10 s), with
/// nothing in flight.
pub async fn baseline(gateway: &Gateway) -> Gauges {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = read(gateway).await;
    let mut same = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = read(gateway).await;
        same = if now == last && now.in_flight == 0 {
            same + 1
        } else {
            0
        };
        if same >= 2 {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the gauges did not settle within 10 s: {last:?} then {now:?}"
        );
        last = now;
    }
}

/// Polls until the gauges are back within `baseline`, failing after `within` with both.
pub async fn back_to(gateway: &Gateway, baseline: &Gauges, within: Duration, after: &str) {
    let deadline = Instant::now() + within;
    loop {
        let now = read(gateway).await;
        if now.within(baseline) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {after}, the gauges did not return to {baseline:?} within {within:?}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// [`back_to`] within 10 s, the bound every leak check of the suites uses.
pub async fn back_to_baseline(gateway: &Gateway, baseline: &Gauges, after: &str) {
    back_to(gateway, baseline, Duration::from_secs(10), after).await;
}

/// A client that keeps no idle connection, so that a test's calls leave no connection open
/// on the gateway once answered.
pub fn unpooled_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}
