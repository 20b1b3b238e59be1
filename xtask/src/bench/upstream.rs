//! The fast fake upstream the benchmark and the soak test point the gateway at: a hyper HTTP/1.1
//! server with keep-alive that answers `POST /v1/chat/completions` with fixed, small answers:
//!
//! - a chat completion, normally;
//! - a few SSE chunks, a usage chunk and `[DONE]` when the request says `"stream":true`;
//! - a 500 with an OpenAI error body when the request names the model [`FAILING_MODEL`];
//! - and, as an OTLP/HTTP collector that keeps nothing, 200 with an empty protobuf answer to
//!   `POST /v1/traces` and `/v1/metrics`, counted ([`otlp_exports`]).
//!
//! It does as little work as a server can (read the body, look for two byte strings, send static
//! bytes), so that what the benchmark measures through the gateway is the gateway's own cost.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// OTLP/HTTP export requests received so far (traces and metrics).
static OTLP_EXPORTS: AtomicU64 = AtomicU64::new(0);

/// OTLP/HTTP export requests the upstream has received, over its whole life.
pub fn otlp_exports() -> u64 {
    OTLP_EXPORTS.load(Ordering::Relaxed)
}

/// The path the upstream serves, as the OpenAI API names it.
pub const CHAT_COMPLETIONS_PATH: &str = "/v1/chat/completions";

/// The upstream model name that makes the upstream fail with a 500.
pub const FAILING_MODEL: &str = "fail";

/// [`FAILING_MODEL`] as it appears in a request body.
const FAILING_MARKER: &[u8] = br#""model":"fail""#;

/// The answer to a plain request: a valid, minimal OpenAI chat completion.
const CHAT_COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#;

/// The answer to a streaming request: a role chunk, two content chunks, a finish chunk, a usage
/// chunk (the gateway always asks for usage) and `[DONE]`, as OpenAI sends them.
const CHAT_STREAM: &str = concat!(
    r#"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{"content":"o"},"finish_reason":null}]}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{"content":"k"},"finish_reason":null}]}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1,"model":"bench-model","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
    "\n\n",
    "data: [DONE]\n\n",
);

/// The answer for [`FAILING_MODEL`], with status 500.
const SERVER_ERROR: &str = r#"{"error":{"message":"the fake upstream fails this model on purpose","type":"server_error","param":null,"code":null}}"#;

/// What the upstream answers to a chat request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Completion,
    Stream,
    ServerError,
}

impl Answer {
    /// Chooses by the request body as the gateway serialises it (compact JSON).
    fn for_request(body: &[u8]) -> Self {
        if contains(body, FAILING_MARKER) {
            Self::ServerError
        } else if contains(body, br#""stream":true"#) {
            Self::Stream
        } else {
            Self::Completion
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Binds 127.0.0.1 on a free port and serves the fake upstream on the current tokio runtime
/// until that runtime shuts down. Returns the bound address.
pub async fn start() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the bench upstream on 127.0.0.1")?;
    let addr = listener
        .local_addr()
        .context("reading the upstream's address")?;
    tokio::spawn(accept_loop(listener));
    Ok(addr)
}

async fn accept_loop(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                tokio::spawn(serve_connection(stream));
            }
            Err(error) => {
                // Out of file descriptors and the like: say so, and do not spin.
                eprintln!("bench upstream: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve_connection(stream: TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        eprintln!("bench upstream: set_nodelay failed: {error}");
    }
    let served = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service_fn(answer))
        .await;
    if let Err(error) = served {
        eprintln!("bench upstream: connection failed: {error}");
    }
}

/// Reads the request body, then answers with the fixed answer it asks for (or 404 for anything
/// but a chat request).
async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_chat = request.method() == Method::POST && request.uri().path() == CHAT_COMPLETIONS_PATH;
    let is_otlp = request.method() == Method::POST
        && matches!(request.uri().path(), "/v1/traces" | "/v1/metrics");
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            eprintln!("bench upstream: reading a request body failed: {error}");
            return Ok(plain(StatusCode::BAD_REQUEST));
        }
    };
    if is_otlp {
        // An empty Export*ServiceResponse: everything accepted.
        OTLP_EXPORTS.fetch_add(1, Ordering::Relaxed);
        let mut response = plain(StatusCode::OK);
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        return Ok(response);
    }
    if !is_chat {
        return Ok(plain(StatusCode::NOT_FOUND));
    }
    let (status, content_type, text) = match Answer::for_request(&body) {
        Answer::Completion => (StatusCode::OK, "application/json", CHAT_COMPLETION),
        Answer::Stream => (StatusCode::OK, "text/event-stream", CHAT_STREAM),
        Answer::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            SERVER_ERROR,
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

fn plain(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_follows_the_model_and_the_stream_flag() {
        let ask = |body: &str| Answer::for_request(body.as_bytes());
        assert_eq!(
            ask(r#"{"model":"bench-model","messages":[]}"#),
            Answer::Completion
        );
        assert_eq!(
            ask(r#"{"model":"bench-model","messages":[],"stream":true}"#),
            Answer::Stream
        );
        assert_eq!(
            ask(r#"{"model":"fail","messages":[],"stream":true}"#),
            Answer::ServerError
        );
        assert_eq!(
            ask(r#"{"model":"failover","messages":[]}"#),
            Answer::Completion
        );
        assert!(CHAT_STREAM.ends_with("data: [DONE]\n\n"));
        let marker = format!(r#""model":"{FAILING_MODEL}""#);
        assert_eq!(FAILING_MARKER, marker.as_bytes());
    }
}
