//! End to end, OpenAI's Responses API (`POST /v1/responses`, `GET` and `DELETE
//! /v1/responses/{id}`) through a real gateway in front of the fake OpenAI-compatible upstream:
//! answers whole and streamed (event order and types), a tool round trip, conversations
//! continued by `previous_response_id`, `store: false`, stored responses scoped to their key,
//! the key's allow-list and budget, and bad input answered in OpenAI's error shape. Shapes:
//! <https://platform.openai.com/docs/api-reference/responses> and
//! <https://platform.openai.com/docs/api-reference/responses-streaming>.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::shared_state::new_key;
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, UPSTREAM_KEY, error_of, named_events};

/// Guards reads of streams that must end: a hang fails the test instead of stalling it.
const STREAM_DEADLINE: Duration = Duration::from_secs(20);

/// Two priced groups on the fake upstream (`gpt-4o-mini`, `tool-caller`) and the mock.
async fn setup() -> (FakeUpstream, Gateway) {
    let upstream = FakeUpstream::start().await;
    let mut config = String::from("model_list:\n");
    for (name, model) in [
        ("gpt-4o-mini", "upstream-model"),
        ("tool-caller", "tool-caller"),
    ] {
        config.push_str(&format!(
            "  - model_name: {name}\n    litellm_params: {{model: openai/{model}, api_base: \"{}\", api_key: os.environ/UPSTREAM_KEY, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}\n    model_info: {{id: {name}-deployment}}\n",
            upstream.api_base
        ));
    }
    config.push_str("  - model_name: mock-echo\n    litellm_params: {model: mock/echo}\n");
    config.push_str(&format!("general_settings:\n  master_key: {MASTER_KEY}\n"));
    let gateway = Gateway::spawn(&config, &[("UPSTREAM_KEY", UPSTREAM_KEY)]).await;
    (upstream, gateway)
}

async fn create(gateway: &Gateway, body: Value, key: &str) -> reqwest::Response {
    gateway.post("/v1/responses", &body, Some(key)).await
}

async fn create_ok(gateway: &Gateway, body: Value, key: &str) -> Value {
    let response = create(gateway, body.clone(), key).await;
    assert_eq!(response.status(), 200, "{body}");
    response.json().await.expect("JSON")
}

async fn delete(gateway: &Gateway, id: &str, key: &str) -> reqwest::Response {
    gateway
        .client
        .delete(format!("{}/v1/responses/{id}", gateway.base))
        .bearer_auth(key)
        .send()
        .await
        .expect("gateway answers")
}

/// `(event name, data)` pairs of a Responses stream, checking that each `event:` line names
/// the `type` inside and that `sequence_number`s count up from 0.
async fn events(response: reqwest::Response) -> Vec<(String, Value)> {
    let body = tokio::time::timeout(STREAM_DEADLINE, response.text())
        .await
        .expect("the stream ends instead of hanging")
        .expect("body");
    let events = named_events(&body);
    for (n, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], n, "{data}");
    }
    events
}

#[tokio::test]
async fn a_plain_response_is_translated_to_a_chat_call_and_back() {
    let (upstream, gateway) = setup().await;
    let response = create(
        &gateway,
        json!({"model": "gpt-4o-mini", "input": "hello", "instructions": "be brief",
            "max_output_tokens": 40, "metadata": {"run": "1"}}),
        MASTER_KEY,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchyard-deployment"],
        "gpt-4o-mini-deployment"
    );
    let call_id = response.headers()["x-litellm-call-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let answer: Value = response.json().await.expect("JSON");
    let id = answer["id"].as_str().expect("id");
    // One id per call: the response's is the call's, as the spend record names it.
    assert_eq!(
        id.strip_prefix("resp_"),
        call_id.strip_prefix("chatcmpl-"),
        "{answer}"
    );
    assert_eq!(answer["object"], "response");
    assert_eq!(answer["status"], "completed");
    assert!(answer["created_at"].as_u64() > Some(1_700_000_000));
    assert_eq!(answer["model"], "upstream-model");
    assert_eq!(answer["instructions"], "be brief");
    assert_eq!(answer["max_output_tokens"], 40);
    assert_eq!(answer["metadata"], json!({"run": "1"}));
    assert_eq!(answer["store"], true);
    let output = answer["output"].as_array().expect("output");
    assert_eq!(output.len(), 1, "{answer}");
    assert_eq!(output[0]["type"], "message");
    assert_eq!(output[0]["role"], "assistant");
    assert_eq!(output[0]["status"], "completed");
    assert!(
        output[0]["id"]
            .as_str()
            .is_some_and(|i| i.starts_with("msg_"))
    );
    assert_eq!(
        output[0]["content"],
        json!([{"type": "output_text", "text": "upstream says: hello", "annotations": []}])
    );
    assert_eq!(
        answer["usage"],
        json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 15})
    );
    let sent = &upstream.received()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}])
    );
    assert_eq!(sent.body["max_completion_tokens"], 40);
    assert!(sent.body.get("metadata").is_none(), "{}", sent.body);
    assert!(sent.body.get("input").is_none(), "{}", sent.body);

    // The same call on the path without /v1.
    let response = gateway
        .post(
            "/responses",
            &json!({"model": "mock-echo", "input": "echo me"}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["output"][0]["content"][0]["text"], "echo me");
}

#[tokio::test]
async fn a_streamed_response_follows_the_documented_event_flow() {
    let (upstream, gateway) = setup().await;
    let response = create(
        &gateway,
        json!({"model": "gpt-4o-mini", "input": "stream this", "stream": true}),
        MASTER_KEY,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = events(response).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let deltas = names
        .iter()
        .filter(|n| **n == "response.output_text.delta")
        .count();
    assert!(deltas > 1, "{names:?}");
    let mut expected = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    expected.extend(std::iter::repeat_n("response.output_text.delta", deltas));
    expected.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(names, expected);
    let created = &events[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["output"], json!([]));
    let item_id = events[2].1["item"]["id"].as_str().expect("item id");
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| {
            assert_eq!(d["item_id"], item_id);
            assert_eq!(
                (d["output_index"].as_u64(), d["content_index"].as_u64()),
                (Some(0), Some(0))
            );
            d["delta"].as_str().expect("delta")
        })
        .collect();
    assert_eq!(text, "upstream says: stream this");
    let completed = &events.last().expect("events").1["response"];
    assert_eq!(completed["id"], created["id"]);
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"][0]["content"][0]["text"], text);
    assert_eq!(completed["usage"]["total_tokens"], 15);
    let sent = &upstream.received()[0].body;
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);

    // A streamed response is stored before its last event goes out.
    let id = completed["id"].as_str().expect("id");
    let stored = gateway
        .get(&format!("/v1/responses/{id}"), Some(MASTER_KEY))
        .await;
    assert_eq!(stored.status(), 200);
    let stored: Value = stored.json().await.expect("JSON");
    assert_eq!(stored, *completed);
}

// Function calling: https://platform.openai.com/docs/guides/function-calling (Responses).
#[tokio::test]
async fn a_tool_round_trip_goes_function_call_then_function_call_output() {
    let (upstream, gateway) = setup().await;
    let tools = json!([{"type": "function", "name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let first = create_ok(
        &gateway,
        json!({"model": "tool-caller", "input": "weather in Paris?", "tools": tools}),
        MASTER_KEY,
    )
    .await;
    let call = &first["output"][0];
    assert_eq!(call["type"], "function_call", "{first}");
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["call_id"], "call_up_1");
    assert_eq!(call["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(call["status"], "completed");
    assert!(call["id"].as_str().is_some_and(|i| i.starts_with("fc_")));
    assert_eq!(
        upstream.received()[0].body["tools"],
        json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
    );

    // The client sends the whole conversation back with the tool's output, as the SDKs do.
    let second = create_ok(
        &gateway,
        json!({"model": "tool-caller", "tools": tools, "store": false, "input": [
            {"role": "user", "content": "weather in Paris?"},
            call,
            {"type": "function_call_output", "call_id": "call_up_1", "output": "21C"}
        ]}),
        MASTER_KEY,
    )
    .await;
    assert_eq!(
        second["output"][0]["content"][0]["text"],
        "upstream says: tool said 21C"
    );
    assert_eq!(
        upstream.received()[1].body["messages"],
        json!([
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "tool_calls": [{"id": "call_up_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "content": "21C", "tool_call_id": "call_up_1"}
        ])
    );

    // Streamed, the call arrives as its item and argument deltas.
    let response = create(
        &gateway,
        json!({"model": "tool-caller", "input": "again", "tools": tools, "stream": true}),
        MASTER_KEY,
    )
    .await;
    let events = events(response).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(events[2].1["item"]["type"], "function_call");
    assert_eq!(events[2].1["item"]["call_id"], "call_up_1");
    assert_eq!(events[5].1["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(events[5].1["name"], "get_weather");
}

// Conversation state: https://platform.openai.com/docs/guides/conversation-state.
#[tokio::test]
async fn previous_response_id_continues_the_stored_conversation() {
    let (upstream, gateway) = setup().await;
    let first = create_ok(
        &gateway,
        json!({"model": "gpt-4o-mini", "input": "first question", "instructions": "only once"}),
        MASTER_KEY,
    )
    .await;
    let second = create_ok(
        &gateway,
        json!({"model": "gpt-4o-mini", "input": "second question",
            "previous_response_id": first["id"]}),
        MASTER_KEY,
    )
    .await;
    assert_eq!(second["previous_response_id"], first["id"]);
    assert_ne!(second["id"], first["id"]);
    // Instructions are not carried over; the conversation is.
    assert_eq!(
        upstream.received()[1].body["messages"],
        json!([
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "upstream says: first question"},
            {"role": "user", "content": "second question"}
        ])
    );
    let third = create_ok(
        &gateway,
        json!({"model": "gpt-4o-mini", "input": "third", "previous_response_id": second["id"]}),
        MASTER_KEY,
    )
    .await;
    assert_eq!(third["status"], "completed");
    let messages = upstream.received()[2].body["messages"].clone();
    assert_eq!(messages.as_array().map(Vec::len), Some(5), "{messages}");

    // An unknown previous response is the client's error, in OpenAI's shape.
    let response = create(
        &gateway,
        json!({"model": "gpt-4o-mini", "input": "x", "previous_response_id": "resp_nope"}),
        MASTER_KEY,
    )
    .await;
    let (status, _, body) = error_of(response).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("resp_nope")),
        "{body}"
    );
}

#[tokio::test]
async fn store_false_keeps_nothing_and_stored_responses_belong_to_their_key() {
    let (_upstream, gateway) = setup().await;
    let (alice, _) = new_key(&gateway, &json!({})).await;
    let (bob, _) = new_key(&gateway, &json!({})).await;

    let unstored = create_ok(
        &gateway,
        json!({"model": "gpt-4o-mini", "input": "forget me", "store": false}),
        &alice,
    )
    .await;
    assert_eq!(unstored["store"], false);
    let id = unstored["id"].as_str().expect("id");
    let (status, _, body) = error_of(
        gateway
            .get(&format!("/v1/responses/{id}"), Some(&alice))
            .await,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = error_of(
        create(
            &gateway,
            json!({"model": "gpt-4o-mini", "input": "x", "previous_response_id": id}),
            &alice,
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);

    let kept = create_ok(
        &gateway,
        json!({"model": "gpt-4o-mini", "input": "keep me"}),
        &alice,
    )
    .await;
    let id = kept["id"].as_str().expect("id");
    let path = format!("/v1/responses/{id}");
    let read = gateway.get(&path, Some(&alice)).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.json::<Value>().await.expect("JSON"), kept);

    // Another key sees nothing: not the response, not its conversation, no deletion.
    let (status, _, body) = error_of(gateway.get(&path, Some(&bob)).await).await;
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = error_of(
        create(
            &gateway,
            json!({"model": "gpt-4o-mini", "input": "x", "previous_response_id": id}),
            &bob,
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = error_of(delete(&gateway, id, &bob).await).await;
    assert_eq!(status, 404);

    // Its own key deletes it, once.
    let deleted = delete(&gateway, id, &alice).await;
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        deleted.json::<Value>().await.expect("JSON"),
        json!({"id": id, "object": "response", "deleted": true})
    );
    let (status, _, _) = error_of(gateway.get(&path, Some(&alice)).await).await;
    assert_eq!(status, 404);
    let (status, _, _) = error_of(delete(&gateway, id, &alice).await).await;
    assert_eq!(status, 404);
    let (status, _, _) = error_of(gateway.get(&path, None).await).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_keys_allow_list_and_budget_hold_on_responses() {
    let (upstream, gateway) = setup().await;
    let (limited, _) = new_key(&gateway, &json!({"models": ["mock-echo"]})).await;
    let (status, code, body) = error_of(
        create(
            &gateway,
            json!({"model": "gpt-4o-mini", "input": "not mine"}),
            &limited,
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(!code.is_empty(), "{body}");
    for stream in [false, true] {
        let (status, _, body) = error_of(
            create(
                &gateway,
                json!({"model": "gpt-4o-mini", "input": "x", "stream": stream}),
                &limited,
            )
            .await,
        )
        .await;
        assert_eq!(status, 403, "stream {stream}: {body}");
    }

    let (broke, _) = new_key(&gateway, &json!({"max_budget": 0.000_01})).await;
    let mut refused = None;
    for i in 0..50 {
        let response = create(
            &gateway,
            json!({"model": "gpt-4o-mini", "input": format!("spend {i}")}),
            &broke,
        )
        .await;
        if response.status() != 200 {
            refused = Some(error_of(response).await);
            break;
        }
    }
    let (status, code, body) = refused.expect("the budget runs out");
    // LiteLLM's status for a spent budget.
    assert_eq!((status, code.as_str()), (422, "budget_exceeded"), "{body}");
    let served = upstream.received().len();
    let (status, _, _) = error_of(
        create(
            &gateway,
            json!({"model": "gpt-4o-mini", "input": "more", "stream": true}),
            &broke,
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        upstream.received().len(),
        served,
        "refused calls never go upstream"
    );
}

#[tokio::test]
async fn bad_input_is_a_400_in_openai_shape() {
    let (upstream, gateway) = setup().await;
    for (body, words) in [
        (json!({"input": "no model"}), "model"),
        (json!({"model": "gpt-4o-mini", "input": 42}), "input"),
        (json!({"model": "gpt-4o-mini"}), "'input'"),
        (json!({"model": "gpt-4o-mini", "input": []}), "'input'"),
        (
            json!({"model": "gpt-4o-mini", "input": [{"type": "function_call_output", "output": "x"}]}),
            "call_id",
        ),
        (
            json!({"model": "gpt-4o-mini", "input": [{"type": "computer_call", "id": "c"}]}),
            "computer_call",
        ),
        (
            json!({"model": "gpt-4o-mini", "input": "x", "tools": [{"type": "web_search"}]}),
            "web_search",
        ),
        (
            json!({"model": "gpt-4o-mini", "input": "x",
                "text": {"format": {"type": "json_schema", "name": "n"}}}),
            "schema",
        ),
    ] {
        let (status, _, answer) = error_of(create(&gateway, body.clone(), MASTER_KEY).await).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error", "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(words)),
            "{body}: {answer}"
        );
    }
    let response = gateway
        .post_raw("/v1/responses", "{not json", Some(MASTER_KEY))
        .await;
    let (status, _, _) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(upstream.received().is_empty());

    // The structured output format reaches the upstream as chat's response_format.
    create_ok(
        &gateway,
        json!({"model": "gpt-4o-mini", "input": "x", "reasoning": {"effort": "low"},
            "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}, "strict": true}}}),
        MASTER_KEY,
    )
    .await;
    let sent = &upstream.received()[0].body;
    assert_eq!(
        sent["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}, "strict": true}})
    );
    assert_eq!(sent["reasoning_effort"], "low");
}
