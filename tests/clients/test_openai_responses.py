"""The official ``openai`` Python SDK's Responses API (``client.responses``) against a real
Switchyard gateway in front of the fake OpenAI-compatible upstream.

This module owns the Responses client tests: ``responses.create`` (text, tools, a tool round trip,
``previous_response_id``, ``store=False``), ``responses.stream`` with its event types and final
response, ``responses.retrieve`` and ``responses.delete``, and an error as the SDK raises it, on
deployments served by translation (a vLLM server, Anthropic, Gemini) and on OpenAI deployments,
to which the gateway passes the calls through (the fake replays OpenAI's documented answers,
``crates/switchyard-providers/tests/fixtures/openai/``); and the ``openai-agents`` SDK running a
tool-using agent on each kind.
Shapes: https://platform.openai.com/docs/api-reference/responses and
https://platform.openai.com/docs/api-reference/responses-streaming. The gateway is one of its
own (``launch_gateway``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable, Iterator

import openai
import pytest

from conftest import MASTER_KEY, UPSTREAM_KEY, UPSTREAM_KEY_ENV, Gateway
from fake_anthropic_upstream import THINKING_TOOL_SIGNATURE, FakeAnthropicUpstream
from fake_gemini_upstream import FakeGemini
from fake_upstream import CONTENT_PREFIX, RESPONSES_REASONING_ID, RESPONSES_TEXT_ID, responses_fixture

TEXT_MODEL = "gpt-4o-mini"  # -> fake upstream as vLLM (translated), model "upstream-model"
TOOL_MODEL = "tool-model"  # -> fake upstream as vLLM (translated), model "tool-call"
NATIVE_MODEL = "gpt-native"  # -> fake upstream as OpenAI (passed through), model "gpt-4.1"
REASONING_MODEL = "o4-native"  # -> fake upstream as OpenAI (passed through), model "o4-mini"
NATIVE_TOOL_MODEL = "tool-native"  # -> fake upstream as OpenAI (passed through), model "tool-call"
CLAUDE_TOOL = "claude-tool"  # -> fake Anthropic API, model "claude-tool"
CLAUDE_THINKING_TOOL = "claude-thinking-tool"  # -> fake Anthropic API, model "claude-thinking-tool"
GEMINI_TOOLS = "gemini-tools"  # -> fake Gemini API, model "gemini-tools"
ANTHROPIC_KEY = "sk-ant-responses-test"
GEMINI_KEY = "AIza-responses-test"
GEMINI_KEY_ENV = "GEMINI_RESPONSES_TEST_KEY"

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
}


def marker() -> str:
    """A unique word to put in a prompt, to find this test's request at the fake upstream."""
    return f"marker-{uuid.uuid4().hex[:12]}"


def config(openai_base: str, anthropic_base: str, gemini_base: str) -> str:
    def backed(name: str, model: str, provider: str = "hosted_vllm") -> str:
        return (
            f"  - model_name: {name}\n    litellm_params:\n      model: {provider}/{model}\n"
            f"      api_base: {openai_base}\n      api_key: os.environ/{UPSTREAM_KEY_ENV}\n"
        )

    return (
        "model_list:\n"
        + backed(TEXT_MODEL, "upstream-model")
        + backed(TOOL_MODEL, "tool-call")
        + backed(NATIVE_MODEL, "gpt-4.1", provider="openai")
        + backed(REASONING_MODEL, "o4-mini", provider="openai")
        + backed(NATIVE_TOOL_MODEL, "tool-call", provider="openai")
        # No api_key: the adapter reads ANTHROPIC_API_KEY from the gateway's environment.
        + f"  - model_name: {CLAUDE_TOOL}\n    litellm_params:\n      model: anthropic/claude-tool\n"
        f"      api_base: {anthropic_base}\n"
        + f"  - model_name: {CLAUDE_THINKING_TOOL}\n    litellm_params:\n"
        f"      model: anthropic/claude-thinking-tool\n      api_base: {anthropic_base}\n"
        + f"  - model_name: {GEMINI_TOOLS}\n    litellm_params:\n      model: gemini/gemini-tools\n"
        f"      api_base: {gemini_base}\n      api_key: os.environ/{GEMINI_KEY_ENV}\n"
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
def gemini_upstream() -> Iterator[FakeGemini]:
    upstream = FakeGemini().start()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture(scope="module")
def responses_gateway(
    fake_upstream, anthropic_upstream, gemini_upstream, launch_gateway: Callable[..., Gateway]
) -> Gateway:
    return launch_gateway(
        config(fake_upstream.base_url, anthropic_upstream.base_url, gemini_upstream.base_url),
        env={UPSTREAM_KEY_ENV: UPSTREAM_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY, GEMINI_KEY_ENV: GEMINI_KEY},
    )


@pytest.fixture(scope="module")
def client(responses_gateway: Gateway) -> Iterator[openai.OpenAI]:
    sdk = openai.OpenAI(base_url=f"{responses_gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    try:
        yield sdk
    finally:
        sdk.close()


def test_create_answers_text_with_usage(client: openai.OpenAI, fake_upstream) -> None:
    word = marker()
    response = client.responses.create(model=TEXT_MODEL, input=f"say {word}", instructions="be brief")
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    # ``output_text`` is the SDK's own sum of the output messages' text.
    assert response.output_text == f"{CONTENT_PREFIX}say {word}"
    message = response.output[0]
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "output_text"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (10, 5, 15)
    assert response.usage.input_tokens_details.cached_tokens == 0
    sent = fake_upstream.find_by_text(word)[0].json
    assert sent["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": f"say {word}"}]


def test_stream_yields_the_documented_events_and_a_final_response(client: openai.OpenAI) -> None:
    word = marker()
    with client.responses.stream(model=TEXT_MODEL, input=f"stream {word}") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert "response.output_text.delta" in types
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == f"{CONTENT_PREFIX}stream {word}"
    assert final.output_text == deltas
    assert final.status == "completed"
    assert final.usage is not None and final.usage.total_tokens == 15


def test_a_tool_round_trip_with_function_call_output(client: openai.OpenAI, fake_upstream) -> None:
    word = marker()
    first = client.responses.create(model=TOOL_MODEL, input=f"weather {word}", tools=[WEATHER_TOOL])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1, first.output
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"query": f"weather {word}"}
    # As the SDK's function-calling guide does: the model's output, then the tool's result.
    second = client.responses.create(
        model=TOOL_MODEL,
        tools=[WEATHER_TOOL],
        input=[
            {"role": "user", "content": f"weather {word}"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
    )
    assert second.output_text == "tool said: sunny"
    sent = fake_upstream.find_by_text(word)[-1].json
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.call_id
    assert sent["messages"][2] == {"role": "tool", "content": "sunny", "tool_call_id": call.call_id}


def test_a_streamed_tool_call_arrives_as_argument_deltas(client: openai.OpenAI) -> None:
    word = marker()
    with client.responses.stream(model=TOOL_MODEL, input=f"weather {word}", tools=[WEATHER_TOOL]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert "response.function_call_arguments.delta" in types
    done = [event for event in events if event.type == "response.function_call_arguments.done"]
    assert len(done) == 1 and json.loads(done[0].arguments) == {"query": f"weather {word}"}
    call = final.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"query": f"weather {word}"}


def test_previous_response_id_retrieve_and_delete(client: openai.OpenAI, fake_upstream) -> None:
    word = marker()
    first = client.responses.create(model=TEXT_MODEL, input=f"first {word}")
    second = client.responses.create(model=TEXT_MODEL, input="and then?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    sent = fake_upstream.find_by_text(word)[-1].json
    assert sent["messages"] == [
        {"role": "user", "content": f"first {word}"},
        {"role": "assistant", "content": f"{CONTENT_PREFIX}first {word}"},
        {"role": "user", "content": "and then?"},
    ]
    again = client.responses.retrieve(first.id)
    assert again.id == first.id and again.output_text == first.output_text
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)

    unstored = client.responses.create(model=TEXT_MODEL, input="forget me", store=False)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)


def test_errors_arrive_as_the_sdks_exceptions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        client.responses.create(model="no-such-model", input="hi")
    assert not_found.value.status_code == 404
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model=TEXT_MODEL, input="hi", tools=[{"type": "web_search"}])
    assert bad.value.status_code == 400
    assert "web_search" in str(bad.value)


# -- Passed through to OpenAI deployments ------------------------------------------------------


def test_a_passed_through_response_is_openais_own(client: openai.OpenAI, fake_upstream) -> None:
    word = marker()
    response = client.responses.create(
        model=NATIVE_MODEL, input=f"Tell me a story {word}", metadata={"run": word}, truncation="auto"
    )
    documented = json.loads(responses_fixture("responses_text.json"))
    assert response.id.startswith(f"{RESPONSES_TEXT_ID}_")
    assert response.model == documented["model"]
    assert response.output_text == documented["output"][0]["content"][0]["text"]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (36, 87, 123)
    sent = fake_upstream.find_by_text(word)
    assert [r.path for r in sent] == ["/v1/responses"]
    assert sent[0].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent[0].json == {
        "model": "gpt-4.1", "input": f"Tell me a story {word}", "metadata": {"run": word}, "truncation": "auto",
    }

    # The upstream holds the conversation: the id goes back to it as it came.
    second = client.responses.create(model=NATIVE_MODEL, input=f"go on {word}", previous_response_id=response.id)
    assert second.id != response.id
    assert fake_upstream.find_by_text(f"go on {word}")[0].json["previous_response_id"] == response.id
    assert client.responses.retrieve(response.id).output_text == response.output_text


def test_encrypted_reasoning_streams_back_and_returns_unchanged_next_turn(client: openai.OpenAI, fake_upstream) -> None:
    word = marker()
    question = {"role": "user", "content": f"What is the capital of France? {word}"}
    with client.responses.stream(
        model=REASONING_MODEL, input=[question], store=False, include=["reasoning.encrypted_content"]
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    fixture = responses_fixture("responses_stream_reasoning.sse")
    documented = [line.removeprefix("event: ") for line in fixture.splitlines() if line.startswith("event: ")]
    assert [event.type for event in events] == documented
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert final.id.startswith(f"{RESPONSES_REASONING_ID}_")
    assert final.output_text == "The capital of France is Paris."
    reasoning = final.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.encrypted_content and reasoning.encrypted_content.startswith("gAAAAA")
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens == 64

    # The next turn sends the output items back; the reasoning item reaches OpenAI as it came.
    follow_up = {"role": "user", "content": f"And of Italy? {word}"}
    client.responses.create(
        model=REASONING_MODEL, input=[question, *final.output, follow_up], store=False,
        include=["reasoning.encrypted_content"],
    )
    sent = fake_upstream.find_by_text(f"And of Italy? {word}")[0].json
    documented_item = json.loads(responses_fixture("responses_reasoning.json"))["output"][0]
    assert sent["input"][0] == question
    assert sent["input"][1] == documented_item
    assert sent["input"][-1] == follow_up
    assert sent["include"] == ["reasoning.encrypted_content"]


# -- The openai-agents SDK: a tool-using agent over the gateway's Responses API ---------------


def run_agent(
    gateway: Gateway, model: str, tools: list, prompt: str, streamed: bool, settings: Any = None
) -> str:
    """Runs an agent of ``tools`` on ``model`` (with the ``ModelSettings`` ``settings``, if
    given) through the gateway's Responses API; its final output."""
    import asyncio

    from agents import Agent, OpenAIResponsesModel, Runner, set_tracing_disabled

    set_tracing_disabled(True)  # no trace export to OpenAI from a test

    async def run() -> str:
        sdk = openai.AsyncOpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0)
        try:
            agent = Agent(
                name="weather",
                instructions="Answer with the tools.",
                tools=tools,
                model=OpenAIResponsesModel(model=model, openai_client=sdk),
                **({"model_settings": settings} if settings is not None else {}),
            )
            if streamed:
                result = Runner.run_streamed(agent, prompt, max_turns=4)
                async for _ in result.stream_events():
                    pass
            else:
                result = await Runner.run(agent, prompt, max_turns=4)
            return str(result.final_output)
        finally:
            await sdk.close()

    return asyncio.run(run())


def run_weather_agent(gateway: Gateway, model: str, word: str, streamed: bool) -> tuple[str, list[str]]:
    """Runs an agent with one ``get_weather`` tool (answering ``sunny``) on ``model``, asked
    ``weather <word>``: its final output, and the queries the tool was called with."""
    from agents import function_tool

    calls: list[str] = []

    @function_tool
    def get_weather(query: str) -> str:
        """Current weather of a city."""
        calls.append(query)
        return "sunny"

    return run_agent(gateway, model, [get_weather], f"weather {word}", streamed), calls


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_an_agents_sdk_agent_calls_its_tool_on_an_openai_compatible_deployment(
    responses_gateway: Gateway, fake_upstream, streamed: bool
) -> None:
    word = marker()
    output, calls = run_weather_agent(responses_gateway, TOOL_MODEL, word, streamed)
    assert output == "tool said: sunny"
    assert calls == [f"weather {word}"]
    # The call, then the tool's result sent back with the conversation.
    sent = [r.json for r in fake_upstream.find_by_text(word)]
    assert len(sent) == 2
    assert sent[1]["messages"][0] == {"role": "system", "content": "Answer with the tools."}
    tool_message = sent[1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "sunny"


# Fixtures: crates/switchyard-providers/tests/fixtures/openai/ (responses_function_call.json, then
# responses_text.json), passed through unchanged.
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_an_agents_sdk_agent_calls_its_tool_on_an_openai_deployment(
    responses_gateway: Gateway, fake_upstream, streamed: bool
) -> None:
    word = marker()
    output, calls = run_weather_agent(responses_gateway, NATIVE_TOOL_MODEL, word, streamed)
    assert output == "tool said: sunny"
    assert calls == [f"weather {word}"]
    # Both turns reached OpenAI's own API: the call, then the conversation with its result.
    sent = fake_upstream.find_by_text(word)
    assert [r.path for r in sent] == ["/v1/responses", "/v1/responses"]
    assert sent[0].json["model"] == "tool-call"
    assert sent[0].json["instructions"] == "Answer with the tools."
    items = sent[1].json["input"]
    call = next(item for item in items if item.get("type") == "function_call")
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"query": f"weather {word}"}
    result = items[-1]
    assert result["type"] == "function_call_output"
    assert result["call_id"] == call["call_id"] and result["output"] == "sunny"


# Fixtures: crates/switchyard-providers/tests/fixtures/anthropic/ (tool_use_response.json,
# stream_tool_use.sse, then text_response.json, stream_text.sse).
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_an_agents_sdk_agent_calls_its_tool_on_an_anthropic_deployment(
    responses_gateway: Gateway, anthropic_upstream, streamed: bool
) -> None:
    from agents import function_tool

    calls: list[dict] = []

    @function_tool
    def get_weather(location: str, unit: str) -> str:
        """Current weather of a location."""
        calls.append({"location": location, "unit": unit})
        return "15 degrees"

    word = marker()
    output = run_agent(responses_gateway, CLAUDE_TOOL, [get_weather], f"weather {word}", streamed)
    # The text of text_response.json, or of stream_text.sse.
    assert output == ("Hello!" if streamed else "Hi! My name is Claude.")
    assert len(calls) == 1 and calls[0]["location"] == "San Francisco, CA", calls
    sent = [r.json for r in anthropic_upstream.find_by_text(word)]
    assert len(sent) == 2
    tool_use = next(b for b in sent[1]["messages"][-2]["content"] if b["type"] == "tool_use")
    tool_result = next(b for b in sent[1]["messages"][-1]["content"] if b["type"] == "tool_result")
    assert tool_result["tool_use_id"] == tool_use["id"]


# An agent that does not store its responses (`store=False`) and keeps the reasoning items with
# their `encrypted_content` (https://platform.openai.com/docs/api-reference/responses/object),
# on an Anthropic deployment with extended thinking: the fake Anthropic API refuses the second
# turn unless its assistant turn starts with the signed thinking block of the first
# (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking); fixtures
# thinking_tool_use_response.json / stream_thinking_tool_use.sse, then text_response.json /
# stream_text.sse.
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_stateless_agent_keeps_anthropic_thinking_across_its_tool_turn(
    responses_gateway: Gateway, anthropic_upstream, streamed: bool
) -> None:
    from agents import ModelSettings, function_tool
    from openai.types.shared import Reasoning

    calls: list[str] = []

    @function_tool
    def get_weather(location: str) -> str:
        """Current weather of a location."""
        calls.append(location)
        return "15 degrees"

    word = marker()
    settings = ModelSettings(
        reasoning=Reasoning(effort="low"), store=False, response_include=["reasoning.encrypted_content"]
    )
    output = run_agent(
        responses_gateway, CLAUDE_THINKING_TOOL, [get_weather], f"weather {word}", streamed, settings
    )
    assert output == ("Hello!" if streamed else "Hi! My name is Claude.")
    assert calls == ["Paris"]
    sent = [r.json for r in anthropic_upstream.find_by_text(word)]
    assert len(sent) == 2
    assert sent[0]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    first_block = sent[1]["messages"][-2]["content"][0]
    assert first_block["type"] == "thinking"
    assert first_block["signature"] == THINKING_TOOL_SIGNATURE


# Fixtures: crates/switchyard-providers/tests/fixtures/gemini/ (two parallel function calls,
# then the text answer once function responses come back).
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_an_agents_sdk_agent_runs_parallel_tool_calls_on_a_gemini_deployment(
    responses_gateway: Gateway, gemini_upstream, streamed: bool
) -> None:
    from agents import function_tool

    calls: list[str] = []

    @function_tool
    def get_current_weather(location: str, unit: str = "celsius") -> str:
        """Current weather of a location."""
        calls.append(f"weather {location}")
        return "15 degrees"

    @function_tool
    def get_current_time(timezone: str) -> str:
        """Current time in a time zone."""
        calls.append(f"time {timezone}")
        return "09:30"

    word = marker()
    output = run_agent(
        responses_gateway, GEMINI_TOOLS, [get_current_weather, get_current_time], f"weather {word}", streamed
    )
    assert output == "The capital of France is Paris."
    # generate_function_call.json holds two parallel calls; stream_function_call.sse one.
    expected = ["weather Boston, MA"] if streamed else ["time America/New_York", "weather Boston, MA"]
    assert sorted(calls) == expected
    sent = [r.json for r in gemini_upstream.find(lambda r: word in json.dumps(r.json))]
    assert len(sent) == 2
    responses = [p["functionResponse"] for c in sent[1]["contents"] for p in c.get("parts", []) if "functionResponse" in p]
    expected_names = ["get_current_weather"] if streamed else ["get_current_time", "get_current_weather"]
    assert sorted(r["name"] for r in responses) == expected_names
