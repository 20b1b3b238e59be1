//! The gateway's three request ingresses end to end, in process: the first byte of the input
//! picks `/v1/chat/completions`, `/v1/embeddings` or `/v1/messages` (by its value modulo 3), the
//! rest is the JSON body, sent through `switchyard_server::router` in front of mock
//! deployments. This reaches what the parser targets cannot: the body limit and error answers,
//! the Messages -> chat translation (`messages::request::to_chat_request`) and back, dispatch,
//! and SSE encoding of streams in both shapes.
//!
//! Properties: no panic anywhere (libFuzzer's panic hook aborts even when the router's
//! `CatchPanicLayer` would have turned the panic into a 500), no 500 answer, and every
//! `application/json` answer is JSON.
#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use switchyard_fuzz::{RUNTIME, split_input};
use switchyard_server::{AppState, Live, config::parse_with_env};
use tower::ServiceExt;

/// Mock deployments under the names the seeds use; keys, budgets and spend in memory.
const CONFIG: &str = r#"
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: mock/gpt-4o-mini
  - model_name: mock-fixed
    litellm_params:
      model: mock/fixed
      mock_response: "Hello from the fuzzer."
  - model_name: text-embedding-3-small
    litellm_params:
      model: mock/text-embedding-3-small
  - model_name: claude-sonnet-4-5
    litellm_params:
      model: mock/claude-sonnet-4-5
general_settings:
  database_url: "sqlite::memory:"
"#;

const ROUTES: [&str; 3] = ["/v1/chat/completions", "/v1/embeddings", "/v1/messages"];

static GATEWAY: LazyLock<axum::Router> = LazyLock::new(|| {
    let loaded = parse_with_env(CONFIG, &|_| None).expect("the fuzz gateway's config is valid");
    let state = RUNTIME
        .block_on(AppState::new(loaded.settings))
        .expect("the fuzz gateway starts");
    switchyard_server::router(Live::new(state, None))
});

fuzz_target!(|data: &[u8]| {
    let (route, body) = split_input(data);
    let path = ROUTES[usize::from(route) % ROUTES.len()];
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .expect("request");
    // Built outside `block_on`: building it blocks on the runtime itself.
    let gateway = GATEWAY.clone();
    RUNTIME.block_on(async {
        let response = gateway.oneshot(request).await.expect("infallible");
        let status = response.status();
        let json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let answer = response
            .into_body()
            .collect()
            .await
            .expect("the answer's body reads")
            .to_bytes();
        assert_ne!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path} answered 500: {}",
            String::from_utf8_lossy(&answer)
        );
        if json {
            assert!(
                serde_json::from_slice::<serde_json::Value>(&answer).is_ok(),
                "{path} answered {status} with a JSON content type and a body that is not JSON: {}",
                String::from_utf8_lossy(&answer)
            );
        }
    });
});
