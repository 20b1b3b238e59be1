//! The OpenAI-compatible adapter's stream parser, `openai::chunk_stream`: arbitrary upstream
//! bytes, cut into arbitrary reads (first input byte, see `switchyard_fuzz::pieces`), through
//! `sse_stream::SseByteStream` into chat chunks. Properties: no panic; every chunk survives a
//! JSON round trip; the outcome does not depend on where the reads were cut.
#![no_main]

use std::convert::Infallible;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sse_stream::SseByteStream;
use switchyard_fuzz::{Outcome, RUNTIME, assert_same_outcome, drain, pieces, split_input};
use switchyard_providers::openai::chunk_stream;

fn run(pieces: Vec<Bytes>) -> Outcome {
    let body = futures_util::stream::iter(pieces.into_iter().map(Ok::<_, Infallible>));
    RUNTIME.block_on(drain(chunk_stream(SseByteStream::new(body))))
}

fuzz_target!(|data: &[u8]| {
    let (mode, body) = split_input(data);
    let whole = run(pieces(0, body));
    if mode != 0 {
        assert_same_outcome(&whole, &run(pieces(mode, body)), mode);
    }
});
