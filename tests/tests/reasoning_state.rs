//! End to end: opaque reasoning state carried across turns through translation. A client of
//! `/v1/chat/completions` or `/v1/responses` runs a two-turn tool conversation with extended
//! thinking against an Anthropic deployment; the fake Anthropic API refuses the second turn,
//! as Anthropic does, unless the assistant turn that called the tool starts with its signed
//! thinking block, unchanged
//! (<https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking>, "Preserving
//! thinking blocks"). On chat the block travels as LiteLLM's `thinking_blocks`
//! (<https://docs.litellm.ai/docs/reasoning_content>); on Responses as the reasoning item's
//! `encrypted_content` (<https://platform.openai.com/docs/api-reference/responses/object>).
//! A stored conversation keeps them for `previous_response_id`; an OpenAI-compatible upstream
//! never gets them.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::fake_anthropic::{MASTER_KEY, THINKING_TOOL_SIGNATURE, anthropic_setup};
use switchyard_e2e::{Gateway, named_events, sse_data};

const MODEL: &str = "claude-thinking-tool";
const STREAM_DEADLINE: Duration = Duration::from_secs(10);
/// The thinking of the fixture thinking_tool_use_response.json (and its stream).
const THOUGHT: &str = "The user wants to know the current weather in Paris. I have access to a function `get_weather` that takes a location.";
/// The tool call of the same fixture.
const CALL_ID: &str = "toolu_01CswdEQBMshySk6Y9DFKrfq";

fn chat_tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}])
}

async fn read_to_end(response: reqwest::Response) -> String {
    tokio::time::timeout(STREAM_DEADLINE, response.text())
        .await
        .expect("the stream ends instead of hanging")
        .expect("body")
}

/// The assistant message a chat client keeps from a streamed answer: content, reasoning and
/// tool calls joined, and the `thinking_blocks` fragments joined as LiteLLM's stream carries
/// them (thinking text pieces, then the block's signature).
fn assembled_message(body: &str) -> Value {
    let mut content = String::new();
    let mut reasoning = String::new();
    let mut thinking = String::new();
    let mut signature = String::new();
    let mut call = json!({"type": "function", "function": {"arguments": ""}});
    for data in sse_data(body) {
        if data == "[DONE]" {
            continue;
        }
        let chunk: Value = serde_json::from_str(&data).expect("a chunk");
        let Some(delta) = chunk["choices"].get(0).map(|c| &c["delta"]) else {
            continue;
        };
        content.push_str(delta["content"].as_str().unwrap_or_default());
        reasoning.push_str(delta["reasoning_content"].as_str().unwrap_or_default());
        for block in delta["thinking_blocks"].as_array().into_iter().flatten() {
            assert_eq!(block["type"], "thinking", "{block}");
            thinking.push_str(block["thinking"].as_str().unwrap_or_default());
            signature.push_str(block["signature"].as_str().unwrap_or_default());
        }
        for piece in delta["tool_calls"].as_array().into_iter().flatten() {
            if let Some(id) = piece["id"].as_str() {
                call["id"] = json!(id);
            }
            if let Some(name) = piece["function"]["name"].as_str() {
                call["function"]["name"] = json!(name);
            }
            let more = piece["function"]["arguments"].as_str().unwrap_or_default();
            let joined = format!(
                "{}{more}",
                call["function"]["arguments"].as_str().unwrap_or_default()
            );
            call["function"]["arguments"] = json!(joined);
        }
    }
    json!({"role": "assistant", "content": content, "reasoning_content": reasoning,
        "thinking_blocks": [{"type": "thinking", "thinking": thinking, "signature": signature}],
        "tool_calls": [call]})
}

/// The second turn: the question, the assistant message as the client kept it, the result.
async fn answer_the_tool(gateway: &Gateway, assistant: &Value, stream: bool) -> reqwest::Response {
    gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": MODEL, "tools": chat_tools(), "reasoning_effort": "low",
            "stream": stream, "messages": [
                {"role": "user", "content": "What's the weather in Paris?"},
                assistant,
                {"role": "tool", "tool_call_id": CALL_ID, "content": "15 degrees, sunny"}
            ]}),
            Some(MASTER_KEY),
        )
        .await
}

/// The first block of the assistant turn Anthropic got with the tool result.
fn replayed_first_block(sent: &Value) -> Value {
    let turns = sent["messages"].as_array().expect("messages");
    assert_eq!(turns.len(), 3, "{sent}");
    assert_eq!(turns[1]["role"], "assistant");
    assert_eq!(turns[1]["content"][2]["type"], "tool_use", "{sent}");
    turns[1]["content"][0].clone()
}

#[tokio::test]
async fn a_chat_client_gives_the_signed_thinking_back_whole_and_streamed() {
    let (anthropic, _openai, gateway) = anthropic_setup().await;
    for stream in [false, true] {
        let first = gateway
            .post(
                "/v1/chat/completions",
                &json!({"model": MODEL, "tools": chat_tools(), "reasoning_effort": "low",
                    "stream": stream,
                    "messages": [{"role": "user", "content": "What's the weather in Paris?"}]}),
                Some(MASTER_KEY),
            )
            .await;
        assert_eq!(first.status(), 200, "stream: {stream}");
        let assistant = if stream {
            assembled_message(&read_to_end(first).await)
        } else {
            let answer: Value = first.json().await.expect("JSON");
            answer["choices"][0]["message"].clone()
        };
        assert_eq!(assistant["reasoning_content"], THOUGHT, "{assistant}");
        assert_eq!(
            assistant["thinking_blocks"],
            json!([{"type": "thinking", "thinking": THOUGHT, "signature": THINKING_TOOL_SIGNATURE}]),
            "stream: {stream}"
        );
        assert_eq!(assistant["tool_calls"][0]["id"], CALL_ID);
        let asked = anthropic.received().last().expect("sent").body.clone();
        assert_eq!(
            asked["thinking"],
            json!({"type": "enabled", "budget_tokens": 1024}),
            "reasoning_effort low is LiteLLM's 1024-token budget"
        );

        let second = answer_the_tool(&gateway, &assistant, stream).await;
        assert_eq!(second.status(), 200, "stream: {stream}");
        let text = if stream {
            sse_data(&read_to_end(second).await)
                .iter()
                .filter(|d| *d != "[DONE]")
                .filter_map(|d| {
                    let chunk: Value = serde_json::from_str(d).ok()?;
                    chunk["choices"][0]["delta"]["content"]
                        .as_str()
                        .map(str::to_owned)
                })
                .collect::<String>()
        } else {
            let answer: Value = second.json().await.expect("JSON");
            answer["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        assert!(!text.is_empty(), "stream: {stream}");
        let sent = anthropic.received().last().expect("sent").body.clone();
        assert_eq!(
            replayed_first_block(&sent),
            json!({"type": "thinking", "thinking": THOUGHT, "signature": THINKING_TOOL_SIGNATURE})
        );
    }

    // The same turn without the thinking blocks is what Anthropic refuses: the fake holds the
    // gateway to the documented rule.
    let bare = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": CALL_ID, "type": "function", "function": {"name": "get_weather",
         "arguments": "{\"location\": \"Paris\"}"}}]});
    let refused = answer_the_tool(&gateway, &bare, false).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.expect("JSON");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("must start with a thinking block")),
        "{body}"
    );
}

/// A Responses call for [`MODEL`] with a function tool and reasoning, not stored.
fn responses_turn(input: Value, stream: bool) -> Value {
    json!({"model": MODEL, "input": input, "store": false, "stream": stream,
        "reasoning": {"effort": "low"}, "include": ["reasoning.encrypted_content"],
        "tools": [{"type": "function", "name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]})
}

/// The response object of a call: the body, or the `response.completed` event of a stream.
async fn response_object(response: reqwest::Response, stream: bool) -> Value {
    assert_eq!(response.status(), 200);
    if !stream {
        return response.json().await.expect("JSON");
    }
    let events = named_events(&read_to_end(response).await);
    let (_, completed) = events
        .iter()
        .find(|(name, _)| name == "response.completed")
        .expect("response.completed");
    completed["response"].clone()
}

#[tokio::test]
async fn a_stateless_responses_client_gives_the_reasoning_item_back() {
    let (anthropic, _openai, gateway) = anthropic_setup().await;
    for stream in [false, true] {
        let question = json!({"role": "user", "content": "What's the weather in Paris?"});
        let first = gateway
            .post(
                "/v1/responses",
                &responses_turn(json!([question]), stream),
                Some(MASTER_KEY),
            )
            .await;
        let first = response_object(first, stream).await;
        let output = first["output"].as_array().expect("output").clone();
        let kinds: Vec<&str> = output.iter().filter_map(|i| i["type"].as_str()).collect();
        assert_eq!(kinds, ["reasoning", "message", "function_call"], "{first}");
        assert_eq!(
            output[0]["summary"],
            json!([{"type": "summary_text", "text": THOUGHT}])
        );
        assert!(
            output[0]["encrypted_content"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "{first}"
        );
        assert_eq!(output[2]["call_id"], CALL_ID);

        // The client keeps the output items, as the Agents SDK does with store=false, and
        // adds the tool's result.
        let mut input = vec![question];
        input.extend(output);
        input.push(json!({"type": "function_call_output", "call_id": CALL_ID,
            "output": "15 degrees, sunny"}));
        let second = gateway
            .post(
                "/v1/responses",
                &responses_turn(Value::Array(input), stream),
                Some(MASTER_KEY),
            )
            .await;
        let second = response_object(second, stream).await;
        assert_eq!(second["status"], "completed", "{second}");
        let sent = anthropic.received().last().expect("sent").body.clone();
        assert_eq!(
            replayed_first_block(&sent),
            json!({"type": "thinking", "thinking": THOUGHT, "signature": THINKING_TOOL_SIGNATURE}),
            "stream: {stream}"
        );
    }
}

// A stored response (`store` left true) keeps its reasoning item, `encrypted_content` included,
// in the conversation `previous_response_id` continues
// (https://platform.openai.com/docs/api-reference/responses/create).
#[tokio::test]
async fn a_stored_conversation_keeps_the_signed_thinking_for_previous_response_id() {
    let (anthropic, _openai, gateway) = anthropic_setup().await;
    let mut first = responses_turn(json!("What's the weather in Paris?"), false);
    first["store"] = json!(true);
    let first = gateway
        .post("/v1/responses", &first, Some(MASTER_KEY))
        .await;
    let first = response_object(first, false).await;
    let mut second = responses_turn(
        json!([{"type": "function_call_output", "call_id": CALL_ID, "output": "15 degrees"}]),
        false,
    );
    second["store"] = json!(true);
    second["previous_response_id"] = first["id"].clone();
    let second = gateway
        .post("/v1/responses", &second, Some(MASTER_KEY))
        .await;
    let second = response_object(second, false).await;
    assert_eq!(second["status"], "completed", "{second}");
    let sent = anthropic.received().last().expect("sent").body.clone();
    assert_eq!(
        replayed_first_block(&sent),
        json!({"type": "thinking", "thinking": THOUGHT, "signature": THINKING_TOOL_SIGNATURE})
    );
}

// An OpenAI-compatible upstream never sees `thinking_blocks`, which OpenAI's chat API does not
// define in messages (https://platform.openai.com/docs/api-reference/chat/create): neither on a
// chat message a client replays nor on the message a Responses reasoning item becomes (a
// conversation that moves from an Anthropic deployment to another provider).
#[tokio::test]
async fn an_openai_compatible_upstream_never_gets_thinking_blocks() {
    let (anthropic, openai, gateway) = anthropic_setup().await;
    let first = gateway
        .post(
            "/v1/responses",
            &responses_turn(json!("What's the weather in Paris?"), false),
            Some(MASTER_KEY),
        )
        .await;
    let output = response_object(first, false).await["output"].clone();
    let thinking_blocks =
        json!([{"type": "thinking", "thinking": THOUGHT, "signature": THINKING_TOOL_SIGNATURE}]);
    let chat = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "gpt-4o-mini", "messages": [
                {"role": "user", "content": "What's the weather in Paris?"},
                {"role": "assistant", "content": "Sunny.", "reasoning_content": THOUGHT,
                 "thinking_blocks": thinking_blocks},
                {"role": "user", "content": "thanks"}]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(chat.status(), 200);
    let mut input = vec![json!({"role": "user", "content": "What's the weather in Paris?"})];
    input.extend(output.as_array().expect("output").iter().cloned());
    input.push(json!({"type": "function_call_output", "call_id": CALL_ID, "output": "15"}));
    let mut moved = responses_turn(Value::Array(input), false);
    moved["model"] = json!("gpt-4o-mini");
    if let Some(body) = moved.as_object_mut() {
        body.remove("reasoning");
    }
    let responses = gateway
        .post("/v1/responses", &moved, Some(MASTER_KEY))
        .await;
    assert_eq!(responses.status(), 200);

    let sent = openai.received();
    assert_eq!(sent.len(), 2);
    for request in &sent {
        let assistant = request.body["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .find(|m| m["role"] == "assistant")
            .expect("an assistant message")
            .clone();
        assert!(assistant.get("thinking_blocks").is_none(), "{assistant}");
        assert!(assistant.get("reasoning_content").is_none(), "{assistant}");
    }
    assert_eq!(anthropic.received().len(), 1);
}
