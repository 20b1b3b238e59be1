//! A fake OpenAI-compatible upstream that misbehaves on command, written on raw TCP so that it
//! can do what no well-behaved HTTP server does: reset a connection before or after its
//! headers, fall silent, never end, trickle, send a body or an event without end, or cut an
//! event in half. The upstream model name a deployment sends (`openai/<fault>`) chooses the
//! [`Fault`].
//!
//! Every answer says `Connection: close` and the connection ends with it, so the gateway pools
//! no upstream connection: after a fault its tasks and sockets return to where they were. The
//! upstream counts its open connections and the answers the gateway walked away from, so tests
//! can check that the gateway let go of the upstream too.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the upstream does with a request, by the model name it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `ok`: a normal answer (streamed when asked) with usage 10 + 5 tokens.
    Ok,
    /// `status-500`: 500 with an OpenAI error body.
    Status500,
    /// `status-503`: 503 with an OpenAI error body.
    Status503,
    /// `rate-limited`: 429 with `Retry-After: 7`.
    RateLimited,
    /// `reset-before-headers`: the request is read, then the connection is reset (RST).
    ResetBeforeHeaders,
    /// `reset-mid-stream`: a stream of three words ([`WORDS`]), then a reset.
    ResetMidStream,
    /// `silence`: a 200 head promising a body, then nothing until the gateway leaves (a stream
    /// gets its head and one word first).
    Silence,
    /// `endless-stream`: a word every 10 ms, forever.
    EndlessStream,
    /// `invalid-json`: 200 with a body that is not JSON.
    InvalidJson,
    /// `cut-event`: a stream of three words, then half an event, then a clean end of body.
    CutEvent,
    /// `endless-body`: a 200 JSON answer whose body never ends (1 MiB pieces, as fast as the
    /// gateway reads).
    EndlessBody,
    /// `endless-event`: a stream whose first event never ends (`data: "xxxx...`).
    EndlessEvent,
    /// `trickle`: a normal answer in small pieces: a complete answer 8 bytes every 20 ms
    /// (about 1 s in all), a stream one word every 50 ms (20 words).
    Trickle,
}

impl Fault {
    /// The fault a model name asks for; unknown names answer normally.
    pub fn from_model(model: &str) -> Self {
        match model {
            "status-500" => Self::Status500,
            "status-503" => Self::Status503,
            "rate-limited" => Self::RateLimited,
            "reset-before-headers" => Self::ResetBeforeHeaders,
            "reset-mid-stream" => Self::ResetMidStream,
            "silence" => Self::Silence,
            "endless-stream" => Self::EndlessStream,
            "invalid-json" => Self::InvalidJson,
            "cut-event" => Self::CutEvent,
            "endless-body" => Self::EndlessBody,
            "endless-event" => Self::EndlessEvent,
            "trickle" => Self::Trickle,
            _ => Self::Ok,
        }
    }
}

/// The words streams carry before they break: "one two three ".
pub const WORDS: [&str; 3] = ["one ", "two ", "three "];

/// Largest request the upstream reads.
const MAX_REQUEST: usize = 16 * 1024 * 1024;
/// The piece size of endless bodies.
const PIECE: usize = 1024 * 1024;

#[derive(Debug, Default)]
struct Stats {
    /// Model names of the requests received, in order.
    models: Mutex<Vec<String>>,
    /// Connections open now.
    open: AtomicUsize,
    /// Answers the gateway went away from before they ended (silent, endless, trickling).
    abandoned: AtomicUsize,
    /// Body bytes written by the endless answers.
    written: AtomicU64,
}

/// Counts a connection as open until dropped.
struct Open(Arc<Stats>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The misbehaving upstream, on a free loopback port for the rest of the test.
#[derive(Debug)]
pub struct FaultUpstream {
    /// `http://127.0.0.1:PORT/v1`, ready for `api_base`.
    pub api_base: String,
    stats: Arc<Stats>,
}

impl FaultUpstream {
    /// Starts the upstream.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stats = Arc::new(Stats::default());
        let accepting = Arc::clone(&stats);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepting.open.fetch_add(1, Ordering::SeqCst);
                let open = Open(Arc::clone(&accepting));
                let stats = Arc::clone(&accepting);
                tokio::spawn(async move {
                    let _open = open;
                    serve(stream, &stats).await;
                });
            }
        });
        Self {
            api_base: format!("http://{addr}/v1"),
            stats,
        }
    }

    /// The model names of the requests received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.stats.models.lock().expect("lock").clone()
    }

    /// Connections from the gateway open now.
    pub fn open_connections(&self) -> usize {
        self.stats.open.load(Ordering::SeqCst)
    }

    /// Body bytes the endless answers have written so far.
    pub fn bytes_written(&self) -> u64 {
        self.stats.written.load(Ordering::SeqCst)
    }

    /// Waits at most `within` until `count` answers have been abandoned by the gateway and
    /// every connection to the upstream is closed; whether that happened.
    pub async fn released(&self, count: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.stats.abandoned.load(Ordering::SeqCst) >= count && self.open_connections() == 0
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Reads one request and answers it as its model name says.
async fn serve(mut stream: TcpStream, stats: &Stats) {
    let _ = stream.set_nodelay(true);
    let Some(body) = read_request(&mut stream).await else {
        return;
    };
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let streamed = body["stream"] == json!(true);
    stats.models.lock().expect("lock").push(model.clone());
    let fault = Fault::from_model(&model);
    // A write that fails means the gateway went away; each arm decides whether that counts.
    let _ = answer(&mut stream, stats, fault, &model, streamed).await;
}

async fn answer(
    stream: &mut TcpStream,
    stats: &Stats,
    fault: Fault,
    model: &str,
    streamed: bool,
) -> std::io::Result<()> {
    match fault {
        Fault::Status500 => {
            let body = error_body("The server had an error", "server_error");
            stream.write_all(&complete(500, &body, &[])).await
        }
        Fault::Status503 => {
            let body = error_body("Engine overloaded", "server_error");
            stream.write_all(&complete(503, &body, &[])).await
        }
        Fault::RateLimited => {
            let body = error_body("Rate limit reached", "requests");
            let head = complete(429, &body, &[("retry-after", "7")]);
            stream.write_all(&head).await
        }
        Fault::ResetBeforeHeaders => reset(stream),
        Fault::ResetMidStream => {
            stream.write_all(&sse_head()).await?;
            for word in WORDS {
                stream
                    .write_all(&chunked(&event(&chunk(model, word))))
                    .await?;
            }
            stream.flush().await?;
            // Let the words reach the gateway before the reset discards what is unread.
            tokio::time::sleep(Duration::from_millis(100)).await;
            reset(stream)
        }
        Fault::Silence => {
            if streamed {
                stream.write_all(&sse_head()).await?;
                stream
                    .write_all(&chunked(&event(&chunk(model, WORDS[0]))))
                    .await?;
            } else {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n";
                stream.write_all(head.as_bytes()).await?;
            }
            wait_for_close(stream).await;
            stats.abandoned.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        Fault::EndlessStream => {
            stream.write_all(&sse_head()).await?;
            let piece = chunked(&event(&chunk(model, "more ")));
            loop {
                if stream.write_all(&piece).await.is_err() {
                    stats.abandoned.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Fault::InvalidJson => {
            let body = br#"{"id": "chatcmpl-broken", "choices": [{"message": "#;
            stream.write_all(&complete(200, body, &[])).await
        }
        Fault::CutEvent => {
            stream.write_all(&sse_head()).await?;
            for word in WORDS {
                stream
                    .write_all(&chunked(&event(&chunk(model, word))))
                    .await?;
            }
            let whole = event(&chunk(model, "four "));
            stream
                .write_all(&chunked(&whole[..whole.len() / 2]))
                .await?;
            stream.write_all(b"0\r\n\r\n").await?;
            stream.flush().await
        }
        Fault::EndlessBody => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&chunked(b"{\"padding\": \"")).await?;
            endless(stream, stats).await;
            Ok(())
        }
        Fault::EndlessEvent => {
            stream.write_all(&sse_head()).await?;
            stream.write_all(&chunked(b"data: \"")).await?;
            endless(stream, stats).await;
            Ok(())
        }
        Fault::Trickle if streamed => {
            stream.write_all(&sse_head()).await?;
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let Err(err) = stream
                    .write_all(&chunked(&event(&chunk(model, "drip "))))
                    .await
                {
                    stats.abandoned.fetch_add(1, Ordering::SeqCst);
                    return Err(err);
                }
            }
            stream.write_all(&chunked(&stream_tail(model))).await?;
            stream.write_all(b"0\r\n\r\n").await
        }
        Fault::Trickle => {
            let whole = complete(200, &completion(model).to_string().into_bytes(), &[]);
            for piece in whole.chunks(8) {
                if let Err(err) = stream.write_all(piece).await {
                    stats.abandoned.fetch_add(1, Ordering::SeqCst);
                    return Err(err);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(())
        }
        Fault::Ok if streamed => {
            stream.write_all(&sse_head()).await?;
            for word in WORDS {
                stream
                    .write_all(&chunked(&event(&chunk(model, word))))
                    .await?;
            }
            stream.write_all(&chunked(&stream_tail(model))).await?;
            stream.write_all(b"0\r\n\r\n").await
        }
        Fault::Ok => {
            let body = completion(model).to_string().into_bytes();
            stream.write_all(&complete(200, &body, &[])).await
        }
    }
}

/// Reads a request head and its `content-length` body; the body as JSON (`Null` if not).
async fn read_request(stream: &mut TcpStream) -> Option<Value> {
    let mut buffer = Vec::with_capacity(4096);
    let mut piece = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = find(&buffer, b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut piece).await.ok()?;
        if n == 0 || buffer.len() > MAX_REQUEST {
            return None;
        }
        buffer.extend_from_slice(&piece[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut piece).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&piece[..n]);
    }
    Some(serde_json::from_slice(&buffer[head_end..head_end + length]).unwrap_or(Value::Null))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Resets the connection: `SO_LINGER` 0, then close, sends RST instead of FIN.
fn reset(stream: &TcpStream) -> std::io::Result<()> {
    stream.set_zero_linger()
    // The caller drops the stream, which closes it.
}

/// Waits until the gateway closes its side (or the connection breaks).
async fn wait_for_close(stream: &mut TcpStream) {
    let mut sink = [0u8; 1024];
    loop {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Writes 1 MiB pieces of `x` until the gateway stops reading and goes away.
async fn endless(stream: &mut TcpStream, stats: &Stats) {
    let piece = chunked(&vec![b'x'; PIECE]);
    while stream.write_all(&piece).await.is_ok() {
        stats.written.fetch_add(PIECE as u64, Ordering::SeqCst);
    }
    stats.abandoned.fetch_add(1, Ordering::SeqCst);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A whole answer with a `content-length`.
fn complete(status: u16, body: &[u8], headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn sse_head() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec()
}

/// One piece of a chunked body.
fn chunked(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

fn event(value: &Value) -> Vec<u8> {
    format!("data: {value}\n\n").into_bytes()
}

fn error_body(message: &str, kind: &str) -> Vec<u8> {
    json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
        .to_string()
        .into_bytes()
}

fn chunk(model: &str, text: &str) -> Value {
    json!({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 1, "model": model,
           "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
}

/// The end of a complete stream: a stop chunk, a usage chunk and `[DONE]`.
fn stream_tail(model: &str) -> Vec<u8> {
    let stop = json!({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 1,
        "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    let usage = json!({"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 1,
        "model": model, "choices": [],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}});
    [event(&stop), event(&usage), b"data: [DONE]\n\n".to_vec()].concat()
}

fn completion(model: &str) -> Value {
    json!({"id": "chatcmpl-fault", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "all fine"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
}
