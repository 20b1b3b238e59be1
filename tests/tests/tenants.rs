//! End to end, as a hostile client would try it: a key's model allow-list holds on every path
//! (per-request `models`/`fallbacks`, configured fallbacks, streams, embeddings, an allowed group
//! over its rpm), a budget holds under 50 parallel calls (on PostgreSQL, and across two
//! gateways sharing Redis), a deployment with no price is not free to a budgeted key, and usage
//! beyond what a model can produce is never charged as reported.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use switchyard_e2e::shared_state::{
    Schema, admin_get, eventually, forget_redis_keys, new_key, within_one_minute,
};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, error_of, redis_url, unique_prefix};

/// US dollars per prompt and completion token of the priced groups: the fake upstream reports
/// 10 and 5 tokens, so a call costs $0.019.
const INPUT_PRICE: f64 = 0.001;
const OUTPUT_PRICE: f64 = 0.0018;
const CALL_COST: f64 = 10.0 * INPUT_PRICE + 5.0 * OUTPUT_PRICE;
/// The budget of the race tests.
const BUDGET: f64 = 0.05;
/// A prompt of 60 characters (15 estimated tokens) with `max_tokens: 5`: the call's estimate,
/// $0.024, is above what it costs.
const PROMPT: &str = "a prompt of sixty characters, to be counted as 15 tokens ...";
const ESTIMATE: f64 = 15.0 * INPUT_PRICE + 5.0 * OUTPUT_PRICE;

/// A fake-upstream deployment of group `group` calling upstream model `upstream`; `extra` is
/// appended to its `litellm_params`.
fn deployment(group: &str, upstream: &str, api_base: &str, extra: &str) -> String {
    format!(
        "  - model_name: {group}\n    litellm_params: {{model: openai/{upstream}, api_base: '{api_base}', input_cost_per_token: {INPUT_PRICE}, output_cost_per_token: {OUTPUT_PRICE}{extra}}}\n    model_info: {{id: {group}-1}}\n"
    )
}

fn ask(model: &str) -> Value {
    json!({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": PROMPT}]})
}

/// The models the fake upstream was asked for.
fn asked_upstream(upstream: &FakeUpstream) -> Vec<String> {
    upstream
        .received()
        .iter()
        .filter_map(|r| r.body["model"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_forbidden_fallback_is_never_called_whatever_path_names_it() {
    let upstream = FakeUpstream::start().await;
    let api = &upstream.api_base;
    let config = format!(
        "model_list:\n{}{}{}{}general_settings:\n  master_key: {MASTER_KEY}\nrouter_settings:\n  num_retries: 0\n  fallbacks: [{{broken: [gold]}}]\n",
        deployment("basic", "basic-model", api, ", rpm: 1"),
        deployment("broken", "broken", api, ""),
        deployment("gold", "gold-model", api, ""),
        deployment("gold-embed", "gold-embed-model", api, ""),
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let (key, _) = new_key(&gateway, &json!({"models": ["basic", "broken"]})).await;

    let attempts = [
        json!({"model": "broken", "models": ["gold"], "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "broken", "fallbacks": ["gold"], "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "broken", "fallbacks": ["gold"], "stream": true,
               "messages": [{"role": "user", "content": "x"}]}),
        // The configured fallback of `broken` is `gold`, too.
        json!({"model": "broken", "messages": [{"role": "user", "content": "x"}]}),
    ];
    for body in &attempts {
        let response = gateway.post("/v1/chat/completions", body, Some(&key)).await;
        assert_ne!(response.status(), 200, "{body} was answered");
        assert!(
            response.headers().get("x-switchyard-deployment").is_none(),
            "{body}: {:?}",
            response.headers()
        );
        let _ = response.bytes().await;
    }
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "broken", "models": ["gold-embed"], "input": "x"}),
            Some(&key),
        )
        .await;
    assert_ne!(response.status(), 200);
    let _ = response.bytes().await;

    // An allowed group over its rpm does not open the way either. Deployment rpm counts per
    // calendar minute: if one begins during the scenario, it runs again in the new minute (where
    // a call may already have used basic's one request).
    let (gateway, key) = (&gateway, &key);
    within_one_minute(|| async move {
        let basic = json!({"model": "basic", "messages": [{"role": "user", "content": "x"}]});
        let mut refused = false;
        for _ in 0..2 {
            let response = gateway
                .post("/v1/chat/completions", &basic, Some(key))
                .await;
            refused = response.status() != 200;
            let _ = response.bytes().await;
            if refused {
                break;
            }
        }
        assert!(refused, "basic's rpm of 1 refused no call");
        let second = gateway
            .post(
                "/v1/chat/completions",
                &json!({"model": "basic", "models": ["gold"], "messages": [{"role": "user", "content": "x"}]}),
                Some(key),
            )
            .await;
        assert_ne!(
            second.status(),
            200,
            "gold answered for a key limited to basic"
        );
        let _ = second.bytes().await;
    })
    .await;

    let asked = asked_upstream(&upstream);
    assert!(
        !asked.iter().any(|m| m.starts_with("gold")),
        "a forbidden group was called: {asked:?}"
    );
    // The same request from a key allowed everything does reach the fallback.
    let (open, _) = new_key(gateway, &json!({})).await;
    let response = gateway
        .post("/v1/chat/completions", &attempts[0], Some(&open))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-deployment"], "gold-1");
}

/// Spend records of key `id` once every call it answered is recorded.
async fn recorded(gateway: &Gateway, id: &str, answered: usize) -> Vec<Value> {
    let path = format!("/spend/logs?key_id={id}&limit=1000");
    eventually(
        Duration::from_secs(20),
        "every answered call recorded",
        || async {
            let answer = admin_get(gateway, &path).await;
            let records = answer.as_array().expect("a list of spend logs").clone();
            let ok = records.iter().filter(|r| r["status"] == "success").count();
            (ok >= answered).then_some(records)
        },
    )
    .await
}

/// Sends 50 calls at once with `key`, half of them streamed, spread over `gateways`; how many
/// were answered (a stream counts once it reaches `[DONE]`).
async fn race(gateways: &[Gateway], key: &str) -> usize {
    let key = Arc::new(key.to_owned());
    let calls = (0..50).map(|n| {
        let gateway = &gateways[n % gateways.len()];
        let key = Arc::clone(&key);
        async move {
            let mut body = ask("metered");
            if n % 2 == 1 {
                body["stream"] = json!(true);
                body["stream_options"] = json!({"include_usage": true});
            }
            let response = gateway
                .post("/v1/chat/completions", &body, Some(&key))
                .await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            match status {
                200 if n % 2 == 0 || text.contains("[DONE]") => 1,
                200 => 0,
                _ => {
                    assert!(text.contains("budget_exceeded"), "{status}: {text}");
                    0
                }
            }
        }
    });
    join_all(calls).await.into_iter().sum()
}

/// The bound the README states: calls admitted while the counter (spend plus what calls in
/// flight hold) is below the budget, each holding at least its cost, so at most one call's
/// estimate past the budget; here no more than three calls of $0.019 fit.
fn assert_within_budget(answered: usize, records: &[Value]) {
    let spent: f64 = records.iter().filter_map(|r| r["spend"].as_f64()).sum();
    assert!(answered >= 1, "nothing was answered");
    assert!(
        answered <= 3,
        "{answered} calls of ${CALL_COST} answered on a ${BUDGET} budget"
    );
    assert!(
        spent <= BUDGET + ESTIMATE + 1e-9,
        "spent ${spent} of a ${BUDGET} budget (bound: one estimate past it)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_calls_stay_within_a_budget_on_postgres() {
    let Some(schema) = Schema::create().await else {
        return;
    };
    let upstream = FakeUpstream::start().await;
    let config = format!(
        "model_list:\n{}general_settings:\n  master_key: {MASTER_KEY}\n  database_url: os.environ/TEST_DATABASE_URL\n",
        deployment("metered", "metered-model", &upstream.api_base, "")
    );
    let gateway = Gateway::spawn(&config, &[("TEST_DATABASE_URL", schema.url.as_str())]).await;
    let (key, id) = new_key(&gateway, &json!({"max_budget": BUDGET})).await;
    let answered = race(std::slice::from_ref(&gateway), &key).await;
    let records = recorded(&gateway, &id, answered).await;
    assert_within_budget(answered, &records);
    println!("postgres: {answered} of 50 answered on a ${BUDGET} budget");
    drop(gateway);
    schema.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_calls_across_two_gateways_stay_within_a_budget_in_redis() {
    let Some(redis) = redis_url() else {
        return;
    };
    let Some(schema) = Schema::create().await else {
        return;
    };
    let prefix = unique_prefix();
    let upstream = FakeUpstream::start().await;
    let config = format!(
        "model_list:\n{}general_settings:\n  master_key: {MASTER_KEY}\n  database_url: os.environ/TEST_DATABASE_URL\nrouter_settings:\n  redis_url: os.environ/TEST_REDIS_URL\n  redis_key_prefix: {prefix}\n",
        deployment("metered", "metered-model", &upstream.api_base, "")
    );
    let env = [
        ("TEST_DATABASE_URL", schema.url.as_str()),
        ("TEST_REDIS_URL", redis.as_str()),
    ];
    let gateways = [
        Gateway::spawn(&config, &env).await,
        Gateway::spawn(&config, &env).await,
    ];
    let (key, id) = new_key(&gateways[0], &json!({"max_budget": BUDGET})).await;
    let answered = race(&gateways, &key).await;
    let records = recorded(&gateways[0], &id, answered).await;
    assert_within_budget(answered, &records);
    println!("two gateways on Redis: {answered} of 50 answered on a ${BUDGET} budget");
    drop(gateways);
    forget_redis_keys(&redis, &prefix).await;
    schema.remove().await;
}

#[tokio::test]
async fn a_deployment_without_a_price_is_not_free_to_a_budgeted_key() {
    let upstream = FakeUpstream::start().await;
    let api = &upstream.api_base;
    let config = |extra: &str| {
        format!(
            "model_list:\n  - model_name: vllm\n    litellm_params: {{model: hosted_vllm/my-llama, api_base: '{api}'}}\n  - model_name: azure-like\n    litellm_params: {{model: openai/my-gpt4o-deployment, api_base: '{api}'}}\n    model_info: {{base_model: gpt-4o}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n{extra}"
        )
    };
    let gateway = Gateway::spawn(&config(""), &[]).await;
    let (budgeted, _) = new_key(&gateway, &json!({"max_budget": 10.0})).await;
    let (free, _) = new_key(&gateway, &json!({})).await;
    let call = |key: String, model: &'static str| {
        let gateway = &gateway;
        async move {
            gateway
                .post(
                    "/v1/chat/completions",
                    &json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}),
                    Some(&key),
                )
                .await
        }
    };
    let refused = call(budgeted.clone(), "vllm").await;
    let (status, code, body) = error_of(refused).await;
    assert_eq!((status, code.as_str()), (400, "unpriced_model"), "{body}");
    assert!(
        upstream.received().is_empty(),
        "refused before the upstream"
    );
    // A key without a budget is served; a deployment priced by its base model serves budgets.
    assert_eq!(call(free, "vllm").await.status(), 200);
    let priced = call(budgeted.clone(), "azure-like").await;
    assert_eq!(priced.status(), 200);
    let cost = switchyard_e2e::cost_of(&priced);
    // gpt-4o's list price: $2.50 and $10 per million tokens.
    assert!(
        (cost - (10.0 * 2.5e-6 + 5.0 * 10e-6)).abs() < 1e-12,
        "{cost}"
    );

    // The operator may choose to serve them.
    let gateway = Gateway::spawn(&config("  budget_unpriced: allow\n"), &[]).await;
    let (budgeted, _) = new_key(&gateway, &json!({"max_budget": 10.0})).await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "vllm", "messages": [{"role": "user", "content": "hi"}]}),
            Some(&budgeted),
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn usage_beyond_what_the_model_can_produce_is_not_charged_as_reported() {
    let upstream = FakeUpstream::start().await;
    let config = format!(
        "model_list:\n{}general_settings:\n  master_key: {MASTER_KEY}\n",
        deployment("liar", "absurd-usage", &upstream.api_base, "")
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let (key, id) = new_key(&gateway, &json!({"max_budget": 100.0})).await;
    for stream in [false, true] {
        let mut body = ask("liar");
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        let response = gateway
            .post("/v1/chat/completions", &body, Some(&key))
            .await;
        assert_eq!(response.status(), 200);
        let _ = response.bytes().await;
    }
    let records = recorded(&gateway, &id, 2).await;
    assert_eq!(records.len(), 2);
    for record in &records {
        let prompt = record["prompt_tokens"].as_u64().expect("a count");
        assert!(prompt < 1_000_000, "charged as reported: {record}");
        assert_eq!(
            record["metadata"]["cost_estimated"], true,
            "marked as estimated: {record}"
        );
        let spent = record["spend"].as_f64().expect("a cost");
        assert!(spent <= ESTIMATE + 1e-9, "charged ${spent} for one call");
    }
}
