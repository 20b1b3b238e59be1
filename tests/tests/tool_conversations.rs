//! End to end: tool-using conversations that cross providers. A Gemini turn's tool call ids
//! (which carry Gemini's thought signatures) are replayed by the client; when the next turn
//! falls back to an Anthropic deployment, Anthropic gets ids in its pattern with every
//! `tool_result` matching its `tool_use`; ids are new on every turn.

use serde_json::{Value, json};
use switchyard_e2e::fake_anthropic::{ANTHROPIC_KEY, FakeAnthropic};
use switchyard_e2e::fake_gemini::{FakeGemini, GEMINI_KEY};
use switchyard_e2e::{Gateway, MASTER_KEY};

/// Anthropic's `tool_use.id` pattern, `^[a-zA-Z0-9_-]+$`
/// (<https://docs.anthropic.com/en/api/messages>).
fn anthropic_valid(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

async fn setup() -> (FakeGemini, FakeAnthropic, Gateway) {
    let gemini = FakeGemini::start().await;
    let anthropic = FakeAnthropic::start().await;
    let config = format!(
        "model_list:\n\
         \x20 - model_name: agent\n\
         \x20   litellm_params: {{model: gemini/gemini-tools-then-down, api_base: '{}', api_key: os.environ/GEMINI_E2E_KEY}}\n\
         \x20 - model_name: claude-tool\n\
         \x20   litellm_params: {{model: anthropic/claude-tool, api_base: '{}', api_key: os.environ/ANTHROPIC_KEY}}\n\
         router_settings:\n  num_retries: 0\n  fallbacks: [{{agent: [claude-tool]}}]\n\
         general_settings:\n  master_key: {MASTER_KEY}\n",
        gemini.api_base, anthropic.api_base
    );
    let gateway = Gateway::start(
        &config,
        &[
            ("GEMINI_E2E_KEY", GEMINI_KEY),
            ("ANTHROPIC_KEY", ANTHROPIC_KEY),
        ],
    )
    .await;
    (gemini, anthropic, gateway)
}

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_current_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "get_current_time",
            "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}}}}
    ])
}

// Gemini's parallel function calls with a thoughtSignature (fixture generate_function_call.json,
// https://ai.google.dev/gemini-api/docs/thought-signatures); Anthropic's tool_use/tool_result
// blocks (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview).
#[tokio::test]
async fn a_gemini_tool_turn_falls_back_to_anthropic_with_ids_anthropic_accepts() {
    let (gemini, anthropic, gateway) = setup().await;
    let question = json!({"role": "user", "content": "Weather and time in Boston?"});
    let first = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "agent", "messages": [question], "tools": tools()}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-litellm-model-group"], "agent");
    let first: Value = first.json().await.expect("json");
    let message = first["choices"][0]["message"].clone();
    let calls = message["tool_calls"]
        .as_array()
        .expect("tool calls")
        .clone();
    assert_eq!(calls.len(), 2);
    let ids: Vec<&str> = calls.iter().filter_map(|c| c["id"].as_str()).collect();
    assert!(ids.iter().all(|id| anthropic_valid(id)), "{ids:?}");
    assert_ne!(ids[0], ids[1]);

    // The client answers both calls; Gemini is down now, so the turn falls back to Claude.
    let second = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "agent", "tools": tools(), "messages": [
                question, message,
                {"role": "tool", "tool_call_id": ids[0], "content": "{\"temperature\": 21}"},
                {"role": "tool", "tool_call_id": ids[1], "content": "10:42 AM"}
            ]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["x-switchyard-fallback-from"], "agent");
    let tried = gemini.received();
    assert_eq!(tried.len(), 2, "Gemini was tried first");
    assert!(
        tried[1].body.to_string().contains("thoughtSignature"),
        "Gemini got its signature back: {}",
        tried[1].body
    );

    let sent = &anthropic.received()[0].body;
    let turns = sent["messages"].as_array().expect("messages");
    let uses: Vec<&str> = turns[1]["content"]
        .as_array()
        .expect("assistant blocks")
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .filter_map(|b| b["id"].as_str())
        .collect();
    let results: Vec<&str> = turns[2]["content"]
        .as_array()
        .expect("user blocks")
        .iter()
        .filter(|b| b["type"] == "tool_result")
        .filter_map(|b| b["tool_use_id"].as_str())
        .collect();
    assert_eq!(uses.len(), 2, "{sent}");
    assert_eq!(uses, results, "each result names its call: {sent}");
    assert!(uses.iter().all(|id| anthropic_valid(id)), "{uses:?}");
}

#[tokio::test]
async fn tool_call_ids_are_new_on_every_turn() {
    let (_gemini, _anthropic, gateway) = setup().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..3 {
        let answer: Value = gateway
            .post(
                "/v1/chat/completions",
                &json!({"model": "agent", "tools": tools(),
                        "messages": [{"role": "user", "content": "Weather and time in Boston?"}]}),
                Some(MASTER_KEY),
            )
            .await
            .json()
            .await
            .expect("json");
        for call in answer["choices"][0]["message"]["tool_calls"]
            .as_array()
            .expect("tool calls")
        {
            let id = call["id"].as_str().expect("id").to_owned();
            assert!(seen.insert(id.clone()), "{id} repeated");
        }
    }
    assert_eq!(seen.len(), 6);
}
