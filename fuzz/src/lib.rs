//! Shared helpers of the fuzz targets in `fuzz_targets/`: cutting an input into the pieces an
//! upstream body arrives in, one tokio runtime per process, a loopback upstream that answers
//! with the fuzzer's bytes, and normalized stream outcomes to compare.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use switchyard_providers::{ChunkStream, Provider, ProviderError};
use switchyard_wire::{ChatChunk, ChatRequest};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// One current-thread runtime for the whole fuzzing process: tasks it spawns (the loopback
/// upstream, pooled client connections) only run inside `block_on`, so runs stay sequential.
pub static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
});

/// Splits a stream target's input: the first byte says how the rest is cut into pieces (the
/// reads an upstream body arrives in), the rest is the body. Mode 0 delivers the body whole;
/// other modes cut it into pseudo-random pieces of at most 1, 2, 3, 5, 8, 16, 64 or 512 bytes
/// (by the mode's low three bits), seeded by the mode, so the fuzzer explores cuts by mutating
/// one byte.
pub fn split_input(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((mode, body)) => (*mode, body),
        None => (0, &[]),
    }
}

/// `body` cut into pieces as [`split_input`] describes; never an empty piece.
pub fn pieces(mode: u8, body: &[u8]) -> Vec<Bytes> {
    if body.is_empty() {
        return Vec::new();
    }
    if mode == 0 {
        return vec![Bytes::copy_from_slice(body)];
    }
    const MAX: [usize; 8] = [1, 2, 3, 5, 8, 16, 64, 512];
    let max = MAX[usize::from(mode & 7)];
    let mut state = u32::from(mode).wrapping_mul(0x9E37_79B9) | 1;
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        // xorshift32
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = (1 + state as usize % max).min(rest.len());
        let (piece, tail) = rest.split_at(len);
        out.push(Bytes::copy_from_slice(piece));
        rest = tail;
    }
    out
}

/// What a chunk stream produced, comparable between runs: chunks as JSON with `id` and `created`
/// blanked (some adapters make them up: random ids, the clock), errors as class and message.
pub type Outcome = Vec<Result<Value, String>>;

/// Drains `stream`, checking on the way that every chunk survives a JSON round trip.
pub async fn drain(mut stream: ChunkStream) -> Outcome {
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        out.push(
            item.map(|chunk| normalized(&chunk))
                .map_err(|e| error_text(&e)),
        );
    }
    out
}

/// An error as the outcome records it.
pub fn error_text(err: &ProviderError) -> String {
    format!("{}: {}", err.class.as_str(), err.message)
}

fn normalized(chunk: &ChatChunk) -> Value {
    assert_round_trip(chunk, "chat chunk");
    let mut value = serde_json::to_value(chunk).expect("a chunk serializes");
    value["id"] = Value::Null;
    value["created"] = Value::Null;
    value
}

/// Asserts that `again`, parsed back from `first`'s JSON, equals `first`: the round-trip
/// property.
pub fn assert_json_eq<T: PartialEq + std::fmt::Debug>(first: &T, again: &T, what: &str) {
    assert_eq!(
        first, again,
        "{what}: the re-serialized value parses to another value"
    );
}

/// Serializes `value`, parsed from `input`, and parses it back: the round-trip property of a
/// parsed request. Skipped unless every object of `input` has distinct keys: serde keeps one of
/// a repeated key's values, or, for a type with a fallback variant (`ImageSource::Other`, ...),
/// falls back to it, so the first parse may legitimately differ from the second.
pub fn assert_round_trip_of<T>(input: &[u8], value: &T, what: &str)
where
    T: PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    if keys_are_unique(input) {
        assert_round_trip(value, what);
    }
}

/// Serializes `value` and parses it back, asserting that nothing changed.
pub fn assert_round_trip<T>(value: &T, what: &str)
where
    T: PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    let text = serde_json::to_vec(value).expect("a parsed value serializes");
    let again: T = match serde_json::from_slice(&text) {
        Ok(again) => again,
        Err(err) => panic!(
            "{what}: the re-serialized value does not parse: {err}\n{}",
            String::from_utf8_lossy(&text)
        ),
    };
    assert_json_eq(value, &again, what);
}

/// Whether `input` is JSON (UTF-8 throughout, unlike what serde_json accepts in the values it
/// skips) in which no object has the same key twice.
pub fn keys_are_unique(input: &[u8]) -> bool {
    matches!(
        serde_json::from_slice::<DuplicateKeys>(input),
        Ok(DuplicateKeys(false))
    )
}

/// Walks any JSON value, noting whether an object repeats a key.
struct DuplicateKeys(bool);

impl<'de> serde::Deserialize<'de> for DuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DuplicateKeysVisitor)
    }
}

struct DuplicateKeysVisitor;

impl<'de> serde::de::Visitor<'de> for DuplicateKeysVisitor {
    type Value = DuplicateKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(DuplicateKeys(false))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(DuplicateKeys(false))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(DuplicateKeys(false))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(DuplicateKeys(false))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(DuplicateKeys(false))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(DuplicateKeys(false))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = false;
        while let Some(DuplicateKeys(inner)) = seq.next_element()? {
            found |= inner;
        }
        Ok(DuplicateKeys(found))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = std::collections::HashSet::new();
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            found |= !keys.insert(key);
            let DuplicateKeys(inner) = map.next_value()?;
            found |= inner;
        }
        Ok(DuplicateKeys(found))
    }
}

/// Asserts that cutting the body differently changed nothing: the split-invariance property of
/// every stream target (an SSE or event-stream parser must not care where reads end).
pub fn assert_same_outcome(whole: &Outcome, cut: &Outcome, mode: u8) {
    assert_eq!(
        whole, cut,
        "the body cut by mode {mode} gave another outcome than the whole body"
    );
}

/// The check of every provider stream target: the fuzzer's bytes (after the mode byte, see
/// [`split_input`]) are `upstream`'s answer to a streamed "Hello" for `model` sent through
/// `provider.chat_stream`, whole and cut into reads by the mode; no panic, every chunk survives
/// a JSON round trip ([`drain`]), and both outcomes, after `normalize` (which masks what an
/// adapter makes up per call), are the same.
pub fn check_provider_stream(
    data: &[u8],
    upstream: &Upstream,
    provider: &dyn Provider,
    model: &str,
    normalize: fn(Outcome) -> Outcome,
) {
    let run = |pieces: Vec<Bytes>| {
        upstream.answer(pieces);
        let request: ChatRequest = serde_json::from_value(serde_json::json!({
            "model": model,
            "messages": [{"role": "user", "content": "Hello"}],
            "stream": true,
        }))
        .unwrap_or_else(|_| unreachable!());
        normalize(RUNTIME.block_on(async {
            match provider.chat_stream(request).await {
                Ok(stream) => drain(stream).await,
                Err(err) => vec![Err(error_text(&err))],
            }
        }))
    };
    let (mode, body) = split_input(data);
    let whole = run(pieces(0, body));
    if mode != 0 {
        assert_same_outcome(&whole, &run(pieces(mode, body)), mode);
    }
}

/// The body of a response piece by piece, as an upstream streams it (chunked encoding, one
/// chunk a piece).
type PieceBody =
    StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

/// A loopback HTTP/1.1 upstream: answers every request with 200, `content_type`, and the pieces
/// set last with [`Upstream::answer`], each sent as its own chunk.
pub struct Upstream {
    addr: SocketAddr,
    next: Arc<Mutex<Vec<Bytes>>>,
}

impl Upstream {
    /// Starts listening on 127.0.0.1 on [`RUNTIME`].
    pub fn start(content_type: &'static str) -> Self {
        let listener = RUNTIME
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the loopback upstream");
        let addr = listener.local_addr().expect("local address");
        let next = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&next);
        RUNTIME.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                // As the client does: without it, Nagle's algorithm and delayed ACKs stall
                // every answer for tens of milliseconds.
                let _ = tcp.set_nodelay(true);
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<Incoming>| {
                        let shared = Arc::clone(&shared);
                        async move {
                            // Read the request whole so that the connection can be reused.
                            let _ = request.into_body().collect().await;
                            let pieces = std::mem::take(&mut *shared.lock().expect("lock"));
                            let frames: Vec<Result<Frame<Bytes>, Infallible>> =
                                pieces.into_iter().map(|b| Ok(Frame::data(b))).collect();
                            let body: PieceBody =
                                StreamBody::new(futures_util::stream::iter(frames));
                            let response = Response::builder()
                                .header(header::CONTENT_TYPE, content_type)
                                .body(body)
                                .expect("response");
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Self { addr, next }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The pieces of the next answer's body.
    pub fn answer(&self, pieces: Vec<Bytes>) {
        *self.next.lock().expect("lock") = pieces;
    }
}
