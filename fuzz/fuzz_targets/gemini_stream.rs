//! The Gemini adapter's stream parser (`gemini::stream::chunk_stream`, private): arbitrary
//! upstream bytes, cut into arbitrary reads (first input byte, see `switchyard_fuzz::pieces`),
//! answered by a loopback upstream as the body of `streamGenerateContent?alt=sse`, one HTTP chunk
//! a read, and taken through the public `Gemini` provider's `chat_stream`. Properties: no panic;
//! every chunk survives a JSON round trip; the outcome does not depend on where the reads were
//! cut, but for the random part of the tool-call ids the adapter mints (`call_` and 24 letters
//! or digits, unique per call by design), which is masked before the outcomes are compared.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::{Outcome, Upstream, check_provider_stream};
use switchyard_providers::gemini::{Gemini, GeminiSettings};
use switchyard_providers::http::{ClientSettings, HttpClient};

static UPSTREAM: LazyLock<Upstream> = LazyLock::new(|| Upstream::start("text/event-stream"));

static PROVIDER: LazyLock<Gemini> = LazyLock::new(|| {
    let client = HttpClient::new(&ClientSettings::default()).expect("client");
    Gemini::new(
        client,
        GeminiSettings {
            model: "gemini-2.5-flash".to_owned(),
            api_base: UPSTREAM.base_url(),
            api_key: Some("fuzz-key".to_owned()),
        },
    )
    .expect("provider")
});

/// `outcome` with the random part of every tool-call id masked.
fn without_random_ids(mut outcome: Outcome) -> Outcome {
    for chunk in outcome.iter_mut().flatten() {
        let Some(choices) = chunk.get_mut("choices").and_then(|c| c.as_array_mut()) else {
            continue;
        };
        for choice in choices {
            let calls = choice
                .get_mut("delta")
                .and_then(|d| d.get_mut("tool_calls"))
                .and_then(|c| c.as_array_mut());
            for call in calls.into_iter().flatten() {
                if let Some(id) = call.get_mut("id")
                    && let Some(text) = id.as_str()
                    && let Some(rest) = text.strip_prefix("call_")
                    && rest.len() >= 24
                    && rest.is_char_boundary(24)
                {
                    *id =
                        serde_json::Value::from(format!("call_{}{}", "X".repeat(24), &rest[24..]));
                }
            }
        }
    }
    outcome
}

fuzz_target!(|data: &[u8]| {
    check_provider_stream(
        data,
        &UPSTREAM,
        &*PROVIDER,
        "gemini-2.5-flash",
        without_random_ids,
    );
});
