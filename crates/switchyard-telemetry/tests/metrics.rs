//! `GatewayMetrics` rendered after a known sequence of events, parsed back from the text format,
//! with exact counts.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use switchyard_telemetry::metrics::{CONTENT_TYPE, Direction, GatewayMetrics};

type Labels = BTreeMap<String, String>;

/// A small parser of the text exposition format: `name{k="v",...} value` per sample line.
fn parse(text: &str) -> HashMap<(String, Labels), f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (
                name,
                parse_labels(rest.strip_suffix('}').expect("closing brace")),
            ),
            None => (series, Labels::new()),
        };
        let previous = samples.insert((name.to_owned(), labels), value);
        assert!(previous.is_none(), "duplicate series {series}");
    }
    samples
}

fn parse_labels(mut input: &str) -> Labels {
    let mut labels = Labels::new();
    while !input.is_empty() {
        let (key, rest) = input.split_once("=\"").expect("label key");
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (i, '"') => break i,
                (_, '\\') => value.push(chars.next().expect("escaped char").1),
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.to_owned(), value);
        input = rest[end + 1..].trim_start_matches(',');
    }
    labels
}

fn get(samples: &HashMap<(String, Labels), f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels: Labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    *samples
        .get(&(name.to_owned(), labels.clone()))
        .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

#[test]
fn a_known_sequence_renders_exact_counts() {
    let metrics = GatewayMetrics::new();
    let held = metrics.in_flight();
    {
        let _done = metrics.in_flight();
    }
    for _ in 0..3 {
        metrics.record_request("gpt-4o", "gpt-4o-eastus", 200, Duration::from_millis(300));
    }
    metrics.record_request("gpt-4o", "gpt-4o-westus", 429, Duration::from_secs(2));
    metrics.record_request("claude", "", 503, Duration::from_secs(45));
    metrics.record_ttft("gpt-4o", Duration::from_millis(80));
    metrics.record_ttft("gpt-4o", Duration::from_millis(900));
    metrics.record_usage("gpt-4o", 100, 40);
    metrics.record_tokens("gpt-4o", Direction::Input, 5);
    metrics.record_cost("gpt-4o", 0.25);
    metrics.record_cost("gpt-4o", 0.5);
    metrics.record_cost("gpt-4o", -1.0);
    metrics.record_cost("gpt-4o", f64::NAN);
    metrics.record_cache_hit("gpt-4o");
    metrics.record_cache_hit("gpt-4o");
    metrics.record_fallback("gpt-4o", "claude");
    metrics.record_cooldown("gpt-4o-westus");
    metrics.record_rate_limited("key");
    metrics.record_rate_limited("key");
    metrics.record_rate_limited("model");
    metrics.record_redis_failure("rate_limit");
    metrics.record_spend_records_shed(3);

    let text = metrics.render();
    assert!(text.ends_with("# EOF\n"), "a complete OpenMetrics page");
    assert!(CONTENT_TYPE.starts_with("application/openmetrics-text"));
    assert!(text.contains("# TYPE switchyard_requests counter"));
    let s = parse(&text);

    let requests = "switchyard_requests_total";
    assert_eq!(
        get(
            &s,
            requests,
            &[
                ("model", "gpt-4o"),
                ("deployment", "gpt-4o-eastus"),
                ("status", "200")
            ]
        ),
        3.0
    );
    assert_eq!(
        get(
            &s,
            requests,
            &[
                ("model", "gpt-4o"),
                ("deployment", "gpt-4o-westus"),
                ("status", "429")
            ]
        ),
        1.0
    );
    assert_eq!(
        get(
            &s,
            requests,
            &[("model", "claude"), ("deployment", ""), ("status", "503")]
        ),
        1.0
    );

    let duration = "switchyard_request_duration_seconds";
    assert_eq!(
        get(&s, &format!("{duration}_count"), &[("model", "gpt-4o")]),
        4.0
    );
    assert!((get(&s, &format!("{duration}_sum"), &[("model", "gpt-4o")]) - 2.9).abs() < 1e-9);
    assert_eq!(
        get(
            &s,
            &format!("{duration}_bucket"),
            &[("model", "gpt-4o"), ("le", "0.5")]
        ),
        3.0
    );
    assert_eq!(
        get(
            &s,
            &format!("{duration}_bucket"),
            &[("model", "gpt-4o"), ("le", "2.5")]
        ),
        4.0
    );
    assert_eq!(
        get(
            &s,
            &format!("{duration}_bucket"),
            &[("model", "claude"), ("le", "30.0")]
        ),
        0.0
    );
    assert_eq!(
        get(
            &s,
            &format!("{duration}_bucket"),
            &[("model", "claude"), ("le", "60.0")]
        ),
        1.0
    );
    assert_eq!(
        get(
            &s,
            &format!("{duration}_bucket"),
            &[("model", "claude"), ("le", "+Inf")]
        ),
        1.0
    );

    let ttft = "switchyard_time_to_first_token_seconds";
    assert_eq!(
        get(&s, &format!("{ttft}_count"), &[("model", "gpt-4o")]),
        2.0
    );
    assert_eq!(
        get(
            &s,
            &format!("{ttft}_bucket"),
            &[("model", "gpt-4o"), ("le", "0.1")]
        ),
        1.0
    );
    assert_eq!(
        get(
            &s,
            &format!("{ttft}_bucket"),
            &[("model", "gpt-4o"), ("le", "1.0")]
        ),
        2.0
    );

    assert_eq!(
        get(
            &s,
            "switchyard_tokens_total",
            &[("model", "gpt-4o"), ("direction", "input")]
        ),
        105.0
    );
    assert_eq!(
        get(
            &s,
            "switchyard_tokens_total",
            &[("model", "gpt-4o"), ("direction", "output")]
        ),
        40.0
    );
    assert_eq!(
        get(&s, "switchyard_cost_usd_total", &[("model", "gpt-4o")]),
        0.75
    );
    assert_eq!(
        get(&s, "switchyard_cache_hits_total", &[("model", "gpt-4o")]),
        2.0
    );
    assert_eq!(
        get(
            &s,
            "switchyard_fallbacks_total",
            &[("from", "gpt-4o"), ("to", "claude")]
        ),
        1.0
    );
    assert_eq!(
        get(
            &s,
            "switchyard_cooldowns_total",
            &[("deployment", "gpt-4o-westus")]
        ),
        1.0
    );
    assert_eq!(
        get(&s, "switchyard_rate_limited_total", &[("scope", "key")]),
        2.0
    );
    assert_eq!(
        get(&s, "switchyard_rate_limited_total", &[("scope", "model")]),
        1.0
    );
    assert_eq!(
        get(
            &s,
            "switchyard_redis_failures_total",
            &[("component", "rate_limit")]
        ),
        1.0
    );
    assert_eq!(get(&s, "switchyard_spend_records_shed_total", &[]), 3.0);
    assert_eq!(get(&s, "switchyard_in_flight_requests", &[]), 1.0);
    drop(held);
    assert_eq!(
        get(
            &parse(&metrics.render()),
            "switchyard_in_flight_requests",
            &[]
        ),
        0.0
    );
}

#[test]
fn label_values_are_escaped() {
    let metrics = GatewayMetrics::new();
    metrics.record_cache_hit("we\"ird\\model");
    let s = parse(&metrics.render());
    assert_eq!(
        get(
            &s,
            "switchyard_cache_hits_total",
            &[("model", "we\"ird\\model")]
        ),
        1.0
    );
}
