//! End to end: routing rules (task, cost tier, complexity, hybrid) choosing the model group
//! through a real gateway socket, told apart by each mock group's answer, with the decision
//! explained in `x-switchyard-route-reason`; and LiteLLM's `tags` kept from upstreams.

use serde_json::{Value, json};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, error_of, sse_data};

const REASON: &str = "x-switchyard-route-reason";

/// One mock deployment per `(group, mock model, latency ms)`, answering `from <group>`, plus
/// `rules` under `routing_rules`. Mock model names that the price catalog knows (`gpt-4o`,
/// `gpt-4o-mini`, `o1`) give the group that catalog price.
fn config(groups: &[(&str, &str, u64)], rules: &str) -> String {
    let mut out = String::from("model_list:\n");
    for (group, model, latency) in groups {
        out.push_str(&format!(
            "  - model_name: {group}\n    litellm_params: {{model: mock/{model}, mock_response: 'from {group}', mock_latency_ms: {latency}}}\n    model_info: {{id: {group}-mock}}\n"
        ));
    }
    out.push_str(&format!(
        "general_settings:\n  master_key: {MASTER_KEY}\nrouting_rules:\n{rules}"
    ));
    out
}

async fn gateway(groups: &[(&str, &str, u64)], rules: &str) -> Gateway {
    Gateway::spawn(&config(groups, rules), &[]).await
}

/// A chat call with extra body fields and request headers.
async fn call(
    gateway: &Gateway,
    model: &str,
    text: &str,
    fields: Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": text}]});
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    let mut request = gateway
        .client
        .post(format!("{}/v1/chat/completions", gateway.base))
        .bearer_auth(MASTER_KEY)
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("gateway answers")
}

/// The answer's text and its route reason.
async fn answer(response: reqwest::Response) -> (String, String) {
    assert_eq!(response.status(), 200);
    let reason = response
        .headers()
        .get(REASON)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.expect("JSON");
    let text = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (text, reason)
}

const TASK_GROUPS: &[(&str, &str, u64)] = &[
    ("coder", "coder", 0),
    ("summarizer", "summarizer", 0),
    ("general", "general", 0),
];

const TASK_RULES: &str = "  - {name: code, kind: task, model: assistant, when: {metadata: {task: code}}, group: coder}
  - {name: tagged, kind: task, model: assistant, when: {tags: [summaries]}, group: summarizer}
  - {name: summaries, kind: task, model: assistant, when: {header: {x-task: summarize}}, group: summarizer, default: general}
";

#[tokio::test]
async fn task_rules_route_by_metadata_tags_and_headers_with_a_default() {
    let gateway = gateway(TASK_GROUPS, TASK_RULES).await;
    let by_metadata = call(
        &gateway,
        "assistant",
        "fix it",
        json!({"metadata": {"task": "code"}}),
        &[],
    )
    .await;
    assert_eq!(
        by_metadata.headers()["x-switchyard-deployment"],
        "coder-mock"
    );
    assert_eq!(
        answer(by_metadata).await,
        (
            "from coder".to_owned(),
            "rule=code kind=task chose=coder: metadata task=code".to_owned()
        )
    );
    let by_tag = call(
        &gateway,
        "assistant",
        "hi",
        json!({"tags": ["summaries"]}),
        &[],
    )
    .await;
    assert_eq!(
        answer(by_tag).await.1,
        "rule=tagged kind=task chose=summarizer: tag summaries"
    );
    let by_header = call(
        &gateway,
        "assistant",
        "hi",
        json!({}),
        &[("X-Task", "summarize")],
    )
    .await;
    assert_eq!(
        answer(by_header).await,
        (
            "from summarizer".to_owned(),
            "rule=summaries kind=task chose=summarizer: header x-task=summarize".to_owned()
        )
    );
    let unmatched = call(&gateway, "assistant", "hi", json!({}), &[]).await;
    assert_eq!(
        answer(unmatched).await,
        (
            "from general".to_owned(),
            "rule=summaries kind=task chose=general: no rule matched, default".to_owned()
        )
    );
    let direct = call(&gateway, "coder", "hi", json!({}), &[]).await;
    assert!(
        direct.headers().get(REASON).is_none(),
        "a group named directly involves no rule"
    );
}

#[tokio::test]
async fn an_unmatched_request_without_a_default_is_a_bad_request() {
    let gateway = gateway(
        TASK_GROUPS,
        "  - {name: code, kind: task, model: assistant, when: {metadata: {task: code}}, group: coder}\n",
    )
    .await;
    let response = call(&gateway, "assistant", "hi", json!({}), &[]).await;
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "no_rule_matched"));
}

#[tokio::test]
async fn cost_tiers_pick_the_cheapest_group_of_the_tier() {
    let gateway = gateway(
        &[
            ("flagship", "gpt-4o", 0),
            ("mini", "gpt-4o-mini", 0),
            ("reasoner", "o1", 0),
        ],
        "  - {name: tiers, kind: tier, tiers: {cheap: [flagship, mini], premium: [reasoner]}}\n",
    )
    .await;
    let cheap = answer(call(&gateway, "cheap", "hi", json!({}), &[]).await).await;
    assert_eq!(
        cheap,
        (
            "from mini".to_owned(),
            "rule=tiers kind=tier chose=mini: tier cheap, cheapest of 2 at $0.75/M".to_owned()
        )
    );
    let premium = answer(call(&gateway, "premium", "hi", json!({}), &[]).await).await;
    assert_eq!(premium.0, "from reasoner");
    assert_eq!(
        premium.1,
        "rule=tiers kind=tier chose=reasoner: tier premium"
    );
}

#[tokio::test]
async fn the_auto_model_sends_long_or_keyword_prompts_to_the_complex_group() {
    let gateway = gateway(
        &[("small", "small", 0), ("big", "big", 0)],
        "  - {name: auto, kind: complexity, model: switchyard/auto, simple: small, complex: big, max_simple_chars: 2000, complex_keywords: [prove, step by step]}\n",
    )
    .await;
    let short =
        answer(call(&gateway, "switchyard/auto", "hello there", json!({}), &[]).await).await;
    assert_eq!(
        short,
        (
            "from small".to_owned(),
            "rule=auto kind=complexity chose=small: 11 chars <= 2000, 0 keyword hits".to_owned()
        )
    );
    let long = answer(
        call(
            &gateway,
            "switchyard/auto",
            &"x".repeat(2600),
            json!({}),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(
        long,
        (
            "from big".to_owned(),
            "rule=auto kind=complexity chose=big: 2600 chars > 2000, 0 keyword hits".to_owned()
        )
    );
    let keyword = answer(
        call(
            &gateway,
            "switchyard/auto",
            "Prove that it halts",
            json!({}),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(keyword.0, "from big");
    assert!(keyword.1.ends_with("1 keyword hit: prove"), "{}", keyword.1);
}

#[tokio::test]
async fn hybrid_drops_groups_over_the_cost_limit_then_over_their_observed_latency() {
    let gateway = gateway(
        &[
            ("reasoner", "o1", 0),
            ("slow-mini", "gpt-4o-mini", 60),
            ("flagship", "gpt-4o", 0),
        ],
        "  - {name: hybrid, kind: hybrid, model: switchyard/hybrid, candidates: [reasoner, slow-mini, flagship], max_cost_per_million: 20, max_latency_ms: 30, prefer: cost}\n",
    )
    .await;
    let first = answer(call(&gateway, "switchyard/hybrid", "hi", json!({}), &[]).await).await;
    assert_eq!(first.0, "from slow-mini", "not measured yet, and cheapest");
    assert_eq!(
        first.1,
        "rule=hybrid kind=hybrid chose=slow-mini: cheapest of 2 within limits at $0.75/M; dropped reasoner (cost $75/M > $20/M)"
    );
    let second = answer(call(&gateway, "switchyard/hybrid", "hi", json!({}), &[]).await).await;
    assert_eq!(
        second.0, "from flagship",
        "slow-mini now measured over 30ms"
    );
    assert!(
        second.1.starts_with(
            "rule=hybrid kind=hybrid chose=flagship: cheapest of 1 within limits at $12.5/M; dropped reasoner (cost $75/M > $20/M), slow-mini (latency "
        ),
        "{}",
        second.1
    );
}

#[tokio::test]
async fn hybrid_with_no_candidate_within_its_limits_is_unavailable() {
    let gateway = gateway(
        &[("reasoner", "o1", 0)],
        "  - {name: hybrid, kind: hybrid, model: switchyard/hybrid, candidates: [reasoner], max_cost_per_million: 20}\n",
    )
    .await;
    let response = call(&gateway, "switchyard/hybrid", "hi", json!({}), &[]).await;
    let (status, code, body) = error_of(response).await;
    assert_eq!((status, code.as_str()), (503, "no_rule_candidate"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("reasoner (cost $75/M > $20/M)")),
        "{body}"
    );
}

#[tokio::test]
async fn rule_models_are_listed_with_the_groups() {
    let gateway = gateway(
        TASK_GROUPS,
        &format!("{TASK_RULES}  - {{name: tiers, kind: tier, tiers: {{cheap: [general]}}}}\n"),
    )
    .await;
    let list: Value = gateway
        .get("/v1/models", Some(MASTER_KEY))
        .await
        .json()
        .await
        .expect("JSON");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .map(|d| d.iter().filter_map(|m| m["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        ids,
        ["coder", "summarizer", "general", "assistant", "cheap"]
    );
}

#[tokio::test]
async fn streams_and_the_anthropic_ingress_carry_the_route_reason() {
    let gateway = gateway(TASK_GROUPS, TASK_RULES).await;
    let stream = call(
        &gateway,
        "assistant",
        "hi",
        json!({"stream": true, "metadata": {"task": "code"}}),
        &[],
    )
    .await;
    assert_eq!(stream.status(), 200);
    assert_eq!(
        stream.headers()[REASON],
        "rule=code kind=task chose=coder: metadata task=code"
    );
    let streamed: String = sse_data(&stream.text().await.expect("body"))
        .iter()
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(streamed, "from coder");

    let messages = gateway
        .client
        .post(format!("{}/v1/messages", gateway.base))
        .header("x-api-key", MASTER_KEY)
        .header("anthropic-version", "2023-06-01")
        .header("x-task", "summarize")
        .json(&json!({"model": "assistant", "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(messages.status(), 200);
    assert_eq!(
        messages.headers()[REASON],
        "rule=summaries kind=task chose=summarizer: header x-task=summarize"
    );
    let body: Value = messages.json().await.expect("JSON");
    assert_eq!(body["content"][0]["text"], "from summarizer");
}

#[tokio::test]
async fn tags_never_reach_the_upstream_and_metadata_does() {
    let upstream = FakeUpstream::start().await;
    let text = format!(
        "model_list:
  - {{model_name: up, litellm_params: {{model: openai/upstream-model, api_base: '{}'}}}}
general_settings:
  master_key: {MASTER_KEY}
routing_rules:
  - {{name: urgent, kind: task, model: assistant, when: {{tags: [urgent]}}, group: up}}
",
        upstream.api_base
    );
    let gateway = Gateway::spawn(&text, &[]).await;
    let fields = json!({"tags": ["urgent"], "metadata": {"ticket": "T-1"}, "store": true});
    let routed = call(&gateway, "assistant", "hi", fields.clone(), &[]).await;
    assert_eq!(
        answer(routed).await.1,
        "rule=urgent kind=task chose=up: tag urgent"
    );
    let direct = call(&gateway, "up", "hi", fields, &[]).await;
    assert_eq!(direct.status(), 200);
    let received = upstream.received();
    assert_eq!(received.len(), 2);
    for request in received {
        assert!(request.body.get("tags").is_none(), "{}", request.body);
        assert_eq!(request.body["metadata"], json!({"ticket": "T-1"}));
        assert_eq!(request.body["model"], "upstream-model");
    }
}
