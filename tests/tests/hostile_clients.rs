//! End to end through a real gateway process: hostile clients found by a red team. A body
//! trickled in (HTTP/1.1 or HTTP/2) is cut at `body_timeout_seconds` with a 408 in the
//! ingress's error shape and its connection closed; connections with no open request (HTTP/2,
//! and HTTP/1.1 keep-alive) are closed at `idle_timeout_seconds`, an HTTP/2 client that never
//! finishes closing is dropped, and a connection with a call or stream open is not closed; a
//! request with both `Content-Length` and `Transfer-Encoding` is refused (400) and
//! its connection closed, so nothing smuggled after it is served; encoded bodies get 415
//! without being decoded; `/v1/models` lists only what the caller may call; and client
//! strings echoed in errors are cut short. After each, the gateway's open connections,
//! runtime tasks and calls in flight are back to their baseline.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use switchyard_e2e::gauges::{self, Gauges};
use switchyard_e2e::raw::{self, read_response, read_to_close};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, assert_openai_error, error_of};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// What a test sets: the header and body deadlines and the idle timeout, in seconds.
#[derive(Clone, Copy)]
struct Timeouts {
    header: u32,
    body: u32,
    idle: u32,
}

/// A short body deadline; idle connections kept long enough not to interfere.
const SLOW_BODY: Timeouts = Timeouts {
    header: 10,
    body: 1,
    idle: 30,
};
/// A short idle timeout; headers and bodies given long enough not to interfere.
const IDLE: Timeouts = Timeouts {
    header: 10,
    body: 30,
    idle: 1,
};

/// Models `a` and `b` (the mock), `slow` (the mock, answering after 2.5 idle timeouts),
/// `gated-stream` (the fake upstream's stream held after its first event until its gate
/// opens), the master key, keys in the default SQLite file.
fn config(api_base: &str, timeouts: Timeouts) -> String {
    format!(
        "model_list:
  - model_name: a
    litellm_params: {{model: mock/echo}}
  - model_name: b
    litellm_params: {{model: mock/echo}}
  - model_name: slow
    litellm_params: {{model: mock/echo, mock_latency_ms: {slow_ms}}}
  - model_name: gated-stream
    litellm_params: {{model: openai/gated-stream, api_base: '{api_base}'}}
general_settings:
  master_key: {MASTER_KEY}
  header_timeout_seconds: {}
  body_timeout_seconds: {}
  idle_timeout_seconds: {}
",
        timeouts.header,
        timeouts.body,
        timeouts.idle,
        slow_ms = timeouts.idle * 2500,
    )
}

struct Setup {
    upstream: FakeUpstream,
    gateway: Gateway,
    baseline: Gauges,
}

impl Setup {
    async fn start(timeouts: Timeouts) -> Self {
        let upstream = FakeUpstream::start().await;
        // One serving thread, so one upstream pool: the connection it keeps after a warm-up
        // call belongs in the baseline (each thread has a pool of its own, and a call on a
        // thread not yet used would open and keep one more connection: kept, not leaked).
        let mut gateway = Gateway::spawn(
            &config(&upstream.api_base, timeouts),
            &[("SWITCHYARD_THREADS", "1")],
        )
        .await;
        // Every call on a connection of its own, closed after it, so none is left open to
        // count against the baseline.
        gateway.client = gauges::unpooled_client();
        let warm = gateway
            .client
            .post(format!("{}/v1/chat/completions", gateway.base))
            .bearer_auth(MASTER_KEY)
            .json(&ask("a"))
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
        }
    }

    async fn connect(&self) -> TcpStream {
        raw::connect(self.gateway.addr()).await
    }

    async fn back_to_baseline(&self, after: &str) {
        gauges::back_to_baseline(&self.gateway, &self.baseline, after).await;
    }

    /// An HTTP/2 connection (prior knowledge, as gRPC-style clients open them) and the task
    /// driving it, which ends with the time the gateway closed it.
    async fn connect_h2(&self) -> (H2Sender, JoinHandle<Instant>) {
        let io = TokioIo::new(self.connect().await);
        let (sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .expect("an HTTP/2 handshake");
        let closed = tokio::spawn(async move {
            let _ = connection.await;
            Instant::now()
        });
        (sender, closed)
    }

    fn h2_request(&self, method: &str, path: &str, body: H2Body) -> http::Request<H2Body> {
        http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.gateway.base))
            .header("authorization", format!("Bearer {MASTER_KEY}"))
            .header("content-type", "application/json")
            .body(body)
            .expect("a request")
    }
}

type H2Body = BoxBody<Bytes, Infallible>;
type H2Sender = hyper::client::conn::http2::SendRequest<H2Body>;

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// Checks Anthropic's error shape, `{"type": "error", "error": {"type", "message"}}`.
fn assert_anthropic_error(body: &Value, kind: &str) {
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body.get("code").is_none(), "{body}");
}

/// Sends a request head announcing a 64-byte body to `path`, then the body one byte every
/// 300 ms (well inside any sane per-read timeout, so only a deadline for the whole body stops
/// it). Answers the time the head went out, the answer, and what the gateway sent after it
/// until it closed the connection.
async fn trickle_body(setup: &Setup, path: &str) -> (Duration, raw::Answer, Vec<u8>) {
    let stream = setup.connect().await;
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {MASTER_KEY}\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let drip = tokio::spawn(async move {
        for _ in 0..64 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let answer = read_response(&mut reader, Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    let rest = read_to_close(&mut reader, Duration::from_secs(5)).await;
    drip.abort();
    (elapsed, answer, rest)
}

/// Asserts that `elapsed` is the deadline of `seconds`, give or take the scheduling of a busy
/// machine.
fn assert_about(elapsed: Duration, seconds: u32, what: &str) {
    let limit = Duration::from_secs(u64::from(seconds));
    assert!(
        elapsed >= limit - Duration::from_millis(100) && elapsed < limit + Duration::from_secs(2),
        "{what} after {elapsed:?}; the configured limit is {limit:?}"
    );
}

#[tokio::test]
async fn a_body_trickled_over_http1_is_cut_with_408_at_the_body_deadline() {
    let setup = Setup::start(SLOW_BODY).await;
    let (elapsed, answer, rest) = trickle_body(&setup, "/v1/chat/completions").await;
    eprintln!("HTTP/1.1 slow body to /v1/chat/completions: 408 after {elapsed:?}");
    assert_eq!(answer.status, 408, "{}", answer.body);
    assert_openai_error(&answer.body, "request_timeout");
    assert!(answer.head.contains("connection: close"), "{}", answer.head);
    assert_about(elapsed, SLOW_BODY.body, "408");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    setup
        .back_to_baseline("a body trickled over HTTP/1.1")
        .await;
}

#[tokio::test]
async fn a_body_trickled_to_v1_messages_gets_408_in_anthropic_shape() {
    let setup = Setup::start(SLOW_BODY).await;
    let (elapsed, answer, _) = trickle_body(&setup, "/v1/messages").await;
    eprintln!("HTTP/1.1 slow body to /v1/messages: 408 after {elapsed:?}");
    assert_eq!(answer.status, 408, "{}", answer.body);
    assert_anthropic_error(&answer.body, "invalid_request_error");
    assert_about(elapsed, SLOW_BODY.body, "408");
    setup
        .back_to_baseline("a body trickled to /v1/messages")
        .await;
}

#[tokio::test]
async fn a_body_trickled_over_h2_gets_408_and_the_connection_closes() {
    let setup = Setup::start(SLOW_BODY).await;
    let (mut sender, closed) = setup.connect_h2().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        let data = rx.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(data)), rx))
    });
    let body = BodyExt::boxed(StreamBody::new(frames));
    let request = setup.h2_request("POST", "/v1/chat/completions", body);
    let drip = tokio::spawn(async move {
        for _ in 0..64 {
            if tx.send(Bytes::from_static(b" ")).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .expect("an answer within 10 s")
        .expect("an answer");
    let elapsed = started.elapsed();
    eprintln!("HTTP/2 slow body: 408 after {elapsed:?}");
    assert_eq!(response.status(), 408);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&body).expect("JSON");
    assert_openai_error(&body, "request_timeout");
    assert_about(elapsed, SLOW_BODY.body, "408");
    // The connection goes too (GOAWAY), long before the 30 s idle timeout.
    let closed_at = tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("the connection closed within 5 s of the 408")
        .expect("connection task");
    assert!(closed_at.duration_since(started) < Duration::from_secs(5));
    drip.abort();
    setup.back_to_baseline("a body trickled over HTTP/2").await;
}

#[tokio::test]
async fn an_idle_h2_connection_is_closed_at_the_idle_timeout() {
    let setup = Setup::start(IDLE).await;
    let (mut sender, closed) = setup.connect_h2().await;
    let response = sender
        .send_request(setup.h2_request("GET", "/v1/models", BodyExt::boxed(Empty::new())))
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.expect("body");
    let idle_since = Instant::now();
    let closed_at = tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the idle connection was closed within 10 s")
        .expect("connection task");
    let idle = closed_at.duration_since(idle_since);
    eprintln!("idle HTTP/2 connection closed after {idle:?}");
    assert_about(idle, IDLE.idle, "the idle HTTP/2 connection was closed");
    setup.back_to_baseline("an idle HTTP/2 connection").await;
}

/// The types of the HTTP/2 frames in `bytes` (what a server sent), in order.
fn h2_frame_types(bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut rest = bytes;
    while let [a, b, c, kind, _flags, _, _, _, _, tail @ ..] = rest {
        let length = usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c);
        types.push(*kind);
        rest = tail.get(length..).unwrap_or_default();
    }
    types
}

#[tokio::test]
async fn an_h2_client_that_never_finishes_closing_is_dropped() {
    // Once idle the connection gets a GOAWAY and a PING; a client that never answers the PING
    // would keep it open for good. It gets the header timeout to finish, then is dropped.
    let timeouts = Timeouts {
        header: 2,
        body: 30,
        idle: 1,
    };
    let setup = Setup::start(timeouts).await;
    let mut stream = setup.connect().await;
    // By hand, since every client library answers PINGs: the preface, empty SETTINGS, and one
    // request, `GET /` (HPACK static table: :method GET, :scheme http, :path /), ending its
    // stream. Nothing is ever acknowledged.
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
    hello.extend_from_slice(&[0, 0, 3, 0x1, 0x5, 0, 0, 0, 1, 0x82, 0x86, 0x84]);
    stream.write_all(&hello).await.expect("write");
    let started = Instant::now();
    let sent = read_to_close(&mut stream, Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    eprintln!("HTTP/2 client ignoring GOAWAY dropped after {elapsed:?}");
    let types = h2_frame_types(&sent);
    // HEADERS of the answer, then GOAWAY (7) and its PING (6).
    assert!(types.contains(&0x1), "frames {types:?}");
    assert!(
        types.contains(&0x7) && types.contains(&0x6),
        "frames {types:?}"
    );
    assert_about(
        elapsed,
        timeouts.idle + timeouts.header,
        "the client ignoring GOAWAY was dropped",
    );
    setup
        .back_to_baseline("an HTTP/2 client ignoring GOAWAY")
        .await;
}

#[tokio::test]
async fn an_idle_http1_keep_alive_connection_is_closed_at_the_idle_timeout() {
    // Headers may take 10 s, so only the idle timeout can close it sooner.
    let setup = Setup::start(IDLE).await;
    let mut stream = setup.connect().await;
    stream
        .write_all(b"GET /health/liveness HTTP/1.1\r\nhost: gateway\r\n\r\n")
        .await
        .expect("write");
    let answer = read_response(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(answer.status, 200);
    let idle_since = Instant::now();
    let rest = read_to_close(&mut stream, Duration::from_secs(5)).await;
    let idle = idle_since.elapsed();
    eprintln!("idle HTTP/1.1 keep-alive connection closed after {idle:?}");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert_about(idle, IDLE.idle, "the idle keep-alive connection was closed");
    setup
        .back_to_baseline("an idle keep-alive connection")
        .await;
}

/// A streamed call of `model` over `sender`, answered 200: its events.
async fn stream_call(
    setup: &Setup,
    sender: &mut H2Sender,
    model: &str,
) -> http_body_util::BodyDataStream<hyper::body::Incoming> {
    let body = json!({"model": model, "stream": true,
        "messages": [{"role": "user", "content": "hold on"}]});
    let request = setup.h2_request(
        "POST",
        "/v1/chat/completions",
        BodyExt::boxed(Full::new(Bytes::from(body.to_string()))),
    );
    let response = sender.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), 200);
    response.into_body().into_data_stream()
}

/// Everything left of `events`, which must end within 10 s.
async fn rest_of(mut events: http_body_util::BodyDataStream<hyper::body::Incoming>) -> String {
    let mut rest = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the stream goes on within 10 s")
    {
        rest.extend_from_slice(&chunk.expect("bytes"));
    }
    String::from_utf8_lossy(&rest).into_owned()
}

#[tokio::test]
async fn requests_open_past_the_idle_timeout_keep_their_h2_connection() {
    // Guards the idle timeout against cutting busy connections: a call not yet answered, or a
    // stream sending nothing, is not idle however long it takes.
    let setup = Setup::start(IDLE).await;
    // The upstream connection the gateway pools for the stream belongs in the baseline.
    setup.upstream.open_gate();
    let (mut sender, closed) = setup.connect_h2().await;
    let done = rest_of(stream_call(&setup, &mut sender, "gated-stream").await).await;
    assert!(done.contains("data: [DONE]"), "{done}");
    drop(sender);
    closed.await.expect("connection task");
    setup.upstream.close_gate();
    let baseline = gauges::baseline(&setup.gateway).await;

    let (mut sender, mut closed) = setup.connect_h2().await;
    let quiet = Duration::from_secs(u64::from(IDLE.idle) * 2) + Duration::from_millis(500);
    // A call the mock answers only after twice the idle timeout.
    let asked = Instant::now();
    let answer = tokio::select! {
        answer = async { rest_of(stream_call(&setup, &mut sender, "slow").await).await } => answer,
        _ = &mut closed => panic!("the connection was closed while a call was open"),
    };
    assert!(
        asked.elapsed() >= quiet,
        "answered after {:?}",
        asked.elapsed()
    );
    assert!(answer.contains("data: [DONE]"), "{answer}");
    // A stream held silent after its first event for as long.
    let mut events = stream_call(&setup, &mut sender, "gated-stream").await;
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("a first event within 5 s")
        .expect("an event")
        .expect("bytes");
    assert!(first.starts_with(b"data: "), "{first:?}");
    assert!(
        tokio::time::timeout(quiet, &mut closed).await.is_err(),
        "the connection was closed while a stream was open"
    );
    setup.upstream.open_gate();
    let rest = rest_of(events).await;
    assert!(rest.contains("data: [DONE]"), "{rest}");
    // Idle once the stream has ended.
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("closed once idle")
        .expect("connection task");
    gauges::back_to_baseline(
        &setup.gateway,
        &baseline,
        "calls open past the idle timeout",
    )
    .await;
}

/// A request framed both ways: chunked (one chunk of `json`, then the last chunk) and a
/// `Content-Length` covering a second, smuggled request after it, the classic CL.TE desync.
fn cl_te_request(path: &str, json: &Value, te_first: bool) -> Vec<u8> {
    let json = json.to_string();
    let smuggled = format!(
        "GET /v1/models HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {MASTER_KEY}\r\n\r\n"
    );
    let body = format!("{:x}\r\n{json}\r\n0\r\n\r\n{smuggled}", json.len());
    let (first, second) = (
        "transfer-encoding: chunked\r\n".to_owned(),
        format!("content-length: {}\r\n", body.len()),
    );
    let (first, second) = if te_first {
        (first, second)
    } else {
        (second, first)
    };
    format!(
        "POST {path} HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {MASTER_KEY}\r\ncontent-type: application/json\r\n{first}{second}\r\n{body}"
    )
    .into_bytes()
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused_and_the_connection_closed() {
    let setup = Setup::start(SLOW_BODY).await;
    let messages = json!({"model": "a", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]});
    let cases = [
        ("/v1/chat/completions", ask("a"), false),
        ("/v1/chat/completions", ask("a"), true),
        (
            "/v1/embeddings",
            json!({"model": "a", "input": "hi"}),
            false,
        ),
        ("/v1/messages", messages, false),
        ("/health/liveness", json!({}), true),
    ];
    for (path, json, te_first) in cases {
        let mut stream = setup.connect().await;
        stream
            .write_all(&cl_te_request(path, &json, te_first))
            .await
            .expect("write");
        let answer = read_response(&mut stream, Duration::from_secs(5)).await;
        let what = format!("{path} (transfer-encoding first: {te_first})");
        assert_eq!(answer.status, 400, "{what}: {}", answer.body);
        if path == "/v1/messages" {
            assert_anthropic_error(&answer.body, "invalid_request_error");
        } else {
            assert_openai_error(&answer.body, "ambiguous_framing");
        }
        assert!(
            answer.head.contains("connection: close"),
            "{what}: {}",
            answer.head
        );
        // The smuggled request is never answered: the connection ends with the 400.
        let rest = read_to_close(&mut stream, Duration::from_secs(5)).await;
        assert!(
            rest.is_empty(),
            "{what}: {}",
            String::from_utf8_lossy(&rest)
        );
    }
    setup
        .back_to_baseline("requests with Content-Length and Transfer-Encoding")
        .await;
}

#[tokio::test]
async fn encoded_bodies_are_refused_with_415_without_being_decoded() {
    let setup = Setup::start(SLOW_BODY).await;
    let post = async |path: &str, encoding: &str, body: Vec<u8>| {
        setup
            .gateway
            .client
            .post(format!("{}{path}", setup.gateway.base))
            .bearer_auth(MASTER_KEY)
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
            .await
            .expect("an answer")
    };
    // The first bytes of a gzip stream, then garbage: nothing may try to inflate it.
    let gzip = vec![0x1f, 0x8b, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff];
    for (path, encoding) in [
        ("/v1/chat/completions", "gzip"),
        ("/v1/chat/completions", "br"),
        ("/v1/chat/completions", "identity, gzip"),
        ("/v1/embeddings", "deflate"),
        ("/v1/messages", "gzip"),
        ("/key/generate", "zstd"),
    ] {
        let response = post(path, encoding, gzip.clone()).await;
        let status = response.status();
        assert_eq!(
            response
                .headers()
                .get("accept-encoding")
                .map(|v| v.as_bytes()),
            Some(&b"identity"[..]),
            "{path} {encoding}"
        );
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, 415, "{path} {encoding}: {body}");
        if path == "/v1/messages" {
            assert_anthropic_error(&body, "invalid_request_error");
        } else {
            assert_openai_error(&body, "unsupported_content_encoding");
        }
    }
    // `identity` is no encoding at all.
    let response = post(
        "/v1/chat/completions",
        "identity",
        ask("a").to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body");
    setup.back_to_baseline("encoded bodies").await;
}

/// The model ids `GET path` lists for `key`.
async fn listed(gateway: &Gateway, path: &str, key: &str) -> Vec<String> {
    let response = gateway.get(path, Some(key)).await;
    assert_eq!(response.status(), 200, "{path}");
    let list: Value = response.json().await.expect("JSON");
    let mut ids: Vec<String> = list["data"]
        .as_array()
        .expect("a data list")
        .iter()
        .map(|m| m["id"].as_str().expect("an id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// A new virtual key's secret.
async fn new_key(gateway: &Gateway, body: &Value) -> String {
    let created = gateway.admin_post("/key/generate", body).await;
    created["key"].as_str().expect("the secret").to_owned()
}

#[tokio::test]
async fn v1_models_lists_only_what_the_caller_may_call() {
    let setup = Setup::start(SLOW_BODY).await;
    let gateway = &setup.gateway;
    let only_a = new_key(gateway, &json!({"models": ["a"]})).await;
    gateway
        .admin_post("/team/new", &json!({"team_id": "bees", "models": ["b"]}))
        .await;
    let team_key = new_key(gateway, &json!({"team_id": "bees"})).await;
    let any = new_key(gateway, &json!({})).await;
    let all = ["a", "b", "gated-stream", "slow"];
    for path in ["/v1/models", "/models"] {
        assert_eq!(listed(gateway, path, &only_a).await, ["a"], "{path}");
        assert_eq!(listed(gateway, path, &team_key).await, ["b"], "{path}");
        assert_eq!(listed(gateway, path, &any).await, all, "{path}");
        assert_eq!(listed(gateway, path, MASTER_KEY).await, all, "{path}");
    }
    setup.back_to_baseline("listing models").await;
}

#[tokio::test]
async fn client_strings_echoed_in_errors_are_cut_short() {
    let setup = Setup::start(SLOW_BODY).await;
    let gateway = &setup.gateway;
    let long = "m".repeat(1024 * 1024);
    // Cut to 64 characters (the path's `/` is one of them), then an ellipsis.
    let assert_cut = |message: &str, what: &str| {
        assert!(
            message.contains(&format!("{}…", "m".repeat(63))),
            "{what}: {message:.300}"
        );
        assert!(!message.contains(&"m".repeat(65)), "{what}: {message:.300}");
        assert!(message.len() < 512, "{what}: {} bytes", message.len());
    };

    // Unknown to the gateway: 404, in both ingress shapes.
    let (status, code, body) = error_of(
        gateway
            .post("/v1/chat/completions", &ask(&long), Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "model_not_found"));
    assert_cut(body["error"]["message"].as_str().unwrap_or_default(), "404");
    let messages = json!({"model": long, "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]});
    let response = gateway
        .post("/v1/messages", &messages, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("JSON");
    assert_anthropic_error(&body, "not_found_error");
    assert_cut(
        body["error"]["message"].as_str().unwrap_or_default(),
        "404 on /v1/messages",
    );

    // Not allowed for the key: 403.
    let only_a = new_key(gateway, &json!({"models": ["a"]})).await;
    let (status, code, body) = error_of(
        gateway
            .post(
                "/v1/embeddings",
                &json!({"model": long, "input": "x"}),
                Some(&only_a),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "model_not_allowed"));
    assert_cut(body["error"]["message"].as_str().unwrap_or_default(), "403");

    // No such route: the path is echoed cut too.
    let path = format!("/{}", "m".repeat(16 * 1024));
    let (status, code, body) = error_of(gateway.get(&path, Some(MASTER_KEY)).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    assert_cut(
        body["error"]["message"].as_str().unwrap_or_default(),
        "no route",
    );

    // A string in a body that does not parse, as serde quotes it.
    let (status, _, body) = error_of(
        gateway
            .post(
                "/v1/chat/completions",
                &json!({"model": "a", "messages": long}),
                Some(MASTER_KEY),
            )
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_cut(body["error"]["message"].as_str().unwrap_or_default(), "400");

    // The spend records (and so the access log and the span) keep the name cut as well.
    let records = switchyard_e2e::shared_state::eventually(
        std::time::Duration::from_secs(15),
        "the refused calls' spend records",
        || async {
            let answer = switchyard_e2e::shared_state::admin_get(gateway, "/spend/logs").await;
            let records = answer.as_array().cloned().unwrap_or_default();
            (records.len() >= 3).then_some(records)
        },
    )
    .await;
    for record in &records {
        let model = record["model"].as_str().unwrap_or_default();
        assert!(
            model.chars().count() <= 65,
            "stored whole: {} chars",
            model.len()
        );
    }
    setup.back_to_baseline("long client strings").await;
}
