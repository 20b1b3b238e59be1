//! The load generator: simulated clients, each one persistent keep-alive HTTP/1.1 connection
//! (hyper's low-level client over a `TcpStream` with `TCP_NODELAY`), that POST the benchmark's
//! chat completion request, check for 200 and read every response body in full.
//!
//! Three measurements: [`sequential_latencies`] (one connection, one request at a time, every
//! latency recorded), [`sequential_stream_latencies`] (the same for streamed requests, with the
//! time to the first bytes) and [`throughput`] (many connections in parallel for a fixed time).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::upstream::CHAT_COMPLETIONS_PATH;

/// The prompt of the benchmark's chat request.
pub const PROMPT: &str = "Say ok.";

/// The benchmark's chat request to `model`, compact JSON, streamed or not.
pub fn chat_request(model: &str, stream: bool) -> String {
    chat_request_saying(model, stream, PROMPT)
}

/// The benchmark's chat request to `model` with `prompt` as its user message.
fn chat_request_saying(model: &str, stream: bool, prompt: &str) -> String {
    let mut body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
    });
    if stream {
        body["stream"] = serde_json::Value::Bool(true);
    }
    body.to_string()
}

/// What every request of a run carries: the key (a whole `Authorization` value), the model,
/// and whether each request's prompt is made unique (so that a response cache misses).
#[derive(Debug, Clone)]
pub struct Call {
    authorization: Option<HeaderValue>,
    model: String,
    /// The number of the next unique prompt, shared by every client of the call.
    unique: Option<Arc<AtomicU64>>,
}

impl Call {
    /// Calls of `model` with `authorization`, when given.
    pub fn new(model: &str, authorization: Option<HeaderValue>) -> Self {
        Self {
            authorization,
            model: model.to_owned(),
            unique: None,
        }
    }

    /// The same calls, each with a prompt no other request of the benchmark's built-in
    /// generator sends (`Say ok. b<n>`): every one misses a response cache.
    pub fn unique_prompts(mut self) -> Self {
        self.unique = Some(Arc::new(AtomicU64::new(0)));
        self
    }

    /// Whether each request's prompt is made unique.
    pub fn has_unique_prompts(&self) -> bool {
        self.unique.is_some()
    }

    /// The body of the next request.
    fn body(&self, stream: bool) -> Bytes {
        match &self.unique {
            None => Bytes::from(chat_request(&self.model, stream)),
            Some(next) => {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let prompt = format!("{PROMPT} b{n}");
                Bytes::from(chat_request_saying(&self.model, stream, &prompt))
            }
        }
    }
}

/// What a run of sequential requests measured.
#[derive(Debug, Default)]
pub struct LatencyRun {
    /// The latency of every successful request (status 200, body read), in the order sent.
    pub samples: Vec<Duration>,
    /// Requests that failed: transport errors or a status other than 200.
    pub errors: u64,
    /// The first failure, to tell what broke.
    pub first_error: Option<String>,
}

impl LatencyRun {
    fn record_failure(&mut self, error: &anyhow::Error) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| format!("{error:#}"));
    }
}

/// What a run of sequential streamed requests measured.
#[derive(Debug, Default)]
pub struct StreamRun {
    /// From sending each successful request to its first body bytes.
    pub first_byte: Vec<Duration>,
    /// From sending each successful request to the end of its body.
    pub complete: Vec<Duration>,
    /// Requests that failed: transport errors or a status other than 200.
    pub errors: u64,
    /// The first failure, to tell what broke.
    pub first_error: Option<String>,
}

/// What a fixed-time run over many connections measured.
#[derive(Debug, Default)]
pub struct ThroughputRun {
    /// Requests that succeeded (status 200, body read).
    pub completed: u64,
    /// Requests that failed: transport errors or a status other than 200.
    pub errors: u64,
    /// From the start until the last client finished its last request.
    pub elapsed: Duration,
    /// The first failure, to tell what broke.
    pub first_error: Option<String>,
}

impl ThroughputRun {
    /// Successful requests per second.
    pub fn requests_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.completed as f64 / seconds
        } else {
            0.0
        }
    }

    fn record_failure(&mut self, error: &anyhow::Error) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| format!("{error:#}"));
    }

    fn add(&mut self, client: ThroughputRun) {
        self.completed += client.completed;
        self.errors += client.errors;
        if self.first_error.is_none() {
            self.first_error = client.first_error;
        }
    }
}

/// Sends `warmup` unrecorded requests, then `count` recorded ones, one at a time over one
/// connection to `addr`. A broken connection is reopened; failing to reopen it is an error.
pub async fn sequential_latencies(
    addr: SocketAddr,
    call: Call,
    warmup: usize,
    count: usize,
) -> anyhow::Result<LatencyRun> {
    let mut client = Client::connect(addr, &call, false).await?;
    let mut run = LatencyRun {
        samples: Vec::with_capacity(count),
        ..LatencyRun::default()
    };
    for index in 0..warmup + count {
        let started = Instant::now();
        let outcome = client.chat_completion().await;
        let latency = started.elapsed();
        match outcome {
            Ok(()) if index >= warmup => run.samples.push(latency),
            Ok(()) => {}
            Err(error) => {
                run.record_failure(&error);
                client.reconnect_if_closed().await?;
            }
        }
    }
    Ok(run)
}

/// Like [`sequential_latencies`], for streamed requests: the time to the first body bytes and
/// to the end of the stream of each.
pub async fn sequential_stream_latencies(
    addr: SocketAddr,
    call: Call,
    warmup: usize,
    count: usize,
) -> anyhow::Result<StreamRun> {
    let mut client = Client::connect(addr, &call, true).await?;
    let mut run = StreamRun {
        first_byte: Vec::with_capacity(count),
        complete: Vec::with_capacity(count),
        ..StreamRun::default()
    };
    for index in 0..warmup + count {
        match client.timed_stream().await {
            Ok((first, complete)) if index >= warmup => {
                run.first_byte.push(first);
                run.complete.push(complete);
            }
            Ok(_) => {}
            Err(error) => {
                run.errors += 1;
                run.first_error.get_or_insert_with(|| format!("{error:#}"));
                client.reconnect_if_closed().await?;
            }
        }
    }
    Ok(run)
}

/// Runs `connections` clients in parallel against `addr`, each sending requests back to back
/// until `duration` has passed. A client whose connection breaks reopens it; if it cannot, it
/// stops (with one more error counted).
pub async fn throughput(
    addr: SocketAddr,
    call: Call,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<ThroughputRun> {
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        clients.push(Client::connect(addr, &call, false).await?);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut running = JoinSet::new();
    for client in clients {
        running.spawn(drive_until(client, deadline));
    }
    let mut total = ThroughputRun::default();
    while let Some(client) = running.join_next().await {
        total.add(client.context("a load generator client panicked")?);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

async fn drive_until(mut client: Client, deadline: Instant) -> ThroughputRun {
    let mut tally = ThroughputRun::default();
    while Instant::now() < deadline {
        let Err(error) = client.chat_completion().await else {
            tally.completed += 1;
            continue;
        };
        tally.record_failure(&error);
        if let Err(error) = client.reconnect_if_closed().await {
            tally.record_failure(&error);
            break;
        }
    }
    tally
}

/// Sends `GET path` to `addr` on a fresh connection and returns the status (body drained).
pub async fn get_status(addr: SocketAddr, path: &str) -> anyhow::Result<StatusCode> {
    Ok(get(addr, path, None).await?.0)
}

/// Sends `GET path` to `addr` on a fresh connection, with `authorization` if given, and returns
/// the status and the body.
pub async fn get(
    addr: SocketAddr,
    path: &str,
    authorization: Option<&HeaderValue>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let (mut sender, authority) = handshake::<Empty<Bytes>>(addr).await?;
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(HOST, authority);
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value.clone());
    }
    let request = request
        .body(Empty::new())
        .context("building a GET request")?;
    let response = sender
        .send_request(request)
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .with_context(|| format!("reading GET {path}"))?;
    Ok((status, body.to_bytes()))
}

/// Sends `POST path` with the JSON `body` to `addr` on a fresh connection, with
/// `authorization`, and returns the status and the body.
pub async fn post_json(
    addr: SocketAddr,
    path: &str,
    authorization: &HeaderValue,
    body: &serde_json::Value,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let (mut sender, authority) = handshake::<Full<Bytes>>(addr).await?;
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(HOST, authority)
        .header(AUTHORIZATION, authorization.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(Full::new(Bytes::from(body.to_string())))
        .context("building a POST request")?;
    let response = sender
        .send_request(request)
        .await
        .with_context(|| format!("POST {path}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .with_context(|| format!("reading POST {path}"))?;
    Ok((status, body.to_bytes()))
}

/// One simulated client: one keep-alive connection, and the key its requests carry.
struct Client {
    addr: SocketAddr,
    authority: HeaderValue,
    authorization: Option<HeaderValue>,
    sender: SendRequest<Full<Bytes>>,
    /// What its requests carry; with unique prompts, a body is made per request.
    call: Call,
    stream: bool,
    /// The body of every request, when prompts are not unique.
    body: Bytes,
}

impl Client {
    async fn connect(addr: SocketAddr, call: &Call, stream: bool) -> anyhow::Result<Self> {
        let (sender, authority) = handshake(addr).await?;
        Ok(Self {
            addr,
            authority,
            authorization: call.authorization.clone(),
            sender,
            call: call.clone(),
            stream,
            body: call.body(stream),
        })
    }

    /// One chat completion request; `Ok` only for a 200 whose body was read in full.
    async fn chat_completion(&mut self) -> anyhow::Result<()> {
        let response = self.send().await?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the response body")?;
        if status != StatusCode::OK {
            let text = String::from_utf8_lossy(&body.to_bytes()).into_owned();
            anyhow::bail!("status {status}: {text}");
        }
        Ok(())
    }

    /// Sends this client's body as a chat completion request; the answer's head.
    async fn send(&mut self) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(CHAT_COMPLETIONS_PATH)
            .header(HOST, self.authority.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let body = if self.call.has_unique_prompts() {
            self.call.body(self.stream)
        } else {
            self.body.clone()
        };
        let request = request
            .body(Full::new(body))
            .context("building the chat completion request")?;
        self.sender
            .ready()
            .await
            .context("waiting for the connection")?;
        self.sender
            .send_request(request)
            .await
            .context("sending the request")
    }

    /// One streamed request: the time to its first body bytes and to its end; `Ok` only for a
    /// 200 whose body was read in full.
    async fn timed_stream(&mut self) -> anyhow::Result<(Duration, Duration)> {
        let started = Instant::now();
        let response = self.send().await?;
        let status = response.status();
        let mut body = response.into_body();
        let mut first = None;
        let mut text = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.context("reading the stream")?;
            if let Some(data) = frame.data_ref() {
                if !data.is_empty() {
                    first.get_or_insert_with(|| started.elapsed());
                }
                if status != StatusCode::OK {
                    text.extend_from_slice(data);
                }
            }
        }
        let complete = started.elapsed();
        if status != StatusCode::OK {
            anyhow::bail!("status {status}: {}", String::from_utf8_lossy(&text));
        }
        Ok((first.context("an empty stream")?, complete))
    }

    /// Opens a new connection if the server closed this one.
    async fn reconnect_if_closed(&mut self) -> anyhow::Result<()> {
        if self.sender.is_closed() {
            let (sender, _) = handshake(self.addr).await?;
            self.sender = sender;
        }
        Ok(())
    }
}

/// Connects to `addr` with `TCP_NODELAY`, starts the HTTP/1.1 connection task, and returns the
/// request sender and the `Host` header value.
pub async fn handshake<B>(addr: SocketAddr) -> anyhow::Result<(SendRequest<B>, HeaderValue)>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .with_context(|| format!("HTTP/1.1 handshake with {addr}"))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("bench client: connection to {addr} failed: {error}");
        }
    });
    let authority = HeaderValue::from_str(&addr.to_string()).context("building the Host header")?;
    Ok((sender, authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_prompts_differ_from_request_to_request_and_across_clones() {
        let plain = Call::new("bench-model", None);
        assert_eq!(plain.body(false), plain.body(false));
        let unique = Call::new("bench-model", None).unique_prompts();
        let clone = unique.clone();
        let bodies = [unique.body(false), clone.body(true), unique.body(false)];
        let prompts: Vec<String> = bodies
            .iter()
            .map(|body| {
                let json: serde_json::Value = serde_json::from_slice(body).expect("JSON");
                json["messages"][0]["content"]
                    .as_str()
                    .expect("a prompt")
                    .to_owned()
            })
            .collect();
        assert_eq!(prompts, ["Say ok. b0", "Say ok. b1", "Say ok. b2"]);
    }
}
