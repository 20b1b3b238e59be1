"""The official ``openai`` Python SDK against ``gemini/`` deployments of a real gateway process.

This module owns the client tests of the Gemini adapter: a gateway of its own (started with
``launch_gateway`` from ``conftest.py``) whose deployments point at the fake Gemini upstream of
``fake_gemini_upstream.py``, which replays Google's documented bodies. Through the SDK, as an
application would call it: a plain answer, a stream, the two-turn tool loop (plain and
streamed), a rate limit, and embeddings; each test also checks what reached Gemini (the key in
``x-goog-api-key``, never in the URL; the translated body).

References for the shapes: https://ai.google.dev/api/generate-content,
https://ai.google.dev/gemini-api/docs/function-calling, https://ai.google.dev/api/embeddings,
https://ai.google.dev/gemini-api/docs/troubleshooting.
"""

from __future__ import annotations

import base64
import json
import struct
import urllib.request
import uuid
from typing import Any, Callable, Iterator

import openai
import pytest

from conftest import MASTER_KEY, Gateway
from fake_gemini_upstream import RETRY_AFTER, FakeGemini, GeminiRequest, fixture_json

GEMINI_KEY = "AIza-client-test-key"
GEMINI_KEY_ENV = "GEMINI_CLIENT_TEST_KEY"
MODELS = ["gemini-text", "gemini-tools", "gemini-rate-limited", "gemini-embedding"]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
            "additionalProperties": False,
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_time",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}},
    },
}


def gemini_config(api_base: str) -> str:
    entries = "".join(
        f"  - model_name: {model}\n"
        f"    litellm_params:\n"
        f"      model: gemini/{model}\n"
        f"      api_base: {api_base}\n"
        f"      api_key: os.environ/{GEMINI_KEY_ENV}\n"
        f"      timeout: 10\n"
        for model in MODELS
    )
    return (
        "# Written by tests/clients/test_gemini_backend.py.\n"
        "model_list:\n" + entries + "general_settings:\n" + f"  master_key: {MASTER_KEY}\n"
    )


@pytest.fixture(scope="module")
def fake_gemini() -> Iterator[FakeGemini]:
    upstream = FakeGemini().start()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture(scope="module")
def gemini_gateway(fake_gemini: FakeGemini, launch_gateway: Callable[..., Gateway]) -> Gateway:
    return launch_gateway(gemini_config(fake_gemini.base_url), env={GEMINI_KEY_ENV: GEMINI_KEY})


@pytest.fixture(scope="module")
def client(gemini_gateway: Gateway) -> Iterator[openai.OpenAI]:
    sdk = openai.OpenAI(base_url=f"{gemini_gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    try:
        yield sdk
    finally:
        sdk.close()


def marker() -> str:
    """A unique word to put in a prompt, to find this test's requests at the fake upstream."""
    return f"marker-{uuid.uuid4().hex[:12]}"


def sent_to_gemini(fake_gemini: FakeGemini, mark: str, count: int = 1) -> list[GeminiRequest]:
    received = fake_gemini.find_by_text(mark)
    assert len(received) == count, f"fake Gemini received {len(received)} requests with {mark}"
    for request in received:
        assert request.headers.get("x-goog-api-key") == GEMINI_KEY, request.headers
        assert GEMINI_KEY not in request.path + request.query, "the key must not ride in the URL"
        assert "authorization" not in request.headers, request.headers
    return received


# -- plain and streamed answers --------------------------------------------------------------


def test_plain_answer(client: openai.OpenAI, fake_gemini: FakeGemini) -> None:
    mark = marker()
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-text",
        messages=[
            {"role": "system", "content": "Answer in one sentence."},
            {"role": "user", "content": f"What is the capital of France? {mark}"},
        ],
        temperature=0.2,
        max_tokens=64,
    )
    completion = raw.parse()

    expected = fixture_json("generate_text.json")
    # The answer's id is the gateway's call id (that of its spend record), not `responseId`.
    assert completion.id == raw.headers["x-litellm-call-id"]
    assert completion.object == "chat.completion"
    assert completion.model == expected["modelVersion"]
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "The capital of France is Paris."
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        12,
        33,
        45,
    )
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 4
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 26

    (sent,) = sent_to_gemini(fake_gemini, mark)
    assert sent.path == "/v1beta/models/gemini-text:generateContent"
    assert sent.query == ""
    assert sent.json == {
        "systemInstruction": {"parts": [{"text": "Answer in one sentence."}]},
        "contents": [{"role": "user", "parts": [{"text": f"What is the capital of France? {mark}"}]}],
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 64},
    }


def test_streamed_answer_with_usage(client: openai.OpenAI, fake_gemini: FakeGemini) -> None:
    mark = marker()
    stream = client.chat.completions.create(
        model="gemini-text",
        messages=[{"role": "user", "content": f"What is the capital of France? {mark}"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    ids = {c.id for c in chunks}
    assert len(ids) == 1 and next(iter(ids)).startswith("chatcmpl-"), ids
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in with_choices] == ["The", " capital of France", " is Paris.", None]
    assert [c.choices[0].finish_reason for c in with_choices] == [None, None, None, "stop"]
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (8, 7, 15)
    assert all(c.usage is None for c in chunks[:-1])

    (sent,) = sent_to_gemini(fake_gemini, mark)
    assert sent.path == "/v1beta/models/gemini-text:streamGenerateContent"
    assert sent.query == "alt=sse"


# -- the tool loop ----------------------------------------------------------------------------


def test_tool_calls_and_their_results(client: openai.OpenAI, fake_gemini: FakeGemini) -> None:
    mark = marker()
    messages: list[Any] = [{"role": "user", "content": f"Weather and time in Boston? {mark}"}]
    first = client.chat.completions.create(
        model="gemini-tools", messages=messages, tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="auto"
    )

    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 2
    assert [c.type for c in calls] == ["function", "function"]
    assert [c.function.name for c in calls] == ["get_current_weather", "get_current_time"]
    assert json.loads(calls[0].function.arguments) == {"location": "Boston, MA", "unit": "celsius"}
    assert json.loads(calls[1].function.arguments) == {"timezone": "America/New_York"}
    assert calls[0].id != calls[1].id

    # The application runs the tools and sends the results back, as OpenAI's docs show.
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps({"temperature": 21})})
    messages.append({"role": "tool", "tool_call_id": calls[1].id, "content": "10:42 AM"})
    second = client.chat.completions.create(model="gemini-tools", messages=messages, tools=[WEATHER_TOOL, TIME_TOOL])
    assert second.choices[0].message.content == "The capital of France is Paris."
    assert second.choices[0].finish_reason == "stop"

    first_sent, second_sent = sent_to_gemini(fake_gemini, mark, count=2)
    assert first_sent.json["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_current_weather",
                    "description": "The current weather in a city",
                    "parametersJsonSchema": WEATHER_TOOL["function"]["parameters"],
                },
                {"name": "get_current_time", "parametersJsonSchema": TIME_TOOL["function"]["parameters"]},
            ]
        }
    ]
    assert first_sent.json["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    model_turn, results_turn = second_sent.json["contents"][1:]
    assert model_turn["role"] == "model"
    assert [p["functionCall"]["name"] for p in model_turn["parts"]] == ["get_current_weather", "get_current_time"]
    assert model_turn["parts"][0]["functionCall"]["args"] == {"location": "Boston, MA", "unit": "celsius"}
    # Gemini 3 refuses a tool loop whose calls come back without their thought signatures.
    signature = fixture_json("generate_function_call.json")["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert model_turn["parts"][0]["thoughtSignature"] == signature
    assert results_turn == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_current_weather", "response": {"temperature": 21}}},
            {"functionResponse": {"name": "get_current_time", "response": {"result": "10:42 AM"}}},
        ],
    }


def test_streamed_tool_call(client: openai.OpenAI, fake_gemini: FakeGemini) -> None:
    mark = marker()
    stream = client.chat.completions.create(
        model="gemini-tools",
        messages=[{"role": "user", "content": f"Weather in Boston? {mark}"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_current_weather"}},
        stream=True,
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Let me check the weather."
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(deltas) == 1, deltas
    call = deltas[0]
    assert call.index == 0 and call.type == "function" and call.id
    assert call.function is not None
    assert call.function.name == "get_current_weather"
    assert json.loads(call.function.arguments or "") == {"location": "Boston, MA"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    (sent,) = sent_to_gemini(fake_gemini, mark)
    assert sent.json["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_current_weather"]}
    }


# -- errors and embeddings --------------------------------------------------------------------


def test_rate_limit_is_a_rate_limit_error_with_retry_after(client: openai.OpenAI, fake_gemini: FakeGemini) -> None:
    mark = marker()
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gemini-rate-limited", messages=[{"role": "user", "content": mark}])
    error = caught.value
    assert error.status_code == 429
    assert error.response.headers.get("retry-after") == RETRY_AFTER
    assert isinstance(error.body, dict) and error.body.get("code") == "rate_limit_exceeded", error.body
    assert "RESOURCE_EXHAUSTED" in str(error.body.get("message")), error.body
    sent_to_gemini(fake_gemini, mark)


def test_embeddings_single_and_batch(client: openai.OpenAI, fake_gemini: FakeGemini) -> None:
    mark = marker()
    # The SDK asks for base64 unless told otherwise and decodes it; the floats must survive.
    batch = client.embeddings.create(model="gemini-embedding", input=[f"first {mark}", f"second {mark}"])
    expected = [e["values"] for e in fixture_json("embed_batch.json")["embeddings"]]
    assert [d.index for d in batch.data] == [0, 1]
    for got, want in zip(batch.data, expected):
        assert got.embedding == pytest.approx(want, rel=1e-6)
    assert batch.usage.prompt_tokens > 0 and batch.usage.total_tokens == batch.usage.prompt_tokens

    single = client.embeddings.create(
        model="gemini-embedding", input=f"only {mark}", encoding_format="float", dimensions=4
    )
    assert len(single.data) == 1
    assert single.data[0].embedding == pytest.approx(fixture_json("embed_single.json")["embedding"]["values"])

    batch_sent, single_sent = sent_to_gemini(fake_gemini, mark, count=2)
    assert batch_sent.path == "/v1beta/models/gemini-embedding:batchEmbedContents"
    assert [r["content"]["parts"][0]["text"] for r in batch_sent.json["requests"]] == [f"first {mark}", f"second {mark}"]
    assert all(r["model"] == "models/gemini-embedding" for r in batch_sent.json["requests"])
    assert single_sent.path == "/v1beta/models/gemini-embedding:embedContent"
    assert single_sent.json["outputDimensionality"] == 4


def test_base64_embeddings_are_little_endian_float32(gemini_gateway: Gateway) -> None:
    """What the SDK decodes above, checked byte for byte with a raw request."""
    request = urllib.request.Request(
        f"{gemini_gateway.base_url}/v1/embeddings",
        data=json.dumps({"model": "gemini-embedding", "input": "x", "encoding_format": "base64"}).encode(),
        headers={"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"},
        method="POST",
    )
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with no_proxy.open(request, timeout=30) as response:
        body = json.loads(response.read())
    raw = base64.b64decode(body["data"][0]["embedding"])
    values = fixture_json("embed_single.json")["embedding"]["values"]
    assert raw == struct.pack(f"<{len(values)}f", *values)
