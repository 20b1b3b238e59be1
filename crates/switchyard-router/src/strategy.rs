//! Load-balancing strategies: which available deployment of a group takes the next call.
//! LiteLLM's `routing_strategy` names are accepted as written.

use std::sync::Arc;

use crate::deployment::Deployment;

/// How a deployment is chosen among the available ones of the highest-priority tier.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Random, weighted by `weight`, else by `rpm`, else by `tpm`, else uniform.
    SimpleShuffle,
    /// The deployment with the fewest calls in flight.
    LeastBusy,
    /// The deployment with the lowest mean recent latency (time to first token for streams);
    /// deployments within `buffer` (a fraction, 0.1 = 10%) of the fastest share the load, and
    /// deployments never measured are tried first.
    LatencyBased {
        /// Fraction above the fastest that still counts as equally fast.
        buffer: f64,
    },
    /// The cheapest deployment by the price catalog; unpriced deployments come last.
    CostBased,
    /// The deployment with the most rpm/tpm headroom left in the current minute.
    UsageBased,
}

impl Strategy {
    /// The strategy LiteLLM calls `name`, if it is one we know.
    pub fn from_litellm_name(name: &str) -> Option<Self> {
        Some(match name {
            "simple-shuffle" => Self::SimpleShuffle,
            "least-busy" => Self::LeastBusy,
            "latency-based-routing" => Self::LatencyBased { buffer: 0.0 },
            "cost-based-routing" => Self::CostBased,
            "usage-based-routing" | "usage-based-routing-v2" => Self::UsageBased,
            _ => return None,
        })
    }

    /// The names [`Strategy::from_litellm_name`] accepts.
    pub const NAMES: &'static [&'static str] = &[
        "simple-shuffle",
        "least-busy",
        "latency-based-routing",
        "cost-based-routing",
        "usage-based-routing",
        "usage-based-routing-v2",
    ];

    /// Chooses among `candidates` (all available, all of one priority tier).
    pub fn choose<'a>(
        &self,
        candidates: &[&'a Arc<Deployment>],
        now_ms: u64,
    ) -> Option<&'a Arc<Deployment>> {
        if candidates.len() <= 1 {
            return candidates.first().copied();
        }
        match self {
            Self::SimpleShuffle => weighted_shuffle(candidates),
            Self::LeastBusy => lowest_by(candidates, |d| f64::from(d.stats.in_flight()), 0.0),
            Self::LatencyBased { buffer } => {
                let unmeasured: Vec<_> = candidates
                    .iter()
                    .copied()
                    .filter(|d| d.stats.mean_latency().is_none())
                    .collect();
                if !unmeasured.is_empty() {
                    return pick_uniform(&unmeasured);
                }
                lowest_by(
                    candidates,
                    |d| d.stats.mean_latency().map_or(f64::MAX, |l| l.as_secs_f64()),
                    *buffer,
                )
            }
            Self::CostBased => lowest_by(
                candidates,
                |d| d.limits.cost_per_token.unwrap_or(f64::MAX),
                0.0,
            ),
            Self::UsageBased => lowest_by(candidates, |d| usage_share(d, now_ms), 0.0),
        }
    }
}

/// How much of its minute budget a deployment has used (0.0 = none); without limits, its
/// tokens this minute scaled down so that limited deployments near their cap still lose.
fn usage_share(deployment: &Deployment, now_ms: u64) -> f64 {
    let tokens = deployment.stats.tokens_this_minute(now_ms) as f64;
    let requests = deployment.stats.requests_this_minute(now_ms) as f64;
    let by_tpm = deployment.limits.tpm.map(|tpm| tokens / tpm.max(1) as f64);
    let by_rpm = deployment
        .limits
        .rpm
        .map(|rpm| requests / rpm.max(1) as f64);
    match (by_tpm, by_rpm) {
        (None, None) => tokens / 1e12,
        (a, b) => a.unwrap_or(0.0).max(b.unwrap_or(0.0)),
    }
}

fn pick_uniform<'a>(candidates: &[&'a Arc<Deployment>]) -> Option<&'a Arc<Deployment>> {
    candidates.get(fastrand::usize(..candidates.len())).copied()
}

/// The candidates whose score is within `buffer` of the lowest, one of them at random.
fn lowest_by<'a>(
    candidates: &[&'a Arc<Deployment>],
    score: impl Fn(&Deployment) -> f64,
    buffer: f64,
) -> Option<&'a Arc<Deployment>> {
    let scores: Vec<f64> = candidates.iter().map(|d| score(d)).collect();
    let best = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let limit = if best.is_finite() && best > 0.0 {
        best * (1.0 + buffer.max(0.0))
    } else {
        best
    };
    let near: Vec<_> = candidates
        .iter()
        .zip(&scores)
        .filter(|(_, s)| **s <= limit)
        .map(|(d, _)| *d)
        .collect();
    pick_uniform(&near)
}

fn weighted_shuffle<'a>(candidates: &[&'a Arc<Deployment>]) -> Option<&'a Arc<Deployment>> {
    let weights: Vec<f64> = if candidates.iter().any(|d| d.limits.weight.is_some()) {
        candidates
            .iter()
            .map(|d| d.limits.weight.unwrap_or(1.0))
            .collect()
    } else if candidates.iter().all(|d| d.limits.rpm.is_some()) {
        candidates
            .iter()
            .map(|d| d.limits.rpm.unwrap_or(0) as f64)
            .collect()
    } else if candidates.iter().all(|d| d.limits.tpm.is_some()) {
        candidates
            .iter()
            .map(|d| d.limits.tpm.unwrap_or(0) as f64)
            .collect()
    } else {
        return pick_uniform(candidates);
    };
    let total: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
    if total <= 0.0 {
        return pick_uniform(candidates);
    }
    let mut ticket = fastrand::f64() * total;
    for (deployment, weight) in candidates.iter().zip(&weights) {
        if !(weight.is_finite() && *weight > 0.0) {
            continue;
        }
        if ticket < *weight {
            return Some(deployment);
        }
        ticket -= weight;
    }
    candidates.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::DeploymentLimits;
    use std::time::Duration;
    use switchyard_providers::mock::{Mock, MockSettings};

    fn deployment(id: &str, limits: DeploymentLimits) -> Arc<Deployment> {
        let mut d = Deployment::new(
            id,
            "group",
            Box::new(Mock::new(MockSettings::default())),
            Duration::from_secs(1),
        );
        d.limits = limits;
        Arc::new(d)
    }

    fn counts(strategy: &Strategy, deployments: &[Arc<Deployment>], draws: usize) -> Vec<usize> {
        let refs: Vec<&Arc<Deployment>> = deployments.iter().collect();
        let mut counts = vec![0; deployments.len()];
        for _ in 0..draws {
            let chosen = strategy.choose(&refs, 0).expect("a choice");
            let at = deployments
                .iter()
                .position(|d| Arc::ptr_eq(d, chosen))
                .expect("one of them");
            counts[at] += 1;
        }
        counts
    }

    #[test]
    fn weighted_shuffle_follows_the_weights_within_tolerance() {
        fastrand::seed(7);
        let ds = [
            deployment(
                "a",
                DeploymentLimits {
                    weight: Some(1.0),
                    ..Default::default()
                },
            ),
            deployment(
                "b",
                DeploymentLimits {
                    weight: Some(3.0),
                    ..Default::default()
                },
            ),
            deployment(
                "c",
                DeploymentLimits {
                    weight: Some(0.0),
                    ..Default::default()
                },
            ),
        ];
        let draws = 40_000;
        let c = counts(&Strategy::SimpleShuffle, &ds, draws);
        let share_b = c[1] as f64 / draws as f64;
        assert!((share_b - 0.75).abs() < 0.02, "b got {share_b}");
        assert_eq!(c[2], 0, "a zero weight is never chosen");
    }

    #[test]
    fn shuffle_falls_back_to_rpm_then_uniform() {
        fastrand::seed(11);
        let ds = [
            deployment(
                "a",
                DeploymentLimits {
                    rpm: Some(100),
                    ..Default::default()
                },
            ),
            deployment(
                "b",
                DeploymentLimits {
                    rpm: Some(900),
                    ..Default::default()
                },
            ),
        ];
        let c = counts(&Strategy::SimpleShuffle, &ds, 20_000);
        let share_b = c[1] as f64 / 20_000.0;
        assert!((share_b - 0.9).abs() < 0.02, "b got {share_b}");
        let plain = [
            deployment("a", Default::default()),
            deployment("b", Default::default()),
        ];
        let c = counts(&Strategy::SimpleShuffle, &plain, 20_000);
        assert!((c[0] as f64 / 20_000.0 - 0.5).abs() < 0.02, "{c:?}");
    }

    #[test]
    fn least_busy_picks_the_fewest_in_flight() {
        let ds = [
            deployment("a", Default::default()),
            deployment("b", Default::default()),
        ];
        ds[0].stats.start_call(0);
        ds[0].stats.start_call(0);
        ds[1].stats.start_call(0);
        let c = counts(&Strategy::LeastBusy, &ds, 100);
        assert_eq!(c, vec![0, 100]);
    }

    #[test]
    fn latency_strategy_explores_then_prefers_the_fastest_within_its_buffer() {
        let ds = [
            deployment("slow", Default::default()),
            deployment("fast", Default::default()),
            deployment("close", Default::default()),
        ];
        ds[0].stats.record_latency(Duration::from_millis(300));
        ds[1].stats.record_latency(Duration::from_millis(100));
        let c = counts(&Strategy::LatencyBased { buffer: 0.0 }, &ds, 50);
        assert_eq!(c, vec![0, 0, 50], "an unmeasured deployment is tried first");
        ds[2].stats.record_latency(Duration::from_millis(105));
        let c = counts(&Strategy::LatencyBased { buffer: 0.0 }, &ds, 100);
        assert_eq!(c, vec![0, 100, 0]);
        let c = counts(&Strategy::LatencyBased { buffer: 0.1 }, &ds, 2_000);
        assert_eq!(c[0], 0);
        assert!(c[1] > 800 && c[2] > 800, "near-equals share load: {c:?}");
    }

    #[test]
    fn cost_strategy_picks_the_cheapest_and_puts_unpriced_last() {
        let ds = [
            deployment("unpriced", Default::default()),
            deployment(
                "dear",
                DeploymentLimits {
                    cost_per_token: Some(3e-5),
                    ..Default::default()
                },
            ),
            deployment(
                "cheap",
                DeploymentLimits {
                    cost_per_token: Some(1e-6),
                    ..Default::default()
                },
            ),
        ];
        assert_eq!(counts(&Strategy::CostBased, &ds, 50), vec![0, 0, 50]);
    }

    #[test]
    fn usage_strategy_picks_the_most_headroom() {
        let ds = [
            deployment(
                "busy",
                DeploymentLimits {
                    tpm: Some(1_000),
                    ..Default::default()
                },
            ),
            deployment(
                "idle",
                DeploymentLimits {
                    tpm: Some(1_000),
                    ..Default::default()
                },
            ),
        ];
        ds[0].stats.record_tokens(0, 800);
        ds[1].stats.record_tokens(0, 100);
        assert_eq!(counts(&Strategy::UsageBased, &ds, 50), vec![0, 50]);
    }

    #[test]
    fn litellm_names_parse() {
        for name in Strategy::NAMES {
            assert!(Strategy::from_litellm_name(name).is_some(), "{name}");
        }
        assert!(Strategy::from_litellm_name("fastest-please").is_none());
    }
}
