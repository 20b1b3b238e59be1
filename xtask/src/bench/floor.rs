//! The hyper floor: the least a gateway built on the same HTTP stack as Switchyard must do for
//! a call, as a target of its own (`xtask bench-floor <upstream>`, a separate process so that
//! its CPU time is counted as the gateway's is).
//!
//! One thread and single-threaded Tokio runtime per core, each with its own hyper_util client
//! pool (as the gateway's serving threads), hyper's server on the client side. A call's body is
//! read whole, parsed and written again with serde_json, and posted to the upstream; a complete
//! answer is read whole and parsed (where a gateway finds the usage), then sent on as it came; a
//! streamed answer is passed through. No routing, keys, spans, metrics, logs or spend records:
//! the gap between this and the gateway is the gateway's own work, the gap between nginx and
//! this is the HTTP stack's.

use std::convert::Infallible;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The floor's name in the report.
pub const FLOOR_TARGET: &str = "hyper floor (serde_json both ways)";

type Body = BoxBody<Bytes, hyper::Error>;

/// Serves the floor, proxying to `upstream`, until the process is killed. Prints
/// `switchyard listening on http://<addr>` first, as the gateway does.
pub fn serve(args: &[String]) -> anyhow::Result<()> {
    let upstream: SocketAddr = args
        .first()
        .context("usage: cargo xtask bench-floor <upstream address>")?
        .parse()
        .context("the upstream address")?;
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the floor's listener")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut handles = Vec::new();
    for _ in 0..threads {
        let listener = listener.try_clone()?;
        handles.push(std::thread::spawn(move || serve_thread(listener, upstream)));
    }
    println!("switchyard listening on http://{addr}");
    std::io::stdout().flush()?;
    for handle in handles {
        match handle.join() {
            Ok(result) => result?,
            Err(_) => anyhow::bail!("a floor thread panicked"),
        }
    }
    Ok(())
}

fn serve_thread(listener: TcpListener, upstream: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let client: Client<HttpConnector, Body> =
            Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        let base = format!("http://{upstream}");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let client = client.clone();
            let base = base.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    forward(client.clone(), base.clone(), request)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

async fn forward(
    client: Client<HttpConnector, Body>,
    base: String,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    Ok(match try_forward(&client, &base, request).await {
        Ok(response) => response,
        Err(error) => {
            let mut response = Response::new(full(Bytes::from(error.to_string())));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
        }
    })
}

async fn try_forward(
    client: &Client<HttpConnector, Body>,
    base: &str,
    request: Request<Incoming>,
) -> anyhow::Result<Response<Body>> {
    let (mut parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let value: serde_json::Value = serde_json::from_slice(&body)?;
    let stream = value.get("stream") == Some(&serde_json::Value::Bool(true));
    let body = Bytes::from(serde_json::to_vec(&value)?);
    parts.uri = format!("{base}{}", parts.uri.path()).parse()?;
    parts.headers.remove(hyper::header::HOST);
    parts
        .headers
        .insert(hyper::header::CONTENT_LENGTH, body.len().into());
    let response = client
        .request(Request::from_parts(parts, full(body)))
        .await?;
    let (parts, body) = response.into_parts();
    if stream {
        return Ok(Response::from_parts(parts, body.boxed()));
    }
    let body = body.collect().await?.to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&body)?;
    std::hint::black_box(answer.get("usage"));
    Ok(Response::from_parts(parts, full(body)))
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}
