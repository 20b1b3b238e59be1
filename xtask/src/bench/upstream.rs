//! The fast fake upstream the benchmark points the gateway at: a hyper HTTP/1.1 server with
//! keep-alive that answers `POST /v1/chat/completions` with one fixed, small chat completion.
//!
//! It does as little work as a server can (drain the body, send static bytes), so that what the
//! benchmark measures through the gateway is the gateway's own cost.

use std::convert::Infallible;
use std::net::SocketAddr;
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

/// The path the upstream serves, as the OpenAI API names it.
pub const CHAT_COMPLETIONS_PATH: &str = "/v1/chat/completions";

/// The one answer the upstream gives: a valid, minimal OpenAI chat completion.
const CHAT_COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#;

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

/// Drains the request body, then answers with the fixed completion (or 404 for anything else).
async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_chat = request.method() == Method::POST && request.uri().path() == CHAT_COMPLETIONS_PATH;
    if let Err(error) = request.into_body().collect().await {
        eprintln!("bench upstream: reading a request body failed: {error}");
        return Ok(plain(StatusCode::BAD_REQUEST));
    }
    if !is_chat {
        return Ok(plain(StatusCode::NOT_FOUND));
    }
    let mut response = Response::new(Full::new(Bytes::from_static(CHAT_COMPLETION.as_bytes())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

fn plain(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
