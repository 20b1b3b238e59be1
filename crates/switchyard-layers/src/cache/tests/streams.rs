//! Streamed answers through the layer: stored only once they end well, replayed chunk by chunk,
//! and nothing stored after an error or an early drop.

use futures_util::StreamExt;
use serde_json::json;

use super::*;
use crate::cache::{CacheStatus, MemoryStore};

fn streamed(prompt: &str) -> ChatRequest {
    ask(prompt, json!({"stream": true}))
}

fn expected(n: usize) -> Vec<Result<ChatChunk, UpstreamError>> {
    vec![Ok(chunk("answer ")), Ok(chunk(&n.to_string())), Ok(end())]
}

#[tokio::test]
async fn a_stream_is_stored_once_complete_and_replayed_chunk_by_chunk() {
    let upstream = Upstream::new();
    let layer = CacheLayer::new(MemoryStore::with_max_entries(10));
    let chat = upstream.behind(layer.clone());

    let first = call(&chat, streamed("q")).await;
    assert_eq!(first.status, CacheStatus::Miss);
    let Reply::Stream(mut stream) = first.response else {
        panic!("a stream was expected")
    };
    assert_eq!(stream.next().await, Some(Ok(chunk("answer "))));
    assert_eq!(stream.next().await, Some(Ok(chunk("1"))));
    // Not stored before the end: another caller misses meanwhile.
    let meanwhile = call(&chat, streamed("q")).await;
    assert_eq!(meanwhile.status, CacheStatus::Miss);
    drop(meanwhile);
    assert_eq!(stream.next().await, Some(Ok(end())));
    assert_eq!(stream.next().await, None);
    assert_eq!(layer.stats().stored, 1);

    let replayed = call(&chat, streamed("q")).await;
    assert!(replayed.is_hit());
    let Reply::Stream(mut replay) = replayed.response else {
        panic!("a stream was expected")
    };
    for item in expected(1) {
        assert_eq!(replay.next().await, Some(item));
    }
    assert_eq!(replay.next().await, None);
    assert_eq!(upstream.calls(), 2);
    // The complete request is a different entry.
    assert_eq!(
        call(&chat, ask("q", json!({}))).await.status,
        CacheStatus::Miss
    );
}

#[tokio::test]
async fn an_early_dropped_stream_stores_nothing() {
    let upstream = Upstream::new();
    let layer = CacheLayer::new(MemoryStore::with_max_entries(10));
    let chat = upstream.behind(layer.clone());
    let first = call(&chat, streamed("q")).await;
    let Reply::Stream(mut stream) = first.response else {
        panic!("a stream was expected")
    };
    assert!(stream.next().await.is_some());
    drop(stream);
    assert_eq!(layer.stats().streams_dropped, 1);

    let second = call(&chat, streamed("q")).await;
    assert_eq!(second.status, CacheStatus::Miss);
    assert_eq!(drain(second).await, expected(2));
    assert!(call(&chat, streamed("q")).await.is_hit());
    let stats = layer.stats();
    assert_eq!(
        (stats.stored, stats.streams_dropped, upstream.calls()),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn a_stream_that_fails_midway_stores_nothing() {
    let upstream = Upstream::streaming(Streams::FailMidway);
    let layer = CacheLayer::new(MemoryStore::with_max_entries(10));
    let chat = upstream.behind(layer.clone());
    let items = drain(call(&chat, streamed("q")).await).await;
    assert_eq!(items, vec![Ok(chunk("answer ")), Err(UpstreamError)]);
    assert_eq!(call(&chat, streamed("q")).await.status, CacheStatus::Miss);
    let stats = layer.stats();
    assert_eq!(
        (stats.stored, stats.streams_failed, stats.streams_dropped),
        (0, 1, 1)
    );
}

#[tokio::test]
async fn a_stream_over_the_size_cap_is_given_up_and_passed_on_whole() {
    let upstream = Upstream::new();
    let layer = CacheLayer::new(MemoryStore::with_max_entries(10)).max_entry_bytes(300);
    let chat = upstream.behind(layer.clone());
    assert_eq!(drain(call(&chat, streamed("q")).await).await, expected(1));
    assert_eq!(call(&chat, streamed("q")).await.status, CacheStatus::Miss);
    assert_eq!((layer.stats().stored, layer.stats().too_large), (0, 1));
}

#[tokio::test]
async fn no_store_streams_are_passed_on_unrecorded() {
    let upstream = Upstream::new();
    let layer = CacheLayer::new(MemoryStore::with_max_entries(10));
    let chat = upstream.behind(layer.clone());
    let request = ask("q", json!({"stream": true, "cache": {"no-store": true}}));
    assert_eq!(drain(call(&chat, request).await).await, expected(1));
    assert_eq!(call(&chat, streamed("q")).await.status, CacheStatus::Miss);
    assert_eq!(layer.stats().streams_dropped, 1);
}
