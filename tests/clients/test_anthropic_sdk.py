"""The Anthropic Messages API through a real Switchyard gateway, seen by official SDKs.

This module owns the Anthropic client tests, in both directions:

* the official ``anthropic`` SDK calls the gateway's ``/v1/messages`` in front of an
  OpenAI-compatible deployment (``fake_upstream.py``): plain, streamed (``messages.stream`` and
  ``stream=True``), tool use, and typed exceptions;
* the official ``openai`` SDK calls ``/v1/chat/completions`` on deployments backed by a fake
  Anthropic API (``fake_anthropic_upstream.py``, replaying Anthropic's documented fixtures),
  streams and tool calls included.

Shapes are checked against Anthropic's documentation: https://docs.anthropic.com/en/api/messages,
https://docs.anthropic.com/en/docs/build-with-claude/streaming and
https://docs.anthropic.com/en/api/errors. The gateway is one of its own (``launch_gateway``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable, Iterator

import anthropic
import openai
import pydantic
import pytest

from conftest import MASTER_KEY, UPSTREAM_KEY, UPSTREAM_KEY_ENV, Gateway
from fake_anthropic_upstream import COUNTED_TOKENS, RETRY_AFTER, FakeAnthropicUpstream, fixture
from fake_upstream import CONTENT_PREFIX, USAGE

ANTHROPIC_KEY = "sk-ant-fake-upstream"

OPENAI_BACKED = "gpt-4o-mini"  # -> fake OpenAI-compatible upstream, model "upstream-model"
TOOL_BACKED = "tool-model"  # -> fake OpenAI-compatible upstream, model "tool-call"
STRUCTURED_BACKED = "structured-model"  # -> fake OpenAI-compatible upstream, model "structured"
CLAUDE = "claude"  # -> fake Anthropic API, model "claude-text"
CLAUDE_TOOL = "claude-tool"  # -> fake Anthropic API, model "claude-tool"
CLAUDE_RATE_LIMITED = "claude-rate-limited"
CLAUDE_STRUCTURED = "claude-structured"  # -> fake Anthropic API, model "claude-structured"
CLAUDE_JSON_TOOL = "claude-json-tool"  # -> fake Anthropic API, model "claude-json-tool"
CLAUDE_THINKING = "claude-thinking"  # -> fake Anthropic API, model "claude-thinking"

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
}


def marker() -> str:
    """A unique word to put in a prompt, to find this test's request at a fake upstream."""
    return f"marker-{uuid.uuid4().hex[:12]}"


def config(openai_base: str, anthropic_base: str) -> str:
    def openai_backed(name: str, model: str) -> str:
        return (
            f"  - model_name: {name}\n    litellm_params:\n      model: openai/{model}\n"
            f"      api_base: {openai_base}\n      api_key: os.environ/{UPSTREAM_KEY_ENV}\n"
        )

    def anthropic_backed(name: str, model: str) -> str:
        # No api_key: the adapter reads ANTHROPIC_API_KEY from the gateway's environment.
        return f"  - model_name: {name}\n    litellm_params:\n      model: anthropic/{model}\n      api_base: {anthropic_base}\n"

    return (
        "model_list:\n"
        + openai_backed(OPENAI_BACKED, "upstream-model")
        + openai_backed(TOOL_BACKED, "tool-call")
        + openai_backed(STRUCTURED_BACKED, "structured")
        + anthropic_backed(CLAUDE, "claude-text")
        + anthropic_backed(CLAUDE_TOOL, "claude-tool")
        + anthropic_backed(CLAUDE_RATE_LIMITED, "claude-rate-limited")
        + anthropic_backed(CLAUDE_STRUCTURED, "claude-structured")
        + anthropic_backed(CLAUDE_JSON_TOOL, "claude-json-tool")
        + anthropic_backed(CLAUDE_THINKING, "claude-thinking")
        + f"general_settings:\n  master_key: {MASTER_KEY}\n"
    )


@pytest.fixture(scope="module")
def anthropic_upstream() -> Iterator[FakeAnthropicUpstream]:
    upstream = FakeAnthropicUpstream().start()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture(scope="module")
def messages_gateway(fake_upstream, anthropic_upstream, launch_gateway: Callable[..., Gateway]) -> Gateway:
    return launch_gateway(
        config(fake_upstream.base_url, anthropic_upstream.base_url),
        env={UPSTREAM_KEY_ENV: UPSTREAM_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY},
    )


@pytest.fixture(scope="module")
def claude(messages_gateway: Gateway) -> Iterator[anthropic.Anthropic]:
    """The official Anthropic SDK, pointed at the gateway (it sends the key as ``x-api-key``)."""
    client = anthropic.Anthropic(base_url=messages_gateway.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def gpt(messages_gateway: Gateway) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=f"{messages_gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    try:
        yield client
    finally:
        client.close()


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# -- (a) the anthropic SDK on /v1/messages, OpenAI-compatible deployment -----------------------


# Message object: https://docs.anthropic.com/en/api/messages
def test_messages_create_returns_an_anthropic_message(claude: anthropic.Anthropic, fake_upstream) -> None:
    mark = marker()
    message = claude.messages.create(
        model=OPENAI_BACKED, max_tokens=64, system="be brief", messages=user(f"hello {mark}")
    )

    assert message.type == "message"
    assert message.role == "assistant"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == f"{CONTENT_PREFIX}hello {mark}"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == USAGE["prompt_tokens"]
    assert message.usage.output_tokens == USAGE["completion_tokens"]

    [sent] = fake_upstream.find_by_text(mark)
    assert sent.path == "/v1/chat/completions"
    assert sent.json["model"] == "upstream-model"
    assert sent.json["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": f"hello {mark}"},
    ]
    assert sent.json["max_tokens"] == 64
    assert sent.headers.get("authorization") == f"Bearer {UPSTREAM_KEY}"
    assert all(MASTER_KEY not in value for value in sent.headers.values())


# Streaming with the SDK helpers: https://docs.anthropic.com/en/docs/build-with-claude/streaming
def test_messages_stream_helper_accumulates_the_final_message(claude: anthropic.Anthropic) -> None:
    mark = marker()
    with claude.messages.stream(model=OPENAI_BACKED, max_tokens=64, messages=user(f"stream {mark}")) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == f"{CONTENT_PREFIX}stream {mark}"
    assert [block.type for block in final.content] == ["text"]
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == USAGE["prompt_tokens"]
    assert final.usage.output_tokens == USAGE["completion_tokens"]


# Event flow: https://docs.anthropic.com/en/docs/build-with-claude/streaming
def test_messages_stream_true_yields_the_documented_event_flow(claude: anthropic.Anthropic) -> None:
    mark = marker()
    events = list(claude.messages.create(model=OPENAI_BACKED, max_tokens=64, messages=user(mark), stream=True))

    types = [event.type for event in events]
    assert types[0] == "message_start"
    assert types[1] == "content_block_start"
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(types[2:-3]) == {"content_block_delta"}
    assert events[0].message.content == []
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == f"{CONTENT_PREFIX}{mark}"
    assert events[-2].delta.stop_reason == "end_turn"
    assert events[-2].usage.output_tokens == USAGE["completion_tokens"]


# tool_use and tool_result blocks: https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview
def test_tool_use_round_trip(claude: anthropic.Anthropic, fake_upstream) -> None:
    mark = marker()
    question = user(f"weather in Paris {mark}")
    first = claude.messages.create(model=TOOL_BACKED, max_tokens=64, tools=[WEATHER_TOOL], messages=question)

    assert first.stop_reason == "tool_use"
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "get_weather"
    assert call.input == {"query": f"weather in Paris {mark}"}
    assert call.id

    sent = fake_upstream.find_by_text(mark)[0].json
    assert sent["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": WEATHER_TOOL["description"],
                                          "parameters": WEATHER_TOOL["input_schema"]}}
    ]

    second = claude.messages.create(
        model=TOOL_BACKED,
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=question
        + [
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "15C"}]},
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "tool said: 15C"
    followup = fake_upstream.find_by_text(call.id)[-1].json
    assert followup["messages"][-1] == {"role": "tool", "tool_call_id": call.id, "content": "15C"}
    assert followup["messages"][-2]["tool_calls"][0]["id"] == call.id


# input_json_delta: https://docs.anthropic.com/en/docs/build-with-claude/streaming
def test_tool_use_streamed(claude: anthropic.Anthropic) -> None:
    mark = marker()
    with claude.messages.stream(
        model=TOOL_BACKED, max_tokens=64, tools=[WEATHER_TOOL], messages=user(f"stream tools {mark}")
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()

    assert final.stop_reason == "tool_use"
    [call] = [block for block in final.content if block.type == "tool_use"]
    assert call.name == "get_weather"
    assert call.input == {"query": f"stream tools {mark}"}
    deltas = [e for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
    assert len(deltas) >= 2, "arguments arrive in pieces"


# not_found_error (404): https://docs.anthropic.com/en/api/errors
def test_unknown_model_is_not_found_error(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model="no-such-model", max_tokens=8, messages=user("hi"))
    err = caught.value
    assert err.status_code == 404
    body = err.response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert "no-such-model" in body["error"]["message"]


# authentication_error (401): https://docs.anthropic.com/en/api/errors
def test_wrong_key_is_authentication_error(messages_gateway: Gateway, fake_upstream) -> None:
    mark = marker()
    client = anthropic.Anthropic(base_url=messages_gateway.base_url, api_key="sk-wrong", max_retries=0, timeout=30)
    with client, pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(model=OPENAI_BACKED, max_tokens=8, messages=user(mark))
    err = caught.value
    assert err.status_code == 401
    assert err.response.json()["error"]["type"] == "authentication_error"
    assert "sk-wrong" not in err.response.text
    assert fake_upstream.find_by_text(mark) == [], "a rejected request reached the upstream"


# rate_limit_error (429) with retry-after: https://docs.anthropic.com/en/api/errors
def test_upstream_rate_limit_is_rate_limit_error_with_retry_after(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        claude.messages.create(model=CLAUDE_RATE_LIMITED, max_tokens=8, messages=user("hi"))
    err = caught.value
    assert err.status_code == 429
    assert err.response.headers.get("retry-after") == RETRY_AFTER
    assert err.response.json()["error"]["type"] == "rate_limit_error"


# -- (c) the anthropic SDK as Claude Code uses it: passed through to an Anthropic deployment ---


# Extended thinking, prompt caching and tool use in one streamed turn:
# https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking,
# https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching and
# https://docs.anthropic.com/en/docs/build-with-claude/streaming. The gateway sends the body on as
# it came (only `model` replaced) with the client's `anthropic-beta`, and the events back as
# Anthropic sent them: the SDK rebuilds the thinking block with its signature.
def test_messages_stream_with_thinking_tools_and_cache_control_passes_through(
    claude: anthropic.Anthropic, anthropic_upstream
) -> None:
    mark = marker()
    signature = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+N7Tr0TGSEAKN0G3e0fk3XOtqKBBZ2jzY+w"
    system = [{"type": "text", "text": f"You are a coding agent {mark}", "cache_control": {"type": "ephemeral"}}]
    tools = [{**WEATHER_TOOL, "cache_control": {"type": "ephemeral"}}]
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should call the tool.", "signature": signature},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3"},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"query": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "is_error": True, "content": "timeout"},
                {"type": "text", "text": "try again"},
            ],
        },
    ]
    with claude.messages.stream(
        model=CLAUDE_THINKING,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        system=system,
        tools=tools,
        messages=messages,
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()

    assert "thinking" in kinds and "signature" in kinds, kinds
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].thinking.startswith("Let me solve this step by step")
    assert final.content[0].signature.startswith("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds")
    assert final.content[1].text == "27 * 453 = 12,231"
    assert final.usage.cache_read_input_tokens == 4000
    assert final.usage.cache_creation_input_tokens == 2000
    assert final.usage.output_tokens == 86

    [sent] = anthropic_upstream.find_by_text(mark)
    assert sent.path == "/v1/messages"
    assert sent.json["model"] == "claude-thinking"
    assert sent.json["messages"] == messages
    assert sent.json["system"] == system
    assert sent.json["tools"] == tools
    assert sent.json["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent.headers.get("anthropic-beta") == "interleaved-thinking-2025-05-14"
    assert sent.headers.get("x-api-key") == ANTHROPIC_KEY


# A complete answer from an Anthropic deployment is Anthropic's body, redacted thinking included.
def test_messages_create_passes_thinking_blocks_back(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model=CLAUDE_THINKING,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=user("analyze this"),
    )
    expected = json.loads(fixture("thinking_response.json"))
    assert message.id == expected["id"]
    assert [block.type for block in message.content] == ["thinking", "redacted_thinking", "text"]
    assert message.content[0].signature == expected["content"][0]["signature"]
    assert message.content[1].data == expected["content"][1]["data"]
    assert message.usage.cache_creation_input_tokens == 2000


# Token counting: https://platform.claude.com/docs/api/beta/messages/count_tokens. Exact from an
# Anthropic deployment (its own counter), the gateway's estimate elsewhere (four characters a
# token), said in `x-switchyard-token-count`.
def test_count_tokens_is_exact_from_anthropic_and_estimated_elsewhere(
    claude: anthropic.Anthropic, anthropic_upstream
) -> None:
    mark = marker()
    exact = claude.messages.with_raw_response.count_tokens(
        model=CLAUDE, system="be brief", messages=user(f"hello {mark}")
    )
    assert exact.headers["x-switchyard-token-count"] == "exact"
    assert exact.parse().input_tokens == COUNTED_TOKENS
    [sent] = anthropic_upstream.find_by_text(mark)
    assert sent.path == "/v1/messages/count_tokens"
    assert sent.json["model"] == "claude-text"

    estimate = claude.messages.with_raw_response.count_tokens(model=OPENAI_BACKED, messages=user("abcdefgh"))
    assert estimate.headers["x-switchyard-token-count"] == "estimate"
    # "user" and "abcdefgh": 12 characters.
    assert estimate.parse().input_tokens == 3

    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.count_tokens(model="no-such-model", messages=user("hi"))
    assert caught.value.body["error"]["type"] == "not_found_error"


# -- (b) the openai SDK on Anthropic-backed deployments ----------------------------------------


# Request headers and body the adapter sends: https://docs.anthropic.com/en/api/messages
def test_openai_sdk_gets_a_translated_anthropic_answer(gpt: openai.OpenAI, anthropic_upstream) -> None:
    mark = marker()
    raw = gpt.chat.completions.with_raw_response.create(
        model=CLAUDE, messages=[{"role": "system", "content": "be brief"}, *user(mark)]
    )
    completion = raw.parse()

    # Answer fixture: the reference example of https://docs.anthropic.com/en/api/messages. The
    # answer's id is the gateway's call id (that of its spend record), not Anthropic's `msg_...`.
    assert completion.id == raw.headers["x-litellm-call-id"]
    assert completion.id.startswith("chatcmpl-")
    assert completion.choices[0].message.content == "Hi! My name is Claude."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3195, 503)
    assert completion.usage.prompt_tokens_details.cached_tokens == 1000

    [sent] = anthropic_upstream.find_by_text(mark)
    assert sent.path == "/v1/messages"
    assert sent.headers.get("x-api-key") == ANTHROPIC_KEY
    assert sent.headers.get("anthropic-version") == "2023-06-01"
    assert sent.json["model"] == "claude-text"
    assert sent.json["system"] == "be brief"
    assert sent.json["max_tokens"] == 4096
    assert sent.json["messages"] == user(mark)


# Upstream stream: https://docs.anthropic.com/en/docs/build-with-claude/streaming
def test_openai_sdk_streams_from_an_anthropic_deployment(gpt: openai.OpenAI) -> None:
    chunks = list(
        gpt.chat.completions.create(
            model=CLAUDE, messages=user("hello"), stream=True, stream_options={"include_usage": True}
        )
    )

    # Stream fixture: "Basic streaming request" of
    # https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (25, 15, 40)


# Upstream stream with tool use: https://docs.anthropic.com/en/docs/build-with-claude/streaming
def test_openai_sdk_streams_tool_calls_from_an_anthropic_deployment(gpt: openai.OpenAI) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_TOOL["input_schema"]}}
    chunks = list(gpt.chat.completions.create(model=CLAUDE_TOOL, messages=user("weather?"), tools=[tool], stream=True))

    # Stream fixture: "Streaming request with tool use" of
    # https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    calls = [call for c in chunks if c.choices for call in (c.choices[0].delta.tool_calls or [])]
    assert calls, "tool call deltas expected"
    assert {call.index for call in calls} == {0}
    assert calls[0].id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert calls[0].function.name == "get_weather"
    arguments = "".join(call.function.arguments or "" for call in calls)
    assert json.loads(arguments) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["tool_calls"]


# Upstream tool use answer: https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview
def test_openai_sdk_gets_tool_calls_from_an_anthropic_deployment(gpt: openai.OpenAI) -> None:
    completion = gpt.chat.completions.create(model=CLAUDE_TOOL, messages=user("weather?"))

    # Answer fixture: https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview.
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.id == "toolu_01A09q90qw90lq917835lq9"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "San Francisco, CA", "unit": "celsius"}


# -- structured outputs: each SDK's .parse() to the other API's deployment ---------------------


class ContactInfo(pydantic.BaseModel):
    """The documented contact-extraction example of Anthropic's structured outputs."""

    name: str
    email: str
    plan_interest: str
    demo_requested: bool


# `client.chat.completions.parse(response_format=<pydantic model>)` sends a strict
# `json_schema` (https://platform.openai.com/docs/guides/structured-outputs); an Anthropic
# deployment gets it as `output_config.format`
# (https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs) and the SDK parses
# the JSON answer into the model.
@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_parse_with_a_pydantic_model_reaches_anthropic_as_its_output_format(
    gpt: openai.OpenAI, anthropic_upstream: FakeAnthropicUpstream, fake_upstream
) -> None:
    mark = marker()
    completion = gpt.chat.completions.parse(
        model=CLAUDE_STRUCTURED,
        messages=user(f"John Smith (john@example.com) wants Enterprise and a demo. {mark}"),
        response_format=ContactInfo,
    )
    parsed = completion.choices[0].message.parsed
    assert parsed == ContactInfo(
        name="John Smith", email="john@example.com", plan_interest="Enterprise", demo_requested=True
    )
    [sent] = anthropic_upstream.find_by_text(mark)
    output_format = sent.json["output_config"]["format"]
    assert output_format["type"] == "json_schema"
    assert set(output_format["schema"]["properties"]) == set(ContactInfo.model_fields)
    assert output_format["schema"]["additionalProperties"] is False

    # The application replays the parsed message (the SDK sends its `parsed` with it) to an
    # OpenAI-compatible deployment: the upstream gets the message as OpenAI defines it.
    follow_up = gpt.chat.completions.create(
        model=OPENAI_BACKED,
        messages=[*user(f"who? {mark}"), completion.choices[0].message, *user("thanks")],
    )
    assert follow_up.choices[0].message.content
    [forwarded] = fake_upstream.find_by_text(mark)
    replayed = forwarded.json["messages"][1]
    assert replayed["role"] == "assistant" and "parsed" not in replayed, replayed
    assert json.loads(replayed["content"])["name"] == "John Smith"


# The anthropic SDK's `messages.parse(output_format=<pydantic model>)` sends
# `output_config.format` (https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs);
# to an OpenAI-compatible deployment the gateway sends it as a strict `json_schema`
# `response_format` (https://platform.openai.com/docs/api-reference/chat/create), and the SDK
# parses the JSON answer into the model.
def test_messages_parse_reaches_an_openai_deployment_as_its_response_format(
    claude: anthropic.Anthropic, fake_upstream
) -> None:
    if not hasattr(claude.messages, "parse"):
        pytest.skip("this anthropic SDK has no messages.parse")
    mark = marker()
    message = claude.messages.parse(
        model=STRUCTURED_BACKED,
        max_tokens=256,
        messages=user(f"John Smith (john@example.com) wants Enterprise and a demo. {mark}"),
        output_format=ContactInfo,
    )
    assert message.parsed_output == ContactInfo(
        name="John Smith", email="john@example.com", plan_interest="Enterprise", demo_requested=True
    )
    [sent] = fake_upstream.find_by_text(mark)
    response_format = sent.json["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert set(response_format["json_schema"]["schema"]["properties"]) == set(ContactInfo.model_fields)
    assert "output_config" not in sent.json

    # A field the translation cannot carry is refused, in Anthropic's error shape, not dropped.
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(
            model=STRUCTURED_BACKED, max_tokens=16, messages=user("hi"), extra_body={"service_tier": "auto"}
        )
    assert refused.value.status_code == 400
    assert refused.value.body["error"]["type"] == "invalid_request_error"
    assert "service_tier" in refused.value.body["error"]["message"]


def test_json_object_reaches_anthropic_as_a_forced_tool_and_comes_back_as_json_text(
    gpt: openai.OpenAI, anthropic_upstream: FakeAnthropicUpstream
) -> None:
    # Anthropic has no schema-less JSON mode; the gateway forces a tool that takes any object
    # (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use) and
    # answers with its input as the message's text.
    mark = marker()
    completion = gpt.chat.completions.create(
        model=CLAUDE_JSON_TOOL, messages=user(f"weather as JSON {mark}"), response_format={"type": "json_object"}
    )
    choice = completion.choices[0]
    assert json.loads(choice.message.content) == {"location": "San Francisco, CA", "temperature_c": 18}
    assert choice.message.tool_calls is None and choice.finish_reason == "stop"
    [sent] = anthropic_upstream.find_by_text(mark)
    assert [t["name"] for t in sent.json["tools"]] == ["json_object_answer"]
    assert sent.json["tool_choice"]["type"] == "tool"


def test_json_object_with_tools_is_refused_for_anthropic_rather_than_answered_unformatted(
    gpt: openai.OpenAI, anthropic_upstream: FakeAnthropicUpstream
) -> None:
    mark = marker()
    with pytest.raises(openai.BadRequestError) as caught:
        gpt.chat.completions.create(
            model=CLAUDE,
            messages=user(f"json please {mark}"),
            response_format={"type": "json_object"},
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_TOOL["input_schema"]}}],
        )
    error = caught.value.response.json()["error"]
    assert "json_object" in error["message"], error
    assert anthropic_upstream.find_by_text(mark) == [], "nothing was sent"
