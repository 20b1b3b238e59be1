//! End to end through a real gateway process: clients that misbehave. Slow headers are cut at
//! `header_timeout_seconds`; bodies over the limit are refused with 413 without being read
//! (a huge `Content-Length` alone, or a chunked body without end); bodies that are not UTF-8
//! or nest without end are 400s that harm nothing; thousands of messages are answered; a client
//! that leaves mid-stream cancels the upstream call; hundreds of idle keep-alive connections
//! cost nothing once closed. After each, the gateway's open connections, runtime tasks and
//! calls in flight are back to their baseline.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_e2e::gauges::{self, Gauges};
use switchyard_e2e::raw::{read_answer, read_to_close};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, assert_openai_error, error_of};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The body limit of [`config`]: `max_request_size_mb: 1`.
const LIMIT: usize = 1024 * 1024;

/// A mock group and the fake upstream's `slow-stream`; a 1 MiB body limit, and
/// `header_timeout` seconds for headers.
fn config(api_base: &str, header_timeout: u32) -> String {
    format!(
        "model_list:\n  - model_name: mock\n    litellm_params: {{model: mock/echo}}\n  - model_name: slow-stream\n    litellm_params: {{model: openai/slow-stream, api_base: '{api_base}'}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n  max_request_size_mb: 1\n  header_timeout_seconds: {header_timeout}\n"
    )
}

struct Setup {
    upstream: FakeUpstream,
    gateway: Gateway,
    baseline: Gauges,
    client: reqwest::Client,
}

impl Setup {
    /// A gateway allowing 1 s for headers.
    async fn start() -> Self {
        Self::with_header_timeout(1).await
    }

    async fn with_header_timeout(seconds: u32) -> Self {
        let upstream = FakeUpstream::start().await;
        // One serving thread, so one upstream pool: the connection it keeps after a warm-up
        // call belongs in the baseline (each thread has a pool of its own, and a call on a
        // thread not yet used would open and keep one more connection: kept, not leaked).
        let gateway = Gateway::spawn(
            &config(&upstream.api_base, seconds),
            &[("SWITCHYARD_THREADS", "1")],
        )
        .await;
        let client = gauges::unpooled_client();
        let warm = client
            .post(format!("{}/v1/chat/completions", gateway.base))
            .bearer_auth(MASTER_KEY)
            .json(&json!({"model": "mock", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("answer");
        assert_eq!(warm.status(), 200);
        warm.text().await.expect("body");
        let baseline = gauges::baseline(&gateway).await;
        Self {
            upstream,
            gateway,
            baseline,
            client,
        }
    }

    async fn connect(&self) -> TcpStream {
        switchyard_e2e::raw::connect(self.gateway.addr()).await
    }

    async fn back_to_baseline(&self, after: &str) {
        gauges::back_to_baseline(&self.gateway, &self.baseline, after).await;
    }

    async fn post_bytes(&self, path: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.gateway.base))
            .bearer_auth(MASTER_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the gateway answers")
    }

    /// The gateway still answers (the process did not die of what came before).
    async fn still_serving(&self) {
        let response = self
            .client
            .get(format!("{}/health/liveness", self.gateway.base))
            .send()
            .await
            .expect("the gateway is still up");
        assert_eq!(response.status(), 200);
    }
}

/// How long the gateway took to close a connection, from `since`; asserts it sent nothing.
async fn closed_after(mut stream: TcpStream, since: Instant, what: &str) -> Duration {
    let sent = read_to_close(&mut stream, Duration::from_secs(10)).await;
    let elapsed = since.elapsed();
    assert!(
        !String::from_utf8_lossy(&sent).starts_with("HTTP/1.1 2"),
        "{what}: {}",
        String::from_utf8_lossy(&sent)
    );
    elapsed
}

#[tokio::test]
async fn slow_headers_are_cut_at_the_header_timeout() {
    let setup = Setup::start().await;
    let header_timeout = Duration::from_secs(1);
    let bound = Duration::from_secs(3);

    // Part of a head, then nothing.
    let partial = async {
        let mut stream = setup.connect().await;
        let started = Instant::now();
        stream
            .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: appl")
            .await
            .expect("write");
        closed_after(stream, started, "a partial head").await
    };
    // A head trickling in, a byte every 100 ms: the deadline is for the whole head.
    let trickle = async {
        let stream = setup.connect().await;
        let started = Instant::now();
        let (mut reader, mut writer) = stream.into_split();
        let drip = tokio::spawn(async move {
            let head = format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {MASTER_KEY}\r\n"
            );
            for byte in head.bytes().cycle() {
                if writer.write_all(&[byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let mut sink = [0u8; 1024];
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match reader.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        drip.abort();
        assert!(closed.is_ok(), "a trickling head was not cut within 10 s");
        started.elapsed()
    };
    // Connected, and nothing sent at all (not even enough to tell HTTP/1 from HTTP/2).
    let silent = async {
        let stream = setup.connect().await;
        closed_after(stream, Instant::now(), "a silent connection").await
    };
    let one_byte = async {
        let mut stream = setup.connect().await;
        let started = Instant::now();
        stream.write_all(b"P").await.expect("write");
        closed_after(stream, started, "a single byte").await
    };
    // A keep-alive connection idle after its first answer.
    let idle = async {
        let mut stream = setup.connect().await;
        stream
            .write_all(b"GET /health/liveness HTTP/1.1\r\nhost: gateway\r\n\r\n")
            .await
            .expect("write");
        let (status, _) = read_answer(&mut stream, Duration::from_secs(5)).await;
        assert_eq!(status, 200);
        closed_after(stream, Instant::now(), "an idle keep-alive connection").await
    };
    let (partial, trickle, silent, one_byte, idle) =
        tokio::join!(partial, trickle, silent, one_byte, idle);
    for (what, elapsed) in [
        ("a partial head", partial),
        ("a trickling head", trickle),
        ("a silent connection", silent),
        ("a single byte", one_byte),
        ("an idle keep-alive connection", idle),
    ] {
        assert!(
            elapsed >= header_timeout - Duration::from_millis(100) && elapsed < bound,
            "{what} was closed after {elapsed:?}; the header timeout is {header_timeout:?}"
        );
    }
    setup.still_serving().await;
    setup.back_to_baseline("slow headers").await;
}

#[tokio::test]
async fn a_huge_content_length_is_refused_with_413_before_any_body_is_sent() {
    let setup = Setup::start().await;
    let mut stream = setup.connect().await;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {MASTER_KEY}\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n"
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.expect("write");
    let (status, body) = read_answer(&mut stream, Duration::from_secs(5)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(status, 413, "{body}");
    assert_openai_error(&body, "request_too_large");
    // The body was never read, so the connection cannot carry another request: it closes.
    read_to_close(&mut stream, Duration::from_secs(5)).await;
    setup.back_to_baseline("a huge Content-Length").await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_with_413() {
    let setup = Setup::start().await;
    let stream = setup.connect().await;
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {MASTER_KEY}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    // 64 KiB chunks without end (at most 64 MiB), for as long as the gateway takes them.
    let sender = tokio::spawn(async move {
        let mut piece = format!("{:x}\r\n", 64 * 1024).into_bytes();
        piece.extend(std::iter::repeat_n(b' ', 64 * 1024));
        piece.extend_from_slice(b"\r\n");
        let mut sent = 0usize;
        while sent < 64 * 1024 * 1024 && writer.write_all(&piece).await.is_ok() {
            sent += 64 * 1024;
        }
        sent
    });
    let mut answer = Vec::new();
    let mut piece = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, reader.read(&mut piece)).await {
            Err(_) => panic!("no answer within 10 s"),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&piece[..n]),
        }
    }
    let elapsed = started.elapsed();
    let sent = sender.await.expect("sender");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    let body: Value =
        serde_json::from_str(answer.split_once("\r\n\r\n").expect("a head and a body").1)
            .expect("JSON body");
    assert_openai_error(&body, "request_too_large");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert!(
        sent >= LIMIT,
        "413 before the limit was reached: {sent} bytes sent"
    );
    assert!(
        sent < 64 * 1024 * 1024,
        "the gateway kept reading a body over its limit"
    );
    setup
        .back_to_baseline("a chunked body over the limit")
        .await;
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_400_invalid_json() {
    let setup = Setup::start().await;
    let mut body = br#"{"model": "mock", "messages": [{"role": "user", "content": "caf"#.to_vec();
    body.extend_from_slice(b"\xff\xfe");
    body.extend_from_slice(br#""}]}"#);
    let (status, code, error) =
        error_of(setup.post_bytes("/v1/chat/completions", body).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_json"), "{error}");
    setup.back_to_baseline("a body that is not UTF-8").await;
}

#[tokio::test]
async fn deeply_nested_json_is_a_400_not_a_stack_overflow() {
    let setup = Setup::start().await;
    let depth = 100_000;
    let arrays = "[".repeat(depth).into_bytes();
    let objects = "{\"a\":".repeat(depth).into_bytes();
    let mut in_a_request =
        br#"{"model": "mock", "messages": [{"role": "user", "content": "hi"}], "metadata": "#
            .to_vec();
    in_a_request.extend_from_slice(&arrays);
    // A top-level array is refused for its type at once; nesting anywhere a request keeps
    // unknown fields is refused at serde_json's recursion limit.
    for (path, body, code) in [
        ("/v1/chat/completions", arrays.clone(), "invalid_request"),
        ("/v1/chat/completions", objects, "invalid_json"),
        ("/v1/chat/completions", in_a_request.clone(), "invalid_json"),
        ("/v1/messages", in_a_request, ""),
        ("/key/generate", arrays, "invalid_request"),
    ] {
        let started = Instant::now();
        let response = setup.post_bytes(path, body).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(response.status(), 400, "{path}");
        // `/v1/messages` answers in Anthropic's error shape.
        if !code.is_empty() {
            let (_, got, error) = error_of(response).await;
            assert_eq!(got, code, "{path}: {error}");
        }
    }
    setup.still_serving().await;
    setup.back_to_baseline("deeply nested JSON").await;
}

#[tokio::test]
async fn five_thousand_messages_are_answered() {
    let setup = Setup::start().await;
    let messages: Vec<Value> = (0..5_000)
        .map(|i| json!({"role": if i % 2 == 0 { "user" } else { "assistant" }, "content": format!("message {i}")}))
        .collect();
    let body = json!({"model": "mock", "messages": messages}).to_string();
    assert!(body.len() < LIMIT);
    let started = Instant::now();
    let response = setup
        .post_bytes("/v1/chat/completions", body.into_bytes())
        .await;
    let status = response.status();
    let answer: Value = response.json().await.expect("JSON");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["message"]["content"], "message 4998");
    assert!(
        answer["usage"]["prompt_tokens"].as_u64() > Some(5_000),
        "{answer}"
    );
    setup.back_to_baseline("five thousand messages").await;
}

#[tokio::test]
async fn a_client_leaving_mid_stream_cancels_the_upstream_call() {
    let setup = Setup::start().await;
    let response = setup
        .client
        .post(format!("{}/v1/chat/completions", setup.gateway.base))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"model": "slow-stream", "stream": true,
            "messages": [{"role": "user", "content": "go on"}]}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("a first event within 5 s")
        .expect("an event")
        .expect("bytes");
    assert!(first.starts_with(b"data: "), "{first:?}");
    assert_eq!(gauges::read(&setup.gateway).await.in_flight, 1);
    drop(body);
    assert!(
        setup.upstream.stream_dropped(Duration::from_secs(5)).await,
        "the upstream call was not cancelled within 5 s of the client leaving"
    );
    setup.back_to_baseline("a client leaving mid-stream").await;
}

#[tokio::test]
async fn two_hundred_idle_keep_alive_connections_cost_nothing_once_closed() {
    // Long enough for headers that the gateway keeps the idle connections open meanwhile.
    let setup = Setup::with_header_timeout(60).await;
    let mut connections = Vec::with_capacity(200);
    for _ in 0..200 {
        let mut stream = setup.connect().await;
        stream
            .write_all(b"GET /health/liveness HTTP/1.1\r\nhost: gateway\r\n\r\n")
            .await
            .expect("write");
        let (status, _) = read_answer(&mut stream, Duration::from_secs(5)).await;
        assert_eq!(status, 200);
        connections.push(stream);
    }
    let open = setup.baseline.open_connections + 200;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = gauges::read(&setup.gateway).await;
        if now.open_connections == open {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expected {open} open connections, see {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(connections);
    setup
        .back_to_baseline("closing 200 idle keep-alive connections")
        .await;
    setup.still_serving().await;
}
