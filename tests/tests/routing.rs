//! End to end: retries across deployments, fallbacks by failure kind, cooldowns and the answer
//! when nothing is left (429 after upstream rate limits, else 503, with `Retry-After`), through a real gateway socket to a fake upstream that fails on command.

use serde_json::{Value, json};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, error_of};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "route me"}]})
}

/// One deployment per `(group, upstream model, order)`, all on the fake upstream.
fn config(api_base: &str, deployments: &[(&str, &str, u32)], router_settings: &str) -> String {
    let mut out = String::from("model_list:\n");
    for (group, upstream, order) in deployments {
        out.push_str(&format!(
            "  - model_name: {group}\n    litellm_params: {{model: openai/{upstream}, api_base: '{api_base}', order: {order}}}\n    model_info: {{id: {group}-{upstream}}}\n"
        ));
    }
    out.push_str(&format!(
        "general_settings:\n  master_key: {MASTER_KEY}\nrouter_settings:\n{router_settings}"
    ));
    out
}

async fn gateway(
    upstream: &FakeUpstream,
    deployments: &[(&str, &str, u32)],
    router: &str,
) -> Gateway {
    Gateway::spawn(&config(&upstream.api_base, deployments, router), &[]).await
}

fn upstream_models(upstream: &FakeUpstream) -> Vec<String> {
    upstream
        .received()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_503_from_the_primary_falls_back_to_the_secondary_in_one_client_request() {
    let upstream = FakeUpstream::start().await;
    let gateway = gateway(
        &upstream,
        &[("m", "overloaded", 1), ("m", "healthy", 2)],
        "  num_retries: 1\n",
    )
    .await;
    let response = gateway
        .post("/v1/chat/completions", &chat("m"), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-deployment"], "m-healthy");
    assert_eq!(response.headers()["x-switchyard-attempts"], "2");
    assert_eq!(upstream_models(&upstream), ["overloaded", "healthy"]);
}

#[tokio::test]
async fn a_429_moves_to_another_deployment_and_cools_the_first_for_its_retry_after() {
    let upstream = FakeUpstream::start().await;
    let gateway = gateway(
        &upstream,
        &[("m", "rate-limited", 1), ("m", "healthy", 2)],
        "  num_retries: 1\n",
    )
    .await;
    let first = gateway
        .post("/v1/chat/completions", &chat("m"), Some(MASTER_KEY))
        .await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-switchyard-deployment"], "m-healthy");
    let second = gateway
        .post("/v1/chat/completions", &chat("m"), Some(MASTER_KEY))
        .await;
    assert_eq!(
        second.headers()["x-switchyard-attempts"],
        "1",
        "the limited primary is skipped while it cools"
    );
    assert_eq!(
        upstream_models(&upstream),
        ["rate-limited", "healthy", "healthy"]
    );
}

#[tokio::test]
async fn a_context_window_error_uses_context_window_fallbacks() {
    let upstream = FakeUpstream::start().await;
    let gateway = gateway(
        &upstream,
        &[
            ("small", "too-long", 1),
            ("large", "big-context", 1),
            ("other", "healthy", 1),
        ],
        "  context_window_fallbacks: [{small: [large]}]\n  fallbacks: [{small: [other]}]\n",
    )
    .await;
    let response = gateway
        .post("/v1/chat/completions", &chat("small"), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-fallback-from"], "small");
    assert_eq!(
        response.headers()["x-switchyard-deployment"],
        "large-big-context"
    );
    assert_eq!(upstream_models(&upstream), ["too-long", "big-context"]);
}

#[tokio::test]
async fn a_per_request_models_list_is_tried_in_order_and_not_sent_upstream() {
    let upstream = FakeUpstream::start().await;
    let gateway = gateway(
        &upstream,
        &[("a", "broken", 1), ("b", "healthy", 1)],
        "  num_retries: 0\n",
    )
    .await;
    let mut body = chat("a");
    body["models"] = json!(["b"]);
    let response = gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-deployment"], "b-healthy");
    assert!(
        upstream
            .received()
            .iter()
            .all(|r| r.body.get("models").is_none())
    );
}

/// The `Retry-After` of an answer, in seconds.
fn retry_after(response: &reqwest::Response) -> Option<u64> {
    let value = response.headers().get("retry-after")?;
    Some(value.to_str().ok()?.parse().expect("whole seconds"))
}

/// A call to group `m` while none of its deployments is available: the error, which names
/// the group and says to come back within `wait` seconds.
async fn none_available(
    gateway: &Gateway,
    wait: std::ops::RangeInclusive<u64>,
) -> (u16, String, Value) {
    let response = gateway
        .post("/v1/chat/completions", &chat("m"), Some(MASTER_KEY))
        .await;
    let after = retry_after(&response).expect("the first deployment's return is known");
    assert!(
        wait.contains(&after),
        "Retry-After {after}, not in {wait:?}"
    );
    let error = error_of(response).await;
    let message = error.2["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("`m`"), "{}", error.2);
    error
}

#[tokio::test]
async fn with_every_deployment_cooling_down_the_caller_gets_one_clear_503() {
    let upstream = FakeUpstream::start().await;
    let gateway = gateway(
        &upstream,
        &[("m", "broken", 1), ("m", "overloaded", 1)],
        "  num_retries: 1\n  allowed_fails: 0\n  cooldown_time: 60\n",
    )
    .await;
    let (status, code, _) = error_of(
        gateway
            .post("/v1/chat/completions", &chat("m"), Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!(
        status, 502,
        "the last upstream failure is reported first ({code})"
    );
    let sent = upstream.received().len();
    let (status, code, _) = none_available(&gateway, 59..=60).await;
    assert_eq!((status, code.as_str()), (503, "no_deployment_available"));
    assert_eq!(
        upstream.received().len(),
        sent,
        "nothing is sent while all cool down"
    );
}

#[tokio::test]
async fn while_every_deployment_cools_down_after_a_429_the_caller_gets_429_with_retry_after() {
    let upstream = FakeUpstream::start().await;
    let gateway = gateway(
        &upstream,
        &[("m", "rate-limited", 1)],
        "  num_retries: 0
",
    )
    .await;
    // The upstream's own 429 (`retry-after: 3`) reaches the client as it is.
    let response = gateway
        .post("/v1/chat/completions", &chat("m"), Some(MASTER_KEY))
        .await;
    assert_eq!(retry_after(&response), Some(3));
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(upstream.received().len(), 1);

    // While the deployment cools down, the gateway answers for it: still a rate limit, with
    // the time left until the deployment is back, rounded up.
    let (status, code, body) = none_available(&gateway, 1..=3).await;
    assert_eq!(
        (status, code.as_str()),
        (429, "rate_limit_exceeded"),
        "{body}"
    );
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    assert_eq!(upstream.received().len(), 1, "nothing sent while cooling");
}

const EXPERIMENT_CONFIG: &str = "
model_list:
  - {model_name: control-group, litellm_params: {model: mock/a, mock_response: from-control}}
  - {model_name: candidate-group, litellm_params: {model: mock/b, mock_response: from-candidate}}
experiments:
  - name: summary-test
    model: summarizer
    sticky_by: 'header:x-team-user'
    variants:
      - {name: control, model: control-group, weight: 1}
      - {name: candidate, model: candidate-group, weight: 1}
";

async fn variant_of(gateway: &Gateway, user: &str) -> (String, String) {
    let response = gateway
        .client
        .post(format!("{}/v1/chat/completions", gateway.base))
        .header("x-team-user", user)
        .json(&chat("summarizer"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchyard-experiment"],
        "summary-test"
    );
    let variant = response.headers()["x-switchyard-variant"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = response.json().await.expect("json");
    let text = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (variant, text)
}

#[tokio::test]
async fn an_experiment_keeps_each_caller_on_one_variant_across_replicas() {
    let first = Gateway::spawn(EXPERIMENT_CONFIG, &[]).await;
    let second = Gateway::spawn(EXPERIMENT_CONFIG, &[]).await;
    let mut seen = std::collections::HashSet::new();
    for i in 0..24 {
        let user = format!("user-{i}");
        let (variant, text) = variant_of(&first, &user).await;
        assert_eq!(
            text,
            format!("from-{variant}"),
            "the variant's group answered"
        );
        assert_eq!(
            variant_of(&first, &user).await.0,
            variant,
            "sticky on one replica"
        );
        assert_eq!(
            variant_of(&second, &user).await.0,
            variant,
            "sticky across replicas"
        );
        seen.insert(variant);
    }
    assert_eq!(seen.len(), 2, "both variants get callers");
    let models: Value = first
        .get("/v1/models", None)
        .await
        .json()
        .await
        .expect("json");
    assert!(models.to_string().contains("\"summarizer\""), "{models}");
}

#[tokio::test]
async fn a_hedged_request_returns_the_faster_upstream_answer() {
    let upstream = FakeUpstream::start().await;
    let gateway = gateway(
        &upstream,
        &[("m", "hang", 1), ("m", "healthy", 2)],
        "  num_retries: 0\n  hedging: {m: 100}\n",
    )
    .await;
    let response = gateway
        .post("/v1/chat/completions", &chat("m"), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-deployment"], "m-healthy");
    assert_eq!(response.headers()["x-switchyard-attempts"], "2");
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "upstream says: route me"
    );
    assert_eq!(upstream_models(&upstream), ["hang", "healthy"]);
}
