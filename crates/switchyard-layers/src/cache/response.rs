//! What the cache needs from a response ([`CacheableResponse`]: complete or streamed, and how to
//! rebuild one from an [`Entry`]), the ready-made [`Reply`], and what callers get back
//! ([`Cached`], with its [`CacheStatus`]).

use std::fmt;
use std::pin::Pin;

use futures_util::Stream;
use serde::{Deserialize, Serialize};

/// A boxed stream of chunks, the shape of a streamed answer (`ChunkStream` in the providers crate
/// is `BoxChunkStream<ChatChunk, ProviderError>`).
pub type BoxChunkStream<C, E> = Pin<Box<dyn Stream<Item = Result<C, E>> + Send>>;

/// A stored answer: a complete response, or every chunk of a stream that ended well.
///
/// Serialized with serde_json as `{"complete": ...}` or `{"chunks": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry<T, C> {
    /// A complete answer.
    Complete(T),
    /// The chunks of a streamed answer, in order.
    Chunks(Vec<C>),
}

/// A response the cache layer can store and rebuild.
///
/// Implemented by [`Reply`]; the gateway implements it for its own call outcome, which carries
/// more than the answer.
pub trait CacheableResponse: Sized {
    /// A complete answer (`ChatResponse`).
    type Complete: Serialize + for<'de> Deserialize<'de>;
    /// One chunk of a streamed answer (`ChatChunk`).
    type Chunk: Serialize + for<'de> Deserialize<'de> + Send + 'static;
    /// A failure in the middle of a stream (`ProviderError`).
    type Error: Send + 'static;

    /// The complete answer, borrowed to be stored; `None` when the answer is a stream.
    fn as_complete(&self) -> Option<&Self::Complete>;

    /// The same response with its stream passed through `wrap` (the layer records the chunks as
    /// they go by). Only called on streams.
    fn map_stream<F>(self, wrap: F) -> Self
    where
        F: FnOnce(
            BoxChunkStream<Self::Chunk, Self::Error>,
        ) -> BoxChunkStream<Self::Chunk, Self::Error>;

    /// A response answering from the cache: the entry itself, or a stream replaying its chunks.
    fn from_entry(entry: Entry<Self::Complete, Self::Chunk>) -> Self;
}

/// A complete answer or a stream of chunks: the response of any service whose answers may
/// stream, ready for the cache.
pub enum Reply<T, C, E> {
    /// A complete answer.
    Complete(T),
    /// A streamed answer.
    Stream(BoxChunkStream<C, E>),
}

impl<T: fmt::Debug, C, E> fmt::Debug for Reply<T, C, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Complete(answer) => f.debug_tuple("Complete").field(answer).finish(),
            Self::Stream(_) => f.debug_tuple("Stream").finish_non_exhaustive(),
        }
    }
}

impl<T, C, E> CacheableResponse for Reply<T, C, E>
where
    T: Serialize + for<'de> Deserialize<'de>,
    C: Serialize + for<'de> Deserialize<'de> + Send + 'static,
    E: Send + 'static,
{
    type Complete = T;
    type Chunk = C;
    type Error = E;

    fn as_complete(&self) -> Option<&T> {
        match self {
            Self::Complete(answer) => Some(answer),
            Self::Stream(_) => None,
        }
    }

    fn map_stream<F>(self, wrap: F) -> Self
    where
        F: FnOnce(BoxChunkStream<C, E>) -> BoxChunkStream<C, E>,
    {
        match self {
            Self::Stream(stream) => Self::Stream(wrap(stream)),
            complete => complete,
        }
    }

    fn from_entry(entry: Entry<T, C>) -> Self {
        match entry {
            Entry::Complete(answer) => Self::Complete(answer),
            Entry::Chunks(chunks) => Self::Stream(super::stream::replay(chunks)),
        }
    }
}

/// Whether the cache answered a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    /// Answered from the cache: the inner service was not called.
    Hit,
    /// Looked up and not found (or the store did not answer); the answer is stored when it can be.
    Miss,
    /// Not looked up: the request has no key, or its caller said `no-cache` or `no-store`.
    Bypass,
}

impl CacheStatus {
    /// `HIT`, `MISS` or `BYPASS`, as cache status headers spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Bypass => "BYPASS",
        }
    }
}

impl fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A response with the cache's part in it: on a [hit](Cached::is_hit) the upstream did no work,
/// so the gateway can say so in a header and charge nothing.
#[derive(Debug)]
pub struct Cached<R> {
    /// The response, fresh or rebuilt from the cache.
    pub response: R,
    /// Whether it came from the cache.
    pub status: CacheStatus,
}

impl<R> Cached<R> {
    /// Whether the response came from the cache.
    pub fn is_hit(&self) -> bool {
        self.status == CacheStatus::Hit
    }

    /// The response itself.
    pub fn into_inner(self) -> R {
        self.response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_serialize_with_a_tag() {
        let complete: Entry<u32, u32> = Entry::Complete(1);
        assert_eq!(
            serde_json::to_value(&complete).ok(),
            Some(json!({"complete": 1}))
        );
        let chunks: Entry<u32, u32> =
            serde_json::from_value(json!({"chunks": [1, 2]})).expect("valid entry");
        assert_eq!(chunks, Entry::Chunks(vec![1, 2]));
    }

    #[test]
    fn statuses_read_like_headers() {
        assert_eq!(CacheStatus::Hit.to_string(), "HIT");
        assert_eq!(CacheStatus::Bypass.as_str(), "BYPASS");
    }
}
