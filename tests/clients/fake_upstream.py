"""A fake OpenAI-compatible upstream for the client tests of the Switchyard gateway.

This module owns the upstream side of the client tests: a stdlib
``http.server.ThreadingHTTPServer`` bound to ``127.0.0.1:0`` and served from a
daemon thread, answering in the shapes OpenAI documents for

* ``POST /v1/chat/completions``: a ``chat.completion`` object whose content is
  ``"upstream says: <last user text>"`` with usage 10/5/15, or, with
  ``"stream": true``, a ``text/event-stream`` of ``chat.completion.chunk``
  events (a role chunk, content chunks, a ``finish_reason: "stop"`` chunk, a
  usage chunk with ``"choices": []`` when ``stream_options.include_usage`` is
  true) closed by ``data: [DONE]``;
* ``POST /v1/embeddings``: an embeddings ``list`` (floats, or base64 of
  little-endian float32 when ``encoding_format`` is ``"base64"``);
* ``POST /v1/moderations`` (every input flagged for violence) and
  ``POST /v1/images/generations`` (``n`` image URLs, usage 10/5/15);
* ``POST /v1/audio/speech`` (``FAKE_AUDIO`` as ``audio/mpeg``) and
  ``POST /v1/audio/transcriptions`` (``{"text": "upstream heard <n> bytes"}``, usage 10/5);
* ``POST /v1/completions``: a legacy ``text_completion`` whose text is
  ``"upstream completes: <prompt>"`` with usage 10/5/15, or its stream of
  ``text_completion`` chunks (a usage chunk with ``"choices": []`` when
  ``stream_options.include_usage`` is true) closed by ``data: [DONE]``;
* ``POST /v1/responses`` (and Azure OpenAI's ``POST /openai/v1/responses`` at the server's
  root): OpenAI's documented Responses answers, replayed from
  ``crates/switchyard-providers/tests/fixtures/openai/`` (see the README there):
  ``responses_reasoning.json`` for a model starting with ``o4``, ``responses_text.json`` for
  any other, ``responses_stream_reasoning.sse`` when ``"stream": true``; each answer's
  response id gets ``_<n>`` appended, ``n`` counting the Responses requests. The
  ``tool-call`` model answers ``responses_function_call.json`` calling the request's first
  tool with ``{"query": <last user text>}`` (call id ``call_<n>``), and once the input ends in
  a ``function_call_output``, ``responses_text.json`` saying ``"tool said: <its output>"``;
  streamed, as the documented event sequence of that response (``responses_events``).

The upstream model name the gateway sends switches the behaviour:

==================  ==========================================================
``rate-limited``    429, ``retry-after: 7``, OpenAI error body
``broken``          500, OpenAI error body
``garbage``         200, ``text/html`` body ``<html>not json</html>``
``slow``            waits (bounded) until the server is stopped, then answers;
                    used with a short deployment timeout
``tool-call``       calls the request's first tool with ``{"query": <last user
                    text>}`` (``finish_reason: "tool_calls"``); once the last
                    message is a ``tool`` result, answers ``"tool said: <it>"``
``structured``      with a ``json_schema`` ``response_format``, answers the JSON of
                    the documented contact-extraction example of structured
                    outputs (``STRUCTURED_ANSWER``); without one, the normal answer
anything else       the normal answer
==================  ==========================================================

Every request is recorded (method, path, lower-cased headers, parsed JSON) so
tests can assert on what the gateway actually sent upstream.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional

CONTENT_PREFIX = "upstream says: "
COMPLETION_PREFIX = "upstream completes: "
FAKE_AUDIO = b"ID3 fake mp3 audio bytes"
USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
EMBEDDING_VECTOR = [0.25, -0.5, 1.0, 0.125]
RETRY_AFTER = "7"
GARBAGE_BODY = b"<html>not json</html>"
# The answer of the contact-extraction example of structured outputs
# (https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs), as a JSON text.
STRUCTURED_ANSWER = json.dumps(
    {"name": "John Smith", "email": "john@example.com", "plan_interest": "Enterprise", "demo_requested": True}
)
# Upper bound on how long a ``slow`` request is held (released early at stop()).
SLOW_HOLD_SECONDS = 30.0
RESPONSES_FIXTURES = Path(__file__).resolve().parents[2] / "crates/switchyard-providers/tests/fixtures/openai"
RESPONSES_TEXT_ID = "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"
RESPONSES_REASONING_ID = "resp_68af4030592c81938ec0a5fbab4a3e9f05438e46b5f69a3b"
RESPONSES_PATHS = ("/v1/responses", "/openai/v1/responses")


def responses_fixture(name: str) -> str:
    """A fixture of ``RESPONSES_FIXTURES`` as text."""
    return (RESPONSES_FIXTURES / name).read_text()


@dataclass
class RecordedRequest:
    """One request the fake upstream received."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    raw_body: bytes = field(repr=False, default=b"")


def last_user_text(messages: Any) -> str:
    """The text of the last ``user`` message (string or content-part list)."""
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                part.get("text", "")
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
        return ""
    return ""


def stream_pieces(text: str) -> list[str]:
    """How a streamed answer is split into content deltas; joined, they give the full answer."""
    return re.findall(r"\S+\s*|\s+", CONTENT_PREFIX + text)


def openai_error(message: str, type_: str, code: Optional[str]) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def responses_input_text(items: Any) -> str:
    """The text of the last user message of a Responses ``input`` (text or items)."""
    if isinstance(items, str):
        return items
    for item in reversed(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))
    return ""


def responses_tool_call(body: dict[str, Any], n: int) -> dict[str, Any]:
    """The ``tool-call`` model's answer: a call of the first tool, or text quoting its output."""
    items = body.get("input")
    last = items[-1] if isinstance(items, list) and items else None
    if isinstance(last, dict) and last.get("type") == "function_call_output":
        response = json.loads(responses_fixture("responses_text.json"))
        response["id"] = f"{RESPONSES_TEXT_ID}_{n}"
        response["output"][0]["content"][0]["text"] = f"tool said: {last.get('output')}"
        return response
    response = json.loads(responses_fixture("responses_function_call.json"))
    response["id"] = f"{response['id']}_{n}"
    tool = (body.get("tools") or [{}])[0]
    response["tools"] = body.get("tools") or []
    response["output"][0].update(
        name=tool.get("name"),
        call_id=f"call_{n}",
        id=f"fc_{n}",
        arguments=json.dumps({"query": responses_input_text(items)}),
    )
    return response


def responses_events(response: dict[str, Any]) -> list[dict[str, Any]]:
    """``response`` streamed as the documented event sequence
    (https://platform.openai.com/docs/api-reference/responses-streaming): created, in progress,
    each output item added, its content or arguments, done, then completed."""
    events: list[dict[str, Any]] = []

    def emit(type_: str, **fields: Any) -> None:
        events.append({"type": type_, **fields, "sequence_number": len(events)})

    started = {**response, "status": "in_progress", "output": [], "usage": None}
    emit("response.created", response=started)
    emit("response.in_progress", response=started)
    for index, item in enumerate(response["output"]):
        if item["type"] == "message":
            emit("response.output_item.added", output_index=index,
                 item={**item, "status": "in_progress", "content": []})
            for part_index, part in enumerate(item["content"]):
                where = {"item_id": item["id"], "output_index": index, "content_index": part_index}
                emit("response.content_part.added", **where, part={**part, "text": ""})
                for piece in re.findall(r"\S+\s*|\s+", part["text"]):
                    emit("response.output_text.delta", **where, delta=piece, logprobs=[])
                emit("response.output_text.done", **where, text=part["text"], logprobs=[])
                emit("response.content_part.done", **where, part=part)
        elif item["type"] == "function_call":
            emit("response.output_item.added", output_index=index,
                 item={**item, "status": "in_progress", "arguments": ""})
            where = {"item_id": item["id"], "output_index": index}
            emit("response.function_call_arguments.delta", **where, delta=item["arguments"])
            emit("response.function_call_arguments.done", **where, arguments=item["arguments"])
        else:
            emit("response.output_item.added", output_index=index, item=item)
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.completed", response=response)
    return events


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    # Quiet: the default handler logs every request to stderr.
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    # -- plumbing -----------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> None:
        body = json.dumps(payload).encode()
        self._send_bytes(status, body, "application/json", headers)

    def _send_bytes(
        self, status: int, body: bytes, content_type: str, headers: Optional[dict[str, str]] = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", f"req_fake_{uuid.uuid4().hex[:12]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _record(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        rec = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            json=parsed,
            raw_body=raw,
        )
        self.server.owner._append(rec)
        return rec

    # -- routes -------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        self._record()
        if self.path == "/v1/models":
            self._send_json(200, {"object": "list", "data": []})
            return
        self._send_json(404, openai_error(f"no route GET {self.path}", "invalid_request_error", None))

    def do_POST(self) -> None:  # noqa: N802
        rec = self._record()
        body = rec.json
        if self.path == "/v1/audio/transcriptions":
            # A multipart upload: the test reads the raw body; the answer names its size.
            self._send_json(200, {"text": f"upstream heard {len(rec.raw_body)} bytes",
                                  "usage": {"type": "tokens", "input_tokens": 10, "output_tokens": 5,
                                            "total_tokens": 15}})
            return
        if self.path == "/v1/audio/speech" and isinstance(body, dict):
            self._send_bytes(200, FAKE_AUDIO, "audio/mpeg")
            return
        if not isinstance(body, dict):
            self._send_json(400, openai_error("body is not a JSON object", "invalid_request_error", None))
            return
        model = body.get("model")
        if self.path in ("/v1/moderations", "/v1/images/generations"):
            self._whole_answer(body)
            return
        if self.path in RESPONSES_PATHS:
            self._responses(body)
            return
        if self.path not in ("/v1/chat/completions", "/v1/embeddings", "/v1/completions"):
            self._send_json(404, openai_error(f"no route POST {self.path}", "invalid_request_error", None))
            return

        if model == "rate-limited":
            self._send_json(
                429,
                openai_error("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
                {"retry-after": RETRY_AFTER},
            )
            return
        if model == "broken":
            self._send_json(
                500,
                openai_error("The server had an error while processing your request.", "server_error", None),
            )
            return
        if model == "garbage":
            self._send_bytes(200, GARBAGE_BODY, "text/html")
            return
        if model == "slow":
            # Hold the request like a hung upstream; bounded, and released when the server stops.
            self.server.owner._release.wait(SLOW_HOLD_SECONDS)

        if model == "tool-call" and self.path == "/v1/chat/completions":
            self._tool_call(body)
            return
        if self.path == "/v1/completions":
            self._completion(body)
        elif self.path == "/v1/embeddings":
            self._embeddings(body)
        elif body.get("stream") is True:
            self._chat_stream(body)
        else:
            self._chat(body)

    def _responses(self, body: dict[str, Any]) -> None:
        n = self.server.owner._count_responses()
        model = str(body.get("model") or "")
        if model == "tool-call":
            response = responses_tool_call(body, n)
            if body.get("stream") is True:
                payload = "".join(
                    f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in responses_events(response)
                )
                self._send_bytes(200, payload.encode(), "text/event-stream")
            else:
                self._send_json(200, response)
            return
        if body.get("stream") is True:
            name, id_ = "responses_stream_reasoning.sse", RESPONSES_REASONING_ID
            content_type = "text/event-stream"
        elif model.startswith("o4"):
            name, id_ = "responses_reasoning.json", RESPONSES_REASONING_ID
            content_type = "application/json"
        else:
            name, id_ = "responses_text.json", RESPONSES_TEXT_ID
            content_type = "application/json"
        text = responses_fixture(name).replace(id_, f"{id_}_{n}")
        self._send_bytes(200, text.encode(), content_type)

    def _chat(self, body: dict[str, Any]) -> None:
        text = CONTENT_PREFIX + last_user_text(body.get("messages"))
        response_format = body.get("response_format") or {}
        if body.get("model") == "structured" and response_format.get("type") == "json_schema":
            text = STRUCTURED_ANSWER
        self._send_json(
            200,
            {
                "id": f"chatcmpl-fake{uuid.uuid4().hex[:16]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": dict(USAGE),
            },
        )

    def _chat_stream(self, body: dict[str, Any]) -> None:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        cid = f"chatcmpl-fake{uuid.uuid4().hex[:16]}"
        created = int(time.time())
        model = body.get("model")

        def chunk(choices: list[Any], usage: Any = None) -> dict[str, Any]:
            obj: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": choices,
            }
            if include_usage:
                # As OpenAI does: every chunk carries "usage": null except the final one.
                obj["usage"] = usage
            return obj

        def delta(d: dict[str, Any], finish: Optional[str] = None) -> list[Any]:
            return [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}]

        events: list[dict[str, Any]] = [chunk(delta({"role": "assistant", "content": ""}))]
        for piece in stream_pieces(last_user_text(body.get("messages"))):
            events.append(chunk(delta({"content": piece})))
        events.append(chunk(delta({}, "stop")))
        if include_usage:
            events.append(chunk([], dict(USAGE)))

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def write_chunk(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        for event in events:
            write_chunk(f"data: {json.dumps(event)}\n\n".encode())
        write_chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _whole_answer(self, body: dict[str, Any]) -> None:
        """``/v1/moderations`` and ``/v1/images/generations``, in OpenAI's documented shapes."""
        if self.path == "/v1/moderations":
            inputs = body.get("input")
            count = len(inputs) if isinstance(inputs, list) else 1
            result = {"flagged": True, "categories": {"violence": True}, "category_scores": {"violence": 0.9}}
            self._send_json(200, {"id": "modr-fake", "model": body.get("model"), "results": [result] * count})
            return
        image = {"url": "https://images.example/1.png", "revised_prompt": body.get("prompt")}
        self._send_json(200, {"created": int(time.time()), "data": [image] * int(body.get("n") or 1),
                              "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                                        "input_tokens_details": {"text_tokens": 10, "image_tokens": 0}}})

    def _completion(self, body: dict[str, Any]) -> None:
        """``/v1/completions``, in the shapes of OpenAI's completions API reference."""
        prompt = body.get("prompt")
        text = COMPLETION_PREFIX + (prompt if isinstance(prompt, str) else json.dumps(prompt))
        base = {"id": f"cmpl-fake{uuid.uuid4().hex[:16]}", "object": "text_completion",
                "created": int(time.time()), "model": body.get("model")}

        def choice(piece: str, finish: Optional[str]) -> dict[str, Any]:
            return {"text": piece, "index": 0, "logprobs": None, "finish_reason": finish}

        if body.get("stream") is not True:
            self._send_json(200, {**base, "choices": [choice(text, "stop")], "usage": dict(USAGE)})
            return
        events = [{**base, "choices": [choice(piece, None)]} for piece in re.findall(r"\S+\s*|\s+", text)]
        events.append({**base, "choices": [choice("", "stop")]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**base, "choices": [], "usage": dict(USAGE)})
        payload = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"
        self._send_bytes(200, payload, "text/event-stream")

    def _tool_call(self, body: dict[str, Any]) -> None:
        """The ``tool-call`` model: a call of the first tool, or text quoting a tool result."""
        messages = body.get("messages") or [{}]
        last = messages[-1] if isinstance(messages[-1], dict) else {}
        tools = body.get("tools") or [{}]
        call = None
        if last.get("role") == "tool":
            text, finish = f"tool said: {last.get('content')}", "stop"
        else:
            text, finish = None, "tool_calls"
            call = {
                "id": f"call_fake{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {
                    "name": tools[0].get("function", {}).get("name", "unknown"),
                    "arguments": json.dumps({"query": last_user_text(messages)}),
                },
            }
        cid = f"chatcmpl-fake{uuid.uuid4().hex[:16]}"
        base = {"id": cid, "created": int(time.time()), "model": body.get("model")}
        if body.get("stream") is not True:
            message = {"role": "assistant", "content": text, "tool_calls": [call] if call else None}
            self._send_json(200, {**base, "object": "chat.completion", "usage": dict(USAGE),
                                  "choices": [{"index": 0, "message": message, "finish_reason": finish}]})
            return
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": text or ""}]
        if call:
            # As OpenAI streams calls: id and name first, then the arguments in pieces.
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            first = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
            deltas += [{"tool_calls": [{"index": 0, **first}]}]
            deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                       for piece in (arguments[:half], arguments[half:])]
        events = [{**base, "object": "chat.completion.chunk",
                   "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
        events.append({**base, "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": dict(USAGE)})
        payload = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"
        self._send_bytes(200, payload, "text/event-stream")

    def _embeddings(self, body: dict[str, Any]) -> None:
        inputs = body.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        if not isinstance(inputs, list):
            inputs = []
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, _ in enumerate(inputs):
            vector: Any = [v + i for v in EMBEDDING_VECTOR]
            if as_base64:
                vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)},
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "FakeUpstream"


class FakeUpstream:
    """The fake upstream: ``start()`` it, point deployments at ``base_url``, ``stop()`` it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._responses = 0
        self._release = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> "FakeUpstream":
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-upstream", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def port(self) -> int:
        assert self._server is not None, "fake upstream not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """What a deployment's ``api_base`` should be."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- recorded requests ---------------------------------------------------------------

    def _append(self, rec: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(rec)

    def _count_responses(self) -> int:
        """The number of this Responses request, from 1."""
        with self._lock:
            self._responses += 1
            return self._responses

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def find(self, predicate: Callable[[RecordedRequest], bool]) -> list[RecordedRequest]:
        return [r for r in self.requests if predicate(r)]

    def find_by_text(self, marker: str) -> list[RecordedRequest]:
        """Requests whose raw body contains ``marker`` (tests put a unique marker in each prompt)."""
        needle = marker.encode()
        return self.find(lambda r: needle in r.raw_body)


if __name__ == "__main__":  # manual poking: python fake_upstream.py
    up = FakeUpstream().start()
    print(f"fake upstream on {up.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        up.stop()
