//! The Cohere adapter's stream parser (`cohere::stream::chunk_stream`, private): arbitrary
//! upstream bytes, cut into arbitrary reads (first input byte, see `switchyard_fuzz::pieces`),
//! answered by a loopback upstream as the server-sent events of `POST /v2/chat` with
//! `stream: true`, one HTTP chunk a read, and taken through the public `Cohere` provider's
//! `chat_stream`. Properties: no panic; every chunk survives a JSON round trip; the outcome
//! does not depend on where the reads were cut.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::{Upstream, check_provider_stream};
use switchyard_providers::cohere::{Cohere, CohereSettings};
use switchyard_providers::http::{ClientSettings, HttpClient};

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

fuzz_target!(|data: &[u8]| {
    check_provider_stream(
        data,
        &UPSTREAM,
        &*PROVIDER,
        "command-a-03-2025",
        std::convert::identity,
    );
});
