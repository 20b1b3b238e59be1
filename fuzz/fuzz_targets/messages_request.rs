//! `POST /v1/messages` bodies: `switchyard_wire::anthropic::MessagesRequest`. Properties: no
//! panic; a parsed request re-serialized parses to an equal request. Its translation into a chat
//! request (`switchyard-server`'s private `messages::request::to_chat_request`) is reached
//! through the whole gateway by the `gateway` target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::assert_round_trip_of;
use switchyard_wire::anthropic::MessagesRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<MessagesRequest>(data) {
        assert_round_trip_of(data, &request, "MessagesRequest");
    }
});
