//! How each kind of rule chooses among model groups: a tier by price, a complexity rule by
//! prompt length and keywords, a hybrid rule by cost and latency limits. Each answers the group
//! and a short reason.

use std::time::Duration;

use super::{ComplexityRule, HybridRule, Prefer, RequestFacts, Tier};
use crate::group::ModelGroups;

/// How many matched keywords a complexity reason names before it abbreviates.
const REASON_KEYWORDS: usize = 3;

/// A group's price per input plus output token: the highest among its priced deployments, since
/// a call may land on any of them.
pub fn group_price(groups: &ModelGroups, name: &str) -> Option<f64> {
    groups
        .get(name)?
        .deployments()
        .iter()
        .filter_map(|d| d.limits.cost_per_token)
        .reduce(f64::max)
}

/// A group's observed latency: the mean over its measured deployments.
pub fn group_latency(groups: &ModelGroups, name: &str) -> Option<Duration> {
    let measured: Vec<Duration> = groups
        .get(name)?
        .deployments()
        .iter()
        .filter_map(|d| d.stats.mean_latency())
        .collect();
    let count = u32::try_from(measured.len()).ok().filter(|n| *n > 0)?;
    Some(measured.iter().sum::<Duration>() / count)
}

/// The cheapest group of a tier; unpriced groups come last, ties keep configuration order.
pub(super) fn choose_tier(tier: &Tier, groups: &ModelGroups) -> Option<(String, String)> {
    let priced: Vec<(&String, Option<f64>)> = tier
        .groups
        .iter()
        .map(|g| (g, group_price(groups, g)))
        .collect();
    let (group, price) = cheapest(&priced)?;
    let reason = match (tier.groups.len(), price) {
        (1, _) => format!("tier {}", tier.name),
        (n, Some(price)) => format!(
            "tier {}, cheapest of {n} at {}",
            tier.name,
            per_million(price * 1e6)
        ),
        (n, None) => format!("tier {}, none of {n} priced, first", tier.name),
    };
    Some((group.clone(), reason))
}

/// The first lowest price, priced before unpriced.
fn cheapest<'a>(options: &[(&'a String, Option<f64>)]) -> Option<(&'a String, Option<f64>)> {
    let mut best: Option<(&String, Option<f64>)> = None;
    for &(group, price) in options {
        let better = match (best, price) {
            (None, _) => true,
            (Some((_, None)), Some(_)) => true,
            (Some((_, Some(current))), Some(price)) => price < current,
            _ => false,
        };
        if better {
            best = Some((group, price));
        }
    }
    best
}

pub(super) fn choose_by_complexity(
    rule: &ComplexityRule,
    facts: &RequestFacts<'_>,
) -> (String, String) {
    let chars = facts.text.chars().count();
    let hits: Vec<&str> = if rule.keywords.is_empty() {
        Vec::new()
    } else {
        let text = facts.text.to_lowercase();
        rule.keywords
            .iter()
            .filter(|k| contains_word(&text, k))
            .map(String::as_str)
            .collect()
    };
    let too_long = chars > rule.max_simple_chars;
    let complex = too_long || hits.len() >= rule.min_keyword_hits;
    let mut reason = format!(
        "{chars} chars {} {}, {} keyword {}",
        if too_long { ">" } else { "<=" },
        rule.max_simple_chars,
        hits.len(),
        if hits.len() == 1 { "hit" } else { "hits" }
    );
    if rule.min_keyword_hits > 1 {
        reason.push_str(&format!(" of {} needed", rule.min_keyword_hits));
    }
    if !hits.is_empty() {
        reason.push_str(": ");
        reason.push_str(&hits[..hits.len().min(REASON_KEYWORDS)].join(", "));
        if hits.len() > REASON_KEYWORDS {
            reason.push_str(", ...");
        }
    }
    let group = if complex { &rule.complex } else { &rule.simple };
    (group.clone(), reason)
}

/// Whether `word` occurs in `text` with no letter or digit right before or after it.
fn contains_word(text: &str, word: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let (starts_alnum, ends_alnum) = (edge(word.chars().next()), edge(word.chars().next_back()));
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let joined_before = starts_alnum && edge(before);
        let joined_after = ends_alnum && edge(after);
        !(joined_before || joined_after)
    })
}

/// The best candidate within the limits, with the reason; or what ruled every candidate out.
pub(super) fn choose_hybrid(
    rule: &HybridRule,
    groups: &ModelGroups,
) -> Result<(String, String), String> {
    let mut within: Vec<(&String, Option<f64>, Option<Duration>)> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for group in &rule.candidates {
        let price = group_price(groups, group);
        let latency = group_latency(groups, group);
        if let (Some(max), Some(price)) = (rule.max_cost_per_million, price)
            && price * 1e6 > max
        {
            dropped.push(format!(
                "{group} (cost {} > {})",
                per_million(price * 1e6),
                per_million(max)
            ));
        } else if let (Some(max), Some(latency)) = (rule.max_latency, latency)
            && latency > max
        {
            dropped.push(format!(
                "{group} (latency {}ms > {}ms)",
                latency.as_millis(),
                max.as_millis()
            ));
        } else {
            within.push((group, price, latency));
        }
    }
    let n = within.len();
    let (group, reason) = match rule.prefer {
        Prefer::Cost => {
            let options: Vec<(&String, Option<f64>)> =
                within.iter().map(|(g, p, _)| (*g, *p)).collect();
            let Some((group, price)) = cheapest(&options) else {
                return Err(dropped.join(", "));
            };
            let reason = match price {
                Some(price) => {
                    format!(
                        "cheapest of {n} within limits at {}",
                        per_million(price * 1e6)
                    )
                }
                None => format!("{n} within limits, none priced, first"),
            };
            (group, reason)
        }
        Prefer::Latency => {
            let fastest = within
                .iter()
                .find(|(_, _, latency)| latency.is_none())
                .or_else(|| within.iter().min_by_key(|(_, _, latency)| *latency));
            let Some((group, _, latency)) = fastest else {
                return Err(dropped.join(", "));
            };
            let reason = match latency {
                Some(latency) => {
                    format!("fastest of {n} within limits at {}ms", latency.as_millis())
                }
                None => format!("not yet measured, tried first of {n} within limits"),
            };
            (*group, reason)
        }
    };
    let reason = if dropped.is_empty() {
        reason
    } else {
        format!("{reason}; dropped {}", dropped.join(", "))
    };
    Ok((group.clone(), reason))
}

/// USD per million tokens, short: `$0.75/M`, `$5/M`.
fn per_million(usd: f64) -> String {
    let text = format!("{usd:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("${text}/M")
}
