"""A fake Anthropic Messages API for the client tests of the Switchyard gateway.

This module owns the Anthropic side of the client tests: a stdlib
``http.server.ThreadingHTTPServer`` on ``127.0.0.1:0``, served from a daemon
thread, answering ``POST /v1/messages`` by replaying the documented fixtures of
``crates/switchyard-providers/tests/fixtures/anthropic/`` (their README names the
Anthropic documentation each one comes from). The upstream model a request names
chooses the answer:

=======================  =====================================================
``claude-text``          ``text_response.json``, or ``stream_text.sse``
``claude-tool``          ``tool_use_response.json``, or ``stream_tool_use.sse``; once the
                         last message holds a ``tool_result`` block (the tool loop's
                         second turn), the ``claude-text`` answer
``claude-rate-limited``  429, ``retry-after: 7``, ``error_rate_limit.json``
``claude-structured``    ``structured_output_response.json`` (JSON text, for ``output_config``)
``claude-json-tool``     ``json_tool_response.json`` (the forced tool of a ``json_object`` answer)
``claude-thinking``      ``thinking_response.json``, or ``stream_thinking.sse``
``claude-thinking-tool`` with ``thinking`` enabled: ``thinking_tool_use_response.json`` (or
                         ``stream_thinking_tool_use.sse``); a turn answering the tool is
                         refused as Anthropic refuses it (400 ``invalid_request_error``,
                         ``unpreserved_thinking``) unless the assistant turn before it starts
                         with that thinking block, signature unchanged; then the
                         ``claude-text`` answer
anything else            404 with a ``not_found_error`` body
=======================  =====================================================

``POST /v1/messages/count_tokens`` answers ``{"input_tokens": 14}`` (``COUNTED_TOKENS``), the
documented example of https://platform.claude.com/docs/api/beta/messages/count_tokens.

Streams are sent one SSE event per HTTP chunk. Every request is recorded
(path, lower-cased headers, parsed JSON) so tests can check what the gateway sent.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

FIXTURES = Path(__file__).resolve().parents[2] / "crates/switchyard-providers/tests/fixtures/anthropic"
RETRY_AFTER = "7"
COUNTED_TOKENS = 14


def fixture(name: str) -> bytes:
    """The bytes of one fixture file."""
    return (FIXTURES / name).read_bytes()


def holds_tool_result(body: Any) -> bool:
    """Whether the request's last message carries a ``tool_result`` block."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        return False
    content = messages[-1].get("content")
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


# The signature of the thinking block in thinking_tool_use_response.json and its stream.
THINKING_TOOL_SIGNATURE = json.loads(fixture("thinking_tool_use_response.json"))["content"][0]["signature"]


def unpreserved_thinking(body: Any) -> Optional[str]:
    """Anthropic's refusal of a tool result whose assistant turn lost its thinking while
    ``thinking`` is enabled ("Preserving thinking blocks",
    https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking), or ``None`` when the
    turn before the last starts with the thinking block given, signature unchanged."""
    messages = body.get("messages") or []
    index = len(messages) - 2
    content = messages[index].get("content") if index >= 0 else None
    first = content[0] if isinstance(content, list) and content else {}
    found = first.get("type", "text") if isinstance(first, dict) else "text"
    if found == "redacted_thinking" or (found == "thinking" and first.get("signature") == THINKING_TOOL_SIGNATURE):
        return None
    if found == "thinking":
        return f"messages.{index}.content.0: Invalid `signature` in `thinking` block"
    return (
        f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. "
        "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
        "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
        "thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult "
        "our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
    )


@dataclass
class AnthropicRequest:
    """One request the fake Anthropic API received."""

    path: str
    headers: dict[str, str]
    json: Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, status: int, body: bytes, content_type: str, headers: Optional[dict[str, str]] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _replay(self, name: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        text = fixture(name).decode()
        for event in text.split("\n\n"):
            if not event.strip():
                continue
            data = (event + "\n\n").encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.server.owner._append(
            AnthropicRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        model = body.get("model") if isinstance(body, dict) else None
        stream = isinstance(body, dict) and body.get("stream") is True
        if self.path == "/v1/messages/count_tokens":
            self._send(200, json.dumps({"input_tokens": COUNTED_TOKENS}).encode(), "application/json")
            return
        if self.path != "/v1/messages":
            model = None
        if model == "claude-thinking":
            if stream:
                self._replay("stream_thinking.sse")
            else:
                self._send(200, fixture("thinking_response.json"), "application/json")
        elif model == "claude-thinking-tool" and (body.get("thinking") or {}).get("type") == "enabled":
            refusal = unpreserved_thinking(body) if holds_tool_result(body) else None
            if refusal:
                error = {"type": "error", "error": {"type": "invalid_request_error", "message": refusal}}
                self._send(400, json.dumps(error).encode(), "application/json")
            elif holds_tool_result(body):
                if stream:
                    self._replay("stream_text.sse")
                else:
                    self._send(200, fixture("text_response.json"), "application/json")
            elif stream:
                self._replay("stream_thinking_tool_use.sse")
            else:
                self._send(200, fixture("thinking_tool_use_response.json"), "application/json")
        elif model == "claude-text":
            if stream:
                self._replay("stream_text.sse")
            else:
                self._send(200, fixture("text_response.json"), "application/json")
        elif model == "claude-tool" and holds_tool_result(body):
            if stream:
                self._replay("stream_text.sse")
            else:
                self._send(200, fixture("text_response.json"), "application/json")
        elif model == "claude-tool":
            if stream:
                self._replay("stream_tool_use.sse")
            else:
                self._send(200, fixture("tool_use_response.json"), "application/json")
        elif model == "claude-structured" and not stream:
            self._send(200, fixture("structured_output_response.json"), "application/json")
        elif model == "claude-json-tool" and not stream:
            self._send(200, fixture("json_tool_response.json"), "application/json")
        elif model == "claude-rate-limited":
            self._send(429, fixture("error_rate_limit.json"), "application/json", {"retry-after": RETRY_AFTER})
        else:
            error = {"type": "error", "error": {"type": "not_found_error", "message": f"model: {model}"}}
            self._send(404, json.dumps(error).encode(), "application/json")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "FakeAnthropicUpstream"


class FakeAnthropicUpstream:
    """The fake Anthropic API: ``start()`` it, point deployments at ``base_url``, ``stop()`` it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[AnthropicRequest] = []
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "FakeAnthropicUpstream":
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def base_url(self) -> str:
        """What a deployment's ``api_base`` should be (the adapter adds ``/v1/messages``)."""
        assert self._server is not None, "fake Anthropic API not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _append(self, request: AnthropicRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[AnthropicRequest]:
        with self._lock:
            return list(self._requests)

    def find_by_text(self, marker: str) -> list[AnthropicRequest]:
        """Requests whose JSON body mentions ``marker`` (tests put a unique one in each prompt)."""
        return [r for r in self.requests if marker in json.dumps(r.json)]
