//! The Bedrock adapter's event stream decoding (`aws::eventstream::messages`, then
//! `bedrock::stream::chunk_stream`, both private): arbitrary upstream bytes, cut into arbitrary
//! reads (first input byte, see `switchyard_fuzz::pieces`), answered by a loopback upstream as
//! the binary `application/vnd.amazon.eventstream` body of `converse-stream`, one HTTP chunk a
//! read, and taken through the public `Bedrock` provider's `chat_stream` (which signs the request
//! with SigV4 first). Properties: no panic; every chunk survives a JSON round trip; the outcome
//! does not depend on where the reads were cut.
#![no_main]

use std::sync::LazyLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::{
    Outcome, RUNTIME, Upstream, assert_same_outcome, drain, error_text, pieces, split_input,
};
use switchyard_providers::Provider;
use switchyard_providers::bedrock::{AwsCredentials, Bedrock, BedrockSettings};
use switchyard_providers::http::{ClientSettings, HttpClient};
use switchyard_wire::ChatRequest;

static UPSTREAM: LazyLock<Upstream> =
    LazyLock::new(|| Upstream::start("application/vnd.amazon.eventstream"));

static PROVIDER: LazyLock<Bedrock> = LazyLock::new(|| {
    let client = HttpClient::new(&ClientSettings::default()).expect("client");
    Bedrock::new(
        client,
        BedrockSettings {
            model: "anthropic.claude-3-5-sonnet-20240620-v1:0".to_owned(),
            region: "us-east-1".to_owned(),
            credentials: AwsCredentials::Keys {
                access_key_id: "AKIDFUZZ".to_owned(),
                secret_access_key: "fuzz-secret".to_owned(),
                session_token: None,
            },
            assume_role: None,
            api_base: Some(UPSTREAM.base_url()),
        },
    )
    .expect("provider")
});

fn request() -> ChatRequest {
    serde_json::from_value(serde_json::json!({
        "model": "anthropic.claude-3-5-sonnet-20240620-v1:0",
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
