"""The official ``openai`` Python SDK against a real Switchyard gateway, on the routes LiteLLM
serves besides chat and embeddings.

This module owns those SDK client tests: legacy text completions (plain and streamed, through
the fake upstream's ``/v1/completions`` and through the built-in mock, which has no completions
API and answers through chat), moderations, images, speech (streamed) and transcriptions
(uploads), and the Azure-style routes the SDK's ``AzureOpenAI`` client calls,
each seen through the SDK as an application would use it, and
checked against what the fake upstream received. Fixtures come from ``conftest.py``.
"""

from __future__ import annotations

import uuid

import openai

from conftest import MASTER_KEY, MOCK_ECHO, MODEL, UPSTREAM_MODEL
from fake_upstream import COMPLETION_PREFIX, CONTENT_PREFIX, FAKE_AUDIO, USAGE


def marker() -> str:
    """A unique word to put in a prompt, to find this test's request at the fake upstream."""
    return f"marker-{uuid.uuid4().hex[:12]}"


# -- legacy text completions (https://platform.openai.com/docs/api-reference/completions) ----


def test_text_completion_through_an_upstream(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    completion = openai_client.completions.create(model=MODEL, prompt=f"say {mark}", max_tokens=7)

    assert completion.object == "text_completion"
    assert completion.model == UPSTREAM_MODEL
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.text == f"{COMPLETION_PREFIX}say {mark}"
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.logprobs is None
    assert completion.usage is not None
    assert completion.usage.total_tokens == USAGE["total_tokens"]

    received = fake_upstream.find_by_text(mark)
    assert [r.path for r in received] == ["/v1/completions"]
    assert received[0].json["prompt"] == f"say {mark}"
    assert received[0].json["max_tokens"] == 7
    assert received[0].json["model"] == UPSTREAM_MODEL


def test_text_completion_stream_with_usage(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    stream = openai_client.completions.create(
        model=MODEL, prompt=f"stream {mark}", stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    assert all(chunk.object == "text_completion" for chunk in chunks)
    text = "".join(choice.text for chunk in chunks for choice in chunk.choices)
    assert text == f"{COMPLETION_PREFIX}stream {mark}"
    finishes = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == USAGE["total_tokens"]
    assert [r.path for r in fake_upstream.find_by_text(mark)] == ["/v1/completions"]


def test_text_completion_through_a_provider_without_a_completions_api(openai_client: openai.OpenAI) -> None:
    completion = openai_client.completions.create(model=MOCK_ECHO, prompt="echo this back")
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "echo this back"

    chunks = list(openai_client.completions.create(model=MOCK_ECHO, prompt="one two three", stream=True))
    assert "".join(c.text for chunk in chunks for c in chunk.choices) == "one two three"
    assert all(chunk.usage is None for chunk in chunks), "usage only when asked for"


# -- Azure-style routes, as the SDK's AzureOpenAI client calls them --------------------------


def test_azure_openai_client_reaches_the_deployment_named_in_its_path(gateway, fake_upstream) -> None:
    mark = marker()
    with openai.AzureOpenAI(
        azure_endpoint=gateway.base_url, api_key=MASTER_KEY, api_version="2024-10-21", max_retries=0
    ) as client:
        completion = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": f"azure {mark}"}]
        )
        assert completion.choices[0].message.content == f"{CONTENT_PREFIX}azure {mark}"
        embedding = client.embeddings.create(model=MODEL, input="x")
        assert embedding.object == "list" and len(embedding.data) == 1
    received = fake_upstream.find_by_text(mark)
    assert [r.path for r in received] == ["/v1/chat/completions"]
    assert received[0].json["model"] == UPSTREAM_MODEL


# -- moderations and images (OpenAI's API reference) ----------------------------------------


def test_moderation_through_an_upstream(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    moderation = openai_client.moderations.create(model=MODEL, input=[f"one {mark}", "two"])
    assert len(moderation.results) == 2
    assert moderation.results[0].flagged is True
    assert moderation.results[0].categories.violence is True
    received = fake_upstream.find_by_text(mark)
    assert [r.path for r in received] == ["/v1/moderations"]
    assert received[0].json["model"] == UPSTREAM_MODEL


def test_image_generation_through_an_upstream_and_the_mock(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    images = openai_client.images.generate(model=MODEL, prompt=f"a cat {mark}", n=2)
    assert len(images.data) == 2
    assert images.data[0].url == "https://images.example/1.png"
    assert images.usage is not None and images.usage.total_tokens == 15
    assert [r.path for r in fake_upstream.find_by_text(mark)] == ["/v1/images/generations"]

    mocked = openai_client.images.generate(model=MOCK_ECHO, prompt="a dog")
    assert mocked.data[0].b64_json and mocked.data[0].revised_prompt == "a dog"


# -- audio (https://platform.openai.com/docs/api-reference/audio) ----------------------------


def test_speech_streams_the_upstreams_audio(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker()
    with openai_client.audio.speech.with_streaming_response.create(
        model=MODEL, voice="alloy", input=f"say {mark}"
    ) as response:
        assert response.headers["content-type"] == "audio/mpeg"
        audio = b"".join(response.iter_bytes())
    assert audio == FAKE_AUDIO
    received = fake_upstream.find_by_text(mark)
    assert [r.path for r in received] == ["/v1/audio/speech"]
    assert received[0].json["voice"] == "alloy" and received[0].json["model"] == UPSTREAM_MODEL

    wav = openai_client.audio.speech.create(model=MOCK_ECHO, voice="alloy", input="hello")
    assert wav.content.startswith(b"RIFF")


def test_transcription_forwards_the_upload(openai_client: openai.OpenAI, fake_upstream) -> None:
    mark = marker().encode()
    audio = b"RIFF" + mark
    transcript = openai_client.audio.transcriptions.create(model=MODEL, file=("hello.wav", audio, "audio/wav"))
    received = fake_upstream.find_by_text(mark.decode())
    assert [r.path for r in received] == ["/v1/audio/transcriptions"]
    upload = received[0].raw_body
    assert received[0].headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'filename="hello.wav"' in upload and audio in upload
    assert UPSTREAM_MODEL.encode() in upload
    assert transcript.text == f"upstream heard {len(upload)} bytes"

    mocked = openai_client.audio.transcriptions.create(model=MOCK_ECHO, file=("a.mp3", b"12345"))
    assert mocked.text == "mock transcription of a.mp3 (5 bytes)"
