//! End to end, as an operator running two replicas would see it: budgets fail closed while
//! Redis is down and are rebuilt from PostgreSQL when Redis comes back empty or is flushed; key
//! changes made on one replica reach the other within a second; limits set on a key's owner,
//! its team and the end user each hold as a scope of their own, whatever the body's `user` says.
//! Each Redis-failure test runs a Redis of its own, which it stops and restarts.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_e2e::shared_state::{
    OwnPostgres, OwnRedis, Schema, admin_get, eventually, new_key, within_one_minute,
};
use switchyard_e2e::{Gateway, MASTER_KEY};

/// A mock deployment `metered` at $0.000001 and $0.000002 per token, and one `free` (no budget
/// reaches it, it costs nothing).
fn models() -> &'static str {
    "model_list:
  - model_name: metered
    litellm_params: {model: mock/echo, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}
    model_info: {id: metered-mock}
"
}

fn ask(model: &str) -> Value {
    json!({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "spend it"}]})
}

async fn status(gateway: &Gateway, key: &str, body: &Value) -> u16 {
    let response = gateway.post("/v1/chat/completions", body, Some(key)).await;
    let status = response.status().as_u16();
    let _ = response.bytes().await;
    status
}

/// Calls with `key`, alternating between `gateways`, until one is refused; the calls answered.
async fn spend_until_refused(gateways: &[Gateway], key: &str) -> usize {
    for n in 0..100 {
        let code = status(&gateways[n % gateways.len()], key, &ask("metered")).await;
        if code != 200 {
            // LiteLLM's status for a spent budget (422 since its v1.104.0).
            assert_eq!(code, 422, "refused as over budget");
            return n;
        }
    }
    panic!("never refused");
}

/// Waits until the spend log holds `count` answered calls of key `id`.
async fn logged(gateway: &Gateway, id: &str, count: usize) {
    let path = format!("/spend/logs?key_id={id}&limit=1000");
    eventually(
        Duration::from_secs(20),
        "spend records in PostgreSQL",
        || async {
            let records = admin_get(gateway, &path).await;
            let answered = records
                .as_array()
                .expect("a list of spend logs")
                .iter()
                .filter(|r| r["status"] == "success")
                .count();
            (answered >= count).then_some(())
        },
    )
    .await;
}

/// Two gateways on one PostgreSQL schema and a Redis of this test's own; `general` is added to
/// `general_settings` (indented lines).
async fn two_replicas(schema: &Schema, redis: &OwnRedis, general: &str) -> [Gateway; 2] {
    let config = format!(
        "{}general_settings:\n  master_key: {MASTER_KEY}\n  database_url: os.environ/TEST_DATABASE_URL\n{general}router_settings:\n  redis_url: os.environ/TEST_REDIS_URL\n  redis_key_prefix: sy\n",
        models()
    );
    let url = redis.url();
    let env = [
        ("TEST_DATABASE_URL", schema.url.as_str()),
        ("TEST_REDIS_URL", url.as_str()),
    ];
    [
        Gateway::spawn(&config, &env).await,
        Gateway::spawn(&config, &env).await,
    ]
}

/// How many of 10 calls with `key`, alternating between the replicas, were answered.
async fn answered_of_ten(gateways: &[Gateway], key: &str) -> usize {
    let mut answered = 0;
    for n in 0..10 {
        if status(&gateways[n % 2], key, &ask("metered")).await == 200 {
            answered += 1;
        }
    }
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_budget_stays_refused_while_redis_is_down_and_when_it_comes_back_empty() {
    let Some(mut redis) = OwnRedis::start().await else {
        return;
    };
    let Some(schema) = Schema::create().await else {
        return;
    };
    let gateways = two_replicas(&schema, &redis, "").await;
    let (spent, spent_id) = new_key(&gateways[0], &json!({"max_budget": 0.0002})).await;
    let (budgeted, _) = new_key(&gateways[0], &json!({"max_budget": 100.0})).await;
    let (unbudgeted, _) = new_key(&gateways[0], &json!({})).await;
    let served = spend_until_refused(&gateways, &spent).await;
    assert!(served > 0);
    logged(&gateways[0], &spent_id, served).await;

    // Redis down: the exhausted key and every other budgeted key are refused; a key without a
    // budget goes on.
    redis.stop().await;
    assert_eq!(
        answered_of_ten(&gateways, &spent).await,
        0,
        "exhausted, Redis down"
    );
    let response = gateways[1]
        .post("/v1/chat/completions", &ask("metered"), Some(&budgeted))
        .await;
    assert_eq!(response.status(), 503, "budgets cannot be checked");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
    assert_eq!(
        status(&gateways[0], &unbudgeted, &ask("metered")).await,
        200
    );
    let readiness = gateways[0].get("/health/readiness", None).await;
    let readiness: Value = readiness.json().await.expect("JSON");
    assert_eq!(readiness["checks"]["redis"], "down", "{readiness}");
    assert_eq!(readiness["budget_failure_policy"], "closed", "{readiness}");
    let metrics = gateways[0]
        .get("/metrics", None)
        .await
        .text()
        .await
        .expect("metrics");
    assert!(
        metrics.contains("switchyard_budget_failure_policy{policy=\"closed\"} 1"),
        "{metrics}"
    );

    // Redis back, empty: the counters are rebuilt from PostgreSQL, not started from zero.
    redis.restart().await;
    assert_eq!(
        answered_of_ten(&gateways, &spent).await,
        0,
        "exhausted, Redis empty"
    );
    assert_eq!(status(&gateways[1], &budgeted, &ask("metered")).await, 200);
    // And once more, flushed while running.
    redis.flush().await;
    assert_eq!(
        answered_of_ten(&gateways, &spent).await,
        0,
        "exhausted, Redis flushed"
    );
    drop(gateways);
    schema.remove().await;
}

/// An admin call on key id: its path and body.
type AdminChange = fn(&str) -> (&'static str, Value);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_local_slices_each_replica_spends_only_its_share_while_redis_is_down() {
    let Some(mut redis) = OwnRedis::start().await else {
        return;
    };
    let Some(schema) = Schema::create().await else {
        return;
    };
    let gateways = two_replicas(&schema, &redis, "  budget_failure_policy: local_slice\n").await;
    // Calls of about $0.000006, estimated at $0.000034 (16 output tokens at most).
    const BUDGET: f64 = 0.0002;
    const ESTIMATE: f64 = 2.0 * 0.000_001 + 16.0 * 0.000_002;
    let (key, id) = new_key(&gateways[0], &json!({"max_budget": BUDGET})).await;
    for gateway in &gateways {
        eventually(Duration::from_secs(10), "both replicas counted", || async {
            let readiness: Value = gateway
                .get("/health/readiness", None)
                .await
                .json()
                .await
                .ok()?;
            (readiness["replicas"] == 2).then_some(())
        })
        .await;
    }
    // Both replicas see the key's budget while Redis answers.
    let mut answered = 0;
    for n in 0..10 {
        assert_eq!(status(&gateways[n % 2], &key, &ask("metered")).await, 200);
        answered += 1;
    }
    redis.stop().await;
    let mut during_outage = 0;
    let mut refused_in_a_row = 0;
    for n in 0..100 {
        match status(&gateways[n % 2], &key, &ask("metered")).await {
            200 => {
                during_outage += 1;
                refused_in_a_row = 0;
            }
            422 => refused_in_a_row += 1,
            other => panic!("unexpected {other} while Redis is down"),
        }
        if refused_in_a_row == 4 {
            break;
        }
    }
    assert_eq!(refused_in_a_row, 4, "both replicas' slices ran out");
    answered += during_outage;
    assert!(during_outage > 0, "local slices served nothing");
    logged(&gateways[0], &id, answered).await;
    let path = format!("/spend/logs?key_id={id}&limit=1000");
    let records = admin_get(&gateways[0], &path).await;
    let spent: f64 = records
        .as_array()
        .expect("a list of spend logs")
        .iter()
        .filter_map(|r| r["spend"].as_f64())
        .sum();
    assert!(
        spent <= BUDGET + 2.0 * ESTIMATE,
        "spent ${spent} of ${BUDGET} with two replicas on local slices"
    );
    println!(
        "local slices: {during_outage} calls served while Redis was down; ${spent:.6} spent of ${BUDGET}"
    );
    let readiness: Value = gateways[1]
        .get("/health/readiness", None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        readiness["budget_failure_policy"], "local_slice",
        "{readiness}"
    );
    drop(gateways);
    schema.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_change_on_one_replica_reaches_the_other_within_a_second() {
    let Some(redis) = OwnRedis::start().await else {
        return;
    };
    let Some(schema) = Schema::create().await else {
        return;
    };
    let [a, b] = two_replicas(&schema, &redis, "").await;
    let changes: [(&str, AdminChange); 4] = [
        ("delete", |id| ("/key/delete", json!({"keys": [id]}))),
        ("block", |id| ("/key/block", json!({"key": id}))),
        ("budget 0", |id| {
            ("/key/update", json!({"key": id, "max_budget": 0.0}))
        }),
        ("models narrowed", |id| {
            ("/key/update", json!({"key": id, "models": ["other-model"]}))
        }),
    ];
    let mut slowest = Duration::ZERO;
    for (what, change) in changes {
        let (key, id) = new_key(&a, &json!({})).await;
        // B has seen the key work, so it remembers who it belongs to.
        assert_eq!(status(&b, &key, &ask("metered")).await, 200, "{what}");
        let (path, body) = change(&id);
        a.admin_post(path, &body).await;
        let changed = Instant::now();
        eventually(
            Duration::from_secs(1),
            &format!("{what} made on A refused on B"),
            || async { (status(&b, &key, &ask("metered")).await != 200).then_some(()) },
        )
        .await;
        slowest = slowest.max(changed.elapsed());
    }
    println!("slowest key change to reach the other replica: {slowest:?}");
    drop((a, b));
    schema.remove().await;
}

/// `count` calls with `key`, each with `body_user` as the body's `user` when given; how many
/// were answered.
async fn answered(
    gateway: &Gateway,
    key: &str,
    count: usize,
    body_user: impl Fn(usize) -> Option<String>,
) -> usize {
    let mut answered = 0;
    for n in 0..count {
        let mut body = ask("metered");
        if let Some(user) = body_user(n) {
            body["user"] = json!(user);
        }
        match status(gateway, key, &body).await {
            200 => answered += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    answered
}

#[tokio::test]
async fn owner_team_and_end_user_limits_each_hold_whatever_the_body_says() {
    let config = format!(
        "{}general_settings:\n  master_key: {MASTER_KEY}\nrate_limits:\n  user: {{rpm: 3}}\n  end_user: {{rpm: 2}}\n",
        models()
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    // A user's and a team's own limits apply to every key of theirs.
    gateway
        .admin_post("/user/new", &json!({"user_id": "lim-user", "rpm_limit": 2}))
        .await;
    gateway
        .admin_post("/team/new", &json!({"team_id": "lim-team", "rpm_limit": 2}))
        .await;
    let (user_key_1, _) = new_key(&gateway, &json!({"user_id": "lim-user"})).await;
    let (user_key_2, _) = new_key(&gateway, &json!({"user_id": "lim-user"})).await;
    let served = answered(&gateway, &user_key_1, 1, |_| None).await
        + answered(&gateway, &user_key_2, 4, |_| None).await;
    assert_eq!(
        served, 2,
        "the user's own rpm_limit across two of their keys"
    );
    let (team_key, _) = new_key(&gateway, &json!({"team_id": "lim-team"})).await;
    assert_eq!(
        answered(&gateway, &team_key, 5, |_| None).await,
        2,
        "the team's rpm_limit"
    );

    // `rate_limits.user` is keyed by the key's owner: a new `user` in every body lifts nothing.
    let (ana, _) = new_key(&gateway, &json!({"user_id": "ana"})).await;
    let served = answered(&gateway, &ana, 8, |n| Some(format!("end-user-{n}"))).await;
    assert_eq!(served, 3, "the owner's limit, whatever the body's user");

    // The end user is a scope of its own, in addition: two calls per end user.
    let (open, _) = new_key(&gateway, &json!({})).await;
    assert_eq!(
        answered(&gateway, &open, 3, |_| Some("customer-1".to_owned())).await,
        2
    );
    assert_eq!(
        answered(&gateway, &open, 2, |_| Some("customer-2".to_owned())).await,
        2,
        "another end user has a limit of its own"
    );
    // The end-user header LiteLLM documents names the same end user.
    let response = gateway
        .client
        .post(format!("{}/v1/chat/completions", gateway.base))
        .bearer_auth(&open)
        .header("x-litellm-end-user-id", "customer-1")
        .json(&ask("metered"))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        response.status(),
        429,
        "customer-1 by header is over its limit"
    );
}

#[tokio::test]
async fn an_end_user_budget_holds_across_keys_and_apart_from_other_end_users() {
    let config = format!(
        "{}general_settings:\n  master_key: {MASTER_KEY}\nlitellm_settings:\n  max_end_user_budget: 0.00003\n",
        models()
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let (first, _) = new_key(&gateway, &json!({})).await;
    let (second, _) = new_key(&gateway, &json!({})).await;
    let as_customer = |user: &str| {
        let mut body = ask("metered");
        body["user"] = json!(user);
        body
    };
    let mut served = 0;
    loop {
        let code = status(&gateway, &first, &as_customer("customer-a")).await;
        if code != 200 {
            let response = gateway
                .post(
                    "/v1/chat/completions",
                    &as_customer("customer-a"),
                    Some(&first),
                )
                .await;
            let body: Value = response.json().await.expect("JSON");
            assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
            assert!(
                body["error"]["message"].as_str().is_some_and(
                    |m| m.starts_with("ExceededBudget: End User=customer-a over budget.")
                ),
                "{body}"
            );
            break;
        }
        served += 1;
        assert!(served < 50, "never refused");
    }
    assert!(served > 0);
    // The end user's budget is theirs across keys; another end user is not held back.
    assert_eq!(
        status(&gateway, &second, &as_customer("customer-a")).await,
        422
    );
    assert_eq!(
        status(&gateway, &second, &as_customer("customer-b")).await,
        200
    );
}

#[tokio::test]
async fn embeddings_count_against_the_same_limits_as_chat() {
    let config = format!(
        "{}  - model_name: embed\n    litellm_params: {{model: mock/text-embedding-3-small}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n",
        models()
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let (key, _) = new_key(&gateway, &json!({"rpm_limit": 2})).await;
    assert_eq!(status(&gateway, &key, &ask("metered")).await, 200);
    let embed = |key: String| {
        let gateway = &gateway;
        async move {
            gateway
                .post(
                    "/v1/embeddings",
                    &json!({"model": "embed", "input": "hello"}),
                    Some(&key),
                )
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(embed(key.clone()).await, 200);
    assert_eq!(
        embed(key.clone()).await,
        429,
        "the key's third call this minute"
    );
    assert_eq!(status(&gateway, &key, &ask("metered")).await, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rpm_limit_holds_across_two_replicas() {
    let Some(redis) = OwnRedis::start().await else {
        return;
    };
    let Some(schema) = Schema::create().await else {
        return;
    };
    let gateways = two_replicas(&schema, &redis, "").await;
    // Limits count per calendar minute: thirty calls that straddle a minute's end may see two
    // windows, so such a round is run again with a new key.
    let replicas = &gateways;
    within_one_minute(|| async move {
        // A key made on one replica works on the other at once.
        let (key, _) = new_key(&replicas[0], &json!({"rpm_limit": 10})).await;
        let mut answered = 0;
        for n in 0..30 {
            match status(&replicas[(n + 1) % 2], &key, &ask("metered")).await {
                200 => answered += 1,
                429 => {}
                other => panic!("call {n}: unexpected {other}"),
            }
        }
        assert_eq!(
            answered, 10,
            "a key's rpm_limit of 10, across both replicas"
        );
    })
    .await;
    drop(gateways);
    schema.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_keys_go_on_while_postgres_is_down_and_every_spend_record_is_written_after() {
    let Some(postgres) = OwnPostgres::start().await else {
        return;
    };
    let config = format!(
        "{}general_settings:\n  master_key: {MASTER_KEY}\n  database_url: os.environ/TEST_DATABASE_URL\n",
        models()
    );
    let url = postgres.url();
    let gateway = Gateway::spawn(&config, &[("TEST_DATABASE_URL", url.as_str())]).await;
    let (known, id) = new_key(&gateway, &json!({})).await;
    assert_eq!(status(&gateway, &known, &ask("metered")).await, 200);

    postgres.stop().await;
    // Within the identity cache's lifetime (5 s), a key just used goes on.
    for n in 0..15 {
        assert_eq!(
            status(&gateway, &known, &ask("metered")).await,
            200,
            "call {n} of a known key, PostgreSQL down"
        );
    }
    let unknown = gateway
        .post(
            "/v1/chat/completions",
            &ask("metered"),
            Some("sk-never-made"),
        )
        .await;
    assert_eq!(unknown.status(), 503, "an unknown key cannot be checked");
    let generate = gateway
        .post("/key/generate", &json!({}), Some(MASTER_KEY))
        .await;
    assert_eq!(generate.status(), 503);
    let body: Value = generate.json().await.expect("JSON");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("database")),
        "{body}"
    );
    let readiness: Value = gateway
        .get("/health/readiness", None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(readiness["status"], "degraded", "{readiness}");
    assert_eq!(readiness["checks"]["database"], "down", "{readiness}");

    // Back: all 16 calls' spend records are written.
    postgres.resume().await;
    logged(&gateway, &id, 16).await;
}
