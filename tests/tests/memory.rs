//! End to end through a real gateway process: what one request may hold in memory. The parts
//! of a chat request the gateway forwards without reading (a tool's JSON Schema, a field it does
//! not know) cost about their size, not a tree many times larger; the process's peak resident
//! memory (`VmHWM`, Linux) is read around one 20 MB request of each kind.
#![cfg(target_os = "linux")]

use serde_json::{Value, json};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY};

/// A JSON Schema object of `properties` string properties, about 80 bytes each.
fn big_schema(properties: usize) -> Value {
    let properties: serde_json::Map<String, Value> = (0..properties)
        .map(|i| {
            let property = json!({"type": "string", "description": format!("field number {i}"),
                "enum": ["a", "b", "c"]});
            (format!("p{i}"), property)
        })
        .collect();
    json!({"type": "object", "properties": properties})
}

/// Sends `body` and answers how much the gateway's peak memory grew, and the body's size.
async fn peak_growth(gateway: &Gateway, body: &Value) -> (u64, u64) {
    let text = body.to_string();
    let size = text.len() as u64;
    gateway.reset_peak_memory();
    let before = gateway.peak_memory();
    let response = gateway
        .post_raw("/v1/chat/completions", text, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body");
    (gateway.peak_memory().saturating_sub(before), size)
}

#[tokio::test]
async fn a_huge_tool_schema_or_unknown_field_costs_about_its_size_not_a_tree() {
    let upstream = FakeUpstream::start().await;
    let config = format!(
        "model_list:\n  - model_name: m\n    litellm_params: {{model: openai/m, api_base: '{}'}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n  max_request_size_mb: 64\n",
        upstream.api_base
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let ask = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let warm = gateway
        .post("/v1/chat/completions", &ask, Some(MASTER_KEY))
        .await;
    assert_eq!(warm.status(), 200);

    let schema = big_schema(240_000);
    let mut with_tool = ask.clone();
    with_tool["tools"] =
        json!([{"type": "function", "function": {"name": "f", "parameters": schema}}]);
    let mut with_field = ask;
    with_field["vendor_extension"] = schema;
    for (what, body) in [
        ("a tool schema", with_tool),
        ("an unknown field", with_field),
    ] {
        let (growth, size) = peak_growth(&gateway, &body).await;
        assert!(size > 20_000_000, "{size}");
        // The body, the request holding it as text, the copy kept for a retry and the bytes
        // sent upstream: a few times its size. A tree of it takes over 25 times.
        assert!(
            growth < 8 * size,
            "{what} of {} MiB grew the peak by {} MiB",
            size >> 20,
            growth >> 20
        );
    }
    // Both went upstream whole.
    let received = upstream.received();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[1].body["tools"][0]["function"]["parameters"]["properties"]["p7"]["description"],
        "field number 7"
    );
    assert!(received[2].body["vendor_extension"]["properties"]["p9"].is_object());
}
