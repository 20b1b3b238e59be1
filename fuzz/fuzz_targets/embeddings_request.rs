//! `POST /v1/embeddings` bodies: `switchyard_wire::EmbeddingsRequest`. Properties: no panic; a
//! parsed request re-serialized parses to an equal request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::assert_round_trip_of;
use switchyard_wire::EmbeddingsRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<EmbeddingsRequest>(data) {
        assert_round_trip_of(data, &request, "EmbeddingsRequest");
    }
});
