//! Fixtures for the end-to-end tests: an in-process gateway on a real loopback socket, and a
//! fake OpenAI-compatible upstream whose behaviour is chosen by the model name it receives.
//!
//! The fake upstream follows OpenAI's documented shapes (chat completion, chunk, embeddings,
//! error body); it is a test fixture, never a substitute for an adapter.

pub mod fake_anthropic;
pub mod fake_aws;
pub mod fake_bedrock;
pub mod fake_cohere;
pub mod fake_gemini;
pub mod fake_oauth;
pub mod fake_responses;
pub mod fake_sagemaker;
pub mod fake_vertex;
pub mod faults;
pub mod gauges;
pub mod jaeger;
pub mod otlp;
pub mod raw;
pub mod shared_state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A gateway serving a configuration on 127.0.0.1, stopped when dropped.
pub struct Gateway {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client for calling it.
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The gateway process, when it runs as one (killed on drop).
    process: Option<tokio::process::Child>,
    /// Its configuration file, removed on drop.
    config_file: Option<std::path::PathBuf>,
    /// The process's working directory (with its default database), removed on drop.
    workdir: Option<std::path::PathBuf>,
    /// The gateway's state, when it runs in this process.
    state: Option<switchyard_server::AppState>,
}

impl Gateway {
    /// Starts a gateway on `config` (YAML); `os.environ/NAME` resolves from `env`.
    pub async fn start(config: &str, env: &[(&str, &str)]) -> Self {
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if !env.iter().any(|(k, _)| k == "DATABASE_URL") {
            // Keys and spend in a database of this gateway's own, gone with the process.
            env.push(("DATABASE_URL".to_owned(), "sqlite::memory:".to_owned()));
        }
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let loaded = switchyard_server::config::parse_with_env(config, &lookup)
            .unwrap_or_else(|e| panic!("test config is invalid: {e}"));
        let state = switchyard_server::AppState::new(loaded.settings)
            .await
            .expect("gateway builds");
        // Two serving threads, as on a two-core machine.
        let listeners = switchyard_server::server::Listeners::bind(([127, 0, 0, 1], 0).into(), 2)
            .expect("bind");
        let addr = listeners.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(switchyard_server::serve(
            listeners,
            switchyard_server::Live::new(state.clone(), None),
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            process: None,
            config_file: None,
            workdir: None,
            state: Some(state),
        }
    }

    /// `127.0.0.1:PORT`, for raw connections.
    pub fn addr(&self) -> &str {
        self.base.strip_prefix("http://").expect("an http:// base")
    }

    /// The state of a gateway started in this process with [`Gateway::start`].
    pub fn state(&self) -> &switchyard_server::AppState {
        self.state
            .as_ref()
            .expect("only a gateway started in this process has its state here")
    }

    /// Runs the real `switchyard` binary (built next to this test: `cargo build -p switchyard`,
    /// which `cargo xtask test` does first) as its own process on `config`, with `env` in its
    /// environment, listening on a free loopback port. It logs errors only, to this test's
    /// stderr.
    pub async fn spawn(config: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_process(config, env, None).await
    }

    /// [`Gateway::spawn`], logging at `filter` (a `RUST_LOG` value) into a file of its working
    /// directory that [`Gateway::log`] reads.
    pub async fn spawn_logging(config: &str, env: &[(&str, &str)], filter: &str) -> Self {
        Self::spawn_process(config, env, Some(filter)).await
    }

    async fn spawn_process(config: &str, env: &[(&str, &str)], log: Option<&str>) -> Self {
        use tokio::io::AsyncBufReadExt;
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let binary = gateway_binary();
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let config_file =
            std::env::temp_dir().join(format!("switchyard-e2e-{}-{n}.yaml", std::process::id()));
        std::fs::write(&config_file, config).expect("write the test config");
        // A working directory of its own: the default SQLite database lands there.
        let workdir =
            std::env::temp_dir().join(format!("switchyard-e2e-{}-{n}.d", std::process::id()));
        std::fs::create_dir_all(&workdir).expect("create the gateway's working directory");
        let stderr = match log {
            Some(_) => std::fs::File::create(workdir.join(LOG_FILE))
                .expect("create the gateway's log file")
                .into(),
            None => std::process::Stdio::inherit(),
        };
        let mut child = tokio::process::Command::new(&binary)
            .args(["serve", "-p", "0", "--host", "127.0.0.1", "-c"])
            .arg(&config_file)
            .current_dir(&workdir)
            .envs(env.iter().copied())
            .env("RUST_LOG", log.unwrap_or("error"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the gateway prints its address within 30 s")
            .expect("stdout readable")
            .expect("the gateway printed its address before exiting");
        let base = line
            .strip_prefix("switchyard listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        Self {
            base,
            client: reqwest::Client::new(),
            shutdown: None,
            process: Some(child),
            config_file: Some(config_file),
            workdir: Some(workdir),
            state: None,
        }
    }

    /// The process id of a gateway run with [`Gateway::spawn`]; `None` in process or once it
    /// has exited and been waited for.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(tokio::process::Child::id)
    }

    /// The peak resident memory of a spawned gateway (`VmHWM`), in bytes, since it started or
    /// since [`Gateway::reset_peak_memory`].
    #[cfg(target_os = "linux")]
    pub fn peak_memory(&self) -> u64 {
        let pid = self.pid().expect("a running gateway process");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .expect("read the gateway's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in kB");
        kib * 1024
    }

    /// Starts the peak of [`Gateway::peak_memory`] over from the memory resident now.
    #[cfg(target_os = "linux")]
    pub fn reset_peak_memory(&self) {
        let pid = self.pid().expect("a running gateway process");
        // `5` resets the peak resident set size (Linux 4.0 and later, proc(5)).
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM");
    }

    /// Sends SIGTERM to a spawned gateway, which then stops taking connections, lets open
    /// requests finish, writes its queued spend records and exits.
    #[cfg(unix)]
    pub fn terminate(&self) {
        let pid = self.pid().expect("a running gateway process");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run `kill`");
        assert!(status.success(), "kill -TERM {pid}: {status}");
    }

    /// Waits at most `within` for a spawned gateway to exit; its exit status, or `None` if it
    /// is still running.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let child = self.process.as_mut().expect("a spawned gateway");
        tokio::time::timeout(within, child.wait())
            .await
            .ok()
            .map(|status| status.expect("wait for the gateway process"))
    }

    /// The configuration file of a spawned gateway, to rewrite for a reload.
    pub fn config_path(&self) -> Option<&std::path::Path> {
        self.config_file.as_deref()
    }

    /// The working directory of a spawned gateway (its default `switchyard.db` lands there);
    /// removed on drop.
    pub fn workdir(&self) -> Option<&std::path::Path> {
        self.workdir.as_deref()
    }

    /// What a gateway run with [`Gateway::spawn_logging`] has logged so far (empty otherwise).
    pub fn log(&self) -> String {
        self.workdir
            .as_ref()
            .and_then(|dir| std::fs::read(dir.join(LOG_FILE)).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// Stops the gateway gracefully (SIGTERM), waits for it to exit (at most 30 s, with
    /// success) and answers its whole log: every line it buffered is written by then, which a
    /// read while it runs cannot promise (lines reach the file in batches, every 50 ms).
    pub async fn log_after_exit(&mut self) -> String {
        self.terminate();
        let status = self.wait_exit(Duration::from_secs(30)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "the gateway exits cleanly: {status:?}"
        );
        self.log()
    }

    /// `POST {base}{path}` with a raw body and optional bearer key.
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("gateway answers")
    }

    /// `POST {base}{path}` with a JSON body and optional bearer key.
    pub async fn post(&self, path: &str, body: &Value, key: Option<&str>) -> reqwest::Response {
        self.post_raw(path, body.to_string(), key).await
    }

    /// `POST {base}{path}` of a JSON body under the master key, for the admin API; the answer,
    /// which must be a 200.
    pub async fn admin_post(&self, path: &str, body: &Value) -> Value {
        let response = self.post(path, body, Some(MASTER_KEY)).await;
        let status = response.status();
        let answer: Value = response.json().await.expect("JSON answer");
        assert_eq!(status, 200, "{path} {body}: {answer}");
        answer
    }

    /// `GET {base}{path}` with optional bearer key.
    pub async fn get(&self, path: &str, key: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("gateway answers")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(child) = self.process.as_mut() {
            let _ = child.start_kill();
        }
        if let Some(path) = self.config_file.take() {
            let _ = std::fs::remove_file(path);
        }
        if let Some(path) = self.workdir.take() {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// Runs the real `switchyard serve` on `config` and expects it to refuse to start: it must
/// exit unsuccessfully within 30 s without printing its address. Returns what it wrote to
/// stderr (logged at `error`).
pub async fn refused_start(config: &str) -> String {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config_file = dir.path().join("config.yaml");
    std::fs::write(&config_file, config).expect("write the test config");
    let child = tokio::process::Command::new(gateway_binary())
        .args(["serve", "-p", "0", "--host", "127.0.0.1", "-c"])
        .arg(&config_file)
        .current_dir(dir.path())
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the gateway");
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the gateway gives up within 30 s")
        .expect("the gateway's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success() && !stdout.contains("listening on"),
        "the gateway started: {stdout}"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The file in a spawned gateway's working directory that its stderr goes to, when logged.
const LOG_FILE: &str = "gateway.log";

/// `target/<profile>/switchyard`, beside the `deps/` folder this test runs from.
fn gateway_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>/deps/<test>");
    let binary = profile_dir.join(format!("switchyard{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p switchyard` (`cargo xtask test` does)",
        binary.display()
    );
    binary
}

/// Reads an error answer and checks it has the OpenAI error shape; returns `(status, code)`.
pub async fn error_of(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("error body is JSON");
    let code = openai_error_code(&body).to_owned();
    (status, code, body)
}

/// Checks that `body` is an OpenAI error (`{"error": {"message", "type", "param", "code"}}`)
/// with `code`.
pub fn assert_openai_error(body: &Value, code: &str) {
    assert_eq!(openai_error_code(body), code, "{body}");
}

/// The code of an error body of the OpenAI shape (`""` when null), once the shape is checked.
fn openai_error_code(body: &Value) -> &str {
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message: {body}"
    );
    assert!(error["type"].as_str().is_some(), "type: {body}");
    assert!(error.get("param").is_some(), "param: {body}");
    error["code"].as_str().unwrap_or_default()
}

/// What the gateway says an answer cost: its `x-switchyard-cost-usd` header, in US dollars.
pub fn cost_of(response: &reqwest::Response) -> f64 {
    response.headers()["x-switchyard-cost-usd"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a number")
}

/// Splits an SSE body into its `data:` payloads.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

/// The `(event name, data)` pairs of a stream of named events (Anthropic's Messages stream,
/// OpenAI's Responses stream), checking that each `event:` line names the `type` of its data.
pub fn named_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let (name, data) = e
                .strip_prefix("event: ")
                .and_then(|e| e.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("not `event: NAME\\ndata: JSON`: {e:?}"));
            let data: Value = serde_json::from_str(data).expect("data is JSON");
            assert_eq!(data["type"], name, "{e}");
            (name.to_owned(), data)
        })
        .collect()
}

/// Serves `app` on a free loopback port for the rest of the test; answers its address.
pub async fn serve_on_loopback(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// One request the fake upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path.
    pub path: String,
    /// The `authorization` header, if any.
    pub authorization: Option<String>,
    /// Every request header (`traceparent`, ...).
    pub headers: HeaderMap,
    /// The JSON body.
    pub body: Value,
}

/// A fake OpenAI-compatible upstream. Its behaviour follows the model name it receives:
///
/// - `rate-limited`: 429 with `retry-after: 3` and an OpenAI error body;
/// - `broken`: 500 with an error body; `overloaded`: 503; `garbage`: 200 with an HTML body;
/// - `too-long`: 400 `context_length_exceeded`;
/// - `hang`: never answers; `slow-stream`: one chunk, then nothing until the client goes away;
/// - `cut-stream`: one chunk, then the connection ends without `[DONE]`;
/// - `gated-stream`: one chunk, then the rest (with usage) once [`FakeUpstream::open_gate`];
/// - `absurd-usage`: a normal answer reporting 10^15 prompt tokens;
/// - `tool-caller`: while the conversation does not end in a `tool` message, a call of the
///   first tool with `{"city":"Paris"}` (id `call_up_1`, streamed in two pieces of arguments);
///   after one, `upstream says: tool said <its content>`;
/// - anything else: a normal answer, `upstream says: <last user text>` (10 prompt and 5
///   completion tokens).
///
/// `/v1/moderations`, `/v1/images/generations` (usage of 10 input and 5 output tokens) and
/// `/v1/rerank` (Cohere's shape, with Jina's `usage` of 10 tokens) answer in their documented
/// shapes; `/v1/audio/speech` answers [`FAKE_AUDIO`] (`audio/mpeg`, in two pieces) and
/// `/v1/audio/transcriptions` reads the upload (recorded as `{"fields": {...}, "file": {...}}`)
/// and answers `upstream heard <filename> (<n> bytes)` with usage of 10 and 5 tokens.
/// `/v1/completions` answers OpenAI's `text_completion` (streamed too): each prompt `p` gets `n`
/// choices `upstream completes: <p>`, with usage of 10 prompt and 5 completion tokens.
/// `/v1/responses` replays OpenAI's documented Responses answers ([`fake_responses`]).
pub struct FakeUpstream {
    /// `http://127.0.0.1:PORT/v1`, ready for `api_base`.
    pub api_base: String,
    received: Arc<Mutex<Vec<Received>>>,
    dropped_streams: tokio::sync::Mutex<mpsc::UnboundedReceiver<()>>,
    gate: Arc<tokio::sync::watch::Sender<bool>>,
}

#[derive(Clone)]
struct UpstreamState {
    received: Arc<Mutex<Vec<Received>>>,
    dropped: mpsc::UnboundedSender<()>,
    gate: Arc<tokio::sync::watch::Sender<bool>>,
}

impl FakeUpstream {
    /// Starts the upstream on a free loopback port.
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let (dropped, dropped_streams) = mpsc::unbounded_channel();
        let gate = Arc::new(tokio::sync::watch::Sender::new(false));
        let state = UpstreamState {
            received: Arc::clone(&received),
            dropped,
            gate: Arc::clone(&gate),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/completions", post(completions))
            .route("/v1/moderations", post(whole_answers))
            .route("/v1/images/generations", post(whole_answers))
            .route("/v1/rerank", post(whole_answers))
            .route("/v1/audio/speech", post(speech))
            .route("/v1/audio/transcriptions", post(transcription))
            .route("/v1/responses", post(fake_responses::responses))
            .route("/openai/v1/responses", post(fake_responses::responses))
            .route("/v1/responses/{id}", delete(fake_responses::deleted))
            .route("/openai/v1/responses/{id}", delete(fake_responses::deleted))
            // Requests as large as a gateway may forward (tests of large bodies send 20 MiB).
            .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
            .with_state(state);
        let addr = crate::serve_on_loopback(app).await;
        Self {
            api_base: format!("http://{addr}/v1"),
            received,
            dropped_streams: tokio::sync::Mutex::new(dropped_streams),
            gate,
        }
    }

    /// Lets every `gated-stream` answer, held after its first chunk, go on to its end.
    pub fn open_gate(&self) {
        self.gate.send_replace(true);
    }

    /// Holds `gated-stream` answers after their first chunk again, until the next
    /// [`FakeUpstream::open_gate`].
    pub fn close_gate(&self) {
        self.gate.send_replace(false);
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until a `slow-stream` answer has been dropped because its client went away.
    pub async fn stream_dropped(&self, within: Duration) -> bool {
        let mut rx = self.dropped_streams.lock().await;
        matches!(tokio::time::timeout(within, rx.recv()).await, Ok(Some(())))
    }
}

fn record(state: &UpstreamState, path: &str, headers: &HeaderMap, body: &Value) {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    state.received.lock().expect("lock").push(Received {
        path: path.to_owned(),
        authorization,
        headers: headers.clone(),
        body: body.clone(),
    });
}

/// The JSON body of a request to `path`, recorded; a 400 answer when it is not JSON.
fn recorded_json(
    state: &UpstreamState,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Box<Response>> {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "not JSON",
            "invalid_request_error",
        )));
    };
    record(state, path, headers, &body);
    Ok(body)
}

fn error(status: StatusCode, message: &str, kind: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
    (status, axum::Json(body)).into_response()
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

fn event(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// Sends a signal when the response body carrying it is dropped.
struct DropSignal(mpsc::UnboundedSender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

async fn chat(State(state): State<UpstreamState>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "not JSON", "invalid_request_error");
    };
    record(&state, "/v1/chat/completions", &headers, &body);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let last_user = body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    match model.as_str() {
        "rate-limited" => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached",
                "requests",
            );
            response
                .headers_mut()
                .insert("retry-after", "3".parse().expect("header"));
            return response;
        }
        "broken" => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server had an error",
                "server_error",
            );
        }
        "overloaded" => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Engine overloaded",
                "server_error",
            );
        }
        "too-long" => {
            let body = json!({"error": {"message": "This model's maximum context length is 8192 tokens.",
                "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}});
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
        "garbage" => return (StatusCode::OK, "<html>not json</html>").into_response(),
        "hang" => std::future::pending::<()>().await,
        _ => {}
    }
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or_default();
    if model == "tool-caller" && last["role"] != "tool" {
        return tool_call(&body, &model);
    }
    let text = if model == "tool-caller" {
        format!(
            "upstream says: tool said {}",
            last["content"].as_str().unwrap_or_default()
        )
    } else {
        format!("upstream says: {last_user}")
    };
    let prompt_tokens: u64 = if model == "absurd-usage" {
        1_000_000_000_000_000
    } else {
        10
    };
    if body["stream"] != json!(true) {
        let answer = json!({"id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 5, "total_tokens": prompt_tokens + 5},
            "system_fingerprint": "fp_fake", "service_tier": "default"});
        return axum::Json(answer).into_response();
    }
    let first = event(&chunk(
        &model,
        json!({"role": "assistant", "content": ""}),
        None,
    ));
    let events: Vec<Result<Bytes, std::io::Error>> = match model.as_str() {
        "slow-stream" => {
            let signal = DropSignal(state.dropped.clone());
            let tail = futures_util::stream::once(async move {
                let _signal = signal;
                std::future::pending::<Result<Bytes, std::io::Error>>().await
            });
            let head = futures_util::stream::iter([Ok::<_, std::io::Error>(first)]);
            use futures_util::StreamExt;
            return sse(Body::from_stream(head.chain(tail)));
        }
        "cut-stream" => vec![Ok(first)],
        "gated-stream" => {
            let mut gate = state.gate.subscribe();
            let rest = event(&chunk(&model, json!({"content": text}), None));
            let end = event(&chunk(&model, json!({}), Some("stop")));
            let usage = event(
                &json!({"id": "chatcmpl-up", "object": "chat.completion.chunk",
                "created": 1, "model": model, "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}),
            );
            let tail = futures_util::stream::once(async move {
                let _ = gate.wait_for(|open| *open).await;
                Ok::<_, std::io::Error>(Bytes::from(
                    [rest, end, usage, Bytes::from_static(b"data: [DONE]\n\n")].concat(),
                ))
            });
            let head = futures_util::stream::iter([Ok::<_, std::io::Error>(first)]);
            use futures_util::StreamExt;
            return sse(Body::from_stream(head.chain(tail)));
        }
        _ => {
            let mut events = vec![Ok(first)];
            for word in text.split_inclusive(' ') {
                events.push(Ok(event(&chunk(&model, json!({"content": word}), None))));
            }
            events.push(Ok(event(&chunk(&model, json!({}), Some("stop")))));
            if body["stream_options"]["include_usage"] == json!(true) {
                events.push(Ok(event(
                    &json!({"id": "chatcmpl-up", "object": "chat.completion.chunk",
                    "created": 1, "model": model, "choices": [],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 5,
                              "total_tokens": prompt_tokens + 5}}),
                )));
            }
            events.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
            events
        }
    };
    sse(Body::from_stream(futures_util::stream::iter(events)))
}

/// `tool-caller`'s call of the request's first tool, whole or streamed
/// (<https://platform.openai.com/docs/api-reference/chat/object>,
/// <https://platform.openai.com/docs/api-reference/chat-streaming>).
fn tool_call(body: &Value, model: &str) -> Response {
    let name = body["tools"][0]["function"]["name"]
        .as_str()
        .unwrap_or("missing_tool")
        .to_owned();
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
    if body["stream"] != json!(true) {
        let answer = json!({"id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant",
                "content": null, "tool_calls": [{"id": "call_up_1", "type": "function",
                    "function": {"name": name, "arguments": "{\"city\":\"Paris\"}"}}]}}],
            "usage": usage});
        return axum::Json(answer).into_response();
    }
    let mut events = vec![
        event(&chunk(
            model,
            json!({"role": "assistant", "content": null,
            "tool_calls": [{"index": 0, "id": "call_up_1", "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
            None,
        )),
        event(&chunk(
            model,
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
            None,
        )),
        event(&chunk(
            model,
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
            None,
        )),
        event(&chunk(model, json!({}), Some("tool_calls"))),
    ];
    if body["stream_options"]["include_usage"] == json!(true) {
        events.push(event(
            &json!({"id": "chatcmpl-up", "object": "chat.completion.chunk",
            "created": 1, "model": model, "choices": [], "usage": usage}),
        ));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    sse(Body::from_stream(futures_util::stream::iter(
        events.into_iter().map(Ok::<_, std::io::Error>),
    )))
}

fn sse(body: Body) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        "text/event-stream".parse().expect("header"),
    );
    response
}

/// `POST /v1/completions`, in the shapes of
/// <https://platform.openai.com/docs/api-reference/completions/object>.
async fn completions(
    State(state): State<UpstreamState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "not JSON", "invalid_request_error");
    };
    record(&state, "/v1/completions", &headers, &body);
    let prompts: Vec<String> = match &body["prompt"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
            .collect(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "no prompt",
                "invalid_request_error",
            );
        }
    };
    let n = body["n"].as_u64().unwrap_or(1);
    let model = body["model"].clone();
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15});
    let choices = |text: &dyn Fn(&str) -> String, finish: Value| -> Vec<Value> {
        let mut out = Vec::new();
        for prompt in &prompts {
            for _ in 0..n {
                out.push(
                    json!({"text": text(prompt), "index": out.len(), "logprobs": null,
                    "finish_reason": finish}),
                );
            }
        }
        out
    };
    let object = |choices: Vec<Value>| {
        json!({"id": "cmpl-up", "object": "text_completion", "created": 1, "model": model,
            "choices": choices, "system_fingerprint": "fp_fake"})
    };
    if body["stream"] != json!(true) {
        let mut answer = object(choices(
            &|p| format!("upstream completes: {p}"),
            json!("stop"),
        ));
        answer["usage"] = usage;
        return axum::Json(answer).into_response();
    }
    let mut events = vec![
        event(&object(choices(&|_| "upstream ".to_owned(), Value::Null))),
        event(&object(choices(
            &|p| format!("completes: {p}"),
            Value::Null,
        ))),
        event(&object(choices(&|_| String::new(), json!("stop")))),
    ];
    if body["stream_options"]["include_usage"] == json!(true) {
        let mut last = object(Vec::new());
        last["usage"] = usage;
        events.push(event(&last));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    sse(Body::from_stream(futures_util::stream::iter(
        events.into_iter().map(Ok::<_, std::io::Error>),
    )))
}

/// Moderations (<https://platform.openai.com/docs/api-reference/moderations/object>), images
/// (<https://platform.openai.com/docs/api-reference/images/object>) and rerank
/// (<https://docs.cohere.com/reference/rerank>), by path.
async fn whole_answers(
    State(state): State<UpstreamState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match recorded_json(&state, uri.path(), &headers, &body) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    let answer = match uri.path() {
        "/v1/moderations" => {
            let inputs = body["input"].as_array().map_or(1, Vec::len);
            let result = json!({"flagged": true, "categories": {"violence": true},
                "category_scores": {"violence": 0.9}});
            json!({"id": "modr-up", "model": body["model"], "results": vec![result; inputs]})
        }
        "/v1/images/generations" => {
            let image = json!({"url": "https://images.example/1.png",
                "revised_prompt": body["prompt"]});
            let n = body["n"].as_u64().unwrap_or(1) as usize;
            json!({"created": 1, "data": vec![image; n],
                "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}})
        }
        _ => {
            let count = body["documents"].as_array().map_or(0, Vec::len);
            let results: Vec<Value> = (0..count)
                .rev()
                .map(|i| json!({"index": i, "relevance_score": (i + 1) as f64 / count as f64}))
                .take(body["top_n"].as_u64().map_or(count, |n| n as usize))
                .collect();
            json!({"id": "rerank-up", "results": results, "model": body["model"],
                "meta": {"billed_units": {"search_units": 1}}, "usage": {"total_tokens": 10}})
        }
    };
    axum::Json(answer).into_response()
}

/// The audio the fake upstream speaks.
pub const FAKE_AUDIO: &[u8] = b"ID3 fake mp3 audio bytes";

async fn speech(State(state): State<UpstreamState>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    record(&state, "/v1/audio/speech", &headers, &body);
    let (head, tail) = FAKE_AUDIO.split_at(4);
    let pieces = [Bytes::from_static(head), Bytes::from_static(tail)];
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(
        pieces.map(Ok::<_, std::io::Error>),
    )));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, "audio/mpeg".parse().expect("header"));
    response
}

async fn transcription(
    State(state): State<UpstreamState>,
    headers: HeaderMap,
    mut form: axum::extract::Multipart,
) -> Response {
    let mut fields = serde_json::Map::new();
    let mut file = Value::Null;
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let filename = field.file_name().unwrap_or_default().to_owned();
            let content_type = field.content_type().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.unwrap_or_default();
            file = json!({"filename": filename, "content_type": content_type,
                "bytes": String::from_utf8_lossy(&bytes)});
        } else {
            fields.insert(name, Value::String(field.text().await.unwrap_or_default()));
        }
    }
    let body = json!({"fields": fields, "file": file, "model": fields.get("model")});
    record(&state, "/v1/audio/transcriptions", &headers, &body);
    let text = format!(
        "upstream heard {} ({} bytes)",
        file["filename"].as_str().unwrap_or_default(),
        file["bytes"].as_str().map_or(0, str::len)
    );
    axum::Json(
        json!({"text": text, "usage": {"type": "tokens", "input_tokens": 10,
        "output_tokens": 5, "total_tokens": 15}}),
    )
    .into_response()
}

async fn embeddings(
    State(state): State<UpstreamState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    record(&state, "/v1/embeddings", &headers, &body);
    let count = body["input"].as_array().map_or(1, Vec::len);
    let data: Vec<Value> = (0..count)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}))
        .collect();
    axum::Json(
        json!({"object": "list", "data": data, "model": body["model"],
        "usage": {"prompt_tokens": 4, "total_tokens": 4}}),
    )
    .into_response()
}

/// The master key of [`standard_config`].
pub const MASTER_KEY: &str = "sk-master-e2e";
/// The upstream key of [`standard_config`], read from the environment as `UPSTREAM_KEY`.
pub const UPSTREAM_KEY: &str = "sk-upstream-e2e";

/// A LiteLLM-style config with one model group per fake-upstream behaviour, a mock model, an
/// unreachable deployment and a 1 KiB body limit.
pub fn standard_config(api_base: &str, closed_port: u16) -> String {
    let mut out = String::from("model_list:\n");
    for (name, upstream) in [
        ("gpt-4o-mini", "upstream-model"),
        ("rate-limited", "rate-limited"),
        ("broken", "broken"),
        ("garbage", "garbage"),
        ("slow-stream", "slow-stream"),
        ("cut-stream", "cut-stream"),
        ("text-embedding-3-small", "upstream-embed"),
    ] {
        out.push_str(&format!(
            "  - model_name: {name}\n    litellm_params:\n      model: openai/{upstream}\n      api_base: {api_base}\n      api_key: os.environ/UPSTREAM_KEY\n    model_info:\n      id: {name}-deployment\n"
        ));
    }
    out.push_str(&format!(
        "  - model_name: hang\n    litellm_params:\n      model: openai/hang\n      api_base: {api_base}\n      timeout: 0.3\n"
    ));
    out.push_str(&format!(
        "  - model_name: unreachable\n    litellm_params:\n      model: openai/x\n      api_base: http://127.0.0.1:{closed_port}/v1\n"
    ));
    out.push_str("  - model_name: mock-echo\n    litellm_params:\n      model: mock/echo\n");
    out.push_str(&format!(
        "general_settings:\n  master_key: {MASTER_KEY}\n  max_request_size_mb: 0.001\n"
    ));
    out
}

/// A loopback port with nothing listening on it.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A fake upstream and a gateway on [`standard_config`] in front of it.
pub async fn standard_setup() -> (FakeUpstream, Gateway) {
    let upstream = FakeUpstream::start().await;
    let config = standard_config(&upstream.api_base, closed_port().await);
    let gateway = Gateway::spawn(&config, &[("UPSTREAM_KEY", UPSTREAM_KEY)]).await;
    (upstream, gateway)
}

/// The Redis of the shared-state tests, from `SWITCHYARD_TEST_REDIS_URL` (CI sets it); `None`,
/// with a line saying the test is skipped, without it.
pub fn redis_url() -> Option<String> {
    match std::env::var("SWITCHYARD_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: SWITCHYARD_TEST_REDIS_URL not set");
            None
        }
    }
}

/// A Redis key prefix no other test (or test run) uses.
pub fn unique_prefix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "switchyard-test-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
