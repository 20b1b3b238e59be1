//! The Anthropic adapter's stream parser, `anthropic::stream::chunk_stream`: arbitrary upstream
//! bytes, cut into arbitrary reads (first input byte, see `switchyard_fuzz::pieces`), through
//! `sse_stream::SseByteStream` and the Messages stream event translator into chat chunks.
//! Properties: no panic; every chunk survives a JSON round trip; the outcome does not depend on
//! where the reads were cut. The mode byte's low bit also says whether the request forced the
//! JSON tool (a `json_object` answer, whose tool input streams as text).
#![no_main]

use std::convert::Infallible;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sse_stream::SseByteStream;
use switchyard_fuzz::{Outcome, RUNTIME, assert_same_outcome, drain, pieces, split_input};
use switchyard_providers::anthropic::stream::chunk_stream;

fn run(pieces: Vec<Bytes>, json_tool: bool) -> Outcome {
    let body = futures_util::stream::iter(pieces.into_iter().map(Ok::<_, Infallible>));
    RUNTIME.block_on(drain(chunk_stream(SseByteStream::new(body), json_tool)))
}

fuzz_target!(|data: &[u8]| {
    let (mode, body) = split_input(data);
    let json_tool = mode & 1 == 1;
    let whole = run(pieces(0, body), json_tool);
    if mode != 0 {
        assert_same_outcome(&whole, &run(pieces(mode, body), json_tool), mode);
    }
});
