"""The official ``openai`` Python SDK against a real Switchyard gateway.

This module owns the OpenAI-SDK client tests: chat (plain and streamed, with and without
usage), the built-in mock, embeddings, the model list, and the error mapping, each seen through
the SDK as an application would use it, plus the few malformed requests only a raw HTTP client
can send. Where it matters, the test also checks what the gateway sent upstream, as recorded
by the fake upstream (``fake_upstream.py``). Fixtures come from ``conftest.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import openai
import pytest

from conftest import (
    BROKEN,
    CONFIGURED_MODELS,
    GARBAGE,
    MASTER_KEY,
    MOCK_ECHO,
    MOCK_EMBED,
    MODEL,
    MODEL_DEPLOYMENT_ID,
    RATE_LIMITED,
    SLOW,
    UNREACHABLE,
    UPSTREAM_EMBED,
    UPSTREAM_EMBED_MODEL,
    UPSTREAM_KEY,
    UPSTREAM_MODEL,
)
from fake_upstream import CONTENT_PREFIX, EMBEDDING_VECTOR, RETRY_AFTER, USAGE


def marker() -> str:
    """A unique word to put in a prompt, to find this test's request at the fake upstream."""
    return f"marker-{uuid.uuid4().hex[:12]}"


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def assert_openai_error_shape(payload: Any, *, code: str, type_: str | None = None) -> dict[str, Any]:
    """``payload`` is ``{"error": {"message", "type", "param", "code"}}`` with the given code."""
    assert isinstance(payload, dict) and set(payload) == {"error"}, payload
    error = payload["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str) and error["type"], error
    assert error["param"] is None, error
    assert error["code"] == code, error
    if type_ is not None:
        assert error["type"] == type_, error
    return error


def only_request(fake_upstream, mark: str):
    received = fake_upstream.find_by_text(mark)
    assert len(received) == 1, f"fake upstream received {len(received)} requests with {mark}"
    return received[0]


# -- 1. plain chat through an upstream ------------------------------------------------------


def test_chat_completion_returns_upstream_answer(openai_client: openai.OpenAI) -> None:
    mark = marker()
    completion = openai_client.chat.completions.create(model=MODEL, messages=user(f"hello {mark}"))

    assert completion.object == "chat.completion"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == f"{CONTENT_PREFIX}hello {mark}"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == USAGE["prompt_tokens"]
    assert completion.usage.completion_tokens == USAGE["completion_tokens"]
    assert completion.usage.total_tokens == 15


def test_chat_raw_response_headers_and_what_upstream_received(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    raw = openai_client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=user(f"raw {mark}"),
        extra_body={"custom_param": 42},
    )

    assert raw.status_code == 200
    assert raw.headers.get("x-switchyard-deployment") == MODEL_DEPLOYMENT_ID
    completion = raw.parse()
    assert completion.choices[0].message.content == f"{CONTENT_PREFIX}raw {mark}"

    sent = only_request(fake_upstream, mark)
    assert sent.method == "POST"
    assert sent.path == "/v1/chat/completions"
    assert sent.json["model"] == UPSTREAM_MODEL
    assert sent.json["messages"] == user(f"raw {mark}")
    assert sent.json.get("custom_param") == 42
    assert sent.headers.get("authorization") == f"Bearer {UPSTREAM_KEY}"
    assert all(MASTER_KEY not in value for value in sent.headers.values()), sent.headers


# -- 2./3. streaming through an upstream ----------------------------------------------------


def test_stream_with_include_usage(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    stream = openai_client.chat.completions.create(
        model=MODEL,
        messages=user(f"stream with usage {mark}"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert len(chunks) >= 3, chunks
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"{CONTENT_PREFIX}stream with usage {mark}"
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)

    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == USAGE["prompt_tokens"]
    assert last.usage.completion_tokens == USAGE["completion_tokens"]
    assert last.usage.total_tokens == 15
    assert all(c.usage is None for c in chunks[:-1])

    sent = only_request(fake_upstream, mark)
    assert sent.json["model"] == UPSTREAM_MODEL
    assert sent.json["stream"] is True
    assert sent.json["stream_options"]["include_usage"] is True


def test_stream_without_include_usage_carries_no_usage(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    stream = openai_client.chat.completions.create(
        model=MODEL, messages=user(f"stream plain {mark}"), stream=True
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"{CONTENT_PREFIX}stream plain {mark}"
    assert all(c.usage is None for c in chunks), [c.usage for c in chunks]
    assert all(c.choices for c in chunks), "a chunk with no choices (the usage chunk) leaked through"

    # The gateway asks the upstream for usage on every stream, whatever the client asked.
    sent = only_request(fake_upstream, mark)
    assert sent.json["stream"] is True
    assert sent.json.get("stream_options", {}).get("include_usage") is True


def test_raw_stream_is_sse_ending_with_done(http) -> None:
    mark = marker()
    body = {"model": MODEL, "messages": user(f"raw stream {mark}"), "stream": True}
    with http.stream(
        "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {MASTER_KEY}"}
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        payload = "".join(resp.iter_text())
    events = [e for e in payload.replace("\r\n", "\n").split("\n\n") if e.strip()]
    assert events, payload
    assert all(e.startswith("data: ") for e in events), events
    assert events[-1] == "data: [DONE]"
    assert sum(e == "data: [DONE]" for e in events) == 1
    assert '"usage":{' not in payload.replace(" ", ""), "usage sent to a client that did not ask"


# -- 4. the built-in mock -------------------------------------------------------------------


def test_mock_echo_plain(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    completion = openai_client.chat.completions.create(
        model=MOCK_ECHO,
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": f"echo me {mark}"},
        ],
    )
    assert completion.choices[0].message.content == f"echo me {mark}"
    assert completion.choices[0].finish_reason == "stop"
    assert fake_upstream.find_by_text(mark) == [], "the mock must answer without the upstream"


def test_mock_echo_stream(openai_client: openai.OpenAI) -> None:
    mark = marker()
    text = f"one two three {mark}"
    chunks = list(
        openai_client.chat.completions.create(model=MOCK_ECHO, messages=user(text), stream=True)
    )
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(deltas) == text
    assert len(deltas) >= 4, f"expected word-by-word streaming, got {deltas}"
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)
    assert all(c.usage is None for c in chunks)


# -- 5./6. unknown model, authentication ----------------------------------------------------


def test_unknown_model_is_not_found(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client.chat.completions.create(model="no-such-model", messages=user("hi"))
    err = caught.value
    assert err.status_code == 404
    assert err.code == "model_not_found"
    assert isinstance(err.body, dict) and err.body.get("code") == "model_not_found"
    assert_openai_error_shape(err.response.json(), code="model_not_found")


def test_wrong_key_is_authentication_error(gateway, fake_upstream) -> None:
    mark = marker()
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key="sk-wrong", max_retries=0, timeout=30)
    with client, pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model=MODEL, messages=user(mark))
    err = caught.value
    assert err.status_code == 401
    assert_openai_error_shape(err.response.json(), code="invalid_api_key", type_="authentication_error")
    assert fake_upstream.find_by_text(mark) == [], "a rejected request reached the upstream"


def test_missing_key_is_401(http) -> None:
    resp = http.post("/v1/chat/completions", json={"model": MODEL, "messages": user("hi")})
    assert resp.status_code == 401
    assert_openai_error_shape(resp.json(), code="invalid_api_key", type_="authentication_error")


def test_health_needs_no_key(http) -> None:
    for path in ("/health/liveness", "/health/readiness"):
        resp = http.get(path)
        assert resp.status_code == 200, (path, resp.status_code, resp.text)


# -- 7./8. upstream failures ----------------------------------------------------------------


def test_upstream_429_is_rate_limit_error_with_retry_after(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    with pytest.raises(openai.RateLimitError) as caught:
        openai_client.chat.completions.create(model=RATE_LIMITED, messages=user(mark))
    err = caught.value
    assert err.status_code == 429
    assert err.response.headers.get("retry-after") == RETRY_AFTER
    assert_openai_error_shape(err.response.json(), code="rate_limit_exceeded")
    assert len(fake_upstream.find_by_text(mark)) >= 1


def test_while_a_rate_limited_deployment_cools_down_the_sdk_still_sees_a_rate_limit(
    fake_upstream, launch_gateway
) -> None:
    # A gateway of its own: the deployment cools down for the upstream's Retry-After, which
    # would change what the session gateway's other tests see.
    gateway = launch_gateway(
        "model_list:\n"
        f"  - model_name: {RATE_LIMITED}\n"
        f"    litellm_params: {{model: openai/rate-limited, api_base: '{fake_upstream.base_url}'}}\n"
        "router_settings:\n  num_retries: 0\n"
        f"general_settings:\n  master_key: {MASTER_KEY}\n"
    )
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    try:
        first = marker()
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model=RATE_LIMITED, messages=user(first))
        assert caught.value.response.headers.get("retry-after") == RETRY_AFTER
        assert len(fake_upstream.find_by_text(first)) == 1

        # The deployment now cools down: the gateway answers itself, and it is still a rate
        # limit the SDK (and its retries) knows how to wait for, not an internal error.
        second = marker()
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model=RATE_LIMITED, messages=user(second))
        err = caught.value
        assert err.status_code == 429
        assert 1 <= int(err.response.headers["retry-after"]) <= int(RETRY_AFTER)
        assert_openai_error_shape(err.response.json(), code="rate_limit_exceeded", type_="rate_limit_error")
        assert fake_upstream.find_by_text(second) == []
    finally:
        client.close()


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        (BROKEN, 502, "upstream_server_error"),
        (UNREACHABLE, 502, "upstream_unreachable"),
        (GARBAGE, 502, "upstream_invalid_response"),
        (SLOW, 504, "upstream_timeout"),
    ],
)
def test_upstream_failure_maps_to_gateway_error(openai_client: openai.OpenAI, model: str, status: int, code: str) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        openai_client.chat.completions.create(model=model, messages=user(f"fail {marker()}"))
    err = caught.value
    assert err.status_code == status, (err.status_code, err.body)
    assert err.code == code, err.body
    assert_openai_error_shape(err.response.json(), code=code)


def test_upstream_failure_while_streaming(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        list(openai_client.chat.completions.create(model=BROKEN, messages=user("hi"), stream=True))
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_server_error"


# -- 9. malformed requests (raw HTTP) -------------------------------------------------------


def test_malformed_json_is_400_invalid_json(http) -> None:
    resp = http.post(
        "/v1/chat/completions",
        content=b'{"model":',
        headers={"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert_openai_error_shape(resp.json(), code="invalid_json")


def test_missing_messages_is_400_invalid_request(http) -> None:
    resp = http.post(
        "/v1/chat/completions",
        json={"model": MODEL},
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
    )
    assert resp.status_code == 400
    assert_openai_error_shape(resp.json(), code="invalid_request")


# -- 10. embeddings -------------------------------------------------------------------------


def test_mock_embeddings_one_vector_per_input(openai_client: openai.OpenAI) -> None:
    inputs = ["alpha", "beta", "gamma"]
    result = openai_client.embeddings.create(model=MOCK_EMBED, input=inputs)
    assert result.object == "list"
    assert [d.index for d in result.data] == [0, 1, 2]
    dims = {len(d.embedding) for d in result.data}
    assert len(dims) == 1 and dims.pop() > 0, [len(d.embedding) for d in result.data]
    assert all(isinstance(v, float) for d in result.data for v in d.embedding)

    single = openai_client.embeddings.create(model=MOCK_EMBED, input="just one", encoding_format="float")
    assert len(single.data) == 1 and len(single.data[0].embedding) > 0


def test_upstream_embeddings_pass_through(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    result = openai_client.embeddings.create(model=UPSTREAM_EMBED, input=[f"a {mark}", f"b {mark}"])
    # The SDK asks for base64 by default and decodes it; the gateway must hand it on intact.
    assert [d.embedding for d in result.data] == [
        [v + i for v in EMBEDDING_VECTOR] for i in range(2)
    ]
    sent = only_request(fake_upstream, mark)
    assert sent.path == "/v1/embeddings"
    assert sent.json["model"] == UPSTREAM_EMBED_MODEL
    assert sent.json["input"] == [f"a {mark}", f"b {mark}"]
    assert sent.headers.get("authorization") == f"Bearer {UPSTREAM_KEY}"


# -- 11. models -----------------------------------------------------------------------------


def test_models_list_names_configured_models(openai_client: openai.OpenAI) -> None:
    models = list(openai_client.models.list())
    ids = [m.id for m in models]
    assert sorted(set(ids)) == sorted(CONFIGURED_MODELS), ids
    assert all(m.object == "model" for m in models)


def test_model_objects_pass_the_sdk_s_strict_validation(openai_client: openai.OpenAI) -> None:
    # The model object's fields (https://platform.openai.com/docs/api-reference/models/object):
    # `id` string, `object` "model", `created` integer (Unix seconds), `owned_by` string; the
    # SDK's own `Model` type, validated strictly (no coercion), must accept each one as sent.
    from openai.types import Model

    raw = openai_client.models.with_raw_response.list().http_response.json()
    assert raw["object"] == "list" and raw["data"], raw
    for item in raw["data"]:
        model = Model.model_validate(item, strict=True)
        assert model.object == "model" and model.created > 0 and model.owned_by, item
    retrieved = openai_client.models.retrieve(MODEL)
    assert (retrieved.id, retrieved.object) == (MODEL, "model")
    Model.model_validate(
        openai_client.models.with_raw_response.retrieve(MODEL).http_response.json(), strict=True
    )


# -- lifecycle ------------------------------------------------------------------------------


def test_sigterm_shuts_down_gracefully(launch_gateway) -> None:
    own = launch_gateway(f"model_list:\n  - model_name: {MOCK_ECHO}\n    litellm_params: {{model: mock/echo}}\n")
    code = own.stop()
    assert code == 0, f"exit code {code!r} after SIGTERM (None: had to be killed)\n{own.log()}"
