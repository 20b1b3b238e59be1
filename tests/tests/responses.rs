//! End to end, OpenAI's Responses API (`POST /v1/responses`, `GET` and `DELETE
//! /v1/responses/{id}`) through a real gateway in front of the fake OpenAI-compatible upstream:
//! answers whole and streamed (event order and types), a tool round trip, conversations
//! continued by `previous_response_id`, `store: false`, stored responses scoped to their key,
//! the key's allow-list and budget, and bad input answered in OpenAI's error shape; and the
//! same calls passed through to OpenAI and Azure deployments (bodies and answers unchanged,
//! encrypted reasoning across turns, `previous_response_id` only for its key, usage charged).
//! Shapes:
//! <https://platform.openai.com/docs/api-reference/responses> and
//! <https://platform.openai.com/docs/api-reference/responses-streaming>.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::fake_responses::{
    CUT_AFTER, REASONING_ID, RESPONSES_TEXT, STREAM_REASONING, TEXT_ID, numbered,
};
use switchyard_e2e::shared_state::{admin_get, eventually, new_key};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, UPSTREAM_KEY, error_of, named_events};

/// Guards reads of streams that must end: a hang fails the test instead of stalling it.
const STREAM_DEADLINE: Duration = Duration::from_secs(20);

/// Two priced groups on the fake upstream (`gpt-4o-mini`, `tool-caller`), served by
/// translation (a vLLM server has no Responses API of its own), and the mock.
async fn setup() -> (FakeUpstream, Gateway) {
    let upstream = FakeUpstream::start().await;
    let mut config = String::from("model_list:\n");
    for (name, model) in [
        ("gpt-4o-mini", "upstream-model"),
        ("tool-caller", "tool-caller"),
    ] {
        config.push_str(&format!(
            "  - model_name: {name}\n    litellm_params: {{model: hosted_vllm/{model}, api_base: \"{}\", api_key: os.environ/UPSTREAM_KEY, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}\n    model_info: {{id: {name}-deployment}}\n",
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
    allow_list_and_budget_hold(&upstream, &gateway, "gpt-4o-mini", "mock-echo", 0.000_01).await;
}

/// Calls of `model` by a key allowed only `other_model` are refused (403), whole or streamed;
/// a key with `budget` is refused (422) once it spent it; refused calls never go upstream.
async fn allow_list_and_budget_hold(
    upstream: &FakeUpstream,
    gateway: &Gateway,
    model: &str,
    other_model: &str,
    budget: f64,
) {
    let served = upstream.received().len();
    let (limited, _) = new_key(gateway, &json!({"models": [other_model]})).await;
    for stream in [false, true] {
        let (status, code, body) = error_of(
            create(
                gateway,
                json!({"model": model, "input": "not mine", "stream": stream}),
                &limited,
            )
            .await,
        )
        .await;
        assert_eq!(status, 403, "stream {stream}: {body}");
        assert!(!code.is_empty(), "{body}");
    }
    assert_eq!(upstream.received().len(), served);

    let (broke, _) = new_key(gateway, &json!({"max_budget": budget})).await;
    let mut refused = None;
    for i in 0..50 {
        let response = create(
            gateway,
            json!({"model": model, "input": format!("spend {i}")}),
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
            gateway,
            json!({"model": model, "input": "more", "stream": true}),
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

// Passed through: OpenAI and Azure OpenAI deployments get the client's body at their own
// `/responses` (https://platform.openai.com/docs/api-reference/responses/create; Azure's v1 API,
// https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/responses), and the answers
// of `crates/switchyard-providers/tests/fixtures/openai/` come back unchanged.

const NATIVE_INPUT: f64 = 2e-6;
const NATIVE_OUTPUT: f64 = 8e-6;
const NATIVE_CACHE_READ: f64 = 5e-7;

/// Groups of OpenAI deployments (`gpt-native`, `o4-native`, `refused-native`), an Azure one
/// (`azure-native`), a vLLM one (`gpt-translated`) and one mixing OpenAI and vLLM
/// (`gpt-mixed`), all on one fake upstream.
async fn native_setup() -> (FakeUpstream, Gateway) {
    let upstream = FakeUpstream::start().await;
    let base = &upstream.api_base;
    let root = base.trim_end_matches("/v1");
    let prices = format!(
        "input_cost_per_token: {NATIVE_INPUT}, output_cost_per_token: {NATIVE_OUTPUT}, cache_read_input_token_cost: {NATIVE_CACHE_READ}"
    );
    let config = format!(
        "model_list:
  - model_name: gpt-native
    litellm_params: {{model: openai/gpt-4.1, api_base: \"{base}\", api_key: os.environ/UPSTREAM_KEY, {prices}}}
    model_info: {{id: gpt-native-deployment}}
  - model_name: o4-native
    litellm_params: {{model: openai/o4-mini, api_base: \"{base}\", api_key: os.environ/UPSTREAM_KEY, {prices}}}
    model_info: {{id: o4-native-deployment}}
  - model_name: refused-native
    litellm_params: {{model: openai/refused, api_base: \"{base}\", api_key: os.environ/UPSTREAM_KEY}}
  - model_name: cut-native
    litellm_params: {{model: openai/cut, api_base: \"{base}\", api_key: os.environ/UPSTREAM_KEY}}
  - model_name: azure-native
    litellm_params: {{model: azure/my-gpt-deployment, api_base: \"{root}\", api_key: os.environ/UPSTREAM_KEY, api_version: \"2024-10-21\"}}
  - model_name: gpt-translated
    litellm_params: {{model: hosted_vllm/upstream-model, api_base: \"{base}\", {prices}}}
  - model_name: gpt-mixed
    litellm_params: {{model: openai/gpt-4.1, api_base: \"{base}\", api_key: os.environ/UPSTREAM_KEY}}
  - model_name: gpt-mixed
    litellm_params: {{model: hosted_vllm/upstream-model, api_base: \"{base}\"}}
general_settings:
  master_key: {MASTER_KEY}
"
    );
    let gateway = Gateway::spawn(&config, &[("UPSTREAM_KEY", UPSTREAM_KEY)]).await;
    (upstream, gateway)
}

/// `fixture` as the fake upstream answers request number `n`.
fn fixture_answer(fixture: &str, id: &str, n: usize) -> Value {
    serde_json::from_str(&fixture.replace(id, &numbered(id, n))).expect("fixture JSON")
}

#[tokio::test]
async fn an_openai_group_gets_the_body_as_it_came_and_answers_unchanged() {
    let (upstream, gateway) = native_setup().await;
    let sent = json!({"model": "gpt-native", "input": "Tell me a three sentence bedtime story about a unicorn.",
        "instructions": "be kind", "tools": [{"type": "web_search_preview"}],
        "include": ["message.output_text.logprobs"], "truncation": "auto",
        "metadata": {"run": "1"}, "service_tier": "flex", "a_field_from_next_year": {"x": [1, 2]}});
    let response = create(&gateway, sent.clone(), MASTER_KEY).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchyard-deployment"],
        "gpt-native-deployment"
    );
    let cost = switchyard_e2e::cost_of(&response);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer, fixture_answer(RESPONSES_TEXT, TEXT_ID, 1));
    // 36 input and 87 output tokens, as the upstream reported them.
    assert!(
        (cost - (36.0 * NATIVE_INPUT + 87.0 * NATIVE_OUTPUT)).abs() < 1e-12,
        "{cost}"
    );
    let received = upstream.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/v1/responses");
    assert_eq!(
        received[0].authorization.as_deref(),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
    let mut expected = sent;
    expected["model"] = json!("gpt-4.1");
    assert_eq!(received[0].body, expected, "only the model is replaced");
}

#[tokio::test]
async fn an_azure_group_gets_the_body_at_its_v1_responses_with_the_deployment_as_model() {
    let (upstream, gateway) = native_setup().await;
    let answer = create_ok(
        &gateway,
        json!({"model": "azure-native", "input": "hello"}),
        MASTER_KEY,
    )
    .await;
    assert_eq!(answer, fixture_answer(RESPONSES_TEXT, TEXT_ID, 1));
    let received = &upstream.received()[0];
    assert_eq!(received.path, "/openai/v1/responses");
    assert_eq!(received.headers["api-key"], UPSTREAM_KEY);
    assert_eq!(
        received.body,
        json!({"model": "my-gpt-deployment", "input": "hello"})
    );
}

#[tokio::test]
async fn a_stream_comes_back_event_for_event_and_its_usage_is_charged() {
    let (upstream, gateway) = native_setup().await;
    let (key, key_id) = new_key(&gateway, &json!({})).await;
    let response = create(
        &gateway,
        json!({"model": "o4-native", "input": "What is the capital of France?", "stream": true,
            "store": false, "include": ["reasoning.encrypted_content"]}),
        &key,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "{:?}",
        response.headers()
    );
    let got = events(response).await;
    // The fixture's events, without its leading comment (which SSE parsers skip).
    let fixture = STREAM_REASONING
        .replace(REASONING_ID, &numbered(REASONING_ID, 1))
        .split_once("\n\n")
        .map(|(_comment, events)| events.to_owned())
        .expect("a comment, then events");
    assert_eq!(got, named_events(&fixture));
    assert_eq!(got.len(), 13);
    let names: Vec<&str> = got.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.last(), Some(&"response.completed"));
    assert_eq!(upstream.received()[0].body["stream"], true);

    // 2036 input tokens of which 1920 cached (priced at the cache read rate), 87 output.
    let expected = 116.0 * NATIVE_INPUT + 1920.0 * NATIVE_CACHE_READ + 87.0 * NATIVE_OUTPUT;
    let path = format!("/spend/logs?api_key={key_id}");
    let record = eventually(Duration::from_secs(15), "a spend record", || async {
        let rows = admin_get(&gateway, &path).await;
        rows.as_array().and_then(|rows| rows.first().cloned())
    })
    .await;
    let spend = record["spend"].as_f64().expect("spend");
    assert!((spend - expected).abs() < 1e-12, "{spend} {record}");
    assert_eq!(record["prompt_tokens"], 2036, "{record}");
    assert_eq!(record["completion_tokens"], 87, "{record}");
}

// Encrypted reasoning across turns with `store: false`:
// https://platform.openai.com/docs/guides/reasoning#encrypted-reasoning-items.
#[tokio::test]
async fn a_reasoning_item_from_one_turn_reaches_the_upstream_unchanged_in_the_next() {
    let (upstream, gateway) = native_setup().await;
    let first_input = json!([{"role": "user", "content": "What is the capital of France?"}]);
    let first = create_ok(
        &gateway,
        json!({"model": "o4-native", "input": first_input, "store": false,
            "include": ["reasoning.encrypted_content"]}),
        MASTER_KEY,
    )
    .await;
    let reasoning = &first["output"][0];
    assert_eq!(reasoning["type"], "reasoning", "{first}");
    assert!(
        reasoning["encrypted_content"]
            .as_str()
            .is_some_and(|c| c.starts_with("gAAAAA")),
        "{first}"
    );
    // The client sends the whole conversation back, the output items as they came.
    let mut second_input = first_input.as_array().expect("items").clone();
    second_input.extend(first["output"].as_array().expect("output").iter().cloned());
    second_input.push(json!({"role": "user", "content": "And of Italy?"}));
    create_ok(
        &gateway,
        json!({"model": "o4-native", "input": second_input, "store": false,
            "include": ["reasoning.encrypted_content"]}),
        MASTER_KEY,
    )
    .await;
    let received = upstream.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].body["input"], Value::Array(second_input));
    assert_eq!(received[1].body["input"][1], *reasoning);
    assert_eq!(
        received[1].body["include"],
        json!(["reasoning.encrypted_content"])
    );
    // Nothing was stored: the gateway records no response of a `store: false` call.
    let id = first["id"].as_str().expect("id");
    let (status, _, _) = error_of(
        gateway
            .get(&format!("/v1/responses/{id}"), Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 404);
}

// A conversation moved to OpenAI after turns served by translation carries the gateway's own
// reasoning items (another provider's signed thinking, `encrypted_content` prefixed
// `swy_thinking_v1.`): OpenAI cannot decrypt them, so they stay behind; OpenAI's own go up.
#[tokio::test]
async fn the_gateways_own_reasoning_items_are_not_passed_to_openai() {
    let (upstream, gateway) = native_setup().await;
    let openai_reasoning = json!({"type": "reasoning", "id": "rs_6820f383d7c08191846711c5df8233bc",
        "summary": [], "encrypted_content": "gAAAAABoISQ24OyVRYbkYfukE2"});
    let gateway_reasoning = json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "Paris."}],
        "encrypted_content": "swy_thinking_v1.W3sidHlwZSI6InRoaW5raW5nIn1d"});
    let user = json!({"role": "user", "content": "And of Italy?"});
    create_ok(
        &gateway,
        json!({"model": "o4-native", "store": false,
            "input": [gateway_reasoning, openai_reasoning, user]}),
        MASTER_KEY,
    )
    .await;
    let received = upstream.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body["input"], json!([openai_reasoning, user]));
}

// Conversation state: https://platform.openai.com/docs/guides/conversation-state.
#[tokio::test]
async fn previous_response_id_reaches_the_upstream_only_for_the_key_that_owns_it() {
    let (upstream, gateway) = native_setup().await;
    let (owner, _) = new_key(&gateway, &json!({})).await;
    let (other, _) = new_key(&gateway, &json!({})).await;
    for stream in [false, true] {
        let served = upstream.received().len();
        let response = create(
            &gateway,
            json!({"model": "gpt-native", "input": "first", "stream": stream}),
            &owner,
        )
        .await;
        assert_eq!(response.status(), 200);
        let id = if stream {
            let got = events(response).await;
            let (name, completed) = got.last().expect("events");
            assert_eq!(name, "response.completed");
            completed["response"]["id"].as_str().expect("id").to_owned()
        } else {
            let answer: Value = response.json().await.expect("JSON");
            answer["id"].as_str().expect("id").to_owned()
        };
        assert!(id.starts_with("resp_"), "{id}");

        // The owner continues it: the id goes upstream as it came.
        create_ok(
            &gateway,
            json!({"model": "gpt-native", "input": "second", "previous_response_id": id}),
            &owner,
        )
        .await;
        let received = upstream.received();
        assert_eq!(received.len(), served + 2);
        assert_eq!(
            received[served + 1].body["previous_response_id"],
            id.as_str()
        );
        assert_eq!(received[served + 1].body["input"], "second");

        // Another key is told it does not exist, and nothing goes upstream.
        let (status, _, body) = error_of(
            create(
                &gateway,
                json!({"model": "gpt-native", "input": "steal", "previous_response_id": id}),
                &other,
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("not found")),
            "{body}"
        );
        assert_eq!(upstream.received().len(), served + 2);

        // The owner reads it back as the upstream sent it; another key finds nothing.
        let path = format!("/v1/responses/{id}");
        let stored = gateway.get(&path, Some(&owner)).await;
        assert_eq!(stored.status(), 200);
        let stored: Value = stored.json().await.expect("JSON");
        assert_eq!(stored["id"], id.as_str());
        assert_eq!(stored["object"], "response");
        let (status, _, _) = error_of(gateway.get(&path, Some(&other)).await).await;
        assert_eq!(status, 404);

        // A translated group cannot continue what the upstream holds.
        let (status, _, body) = error_of(
            create(
                &gateway,
                json!({"model": "gpt-translated", "input": "x", "previous_response_id": id}),
                &owner,
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("gpt-native-deployment")),
            "{body}"
        );
    }
    // An id the gateway never recorded is refused too.
    let served = upstream.received().len();
    let (status, _, _) = error_of(
        create(
            &gateway,
            json!({"model": "gpt-native", "input": "x", "previous_response_id": "resp_made_up"}),
            &owner,
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(upstream.received().len(), served);
}

#[tokio::test]
async fn a_translated_response_continued_on_an_openai_group_goes_up_as_its_conversation() {
    let (upstream, gateway) = native_setup().await;
    let first = create_ok(
        &gateway,
        json!({"model": "gpt-translated", "input": "hello"}),
        MASTER_KEY,
    )
    .await;
    create_ok(
        &gateway,
        json!({"model": "gpt-native", "input": "again", "previous_response_id": first["id"]}),
        MASTER_KEY,
    )
    .await;
    let received = upstream.received();
    assert_eq!(received[0].path, "/v1/chat/completions");
    let sent = &received[1];
    assert_eq!(sent.path, "/v1/responses");
    assert!(
        sent.body.get("previous_response_id").is_none(),
        "{}",
        sent.body
    );
    let input = sent.body["input"].as_array().expect("items");
    assert_eq!(input.len(), 3, "{}", sent.body);
    assert_eq!(input[0]["role"], "user");
    assert_eq!(input[1], first["output"][0]);
    assert_eq!(input[2], json!({"role": "user", "content": "again"}));
}

#[tokio::test]
async fn a_group_mixing_openai_with_other_servers_is_translated() {
    let (upstream, gateway) = native_setup().await;
    for _ in 0..4 {
        create_ok(
            &gateway,
            json!({"model": "gpt-mixed", "input": "hello"}),
            MASTER_KEY,
        )
        .await;
    }
    assert!(
        upstream
            .received()
            .iter()
            .all(|r| r.path == "/v1/chat/completions"),
        "{:?}",
        upstream
            .received()
            .iter()
            .map(|r| &r.path)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_keys_allow_list_and_budget_hold_on_passed_through_responses() {
    let (upstream, gateway) = native_setup().await;
    // Each answer costs 36 * 2e-6 + 87 * 8e-6 = 0.000768.
    allow_list_and_budget_hold(&upstream, &gateway, "gpt-native", "gpt-translated", 0.001).await;
    assert!(
        upstream
            .received()
            .iter()
            .all(|r| r.path == "/v1/responses"),
        "passed through"
    );
}

#[tokio::test]
async fn an_upstream_refusal_answers_in_openai_shape() {
    let (upstream, gateway) = native_setup().await;
    for stream in [false, true] {
        let (status, _, body) = error_of(
            create(
                &gateway,
                json!({"model": "refused-native", "input": [{"role": "user",
                    "content": [{"type": "input_texts", "text": "x"}]}], "stream": stream}),
                MASTER_KEY,
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "stream {stream}: {body}");
        let error = &body["error"];
        assert_eq!(error["type"], "invalid_request_error", "{body}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("input_texts")),
            "the upstream's reason reaches the client: {body}"
        );
        for field in ["param", "code"] {
            assert!(error.get(field).is_some(), "{field}: {body}");
        }
    }
    assert_eq!(upstream.received().len(), 2, "a bad request is not retried");
}

// Routing affinity: https://docs.litellm.ai/docs/response_api#load-balancing-with-routing-affinity.
#[tokio::test]
async fn a_continuation_goes_to_the_deployment_holding_the_response() {
    let upstream = FakeUpstream::start().await;
    let base = &upstream.api_base;
    let mut config = String::from("model_list:\n");
    for id in ["east", "west", "north"] {
        config.push_str(&format!(
            "  - model_name: gpt-spread\n    litellm_params: {{model: openai/gpt-4.1, api_base: \"{base}\", api_key: os.environ/UPSTREAM_KEY}}\n    model_info: {{id: {id}}}\n"
        ));
    }
    config.push_str(&format!("general_settings:\n  master_key: {MASTER_KEY}\n"));
    let gateway = Gateway::spawn(&config, &[("UPSTREAM_KEY", UPSTREAM_KEY)]).await;
    for _ in 0..3 {
        let response = create(
            &gateway,
            json!({"model": "gpt-spread", "input": "first"}),
            MASTER_KEY,
        )
        .await;
        assert_eq!(response.status(), 200);
        let holder = response.headers()["x-switchyard-deployment"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let first: Value = response.json().await.expect("JSON");
        // Three deployments to pick from, eight times over: all on the holder only by design.
        for _ in 0..8 {
            let response = create(
                &gateway,
                json!({"model": "gpt-spread", "input": "next", "previous_response_id": first["id"]}),
                MASTER_KEY,
            )
            .await;
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.headers()["x-switchyard-deployment"],
                holder.as_str()
            );
        }
    }
}

// The `error` event: https://platform.openai.com/docs/api-reference/responses-streaming/error.
#[tokio::test]
async fn a_passed_through_stream_cut_short_ends_in_an_error_event() {
    let (_upstream, gateway) = native_setup().await;
    let response = create(
        &gateway,
        json!({"model": "cut-native", "input": "x", "stream": true}),
        MASTER_KEY,
    )
    .await;
    assert_eq!(response.status(), 200);
    let got = events(response).await;
    assert_eq!(got.len(), CUT_AFTER + 1, "{got:?}");
    let (name, error) = got.last().expect("events");
    assert_eq!(name, "error");
    assert_eq!(error["type"], "error");
    assert_eq!(error["sequence_number"], CUT_AFTER);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("response.completed")),
        "{error}"
    );
    assert!(error["code"].is_string(), "{error}");
}

#[tokio::test]
async fn a_keys_rate_limit_holds_on_passed_through_responses() {
    let (upstream, gateway) = native_setup().await;
    let (key, _) = new_key(&gateway, &json!({"rpm_limit": 1})).await;
    create_ok(
        &gateway,
        json!({"model": "gpt-native", "input": "one"}),
        &key,
    )
    .await;
    let (status, _, body) = error_of(
        create(
            &gateway,
            json!({"model": "gpt-native", "input": "two", "stream": true}),
            &key,
        )
        .await,
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    assert_eq!(
        upstream.received().len(),
        1,
        "the refused call never went upstream"
    );
}

// Deleting a response: https://platform.openai.com/docs/api-reference/responses/delete.
#[tokio::test]
async fn deleting_a_response_held_upstream_deletes_it_there_for_its_key_only() {
    let (upstream, gateway) = native_setup().await;
    let (owner, _) = new_key(&gateway, &json!({})).await;
    let (other, _) = new_key(&gateway, &json!({})).await;
    for (model, path) in [
        ("gpt-native", "/v1/responses"),
        ("azure-native", "/openai/v1/responses"),
    ] {
        let answer = create_ok(&gateway, json!({"model": model, "input": "x"}), &owner).await;
        let id = answer["id"].as_str().expect("id");
        let served = upstream.received().len();
        let response = delete(&gateway, id, &other).await;
        assert_eq!(response.status(), 404);
        assert_eq!(
            upstream.received().len(),
            served,
            "another key reaches nothing"
        );

        let response = delete(&gateway, id, &owner).await;
        assert_eq!(response.status(), 200);
        let deleted: Value = response.json().await.expect("JSON");
        assert_eq!(
            deleted,
            json!({"id": id, "object": "response", "deleted": true})
        );
        let received = upstream.received();
        assert_eq!(received.len(), served + 1);
        assert_eq!(received[served].path, format!("{path}/{id}"));
        let (status, _, _) = error_of(
            gateway
                .get(&format!("/v1/responses/{id}"), Some(&owner))
                .await,
        )
        .await;
        assert_eq!(status, 404);
    }
}
