//! End to end through real gateway processes: budgets and spend records. A key's budget holds
//! across two gateways sharing PostgreSQL and Redis; user and team budgets refuse keys without
//! budgets of their own; every call leaves a spend record that matches its answer, and the
//! reports add them up; SIGTERM under load loses none of them. The shared test reads
//! `SWITCHYARD_TEST_DATABASE_URL` and `SWITCHYARD_TEST_REDIS_URL` and is skipped without them;
//! it works in a Postgres schema and a Redis key prefix of its own, removed at its end.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_e2e::shared_state::{Schema, admin_get, eventually, forget_redis_keys, new_key};
use switchyard_e2e::{
    Gateway, MASTER_KEY, error_of, redis_url, refused_start, serve_on_loopback, sse_data,
    unique_prefix,
};
use switchyard_store::{SpendFilter, SpendRecord, SqliteStore, Store};
use tokio::sync::watch;

/// US dollars per prompt token and per completion token of every priced deployment here.
const INPUT_PRICE: f64 = 0.000_001;
const OUTPUT_PRICE: f64 = 0.000_002;

/// A mock deployment of group `name` (id `{name}-mock`) at this file's prices, plus `extra`
/// `litellm_params`.
fn priced_mock(name: &str, extra: &str) -> String {
    format!(
        "  - model_name: {name}\n    litellm_params: {{model: mock/echo, input_cost_per_token: {INPUT_PRICE}, output_cost_per_token: {OUTPUT_PRICE}{extra}}}\n    model_info: {{id: {name}-mock}}\n"
    )
}

fn ask(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The spend logs of key `id` (LiteLLM's `SpendLogs` rows), once there are `count` of them.
async fn spend_logs(gateway: &Gateway, id: &str, count: usize) -> Vec<Value> {
    let path = format!("/spend/logs?api_key={id}");
    eventually(
        Duration::from_secs(15),
        &format!("{count} spend records"),
        || async {
            let answer = admin_get(gateway, &path).await;
            let records = answer.as_array().expect("a list of spend logs").clone();
            (records.len() >= count).then_some(records)
        },
    )
    .await
}

/// The cost of `record` at this file's prices.
fn priced(record: &SpendRecord) -> f64 {
    record.input_tokens as f64 * INPUT_PRICE + record.output_tokens as f64 * OUTPUT_PRICE
}

/// The cost of a spend log row at this file's prices.
fn priced_row(row: &Value) -> f64 {
    let tokens = |field: &str| {
        row[field]
            .as_u64()
            .unwrap_or_else(|| panic!("{field}: {row}"))
    };
    tokens("prompt_tokens") as f64 * INPUT_PRICE + tokens("completion_tokens") as f64 * OUTPUT_PRICE
}

/// A spend log row's cost.
fn spend(row: &Value) -> f64 {
    row["spend"]
        .as_f64()
        .unwrap_or_else(|| panic!("spend: {row}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn a_key_budget_holds_across_two_gateways_sharing_postgres_and_redis() {
    let Some(redis) = redis_url() else {
        return;
    };
    let Some(schema) = Schema::create().await else {
        return;
    };
    let prefix = unique_prefix();
    let config = format!(
        "model_list:\n{}general_settings:\n  master_key: {MASTER_KEY}\n  database_url: os.environ/TEST_DATABASE_URL\nrouter_settings:\n  redis_url: os.environ/TEST_REDIS_URL\n  redis_key_prefix: {prefix}\n",
        priced_mock("metered", "")
    );
    let env = [
        ("TEST_DATABASE_URL", schema.url.as_str()),
        ("TEST_REDIS_URL", redis.as_str()),
    ];
    let replicas = [
        Gateway::spawn(&config, &env).await,
        Gateway::spawn(&config, &env).await,
    ];
    let budget = 0.000_2;
    let (secret, id) = new_key(
        &replicas[0],
        &json!({"key_alias": "shared", "max_budget": budget}),
    )
    .await;

    // Spend through both, alternately, until one refuses.
    let mut costs = Vec::new();
    let mut served_by = [0usize; 2];
    let mut refused_on = None;
    for i in 0..100 {
        let replica = i % 2;
        let text = format!("spend {i} a little more of the shared budget");
        let response = replicas[replica]
            .post(
                "/v1/chat/completions",
                &ask("metered", &text),
                Some(&secret),
            )
            .await;
        if response.status() == 200 {
            let cost: f64 = header(&response, "x-switchyard-cost-usd")
                .expect("a priced call's cost")
                .parse()
                .expect("a number");
            assert!(cost > 0.0);
            costs.push(cost);
            served_by[replica] += 1;
            let _ = response.bytes().await;
            continue;
        }
        let (status, code, body) = error_of(response).await;
        // LiteLLM's status for a spent budget since its v1.104.0.
        assert_eq!((status, code.as_str()), (422, "budget_exceeded"), "{body}");
        refused_on = Some(replica);
        break;
    }
    let refused_on = refused_on.expect("the budget ran out within 100 calls");
    assert!(
        served_by.iter().all(|&n| n > 0),
        "both replicas spent: {served_by:?}"
    );
    // The other replica refuses too, and so does the first again.
    for replica in [1 - refused_on, refused_on] {
        let response = replicas[replica]
            .post(
                "/v1/chat/completions",
                &ask("metered", "one more?"),
                Some(&secret),
            )
            .await;
        let (status, code, body) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (422, "budget_exceeded"),
            "replica {replica}: {body}"
        );
        // LiteLLM's words: the key's alias and abbreviated secret, its spend and its budget.
        let message = body["error"]["message"].as_str().unwrap_or_default();
        let key_name = format!("sk-...{}", &secret[secret.len() - 4..]);
        assert!(
            message.starts_with(&format!(
                "Budget has been exceeded! Key=shared ({key_name}) Current cost: "
            )) && message.ends_with(", Max budget: 0.0002"),
            "{body}"
        );
    }

    // Every call is recorded (the refused ones at no cost); the spend overshoots the budget by
    // at most the one call that was admitted under it.
    let calls = costs.len() + 3;
    let records = spend_logs(&replicas[1], &id, calls).await;
    assert_eq!(records.len(), calls);
    let ok = records.iter().filter(|r| r["status"] == "success").count();
    let refused = records
        .iter()
        .filter(|r| r["status"] == "failure" && spend(r) == 0.0)
        .count();
    assert_eq!((ok, refused), (costs.len(), 3));
    let report = admin_get(&replicas[0], "/spend/report?group_by=key").await;
    let ours = report
        .as_array()
        .and_then(|totals| totals.iter().find(|t| t["group"] == json!(id)))
        .unwrap_or_else(|| panic!("{id} in {report}"));
    assert_eq!(ours["requests"], json!(calls), "{ours}");
    let spent = ours["cost_usd"].as_f64().expect("a cost");
    let charged: f64 = costs.iter().sum();
    let dearest = costs.iter().copied().fold(0.0, f64::max);
    assert!(close(spent, charged), "report {spent}, answers {charged}");
    assert!(spent >= budget, "spent {spent} of {budget}");
    assert!(
        spent - budget <= dearest + 1e-9,
        "spent {spent} of {budget}: more than one call ({dearest}) over"
    );

    drop(replicas);
    schema.remove().await;
    forget_redis_keys(&redis, &prefix).await;
}

/// Calls `model` with `key` until refused (at most 50 calls); the calls served and the
/// refusal's body.
async fn spend_until_refused(gateway: &Gateway, key: &str, model: &str) -> (usize, Value) {
    for served in 0..50 {
        let response = gateway
            .post("/v1/chat/completions", &ask(model, "spend it"), Some(key))
            .await;
        if response.status() != 200 {
            let (status, code, body) = error_of(response).await;
            assert_eq!((status, code.as_str()), (422, "budget_exceeded"), "{body}");
            return (served, body);
        }
        let _ = response.bytes().await;
    }
    panic!("never refused");
}

#[tokio::test]
async fn user_and_team_budgets_refuse_keys_without_budgets_of_their_own() {
    let config = format!(
        "model_list:\n{}general_settings:\n  master_key: {MASTER_KEY}\n",
        priced_mock("metered", "")
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    gateway
        .admin_post(
            "/user/new",
            &json!({"user_id": "ada@example.com", "max_budget": 0.000_03}),
        )
        .await;
    gateway
        .admin_post(
            "/team/new",
            &json!({"team_id": "research", "max_budget": 0.000_03}),
        )
        .await;
    let (unowned, _) = new_key(&gateway, &json!({})).await;

    // LiteLLM's words for each (https://docs.litellm.ai/docs/proxy/users,
    // https://docs.litellm.ai/docs/proxy/error_reference).
    for (scope, field, owner, words) in [
        (
            "user",
            "user_id",
            "ada@example.com",
            "ExceededBudget: User=ada@example.com over budget. Spend=",
        ),
        (
            "team",
            "team_id",
            "research",
            "Budget has been exceeded! Team=research Current cost: ",
        ),
    ] {
        let (first, _) = new_key(&gateway, &json!({ field: owner })).await;
        let (served, body) = spend_until_refused(&gateway, &first, "metered").await;
        assert!(served > 0, "{scope}: refused before spending: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(words), "{scope}: {body}");
        // The budget is the owner's: a new key of theirs is refused at once.
        let (second, _) = new_key(&gateway, &json!({ field: owner })).await;
        let (served, body) = spend_until_refused(&gateway, &second, "metered").await;
        assert_eq!(served, 0, "{scope}: {body}");
    }
    // Keys of neither are not held back.
    let response = gateway
        .post(
            "/v1/chat/completions",
            &ask("metered", "free"),
            Some(&unowned),
        )
        .await;
    assert_eq!(response.status(), 200);

    // A bigger budget lets the user's keys spend again.
    gateway
        .admin_post(
            "/user/update",
            &json!({"user_id": "ada@example.com", "max_budget": 1.0}),
        )
        .await;
    let (again, _) = new_key(&gateway, &json!({"user_id": "ada@example.com"})).await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &ask("metered", "more"),
            Some(&again),
        )
        .await;
    assert_eq!(response.status(), 200);
}

/// On SQLite the budget counters live in the gateway's memory: a restarted gateway rebuilds a
/// key's from the spend log, so a budget spent before the restart is still spent after it.
#[tokio::test]
async fn a_key_budget_spent_on_sqlite_stays_spent_after_a_restart() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = format!(
        "model_list:\n{}general_settings:\n  master_key: {MASTER_KEY}\n  database_url: 'sqlite://{}'\n",
        priced_mock("metered", ""),
        dir.path().join("spend.db").display()
    );
    let mut gateway = Gateway::spawn(&config, &[]).await;
    let (key, _) = new_key(&gateway, &json!({"max_budget": 0.000_03})).await;
    let (served, body) = spend_until_refused(&gateway, &key, "metered").await;
    assert!(served > 0, "refused before spending: {body}");
    gateway.terminate();
    assert!(
        gateway.wait_exit(Duration::from_secs(30)).await.is_some(),
        "the gateway did not stop"
    );

    let restarted = Gateway::spawn(&config, &[]).await;
    let (again, body) = spend_until_refused(&restarted, &key, "metered").await;
    assert_eq!(again, 0, "the restarted gateway forgot the spend: {body}");
    // A key of its own still spends: the refusal is this key's budget, not the database.
    let (fresh, _) = new_key(&restarted, &json!({"max_budget": 1.0})).await;
    let response = restarted
        .post(
            "/v1/chat/completions",
            &ask("metered", "fresh"),
            Some(&fresh),
        )
        .await;
    assert_eq!(response.status(), 200);
}

/// Budget counters live in each gateway's memory on SQLite, so a second gateway on the same
/// file would allow every budget again: it is refused at start, naming the file and what to do.
#[tokio::test]
async fn a_second_gateway_on_the_same_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("spend.db");
    let config = format!(
        "model_list:\n{}general_settings:\n  master_key: {MASTER_KEY}\n  database_url: 'sqlite://{}'\n",
        priced_mock("metered", ""),
        database.display()
    );
    let first = Gateway::spawn(&config, &[]).await;
    let stderr = refused_start(&config).await;
    assert!(
        stderr.contains(&format!(
            "{} is in use by another process",
            database.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    // The first goes on serving.
    let response = first
        .post(
            "/v1/chat/completions",
            &ask("metered", "still here"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
}

/// What the client saw of one call.
#[derive(Debug)]
struct Seen {
    request_id: String,
    /// The answer's `id` (of every chunk of a stream).
    answer_id: String,
    deployment: Option<String>,
    cost: Option<f64>,
    variant: Option<String>,
    cache: Option<String>,
}

async fn seen(gateway: &Gateway, key: &str, body: &Value) -> Seen {
    let response = gateway.post("/v1/chat/completions", body, Some(key)).await;
    assert_eq!(response.status(), 200, "{body}");
    let seen = Seen {
        request_id: header(&response, "x-switchyard-request-id").expect("a request id"),
        answer_id: String::new(),
        deployment: header(&response, "x-switchyard-deployment"),
        cost: header(&response, "x-switchyard-cost-usd").map(|c| c.parse().expect("a number")),
        variant: header(&response, "x-switchyard-variant"),
        cache: header(&response, "x-switchyard-cache"),
    };
    let call_id = header(&response, "x-litellm-call-id").expect("LiteLLM's call id");
    assert_eq!(call_id, seen.request_id, "one id for the call");
    let text = response.text().await.expect("body");
    let ids: Vec<String> = if body["stream"] == json!(true) {
        let events = sse_data(&text);
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        events[..events.len() - 1]
            .iter()
            .map(|event| {
                let chunk: Value = serde_json::from_str(event).expect("a JSON chunk");
                chunk["id"].as_str().expect("a chunk id").to_owned()
            })
            .collect()
    } else {
        let answer: Value = serde_json::from_str(&text).expect("a JSON answer");
        vec![answer["id"].as_str().expect("an answer id").to_owned()]
    };
    assert!(
        ids.iter().all(|id| *id == seen.request_id),
        "{ids:?} vs {seen:?}"
    );
    Seen {
        answer_id: ids[0].clone(),
        ..seen
    }
}

#[tokio::test]
async fn every_call_leaves_a_spend_record_that_matches_its_answer() {
    let config = format!(
        "model_list:\n{}{}{}experiments:\n  - name: summary-test\n    model: summarizer\n    variants:\n      - {{name: control, model: control-group, weight: 1}}\n      - {{name: candidate, model: candidate-group, weight: 1}}\nlitellm_settings:\n  cache: true\ngeneral_settings:\n  master_key: {MASTER_KEY}\n",
        priced_mock("metered", ""),
        priced_mock("control-group", ""),
        priced_mock("candidate-group", ""),
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    gateway
        .admin_post("/user/new", &json!({"user_id": "grace"}))
        .await;
    gateway
        .admin_post("/team/new", &json!({"team_id": "compilers"}))
        .await;
    let (secret, id) = new_key(
        &gateway,
        &json!({"key_alias": "reporting", "user_id": "grace", "team_id": "compilers",
                "models": ["metered", "summarizer"]}),
    )
    .await;

    let mut calls: Vec<(Seen, Value)> = Vec::new();
    for text in ["the first question", "a second, longer question to price"] {
        let body = ask("metered", text);
        calls.push((seen(&gateway, &secret, &body).await, body));
    }
    let mut stream = ask("metered", "stream this answer back, word by word");
    stream["stream"] = json!(true);
    stream["stream_options"] = json!({"include_usage": true});
    calls.push((seen(&gateway, &secret, &stream).await, stream));
    let repeat = ask("metered", "the first question");
    let hit = seen(&gateway, &secret, &repeat).await;
    assert_eq!(hit.cache.as_deref(), Some("HIT"), "{hit:?}");
    calls.push((hit, repeat));
    for i in 0..4 {
        let mut body = ask("summarizer", &format!("summarize text number {i}"));
        body["user"] = json!(format!("reader-{i}"));
        let call = seen(&gateway, &secret, &body).await;
        assert!(call.variant.is_some(), "{call:?}");
        calls.push((call, body));
    }
    // A refused call is recorded too, at no cost.
    let response = gateway
        .post(
            "/v1/chat/completions",
            &ask("control-group", "not mine"),
            Some(&secret),
        )
        .await;
    assert_eq!(error_of(response).await.0, 403);

    let records = spend_logs(&gateway, &id, calls.len() + 1).await;
    assert_eq!(records.len(), calls.len() + 1);
    // LiteLLM's `SpendLogs` rows, keyed by `request_id`: the `id` of the answer the client got.
    let by_id: HashMap<&str, &Value> = records
        .iter()
        .map(|r| (r["request_id"].as_str().expect("a request id"), r))
        .collect();
    for (call, body) in &calls {
        assert!(call.answer_id.starts_with("chatcmpl-"), "{call:?}");
        let record = by_id
            .get(call.answer_id.as_str())
            .unwrap_or_else(|| panic!("no record of {call:?}"));
        assert_eq!(record["call_type"], "acompletion", "{record}");
        assert_eq!(record["api_key"], json!(id), "{record}");
        assert_eq!(record["metadata"]["user_api_key_alias"], "reporting");
        assert_eq!(record["user"], "grace", "{record}");
        assert_eq!(record["team_id"], "compilers", "{record}");
        assert_eq!(record["model"], body["model"], "{record}");
        assert_eq!(record["status"], "success", "{record}");
        assert_eq!(
            record["model_id"].as_str().filter(|d| !d.is_empty()),
            call.deployment.as_deref(),
            "{record}"
        );
        let tokens = |field: &str| record[field].as_u64().expect("a count");
        assert!(
            tokens("prompt_tokens") > 0 && tokens("completion_tokens") > 0,
            "{record}"
        );
        assert_eq!(
            tokens("total_tokens"),
            tokens("prompt_tokens") + tokens("completion_tokens")
        );
        for field in ["startTime", "endTime"] {
            let text = record[field].as_str().expect("a time");
            assert!(
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .is_ok(),
                "{field}: {text}"
            );
        }
        let hit = call.cache.as_deref() == Some("HIT");
        assert_eq!(
            record["cache_hit"],
            if hit { "True" } else { "False" },
            "{record}"
        );
        if hit {
            assert_eq!(spend(record), 0.0, "{record}");
            assert_eq!(record["custom_llm_provider"], "", "{record}");
        } else {
            assert_eq!(record["custom_llm_provider"], "mock", "{record}");
            assert!(spend(record) > 0.0, "{record}");
            assert!(close(spend(record), priced_row(record)), "{record}");
        }
        if let Some(cost) = call.cost {
            assert!(close(spend(record), cost), "{record} vs {cost}");
        }
        match &call.variant {
            Some(variant) => {
                assert_eq!(record["metadata"]["experiment"], "summary-test");
                assert_eq!(record["metadata"]["variant"], json!(variant));
                assert_eq!(record["model_group"], json!(format!("{variant}-group")));
            }
            None => {
                assert_eq!(record["metadata"]["experiment"], Value::Null, "{record}");
                assert_eq!(record["model_group"], "metered", "{record}");
            }
        }
        // `?request_id=` finds the one record (LiteLLM's `/spend/logs?request_id=`).
        let one = admin_get(
            &gateway,
            &format!("/spend/logs?request_id={}", call.answer_id),
        )
        .await;
        assert_eq!(one.as_array().map(Vec::len), Some(1), "{one}");
        assert_eq!(one[0]["request_id"], json!(call.answer_id));
    }
    let refused = records
        .iter()
        .find(|r| r["status"] == "failure")
        .expect("the refused call's record");
    assert_eq!(refused["model"], "control-group");
    assert_eq!(refused["metadata"]["status_code"], 403);
    assert_eq!((spend(refused), &refused["model_id"]), (0.0, &json!("")));

    // The report adds the same records up.
    let mut expected: HashMap<String, (u64, f64)> = HashMap::new();
    for record in &records {
        let group = match record["model_group"].as_str() {
            Some(group) if !group.is_empty() => group.to_owned(),
            _ => record["model"].as_str().expect("a model").to_owned(),
        };
        let total = expected.entry(group).or_default();
        total.0 += 1;
        total.1 += spend(record);
    }
    let report = admin_get(&gateway, "/spend/report?group_by=model").await;
    let totals = report.as_array().expect("a list of totals");
    assert_eq!(totals.len(), expected.len(), "{report}");
    for total in totals {
        let group = total["group"].as_str().expect("a model");
        let (requests, cost) = expected
            .get(group)
            .unwrap_or_else(|| panic!("{group} in {report}"));
        assert_eq!(total["requests"], json!(requests), "{total}");
        let reported = total["cost_usd"].as_f64().expect("a cost");
        assert!(close(reported, *cost), "{total}: {cost}");
    }
    let all: f64 = records.iter().map(spend).sum();
    for group_by in ["key", "user", "team"] {
        let report = admin_get(&gateway, &format!("/spend/report?group_by={group_by}")).await;
        let totals = report.as_array().expect("a list of totals");
        assert_eq!(totals.len(), 1, "{report}");
        assert_eq!(totals[0]["requests"], json!(records.len()), "{report}");
        let reported = totals[0]["cost_usd"].as_f64().expect("a cost");
        assert!(close(reported, all), "{report}");
    }
}

/// An OpenAI-compatible upstream that holds every answer until released: a complete answer
/// wholly, a stream after its first chunk. It counts the requests that reached it.
struct GatedUpstream {
    api_base: String,
    arrived: watch::Receiver<usize>,
    open: watch::Sender<bool>,
}

#[derive(Clone)]
struct Gate {
    arrived: Arc<watch::Sender<usize>>,
    open: watch::Receiver<bool>,
}

impl GatedUpstream {
    async fn start() -> Self {
        let (arrived_tx, arrived) = watch::channel(0);
        let (open, open_rx) = watch::channel(false);
        let gate = Gate {
            arrived: Arc::new(arrived_tx),
            open: open_rx,
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(gated_chat))
            .with_state(gate);
        let addr = serve_on_loopback(app).await;
        Self {
            api_base: format!("http://{addr}/v1"),
            arrived,
            open,
        }
    }

    /// Waits until `count` requests have arrived.
    async fn wait_arrived(&self, count: usize, within: Duration) {
        let mut arrived = self.arrived.clone();
        let reached = tokio::time::timeout(within, arrived.wait_for(|n| *n >= count)).await;
        assert!(
            matches!(reached, Ok(Ok(_))),
            "{count} requests did not reach the upstream within {within:?}"
        );
    }

    fn release(&self) {
        self.open.send_replace(true);
    }
}

fn chunk(delta: Value, finish: Option<&str>) -> Bytes {
    let chunk = json!({"id": "chatcmpl-gated", "object": "chat.completion.chunk", "created": 1,
        "model": "gated", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    Bytes::from(format!("data: {chunk}\n\n"))
}

async fn gated_chat(State(gate): State<Gate>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    gate.arrived.send_modify(|n| *n += 1);
    let mut open = gate.open.clone();
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
    if body["stream"] != json!(true) {
        let _ = open.wait_for(|open| *open).await;
        return axum::Json(json!({"id": "chatcmpl-gated", "object": "chat.completion",
            "created": 1, "model": "gated",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "held, then sent"},
                         "finish_reason": "stop"}],
            "usage": usage}))
        .into_response();
    }
    let first = chunk(json!({"role": "assistant", "content": "held, "}), None);
    let rest = async move {
        let _ = open.wait_for(|open| *open).await;
        let usage = json!({"id": "chatcmpl-gated", "object": "chat.completion.chunk",
            "created": 1, "model": "gated", "choices": [], "usage": usage});
        futures_util::stream::iter([
            chunk(json!({"content": "then sent"}), None),
            chunk(json!({}), Some("stop")),
            Bytes::from(format!("data: {usage}\n\n")),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ])
    };
    let events = futures_util::stream::once(std::future::ready(first))
        .chain(futures_util::stream::once(rest).flatten())
        .map(Ok::<_, std::io::Error>);
    let mut response = Response::new(Body::from_stream(events));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/event-stream"),
    );
    response
}

/// One call to `gated`; its request id if it completed with 200 (a stream to its `[DONE]`).
async fn complete_call(client: reqwest::Client, base: String, stream: bool) -> Option<String> {
    let mut body = ask("gated", "hold on");
    body["stream"] = json!(stream);
    let response = client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(MASTER_KEY)
        .json(&body)
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let request_id = header(&response, "x-switchyard-request-id")?;
    let text = response.text().await.ok()?;
    if stream && sse_data(&text).last().map(String::as_str) != Some("[DONE]") {
        return None;
    }
    Some(request_id)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_loses_no_spend_record() {
    const IN_FLIGHT: usize = 50;
    const LATE: usize = 10;
    let upstream = GatedUpstream::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("spend.db");
    let config = format!(
        "model_list:\n  - model_name: gated\n    litellm_params: {{model: openai/gated, api_base: '{}', input_cost_per_token: {INPUT_PRICE}, output_cost_per_token: {OUTPUT_PRICE}}}\n    model_info: {{id: gated}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n  database_url: 'sqlite://{}'\n",
        upstream.api_base,
        database.display()
    );
    let mut gateway = Gateway::spawn_logging(&config, &[], "info").await;
    let call = |i: usize| {
        tokio::spawn(complete_call(
            gateway.client.clone(),
            gateway.base.clone(),
            i.is_multiple_of(2),
        ))
    };

    // Fifty calls, half of them streams, all held by the upstream (the streams mid-answer).
    let in_flight: Vec<_> = (0..IN_FLIGHT).map(call).collect();
    upstream
        .wait_arrived(IN_FLIGHT, Duration::from_secs(30))
        .await;
    gateway.terminate();
    eventually(Duration::from_secs(10), "the signal is taken", || async {
        gateway
            .log()
            .contains("shutdown signal received")
            .then_some(())
    })
    .await;
    // Calls after the signal may be refused a connection; any that completes counts.
    let late: Vec<_> = (IN_FLIGHT..IN_FLIGHT + LATE).map(call).collect();
    upstream.release();

    let mut completed = HashSet::new();
    for (i, task) in in_flight.into_iter().enumerate() {
        let id = task.await.expect("the call's task");
        let id =
            id.unwrap_or_else(|| panic!("call {i}, in flight at the signal, did not complete"));
        completed.insert(id);
    }
    for task in late {
        if let Some(id) = task.await.expect("the call's task") {
            completed.insert(id);
        }
    }
    let status = gateway.wait_exit(Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exit: {status:?}\n{}",
        gateway.log()
    );

    let store = SqliteStore::connect(database.to_str().expect("a UTF-8 path"))
        .await
        .expect("open the gateway's database");
    let filter = SpendFilter {
        limit: 10_000,
        ..SpendFilter::default()
    };
    let records = store.spend_logs(&filter).await.expect("spend records");
    store.close().await;
    let by_id: HashMap<&str, &SpendRecord> =
        records.iter().map(|r| (r.request_id.as_str(), r)).collect();
    let missing: Vec<&String> = completed
        .iter()
        .filter(|id| !by_id.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} completed calls have no spend record: {missing:?}",
        missing.len(),
        completed.len()
    );
    for id in &completed {
        let record = by_id[id.as_str()];
        assert_eq!(record.status, 200, "{record:?}");
        assert_eq!((record.input_tokens, record.output_tokens), (10, 5));
        assert!(close(record.cost_usd, priced(record)), "{record:?}");
        assert_eq!(record.deployment.as_deref(), Some("gated"));
    }
}
