//! End to end through real gateway processes: the layers in front of the router. The response
//! cache (in process, and shared by two processes through Redis; answers kept within a team
//! unless configured otherwise), rate limits per caller (one
//! combined limit for two processes sharing Redis; tokens per minute in process), `max_tokens`
//! policies and the request's own deadline. The Redis tests read `SWITCHYARD_TEST_REDIS_URL`
//! and are skipped without it; each uses its own key prefix.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::shared_state::within_one_minute;
use switchyard_e2e::{
    FakeUpstream, Gateway, MASTER_KEY, error_of, redis_url, sse_data, unique_prefix,
};

/// One group, `gpt-4o-mini` (priced by the catalog), in front of `upstream`, plus `hang`
/// (never answers, no deployment timeout of its own), then `extra`.
fn config(upstream: &FakeUpstream, extra: &str) -> String {
    format!(
        "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params: {{model: openai/gpt-4o-mini, api_base: '{base}'}}\n    model_info: {{id: mini}}\n  - model_name: hang\n    litellm_params: {{model: openai/hang, api_base: '{base}'}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n{extra}",
        base = upstream.api_base
    )
}

fn ask(text: &str) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn upstream_calls(upstream: &FakeUpstream) -> usize {
    upstream
        .received()
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .count()
}

/// Streams `body` and gives back the cache header and the text the chunks carried.
async fn stream_text(gateway: &Gateway, body: &Value) -> (Option<String>, String) {
    let response = gateway
        .post("/v1/chat/completions", body, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let cache = header(&response, "x-switchyard-cache").map(str::to_owned);
    let body = response.text().await.expect("body");
    let data = sse_data(&body);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{body}");
    let text = data
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    (cache, text)
}

#[tokio::test]
async fn repeated_calls_are_answered_from_the_cache_and_cost_nothing() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(
        &config(&upstream, "litellm_settings:\n  cache: true\n"),
        &[],
    )
    .await;

    let first = gateway
        .post("/v1/chat/completions", &ask("cache me"), Some(MASTER_KEY))
        .await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-switchyard-cache"), Some("MISS"));
    assert_eq!(header(&first, "x-switchyard-deployment"), Some("mini"));
    let paid: f64 = header(&first, "x-switchyard-cost-usd")
        .expect("a priced model's cost")
        .parse()
        .expect("a number");
    assert!(paid > 0.0, "{paid}");
    let first: Value = first.json().await.expect("json");

    let second = gateway
        .post("/v1/chat/completions", &ask("cache me"), Some(MASTER_KEY))
        .await;
    assert_eq!(second.status(), 200);
    assert_eq!(header(&second, "x-switchyard-cache"), Some("HIT"));
    assert_eq!(
        header(&second, "x-switchyard-cost-usd"),
        Some("0"),
        "the cost as its decimal, as README says"
    );
    assert_eq!(
        header(&second, "x-switchyard-deployment"),
        None,
        "no deployment answered"
    );
    let second: Value = second.json().await.expect("json");
    assert_eq!(second["choices"], first["choices"]);
    assert_eq!(upstream_calls(&upstream), 1, "the hit reached no upstream");

    // Another question is another key.
    let other = gateway
        .post(
            "/v1/chat/completions",
            &ask("something else"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(header(&other, "x-switchyard-cache"), Some("MISS"));
    assert_eq!(upstream_calls(&upstream), 2);

    // `Cache-Control: no-cache` and LiteLLM's body directive read fresh.
    let fresh = gateway
        .client
        .post(format!("{}/v1/chat/completions", gateway.base))
        .bearer_auth(MASTER_KEY)
        .header("cache-control", "no-cache")
        .json(&ask("cache me"))
        .send()
        .await
        .expect("answer");
    assert_eq!(fresh.status(), 200);
    assert_eq!(header(&fresh, "x-switchyard-cache"), Some("BYPASS"));
    let mut body = ask("cache me");
    body["cache"] = json!({"no-cache": true});
    let fresh = gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await;
    assert_eq!(header(&fresh, "x-switchyard-cache"), Some("BYPASS"));
    assert_eq!(upstream_calls(&upstream), 4);
    assert!(
        upstream
            .received()
            .iter()
            .all(|r| r.body.get("cache").is_none()),
        "the cache directive never goes upstream"
    );

    // A malformed directive is the caller's mistake.
    body["cache"] = json!({"ttl": "soon"});
    let (status, _, error) = error_of(
        gateway
            .post("/v1/chat/completions", &body, Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{error}");
}

#[tokio::test]
async fn a_finished_stream_is_cached_and_replayed_as_a_stream() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(
        &config(&upstream, "litellm_settings:\n  cache: true\n"),
        &[],
    )
    .await;
    let mut body = ask("stream me");
    body["stream"] = json!(true);
    let (cache, text) = stream_text(&gateway, &body).await;
    assert_eq!(cache.as_deref(), Some("MISS"));
    assert_eq!(text, "upstream says: stream me");
    // The stream is stored once it has ended, in the background: ask until the store has it.
    let mut replayed = None;
    for _ in 0..50 {
        let (cache, text) = stream_text(&gateway, &body).await;
        if cache.as_deref() == Some("HIT") {
            replayed = Some(text);
            break;
        }
    }
    assert_eq!(replayed.as_deref(), Some("upstream says: stream me"));
    let calls = upstream_calls(&upstream);
    let (cache, _) = stream_text(&gateway, &body).await;
    assert_eq!(cache.as_deref(), Some("HIT"));
    assert_eq!(
        upstream_calls(&upstream),
        calls,
        "replays reach no upstream"
    );
    // A complete answer to the same question is not the stream's entry.
    body["stream"] = json!(false);
    let complete = gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await;
    assert_eq!(header(&complete, "x-switchyard-cache"), Some("MISS"));
}

/// A new virtual key of `team` (created first when `Some`), or of no team.
async fn key_of(gateway: &Gateway, team: Option<&str>) -> String {
    let mut body = json!({});
    if let Some(team) = team {
        // Creating a team twice is refused; the first creation is the one that matters.
        let _ = gateway
            .post("/team/new", &json!({"team_id": team}), Some(MASTER_KEY))
            .await;
        body["team_id"] = json!(team);
    }
    let created = gateway.post("/key/generate", &body, Some(MASTER_KEY)).await;
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.expect("json");
    created["key"].as_str().expect("the secret").to_owned()
}

/// A gateway with the cache on, its `cache_params` given as YAML.
async fn cached_gateway(upstream: &FakeUpstream, params: &str) -> Gateway {
    let extra = format!("litellm_settings:\n  cache: true\n  cache_params: {params}\n");
    Gateway::spawn(&config(upstream, &extra), &[]).await
}

/// The `x-switchyard-cache` header of `text` asked with `key`.
async fn cache_status(gateway: &Gateway, text: &str, key: &str) -> String {
    let response = gateway
        .post("/v1/chat/completions", &ask(text), Some(key))
        .await;
    assert_eq!(response.status(), 200);
    header(&response, "x-switchyard-cache")
        .expect("the cache header")
        .to_owned()
}

#[tokio::test]
async fn cached_answers_stay_within_a_team_unless_the_cache_is_shared() {
    let upstream = FakeUpstream::start().await;
    let gateway = cached_gateway(&upstream, "{}").await;
    let alice = key_of(&gateway, Some("team-a")).await;
    let alice_again = key_of(&gateway, Some("team-a")).await;
    let bob = key_of(&gateway, Some("team-b")).await;
    let loner = key_of(&gateway, None).await;
    let loner_again = key_of(&gateway, None).await;

    assert_eq!(cache_status(&gateway, "our plans", &alice).await, "MISS");
    // Another team asking the same learns nothing from the cache.
    assert_eq!(cache_status(&gateway, "our plans", &bob).await, "MISS");
    // A colleague of the same team shares the answer.
    assert_eq!(
        cache_status(&gateway, "our plans", &alice_again).await,
        "HIT"
    );
    assert_eq!(cache_status(&gateway, "our plans", &bob).await, "HIT");
    // Keys without a team and the master key are each a scope of their own.
    assert_eq!(cache_status(&gateway, "our plans", &loner).await, "MISS");
    assert_eq!(
        cache_status(&gateway, "our plans", &loner_again).await,
        "MISS"
    );
    assert_eq!(cache_status(&gateway, "our plans", &loner).await, "HIT");
    assert_eq!(
        cache_status(&gateway, "our plans", MASTER_KEY).await,
        "MISS"
    );
    assert_eq!(upstream_calls(&upstream), 5);

    // `scope: key`: not even a colleague reads another key's answers.
    let gateway = cached_gateway(&upstream, "{scope: key}").await;
    let alice = key_of(&gateway, Some("team-a")).await;
    let alice_again = key_of(&gateway, Some("team-a")).await;
    assert_eq!(cache_status(&gateway, "by key", &alice).await, "MISS");
    assert_eq!(cache_status(&gateway, "by key", &alice_again).await, "MISS");
    assert_eq!(cache_status(&gateway, "by key", &alice).await, "HIT");

    // `scope: shared`, chosen deliberately: one cache for every caller.
    let gateway = cached_gateway(&upstream, "{scope: shared}").await;
    let alice = key_of(&gateway, Some("team-a")).await;
    let bob = key_of(&gateway, Some("team-b")).await;
    assert_eq!(cache_status(&gateway, "public", &alice).await, "MISS");
    assert_eq!(cache_status(&gateway, "public", &bob).await, "HIT");
    assert_eq!(cache_status(&gateway, "public", MASTER_KEY).await, "HIT");
}

#[tokio::test]
async fn a_call_cached_by_one_gateway_process_is_a_hit_on_another() {
    let Some(redis) = redis_url() else { return };
    let upstream = FakeUpstream::start().await;
    let extra = format!(
        "litellm_settings:\n  cache: true\n  cache_params:\n    type: redis\n    url: os.environ/TEST_REDIS_URL\n    namespace: {}\n    ttl: 60\n",
        unique_prefix()
    );
    let config = config(&upstream, &extra);
    let env = [("TEST_REDIS_URL", redis.as_str())];
    let (one, two) = tokio::join!(Gateway::spawn(&config, &env), Gateway::spawn(&config, &env));

    let first = one
        .post("/v1/chat/completions", &ask("shared"), Some(MASTER_KEY))
        .await;
    assert_eq!(header(&first, "x-switchyard-cache"), Some("MISS"));
    let first: Value = first.json().await.expect("json");
    let second = two
        .post("/v1/chat/completions", &ask("shared"), Some(MASTER_KEY))
        .await;
    assert_eq!(header(&second, "x-switchyard-cache"), Some("HIT"));
    let second: Value = second.json().await.expect("json");
    assert_eq!(second["choices"], first["choices"]);
    assert_eq!(upstream_calls(&upstream), 1);
}

/// Sends `count` calls at once to `gateway`; gives back the statuses and the refusals' bodies.
async fn burst(gateway: &Gateway, count: usize, body: &Value) -> Vec<(u16, Option<String>, Value)> {
    let calls = (0..count).map(|_| async {
        let response = gateway
            .post("/v1/chat/completions", body, Some(MASTER_KEY))
            .await;
        let status = response.status().as_u16();
        let retry_after = header(&response, "retry-after").map(str::to_owned);
        let body: Value = response.json().await.expect("json");
        (status, retry_after, body)
    });
    futures_util::future::join_all(calls).await
}

#[tokio::test]
async fn two_gateway_processes_sharing_redis_enforce_one_rate_limit() {
    let Some(redis) = redis_url() else { return };
    // Limits count per calendar minute: a burst that straddles a minute's end sees two windows,
    // so it is run again with new gateways under a new prefix.
    let redis = redis.as_str();
    within_one_minute(|| async move {
        let upstream = FakeUpstream::start().await;
        let extra = format!(
            "router_settings:\n  redis_url: os.environ/TEST_REDIS_URL\n  redis_key_prefix: {}\nrate_limits:\n  key: {{rpm: 10}}\n  on_redis_failure: closed\n",
            unique_prefix()
        );
        let config = config(&upstream, &extra);
        let env = [("TEST_REDIS_URL", redis)];
        let (one, two) = tokio::join!(Gateway::spawn(&config, &env), Gateway::spawn(&config, &env));

        let body = ask("hi");
        let (a, b) = tokio::join!(burst(&one, 10, &body), burst(&two, 10, &body));
        let results: Vec<_> = a.into_iter().chain(b).collect();
        let accepted = results.iter().filter(|(status, ..)| *status == 200).count();
        assert_eq!(
            accepted, 10,
            "one limit of 10 a minute for both: {results:?}"
        );
        for (status, retry_after, body) in results.iter().filter(|(s, ..)| *s != 200) {
            assert_eq!(*status, 429, "{body}");
            assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
            assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
            // LiteLLM's words (https://docs.litellm.ai/docs/proxy/error_reference, "Which 429 is
            // this?").
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with(
                    "Rate limit exceeded for api_key: master. Limit type: requests. Current limit: 10, \
                     Remaining: 0. Limit resets at: "
                ),
                "{message}"
            );
            assert!(!message.contains(MASTER_KEY), "the secret never shows");
            let secs: u64 = retry_after
                .as_deref()
                .expect("Retry-After")
                .parse()
                .expect("seconds");
            assert!((1..=60).contains(&secs), "{secs}");
        }
        assert_eq!(
            upstream_calls(&upstream),
            10,
            "refused calls reach no upstream"
        );
    })
    .await;
}

#[tokio::test]
async fn tokens_per_minute_are_counted_from_the_usage_reported() {
    let upstream = FakeUpstream::start().await;
    // Each answer reports 15 tokens; the estimate before a call is about 2 + max_tokens 5.
    let gateway = Gateway::spawn(
        &config(&upstream, "rate_limits:\n  model: {tpm: 40}\n"),
        &[],
    )
    .await;
    let mut body = ask("hello");
    body["max_tokens"] = json!(5);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = gateway
            .post("/v1/chat/completions", &body, Some(MASTER_KEY))
            .await;
        let status = response.status().as_u16();
        statuses.push(status);
        if status == 429 {
            let (_, _, error) = error_of(response).await;
            let message = error["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.starts_with(
                    "Rate limit exceeded for model: gpt-4o-mini. Limit type: tokens. Current \
                     limit: 40, Remaining: 0."
                ),
                "{message}"
            );
            break;
        }
    }
    // 15 + 15 = 30 used; the third (estimate 7) fits under 40 and uses 15 more: 45, and the
    // fourth finds the minute spent.
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[tokio::test]
async fn max_tokens_defaults_and_ceilings_are_applied_before_the_upstream() {
    let upstream = FakeUpstream::start().await;
    let gateway = Gateway::spawn(
        &config(
            &upstream,
            "max_tokens:\n  default: {default: 64, ceiling: 128}\n",
        ),
        &[],
    )
    .await;
    let response = gateway
        .post("/v1/chat/completions", &ask("a"), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let mut body = ask("b");
    body["max_tokens"] = json!(1_000);
    let response = gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let received = upstream.received();
    assert_eq!(received[0].body["max_completion_tokens"], 64, "the default");
    assert_eq!(
        received[1].body["max_tokens"], 128,
        "clamped to the ceiling"
    );

    let refusing = Gateway::spawn(
        &config(
            &upstream,
            "max_tokens:\n  models: {gpt-4o-mini: {default: 64, ceiling: 128}}\n  on_excess: refuse\n",
        ),
        &[],
    )
    .await;
    let (status, _, error) = error_of(
        refusing
            .post("/v1/chat/completions", &body, Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(upstream.received().len(), 2, "refused before the upstream");
}

#[tokio::test]
async fn a_request_may_shorten_its_deadline_but_not_lengthen_it() {
    let upstream = FakeUpstream::start().await;
    let gateway =
        Gateway::spawn(&config(&upstream, "router_settings:\n  timeout: 30\n"), &[]).await;
    let body = json!({"model": "hang", "messages": [{"role": "user", "content": "hi"}],
        "timeout": 0.3});
    let started = Instant::now();
    let (status, _, error) = error_of(
        gateway
            .post("/v1/chat/completions", &body, Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 504, "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the request's timeout"
    );
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("0.300s"), "{message}");
    assert!(
        upstream
            .received()
            .iter()
            .all(|r| r.body.get("timeout").is_none()),
        "`timeout` is the gateway's, never sent upstream"
    );
    let bad = json!({"model": "hang", "messages": [{"role": "user", "content": "hi"}],
        "timeout": "soon"});
    let (status, _, _) = error_of(
        gateway
            .post("/v1/chat/completions", &bad, Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 400);
}

/// The value of the sample `name{labels}` in `/metrics`, if present.
fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
}

#[tokio::test]
async fn with_redis_down_rate_limits_follow_their_policy_and_a_metric_counts_it() {
    let upstream = FakeUpstream::start().await;
    let port = switchyard_e2e::closed_port().await;
    let limited = |policy: &str| {
        config(
            &upstream,
            &format!(
                "router_settings:\n  redis_url: redis://127.0.0.1:{port}\nrate_limits:\n  key: {{rpm: 100}}\n  on_redis_failure: {policy}\n"
            ),
        )
    };
    // Failing open: calls go on, limited in this process alone.
    let open = Gateway::spawn(&limited("open"), &[]).await;
    for _ in 0..3 {
        let response = open
            .post("/v1/chat/completions", &ask("still here"), Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200);
    }
    let metrics = open.get("/metrics", None).await.text().await.expect("text");
    let failures = sample(
        &metrics,
        "switchyard_redis_failures_total{component=\"rate_limit\"}",
    )
    .unwrap_or_default();
    assert!(failures >= 1.0, "the outage is counted: {metrics}");

    // Failing closed: limited calls are refused while Redis is away.
    let closed = Gateway::spawn(&limited("closed"), &[]).await;
    let response = closed
        .post("/v1/chat/completions", &ask("refuse me"), Some(MASTER_KEY))
        .await;
    let retry_after = header(&response, "retry-after").map(str::to_owned);
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (429, "rate_limits_unavailable"));
    assert!(retry_after.is_some());
}
