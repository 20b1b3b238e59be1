//! The pooled HTTP client every adapter sends through, and helpers to read upstream answers
//! safely: hyper-util's connection pool over rustls (HTTP/1.1, and HTTP/2 where the upstream
//! offers it by ALPN), with URIs parsed once per deployment rather than once per call.
//!
//! It does no redirects and no retries of its own: the router is the only retry loop.
//!
//! A server that runs one runtime per core gives each serving thread a connection pool of its
//! own ([`use_pool`]): a connection's task then lives on the runtime of the calls that use it,
//! and an upstream answer wakes the thread that waits for it, not another core.

use std::cell::Cell;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyDataStream, BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Serialize;

use crate::{ErrorClass, ProviderError};

/// Largest complete (non-streamed) answer read from an upstream.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Largest single server-sent event read from an upstream stream: no event may be larger than
/// a complete answer may be (the event parser holds an event whole until its blank line).
pub const MAX_EVENT_BYTES: usize = MAX_RESPONSE_BYTES;
/// Largest error body read from an upstream; the rest is ignored.
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;

/// Settings of the shared upstream client.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Time allowed to open a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Idle connections kept per upstream host.
    pub max_idle_per_host: usize,
    /// How long an idle connection is kept.
    pub idle_timeout: Duration,
    /// Called on the headers of every outgoing request, if set.
    pub on_request: Option<RequestHook>,
}

/// A function called on the headers of every outgoing request, after the adapter's own: how the
/// gateway adds its trace context (`traceparent`) without this crate knowing about tracing. It
/// runs inside the caller's future, so it sees the caller's current span.
///
/// ```
/// use switchyard_providers::http::{ClientSettings, RequestHook};
///
/// let settings = ClientSettings {
///     on_request: Some(RequestHook::new(|headers| {
///         headers.insert("x-origin", http::HeaderValue::from_static("gateway"));
///     })),
///     ..ClientSettings::default()
/// };
/// # let _ = settings;
/// ```
#[derive(Clone)]
pub struct RequestHook(Arc<dyn Fn(&mut HeaderMap) + Send + Sync>);

impl RequestHook {
    /// Wraps `hook`.
    pub fn new(hook: impl Fn(&mut HeaderMap) + Send + Sync + 'static) -> Self {
        Self(Arc::new(hook))
    }
}

impl fmt::Debug for RequestHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestHook")
    }
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            max_idle_per_host: 256,
            idle_timeout: Duration::from_secs(90),
            on_request: None,
        }
    }
}

/// Connection pools a client keeps at most: threads past this many share pools.
const POOL_SLOTS: usize = 64;

thread_local! {
    /// The pool this thread's calls use; see [`use_pool`].
    static POOL: Cell<usize> = const { Cell::new(0) };
}

/// Has the calling thread's upstream calls use connection pool `slot` of every [`HttpClient`]
/// (modulo the 64 a client keeps). A server with one single-threaded runtime per core calls it
/// once on each serving thread, with the thread's number; threads that never call it share pool
/// 0. Connections are opened on the runtime of the call that needs them and serve only calls on
/// the same thread, so no call waits on another core's runtime.
///
/// ```
/// switchyard_providers::http::use_pool(3);
/// ```
pub fn use_pool(slot: usize) {
    POOL.with(|pool| pool.set(slot % POOL_SLOTS));
}

type Pool = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The shared, pooled upstream client. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    /// One pool per serving thread ([`use_pool`]), made on its first call.
    pools: Arc<[OnceLock<Pool>; POOL_SLOTS]>,
    connector: HttpsConnector<HttpConnector>,
    max_idle_per_host: usize,
    idle_timeout: Duration,
    on_request: Option<RequestHook>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field(
                "pools",
                &self.pools.iter().filter(|p| p.get().is_some()).count(),
            )
            .field("max_idle_per_host", &self.max_idle_per_host)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with its own connection pool, verifying certificates with the platform's roots.
    pub fn new(settings: &ClientSettings) -> Result<Self, ProviderError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .try_with_platform_verifier()
            .map_err(|e| {
                ProviderError::new(ErrorClass::Unreachable, format!("TLS set-up failed: {e}"))
            })?
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        Ok(Self {
            pools: Arc::new(std::array::from_fn(|_| OnceLock::new())),
            connector: https,
            max_idle_per_host: settings.max_idle_per_host,
            idle_timeout: settings.idle_timeout,
            on_request: settings.on_request.clone(),
        })
    }

    /// The calling thread's pool ([`use_pool`]).
    fn pool(&self) -> &Pool {
        let slot = POOL.with(Cell::get);
        self.pools[slot].get_or_init(|| {
            Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(self.max_idle_per_host)
                .pool_idle_timeout(self.idle_timeout)
                .pool_timer(TokioTimer::new())
                .build(self.connector.clone())
        })
    }

    /// POSTs `body` as JSON to `uri` with `headers`; answers whatever status the upstream gave.
    pub async fn post_json<T: Serialize + ?Sized>(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: &T,
    ) -> Result<UpstreamResponse, ProviderError> {
        let body = serde_json::to_vec(body).map_err(|e| {
            ProviderError::new(
                ErrorClass::BadRequest,
                format!("request not serializable: {e}"),
            )
        })?;
        self.post_json_bytes(uri, headers, Bytes::from(body)).await
    }

    /// POSTs `body` as JSON as [`HttpClient::post_json`] does; an answer with an error status
    /// becomes its classified error ([`error_from_response`]).
    pub async fn post_json_ok<T: Serialize + ?Sized>(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: &T,
    ) -> Result<UpstreamResponse, ProviderError> {
        let response = self.post_json(uri, headers, body).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_from_response(response).await)
        }
    }

    /// POSTs an already serialized JSON `body`, for callers that sign the exact bytes sent;
    /// otherwise as [`HttpClient::post_json`].
    pub async fn post_json_bytes(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, ProviderError> {
        let json = HeaderValue::from_static("application/json");
        self.post_bytes(uri, headers, json, body).await
    }

    /// POSTs `body` of media type `content_type` (a `multipart/form-data` upload, ...) to `uri`
    /// with `headers`; answers whatever status the upstream gave.
    pub async fn post_bytes(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        content_type: HeaderValue,
        body: Bytes,
    ) -> Result<UpstreamResponse, ProviderError> {
        self.send(Method::POST, uri, headers, Some((content_type, body)))
            .await
    }

    /// GETs `uri` with `headers` (a metadata server's token, ...); answers whatever status the
    /// upstream gave.
    pub async fn get(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<UpstreamResponse, ProviderError> {
        self.send(Method::GET, uri, headers, None).await
    }

    /// DELETEs `uri` with `headers`; answers whatever status the upstream gave.
    pub async fn delete(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<UpstreamResponse, ProviderError> {
        self.send(Method::DELETE, uri, headers, None).await
    }

    async fn send(
        &self,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Option<(HeaderValue, Bytes)>,
    ) -> Result<UpstreamResponse, ProviderError> {
        let (content_type, body) = match body {
            Some((content_type, body)) => (Some(content_type), body),
            None => (None, Bytes::new()),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(uri.clone())
            .body(Full::new(body))
            .map_err(|e| ProviderError::new(ErrorClass::BadRequest, format!("bad request: {e}")))?;
        let request_headers = request.headers_mut();
        if let Some(content_type) = content_type {
            request_headers.insert(header::CONTENT_TYPE, content_type);
        }
        request_headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("switchyard/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in headers {
            request_headers.insert(name, value.clone());
        }
        if let Some(hook) = &self.on_request {
            (hook.0)(request_headers);
        }
        let response = self
            .pool()
            .request(request)
            .await
            .map_err(transport_error)?;
        let (parts, body) = response.into_parts();
        Ok(UpstreamResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// Adds a deployment's own headers (LiteLLM's `extra_headers`, `organization`, ...) to the
/// headers its calls carry; credentials among them (`authorization`, `api-key`, `x-api-key`)
/// are marked sensitive, so that no log shows them.
pub fn add_extra_headers(
    headers: &mut http::HeaderMap,
    extra: &[(String, String)],
) -> Result<(), ProviderError> {
    for (name, value) in extra {
        let invalid = || {
            ProviderError::new(
                ErrorClass::BadRequest,
                format!("the deployment's header `{name}` is not a valid HTTP header"),
            )
        };
        let name = http::HeaderName::try_from(name.as_str()).map_err(|_| invalid())?;
        let mut value = http::HeaderValue::try_from(value.as_str()).map_err(|_| invalid())?;
        if matches!(name.as_str(), "authorization" | "api-key" | "x-api-key") {
            value.set_sensitive(true);
        }
        headers.insert(name, value);
    }
    Ok(())
}

/// Parses an upstream URL once, at configuration time.
pub fn parse_uri(url: &str) -> Result<Uri, ProviderError> {
    let uri: Uri = url.parse().map_err(|e| {
        ProviderError::new(ErrorClass::BadRequest, format!("`{url}` is not a URL: {e}"))
    })?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err(ProviderError::new(
            ErrorClass::BadRequest,
            format!("`{url}` is not an http:// or https:// URL"),
        )),
    }
}

/// An upstream's answer: status and headers read, body still on the wire.
#[derive(Debug)]
pub struct UpstreamResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Incoming,
}

/// The body of an upstream answer as a stream of byte chunks, as they arrive.
pub type BodyStream = BodyDataStream<Incoming>;

impl UpstreamResponse {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Reads the whole body, up to `limit` bytes.
    pub async fn bytes(self, limit: usize) -> Result<Bytes, ProviderError> {
        match Limited::new(self.body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(err) => Err(match err.downcast::<hyper::Error>() {
                Ok(err) => body_error(&err),
                Err(_) => ProviderError::new(
                    ErrorClass::InvalidResponse,
                    format!("upstream answer is larger than {limit} bytes"),
                ),
            }),
        }
    }

    /// Reads the whole body (at most [`MAX_RESPONSE_BYTES`]) as JSON of type `R`; a body that is
    /// not one is an invalid response.
    pub async fn json<R: serde::de::DeserializeOwned>(self) -> Result<R, ProviderError> {
        let bytes = self.bytes(MAX_RESPONSE_BYTES).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::new(
                ErrorClass::InvalidResponse,
                format!("upstream answered with a body that is not a valid response: {e}"),
            )
        })
    }

    /// Reads at most `limit` bytes of the body, ignoring the rest and any read error (for error
    /// bodies, where what matters is the status).
    pub async fn bytes_capped(mut self, limit: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < limit {
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        let room = limit - out.len();
                        out.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                Some(Err(_)) | None => break,
            }
        }
        out
    }

    /// The body as a stream of chunks, as they arrive.
    pub fn into_stream(self) -> BodyStream {
        BodyDataStream::new(self.body)
    }

    /// The body as a stream of chunks for a server-sent-events parser: it fails once one event
    /// grows past [`MAX_EVENT_BYTES`], where an upstream that never ends an event would
    /// otherwise have the parser buffer without bound.
    pub fn into_sse_stream(self) -> SseBytes {
        SseBytes::new(self.into_stream(), MAX_EVENT_BYTES)
    }
}

/// The body of a server-sent-events answer, chunk by chunk, with the size of the event in
/// progress bounded (see [`UpstreamResponse::into_sse_stream`]). Read failures come out
/// classified.
#[derive(Debug)]
pub struct SseBytes {
    inner: BodyStream,
    limit: usize,
    /// Bytes since the last blank line (the end of an event).
    in_event: usize,
    /// Bytes in the current line, terminators excluded.
    in_line: usize,
    /// The last byte was `\r`, so a `\n` next belongs to the same line end.
    after_cr: bool,
    failed: bool,
}

impl SseBytes {
    fn new(inner: BodyStream, limit: usize) -> Self {
        Self {
            inner,
            limit,
            in_event: 0,
            in_line: 0,
            after_cr: false,
            failed: false,
        }
    }

    /// Follows line and event ends (`\n`, `\r\n` or `\r`; a blank line ends an event) through
    /// `data`; whether the event in progress is still within the limit.
    fn within_limit(&mut self, data: &[u8]) -> bool {
        for &byte in data {
            self.in_event += 1;
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    if self.in_line == 0 {
                        self.in_event = 0;
                    }
                    self.in_line = 0;
                }
                _ => {
                    self.after_cr = false;
                    self.in_line += 1;
                }
            }
        }
        self.in_event <= self.limit
    }
}

impl Stream for SseBytes {
    type Item = Result<Bytes, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let item = match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
            None => None,
            Some(Err(err)) => Some(Err(body_error(&err))),
            Some(Ok(data)) if self.within_limit(&data) => Some(Ok(data)),
            Some(Ok(_)) => Some(Err(ProviderError::new(
                ErrorClass::InvalidResponse,
                format!("upstream sent an event larger than {} bytes", self.limit),
            ))),
        };
        self.failed = matches!(item, Some(Err(_)));
        Poll::Ready(item)
    }
}

/// A transport failure (connect, TLS, reset, ...) as a classified error. hyper's messages hold
/// no URL, so no key in a query string can leak through them.
pub fn transport_error(err: hyper_util::client::legacy::Error) -> ProviderError {
    let class = ErrorClass::Unreachable;
    let what = if err.is_connect() {
        "could not connect to upstream"
    } else {
        "upstream request failed"
    };
    ProviderError::new(class, format!("{what}: {}", source_chain(&err)))
}

/// A failure while reading an upstream body.
pub fn body_error(err: &hyper::Error) -> ProviderError {
    let class = if err.is_timeout() {
        ErrorClass::Timeout
    } else {
        ErrorClass::InvalidResponse
    };
    ProviderError::new(
        class,
        format!("upstream body broke off: {}", source_chain(err)),
    )
}

fn source_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        out.push_str(": ");
        out.push_str(&inner.to_string());
        source = inner.source();
    }
    out
}

/// Reads an upstream error answer (status >= 400) into a classified error, taking the message
/// and code from an OpenAI-shaped error body when there is one.
pub async fn error_from_response(response: UpstreamResponse) -> ProviderError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = read_capped(response, MAX_ERROR_BODY).await;
    let (code, message) = parse_error_body(&body);
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        if text.is_empty() {
            format!("upstream answered HTTP {status}")
        } else {
            format!("upstream answered HTTP {status}: {}", truncate(text, 300))
        }
    });
    ProviderError::from_status(status, code.as_deref(), message, retry_after)
}

/// Reads at most `cap` bytes of an (error) body, ignoring the rest.
pub(crate) async fn read_capped(response: UpstreamResponse, cap: usize) -> Vec<u8> {
    response.bytes_capped(cap).await
}

/// Extracts `(code, message)` from `{"error": {"message", "code"|"type"}}`, `{"message"}` or
/// `{"Message"}`.
fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let error = value.get("error").unwrap_or(&value);
    if let Some(text) = error.as_str() {
        return (None, Some(text.to_owned()));
    }
    // AWS's JSON errors (SageMaker's) spell it `Message`.
    let message = ["message", "Message"]
        .iter()
        .find_map(|k| error.get(*k).and_then(|m| m.as_str()))
        .map(str::to_owned);
    let code = ["code", "type"]
        .iter()
        .find_map(|k| error.get(*k).and_then(|c| c.as_str()))
        .map(str::to_owned);
    (code, message)
}

pub(crate) fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// The wait an upstream asks for: `retry-after-ms`, or `retry-after` in seconds.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let read = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    if let Some(ms) = read("retry-after-ms").filter(|v| v.is_finite() && *v >= 0.0) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    read("retry-after")
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    use crate::test_support::serve;

    #[tokio::test]
    async fn posts_json_with_headers_and_reads_the_answer() {
        let app = axum::Router::new().route(
            "/echo",
            axum::routing::post(|headers: HeaderMap, body: Bytes| async move {
                let key = headers
                    .get("x-key")
                    .map(|v| v.to_str().unwrap_or_default().to_owned());
                let kind = headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or_default().to_owned());
                format!("{key:?} {kind:?} {}", String::from_utf8_lossy(&body))
            }),
        );
        let base = serve(app).await;
        let client = HttpClient::new(&ClientSettings::default()).expect("client");
        let mut headers = HeaderMap::new();
        headers.insert("x-key", HeaderValue::from_static("k1"));
        let uri = parse_uri(&format!("{base}/echo")).expect("uri");
        let response = client
            .post_json(&uri, &headers, &serde_json::json!({"a": 1}))
            .await
            .expect("answer");
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.bytes(1024).await.expect("body");
        assert_eq!(
            body,
            Bytes::from_static(br#"Some("k1") Some("application/json") {"a":1}"#)
        );
    }

    #[tokio::test]
    async fn the_request_hook_sees_every_outgoing_request() {
        let app = axum::Router::new().route(
            "/echo",
            axum::routing::post(|headers: HeaderMap| async move {
                headers
                    .get("traceparent")
                    .map(|v| v.to_str().unwrap_or_default().to_owned())
                    .unwrap_or_default()
            }),
        );
        let base = serve(app).await;
        let settings = ClientSettings {
            on_request: Some(RequestHook::new(|headers| {
                headers.insert("traceparent", HeaderValue::from_static("00-abc-def-01"));
            })),
            ..ClientSettings::default()
        };
        let client = HttpClient::new(&settings).expect("client");
        let uri = parse_uri(&format!("{base}/echo")).expect("uri");
        for _ in 0..2 {
            let body = client
                .post_json(&uri, &HeaderMap::new(), &())
                .await
                .expect("answer")
                .bytes(1024)
                .await
                .expect("body");
            assert_eq!(body, Bytes::from_static(b"00-abc-def-01"));
        }
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_and_streams_arrive_in_pieces() {
        let app =
            axum::Router::new().route("/big", axum::routing::post(|| async { "x".repeat(10_000) }));
        let base = serve(app).await;
        let client = HttpClient::new(&ClientSettings::default()).expect("client");
        let uri = parse_uri(&format!("{base}/big")).expect("uri");
        let too_big = client
            .post_json(&uri, &HeaderMap::new(), &())
            .await
            .expect("answer")
            .bytes(100)
            .await
            .expect_err("over the limit");
        assert_eq!(too_big.class, ErrorClass::InvalidResponse);
        let capped = client
            .post_json(&uri, &HeaderMap::new(), &())
            .await
            .expect("answer")
            .bytes_capped(100)
            .await;
        assert_eq!(capped.len(), 100);
        let mut stream = client
            .post_json(&uri, &HeaderMap::new(), &())
            .await
            .expect("answer")
            .into_stream();
        let mut total = 0;
        while let Some(chunk) = stream.next().await {
            total += chunk.expect("chunk").len();
        }
        assert_eq!(total, 10_000);
    }

    #[tokio::test]
    async fn an_event_stream_fails_at_an_event_over_the_limit_but_not_at_many_small_ones() {
        let app = axum::Router::new()
            .route(
                "/small",
                axum::routing::post(|| async { "data: 1234\r\n\r\ndata: 5678\n\n".repeat(100) }),
            )
            .route(
                "/endless",
                axum::routing::post(|| async { format!("data: \"{}", "x".repeat(10_000)) }),
            );
        let base = serve(app).await;
        let client = HttpClient::new(&ClientSettings::default()).expect("client");
        let read = |path: &'static str| {
            let client = client.clone();
            let uri = parse_uri(&format!("{base}{path}")).expect("uri");
            async move {
                let response = client
                    .post_json(&uri, &HeaderMap::new(), &())
                    .await
                    .expect("answer");
                SseBytes::new(response.into_stream(), 100)
                    .collect::<Vec<_>>()
                    .await
            }
        };
        let small = read("/small").await;
        assert_eq!(
            small
                .iter()
                .map(|c| c.as_ref().expect("within the limit").len())
                .sum::<usize>(),
            2_600
        );
        let endless = read("/endless").await;
        let err = endless
            .last()
            .expect("pieces")
            .as_ref()
            .expect_err("an event over the limit");
        assert_eq!(err.class, ErrorClass::InvalidResponse);
        assert!(
            err.message.contains("larger than 100 bytes"),
            "{}",
            err.message
        );
    }

    #[tokio::test]
    async fn each_pool_keeps_its_own_connections() {
        use axum::extract::ConnectInfo;
        use std::net::SocketAddr;

        // Answers with the client's port: one port per connection.
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                peer.port().to_string()
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, app).await;
        });
        let client = HttpClient::new(&ClientSettings::default()).expect("client");
        let uri: Uri = format!("http://{addr}/").parse().expect("uri");
        let port = || async {
            let answer = client
                .post_json(&uri, &HeaderMap::new(), &serde_json::json!({}))
                .await
                .expect("answered");
            String::from_utf8(answer.bytes(1024).await.expect("body").to_vec()).expect("text")
        };
        let first = port().await;
        assert_eq!(port().await, first, "a pool reuses its idle connection");
        use_pool(1);
        let other = port().await;
        assert_ne!(other, first, "another pool opens its own connection");
        assert_eq!(port().await, other);
        use_pool(0);
        assert_eq!(
            port().await,
            first,
            "the first pool still has its connection"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let client = HttpClient::new(&ClientSettings::default()).expect("client");
        let uri = parse_uri(&format!("http://127.0.0.1:{port}/x")).expect("uri");
        let err = client
            .post_json(&uri, &HeaderMap::new(), &())
            .await
            .expect_err("refused");
        assert_eq!(err.class, ErrorClass::Unreachable);
        assert!(err.message.contains("connect"), "{}", err.message);
    }

    #[test]
    fn only_http_urls_parse() {
        assert!(parse_uri("https://api.openai.com/v1/chat/completions").is_ok());
        assert!(parse_uri("ftp://host/x").is_err());
        assert!(parse_uri("not a url").is_err());
    }

    #[test]
    fn error_bodies_of_several_shapes_parse() {
        let (code, message) = parse_error_body(
            br#"{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(code.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(message.as_deref(), Some("Rate limit"));
        let (_, message) = parse_error_body(br#"{"error":"model not loaded"}"#);
        assert_eq!(message.as_deref(), Some("model not loaded"));
        assert_eq!(parse_error_body(b"<html>bad gateway</html>"), (None, None));
    }

    #[test]
    fn retry_after_prefers_milliseconds() {
        let mut headers = http::HeaderMap::new();
        headers.insert("retry-after", http::HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", http::HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.insert("retry-after-ms", http::HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
    }
}
