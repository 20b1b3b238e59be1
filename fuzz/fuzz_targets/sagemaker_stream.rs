//! The SageMaker adapter's stream decoding (`aws::eventstream::messages`, then
//! `sagemaker::stream::chunk_stream`, both private): arbitrary upstream bytes, cut into
//! arbitrary reads (first input byte, see `switchyard_fuzz::pieces`), answered by a loopback
//! upstream as the binary `application/vnd.amazon.eventstream` body of
//! `invocations-response-stream` (`PayloadPart`s of TGI's token events), one HTTP chunk a read,
//! and taken through the public `Sagemaker` provider's `chat_stream` (which signs the request
//! with SigV4 first). Properties: no panic; every chunk survives a JSON round trip; the outcome
//! does not depend on where the reads were cut.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::{Upstream, check_provider_stream};
use switchyard_providers::aws::AwsCredentials;
use switchyard_providers::http::{ClientSettings, HttpClient};
use switchyard_providers::sagemaker::{Sagemaker, SagemakerSettings};

static UPSTREAM: LazyLock<Upstream> =
    LazyLock::new(|| Upstream::start("application/vnd.amazon.eventstream"));

static PROVIDER: LazyLock<Sagemaker> = LazyLock::new(|| {
    let client = HttpClient::new(&ClientSettings::default()).expect("client");
    Sagemaker::new(
        client,
        SagemakerSettings {
            endpoint: "my-tgi-endpoint".to_owned(),
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

fuzz_target!(|data: &[u8]| {
    check_provider_stream(
        data,
        &UPSTREAM,
        &*PROVIDER,
        "my-tgi-endpoint",
        std::convert::identity,
    );
});
