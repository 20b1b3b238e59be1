//! End to end through a real gateway process: upstream faults (`tests/src/faults.rs`). Each
//! fault gets the answer it should (status and OpenAI error body, or an SSE `error` event that
//! ends the stream), within a stated time; afterwards the gateway's open connections, runtime
//! tasks and calls in flight are back to their baseline, and the upstream's connections are
//! closed. Streams that delivered words before failing leave a spend record with the tokens
//! actually used.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_e2e::faults::{FaultUpstream, WORDS};
use switchyard_e2e::gauges::{self, Gauges};
use switchyard_e2e::{Gateway, MASTER_KEY, error_of, sse_data};

/// US dollars per prompt and per completion token of every deployment here.
const INPUT_PRICE: f64 = 0.000_001;
const OUTPUT_PRICE: f64 = 0.000_002;

/// A group `name` of one deployment `name-deployment` on the upstream's `fault`, priced, with
/// `extra` litellm params.
fn deployment(api_base: &str, name: &str, fault: &str, extra: &str) -> String {
    format!(
        "  - model_name: {name}\n    litellm_params: {{model: openai/{fault}, api_base: '{api_base}', input_cost_per_token: {INPUT_PRICE}, output_cost_per_token: {OUTPUT_PRICE}{extra}}}\n    model_info: {{id: {name}-deployment}}\n"
    )
}

/// Every fault as a group, plus `storm`, two deployments that always fail (500 and 503).
/// Three retries; a deployment cools down for a minute at its second failure in a minute.
fn config(api_base: &str) -> String {
    let mut out = String::from("model_list:\n");
    for (name, fault, extra) in [
        ("ok", "ok", ""),
        ("limited", "rate-limited", ""),
        ("reset", "reset-before-headers", ""),
        ("reset-mid-stream", "reset-mid-stream", ""),
        ("silence", "silence", ", timeout: 0.5, stream_timeout: 0.5"),
        ("endless-stream", "endless-stream", ""),
        (
            "endless-capped",
            "endless-stream",
            ", max_stream_duration: 0.5",
        ),
        ("invalid-json", "invalid-json", ""),
        ("cut-event", "cut-event", ""),
        ("endless-body", "endless-body", ""),
        ("endless-event", "endless-event", ""),
        ("trickle", "trickle", ", timeout: 10"),
        ("trickle-late", "trickle", ", timeout: 0.4"),
    ] {
        out.push_str(&deployment(api_base, name, fault, extra));
    }
    out.push_str(&format!(
        "  - model_name: storm\n    litellm_params: {{model: openai/status-500, api_base: '{api_base}'}}\n    model_info: {{id: storm-500}}\n  - model_name: storm\n    litellm_params: {{model: openai/status-503, api_base: '{api_base}'}}\n    model_info: {{id: storm-503}}\n"
    ));
    out.push_str(&format!(
        "router_settings:\n  num_retries: 3\n  allowed_fails: 1\n  cooldown_time: 60\ngeneral_settings:\n  master_key: {MASTER_KEY}\n"
    ));
    out
}

/// A fault upstream, a gateway process in front of it, and the gateway's gauges once warmed up
/// by a complete and a streamed call.
struct Setup {
    upstream: FaultUpstream,
    gateway: Gateway,
    baseline: Gauges,
    client: reqwest::Client,
}

impl Setup {
    async fn start() -> Self {
        let upstream = FaultUpstream::start().await;
        // One serving thread, so one upstream pool: the connection it keeps after a warm-up
        // call belongs in the baseline (each thread has a pool of its own, and a call on a
        // thread not yet used would open and keep one more connection: kept, not leaked).
        let gateway =
            Gateway::spawn(&config(&upstream.api_base), &[("SWITCHYARD_THREADS", "1")]).await;
        let client = gauges::unpooled_client();
        let mut setup = Self {
            upstream,
            gateway,
            baseline: Gauges {
                open_connections: 0,
                alive_tasks: 0,
                in_flight: 0,
            },
            client,
        };
        // Whatever starts lazily on the first call (complete or streamed) starts now.
        let answer = setup.call("ok", false, 0).await;
        assert_eq!(answer.status(), 200);
        answer.text().await.expect("body");
        let answer = setup.call("ok", true, 0).await;
        assert_eq!(answer.status(), 200);
        let text = answer.text().await.expect("body");
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        assert!(setup.upstream.released(0, Duration::from_secs(5)).await);
        setup.baseline = gauges::baseline(&setup.gateway).await;
        setup
    }

    /// A chat call to `model`, streamed or not, allowing `retries` further attempts.
    async fn call(&self, model: &str, stream: bool, retries: u32) -> reqwest::Response {
        let body = json!({"model": model, "stream": stream, "num_retries": retries,
            "messages": [{"role": "user", "content": "count for me"}]});
        self.client
            .post(format!("{}/v1/chat/completions", self.gateway.base))
            .bearer_auth(MASTER_KEY)
            .json(&body)
            .send()
            .await
            .expect("the gateway answers")
    }

    /// The gateway's gauges and the upstream's connections are back where they were, and
    /// `abandoned` answers were given up by the gateway.
    async fn assert_released(&self, abandoned: usize, after: &str) {
        assert!(
            self.upstream
                .released(abandoned, Duration::from_secs(10))
                .await,
            "after {after}, the gateway still holds {} upstream connection(s)",
            self.upstream.open_connections()
        );
        gauges::back_to(
            &self.gateway,
            &self.baseline,
            Duration::from_secs(10),
            after,
        )
        .await;
    }

    /// The spend record of call `request_id`, once written (records are written in batches).
    async fn spend_record(&self, request_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let logs: Value = self
                .client
                .get(format!(
                    "{}/spend/logs?request_id={request_id}",
                    self.gateway.base
                ))
                .bearer_auth(MASTER_KEY)
                .send()
                .await
                .expect("/spend/logs answers")
                .json()
                .await
                .expect("spend records");
            if let Some(record) = logs
                .as_array()
                .expect("a list")
                .iter()
                .find(|r| r["request_id"] == request_id)
            {
                return record.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no spend record for {request_id} within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn model_info(&self, id: &str) -> Value {
        let info: Value = self
            .client
            .get(format!("{}/model/info", self.gateway.base))
            .bearer_auth(MASTER_KEY)
            .send()
            .await
            .expect("/model/info answers")
            .json()
            .await
            .expect("JSON");
        info["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|d| d["model_info"]["id"] == id)
            .unwrap_or_else(|| panic!("no deployment {id}: {info}"))["model_info"]
            .clone()
    }
}

fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-switchyard-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a request id")
        .to_owned()
}

/// The `data:` payloads of a stream: its chunks' text, its `error` event if any, and whether it
/// ended with `[DONE]`.
fn read_stream(body: &str) -> (String, Option<Value>, bool) {
    let data = sse_data(body);
    let done = data.last().map(String::as_str) == Some("[DONE]");
    let mut text = String::new();
    let mut error = None;
    for payload in data.iter().filter(|d| d.as_str() != "[DONE]") {
        let value: Value = serde_json::from_str(payload).expect("every event is JSON");
        if value.get("error").is_some() {
            assert!(error.is_none(), "one error event at most: {body}");
            error = Some(value);
        } else if let Some(content) = value["choices"][0]["delta"]["content"].as_str() {
            text.push_str(content);
        }
    }
    (text, error, done)
}

/// The whole body of a stream, which must end within `bound`.
async fn stream_text(response: reqwest::Response, bound: Duration, what: &str) -> String {
    tokio::time::timeout(bound, response.text())
        .await
        .unwrap_or_else(|_| panic!("{what}: the stream did not end within {bound:?}"))
        .expect("stream body")
}

/// Streams a call to `model`, which must end after about half a second (its deployment's limit);
/// its request id and body.
async fn stream_cut_after_half_a_second(setup: &Setup, model: &str) -> (String, String) {
    let started = Instant::now();
    let response = setup.call(model, true, 0).await;
    assert_eq!(response.status(), 200);
    let id = request_id(&response);
    let body = stream_text(response, Duration::from_secs(10), model).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(3),
        "{model}: the limit is 0.5 s; took {elapsed:?}"
    );
    (id, body)
}

/// A streamed call's spend record bills the tokens it passed on: output tokens counted from the
/// text (an estimate, as the upstream sent no usage), priced.
fn assert_billed(record: &Value, min_output_tokens: u64) {
    let output = record["completion_tokens"].as_u64().expect("output tokens");
    let input = record["prompt_tokens"].as_u64().expect("input tokens");
    assert!(output >= min_output_tokens, "{record}");
    assert!(input > 0, "{record}");
    assert_eq!(record["metadata"]["cost_estimated"], true, "{record}");
    let cost = record["spend"].as_f64().expect("cost");
    let expected = input as f64 * INPUT_PRICE + output as f64 * OUTPUT_PRICE;
    assert!(
        (cost - expected).abs() < 1e-12,
        "{cost} != {expected}: {record}"
    );
}

#[tokio::test]
async fn a_5xx_storm_fails_after_the_retries_and_cools_both_deployments_down() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let response = setup.call("storm", false, 3).await;
    let elapsed = started.elapsed();
    let (status, code, body) = error_of(response).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        ["upstream_server_error", "overloaded"].contains(&code.as_str()),
        "{body}"
    );
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    // One call and three retries: each deployment twice, then both cool down.
    let storm: Vec<String> = setup
        .upstream
        .requests()
        .into_iter()
        .filter(|m| m.starts_with("status-"))
        .collect();
    assert_eq!(storm.len(), 4, "{storm:?}");
    for id in ["storm-500", "storm-503"] {
        assert_eq!(setup.model_info(id).await["cooling_down"], true, "{id}");
    }
    // While they cool down, calls are refused at once without reaching the upstream.
    let started = Instant::now();
    let (status, code, body) = error_of(setup.call("storm", false, 3).await).await;
    assert_eq!(
        (status, code.as_str()),
        (503, "no_deployment_available"),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        setup
            .upstream
            .requests()
            .iter()
            .filter(|m| m.starts_with("status-"))
            .count(),
        4
    );
    setup.assert_released(0, "a 5xx storm").await;
}

#[tokio::test]
async fn a_429_with_retry_after_reaches_the_client_when_no_other_deployment_can_answer() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let response = setup.call("limited", false, 3).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"7"[..])
    );
    let (status, code, body) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (429, "rate_limit_exceeded"),
        "{body}"
    );
    assert_eq!(body["error"]["type"], "rate_limit_error");
    // The deployment cools down for the Retry-After: the retries had nowhere to go.
    assert_eq!(setup.upstream.requests(), ["ok", "ok", "rate-limited"]);
    assert_eq!(
        setup.model_info("limited-deployment").await["cooling_down"],
        true
    );
    setup.assert_released(0, "a 429").await;
}

#[tokio::test]
async fn a_connection_reset_before_the_headers_is_a_502_after_the_retries() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let (status, code, body) = error_of(setup.call("reset", false, 1).await).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        (status, code.as_str()),
        (502, "upstream_unreachable"),
        "{body}"
    );
    assert_eq!(
        setup
            .upstream
            .requests()
            .iter()
            .filter(|m| *m == "reset-before-headers")
            .count(),
        2,
        "the call and its one retry"
    );
    setup.assert_released(0, "a reset before the headers").await;
}

#[tokio::test]
async fn a_reset_mid_stream_ends_it_with_an_error_event_and_bills_the_words_sent() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let response = setup.call("reset-mid-stream", true, 0).await;
    assert_eq!(response.status(), 200);
    let id = request_id(&response);
    let body = stream_text(response, Duration::from_secs(5), "reset mid-stream").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let (text, error, done) = read_stream(&body);
    assert_eq!(text, WORDS.concat());
    assert!(
        !done,
        "a broken stream must not claim to be complete: {body}"
    );
    let error = error.expect("an error event");
    assert_eq!(
        error["error"]["code"], "upstream_invalid_response",
        "{error}"
    );
    setup.assert_released(0, "a reset mid-stream").await;
    assert_billed(&setup.spend_record(&id).await, 3);
}

#[tokio::test]
async fn headers_then_silence_is_a_504_at_the_deployment_timeout() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let (status, code, body) = error_of(setup.call("silence", false, 0).await).await;
    let elapsed = started.elapsed();
    assert_eq!((status, code.as_str()), (504, "upstream_timeout"), "{body}");
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(3),
        "the deployment timeout is 0.5 s; took {elapsed:?}"
    );
    setup.assert_released(1, "headers then silence").await;
}

#[tokio::test]
async fn a_stream_that_falls_silent_ends_with_a_timeout_event_at_the_stream_timeout() {
    let setup = Setup::start().await;
    let (id, body) = stream_cut_after_half_a_second(&setup, "silence").await;
    let (text, error, done) = read_stream(&body);
    assert_eq!(text, WORDS[0]);
    assert!(!done, "{body}");
    let error = error.expect("an error event");
    assert_eq!(error["error"]["code"], "upstream_timeout", "{error}");
    setup.assert_released(1, "a silent stream").await;
    assert_billed(&setup.spend_record(&id).await, 1);
}

#[tokio::test]
async fn a_stream_that_never_ends_runs_until_the_client_leaves_then_lets_everything_go() {
    let setup = Setup::start().await;
    let response = setup.call("endless-stream", true, 0).await;
    assert_eq!(response.status(), 200);
    let id = request_id(&response);
    // Nothing on the gateway's side ends a stream that keeps sending: read 20 chunks, leave.
    let mut body = response.bytes_stream();
    let mut seen = 0;
    let started = Instant::now();
    while seen < 20 {
        let piece = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("chunks keep coming")
            .expect("not ended")
            .expect("bytes");
        seen += sse_data(&String::from_utf8_lossy(&piece)).len();
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(body);
    setup
        .assert_released(1, "a client leaving an endless stream")
        .await;
    assert_billed(&setup.spend_record(&id).await, 1);
}

#[tokio::test]
async fn a_stream_that_never_ends_is_cut_at_its_max_duration_in_each_ingress_shape() {
    let setup = Setup::start().await;
    let (id, body) = stream_cut_after_half_a_second(&setup, "endless-capped").await;
    let (text, error, done) = read_stream(&body);
    assert!(text.starts_with("more more "), "{body}");
    assert!(!done, "{body}");
    let error = error.expect("an error event");
    assert_eq!(error["error"]["code"], "upstream_timeout", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("max_stream_duration")),
        "{error}"
    );
    setup.assert_released(1, "a capped endless stream").await;
    assert_billed(&setup.spend_record(&id).await, 2);

    // Anthropic's ingress ends the same stream with its own `error` event.
    let started = Instant::now();
    let response = setup
        .client
        .post(format!("{}/v1/messages", setup.gateway.base))
        .header("x-api-key", MASTER_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(
            &json!({"model": "endless-capped", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "count for me"}]}),
        )
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
    let body = stream_text(
        response,
        Duration::from_secs(10),
        "a capped Anthropic stream",
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(3),
        "took {elapsed:?}"
    );
    let last = body
        .split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .last()
        .expect("events");
    let data = last
        .strip_prefix("event: error\ndata: ")
        .unwrap_or_else(|| panic!("the stream ends with an error event: {body}"));
    let error: Value = serde_json::from_str(data).expect("JSON");
    assert_eq!(error["type"], "error", "{error}");
    assert!(!body.contains("event: message_stop"), "{body}");
    setup
        .assert_released(2, "a capped endless stream on /v1/messages")
        .await;
}

#[tokio::test]
async fn invalid_json_in_a_200_is_a_502() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let (status, code, body) = error_of(setup.call("invalid-json", false, 0).await).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        (status, code.as_str()),
        (502, "upstream_invalid_response"),
        "{body}"
    );
    setup.assert_released(0, "invalid JSON").await;
}

#[tokio::test]
async fn an_event_cut_in_half_ends_the_stream_with_an_error_event() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let response = setup.call("cut-event", true, 0).await;
    assert_eq!(response.status(), 200);
    let id = request_id(&response);
    let body = stream_text(response, Duration::from_secs(5), "a cut event").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let (text, error, done) = read_stream(&body);
    assert_eq!(text, WORDS.concat(), "the half event is not passed on");
    assert!(!done, "{body}");
    let error = error.expect("an error event");
    assert_eq!(
        error["error"]["code"], "upstream_invalid_response",
        "{error}"
    );
    setup.assert_released(0, "a cut event").await;
    assert_billed(&setup.spend_record(&id).await, 3);
}

/// What the gateway reads of one upstream answer (or event) at most (`MAX_RESPONSE_BYTES`), and
/// the slack allowed around it for socket buffers and the piece in flight.
const READ_LIMIT: u64 = 64 * 1024 * 1024;
const SLACK: u64 = 16 * 1024 * 1024;

#[tokio::test]
async fn an_upstream_body_without_end_is_cut_at_the_response_limit() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(20),
        setup.call("endless-body", false, 0),
    )
    .await
    .expect("an endless body is cut within 20 s");
    let elapsed = started.elapsed();
    let (status, code, body) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (502, "upstream_invalid_response"),
        "{body}"
    );
    setup.assert_released(1, "an endless body").await;
    let written = setup.upstream.bytes_written();
    assert!(
        (READ_LIMIT - SLACK..=READ_LIMIT + SLACK).contains(&written),
        "the gateway read {written} bytes, not about {READ_LIMIT}; took {elapsed:?}"
    );
}

#[tokio::test]
async fn an_upstream_event_without_end_is_cut_at_the_response_limit() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let response = setup.call("endless-event", true, 0).await;
    assert_eq!(response.status(), 200);
    let body = stream_text(response, Duration::from_secs(20), "an endless event").await;
    let elapsed = started.elapsed();
    let (text, error, done) = read_stream(&body);
    assert_eq!(text, "");
    assert!(!done, "{body}");
    let error = error.expect("an error event");
    assert_eq!(
        error["error"]["code"], "upstream_invalid_response",
        "{error}"
    );
    setup.assert_released(1, "an endless event").await;
    let written = setup.upstream.bytes_written();
    assert!(
        (READ_LIMIT - SLACK..=READ_LIMIT + SLACK).contains(&written),
        "the gateway read {written} bytes, not about {READ_LIMIT}; took {elapsed:?}"
    );
}

#[tokio::test]
async fn a_slow_trickle_completes_within_the_deployment_timeout() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let response = setup.call("trickle", false, 0).await;
    let status = response.status();
    let answer: Value = response.json().await.expect("JSON");
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["message"]["content"], "all fine");
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(5),
        "took {elapsed:?}"
    );

    let started = Instant::now();
    let response = setup.call("trickle", true, 0).await;
    assert_eq!(response.status(), 200);
    let body = stream_text(response, Duration::from_secs(10), "a trickling stream").await;
    let elapsed = started.elapsed();
    let (text, error, done) = read_stream(&body);
    assert!(error.is_none() && done, "{body}");
    assert_eq!(text, "drip ".repeat(20));
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(6),
        "20 words 50 ms apart; took {elapsed:?}"
    );
    setup.assert_released(0, "a trickle").await;
}

#[tokio::test]
async fn a_trickle_slower_than_the_deployment_timeout_is_a_504() {
    let setup = Setup::start().await;
    let started = Instant::now();
    let (status, code, body) = error_of(setup.call("trickle-late", false, 0).await).await;
    let elapsed = started.elapsed();
    assert_eq!((status, code.as_str()), (504, "upstream_timeout"), "{body}");
    assert!(
        elapsed >= Duration::from_millis(350) && elapsed < Duration::from_secs(3),
        "the deployment timeout is 0.4 s; took {elapsed:?}"
    );
    setup
        .assert_released(1, "a trickle past its deadline")
        .await;
}
