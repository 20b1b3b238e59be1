//! `POST /v1/chat/completions` bodies: `switchyard_wire::ChatRequest` as the gateway parses it
//! (`serde_json::from_slice`, what `body::parse` does). Properties: no panic; a parsed request
//! re-serialized parses to an equal request; the Anthropic adapter's translation of it
//! (`anthropic::request::to_messages_request`) does not panic and round-trips too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::{assert_round_trip, assert_round_trip_of};
use switchyard_providers::anthropic::request::to_messages_request;
use switchyard_wire::ChatRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<ChatRequest>(data) else {
        return;
    };
    assert_round_trip_of(data, &request, "ChatRequest");
    let _ = request.is_stream();
    let _ = request.wants_stream_usage();
    for message in &request.messages {
        if let Some(content) = &message.content {
            let _ = content.joined_text();
        }
    }
    if let Ok(upstream) = to_messages_request(request, "claude-fuzz") {
        assert_round_trip(&upstream, "MessagesRequest made by to_messages_request");
    }
});
