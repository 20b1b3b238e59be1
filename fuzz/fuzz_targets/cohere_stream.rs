//! The Cohere adapter's stream parser (`cohere::stream::chunk_stream`, private): arbitrary
//! upstream bytes, cut into arbitrary reads (first input byte, see `switchyard_fuzz::pieces`),
//! answered by a loopback upstream as the server-sent events of `POST /v2/chat` with
//! `stream: true`, one HTTP chunk a read, and taken through the public `Cohere` provider's
//! `chat_stream`. Properties: no panic; every chunk survives a JSON round trip; the outcome
//! does not depend on where the reads were cut.
#![no_main]

use std::sync::LazyLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::{
    Outcome, RUNTIME, Upstream, assert_same_outcome, drain, error_text, pieces, split_input,
};
use switchyard_providers::Provider;
use switchyard_providers::cohere::{Cohere, CohereSettings};
use switchyard_providers::http::{ClientSettings, HttpClient};
use switchyard_wire::ChatRequest;

static UPSTREAM: LazyLock<Upstream> = LazyLock::new(|| Upstream::start("text/event-stream"));

static PROVIDER: LazyLock<Cohere> = LazyLock::new(|| {
    let client = HttpClient::new(&ClientSettings::default()).expect("client");
    Cohere::new(
        client,
        CohereSettings {
            model: "command-a-03-2025".to_owned(),
            api_base: UPSTREAM.base_url(),
            api_key: Some("co-fuzz".to_owned()),
        },
    )
    .expect("provider")
});

fn request() -> ChatRequest {
    serde_json::from_value(serde_json::json!({
        "model": "command-a-03-2025",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": true,
    }))
    .unwrap_or_else(|_| unreachable!())
}

fn run(pieces: Vec<Bytes>) -> Outcome {
    UPSTREAM.answer(pieces);
    RUNTIME.block_on(async {
        match PROVIDER.chat_stream(request()).await {
            Ok(stream) => drain(stream).await,
            Err(err) => vec![Err(error_text(&err))],
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let (mode, body) = split_input(data);
    let whole = run(pieces(0, body));
    if mode != 0 {
        assert_same_outcome(&whole, &run(pieces(mode, body)), mode);
    }
});
