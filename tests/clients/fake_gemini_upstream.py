"""A fake Gemini (Generative Language API) upstream for the client tests of the gateway.

This module owns the Gemini side of the client tests: a stdlib ``ThreadingHTTPServer`` on
``127.0.0.1:0``, served from a daemon thread, answering ``POST /v1beta/models/{model}:{method}``
with the bodies Google documents, replayed from the fixture files the Rust adapter's unit tests
read (``crates/switchyard-providers/tests/fixtures/gemini/``; their sources are listed in the
``README.md`` there).

The model in the path switches the answer:

=======================  ===================================================================
``gemini-text``          ``generateContent``: ``generate_text.json``;
                         ``streamGenerateContent?alt=sse``: ``stream_text.sse``
``gemini-tools``         a request holding ``functionResponse`` parts gets the text answer;
                         otherwise ``generate_function_call.json`` (two parallel calls) or,
                         streamed, ``stream_function_call.sse``
``gemini-rate-limited``  429, ``retry-after: 7``, ``error_rate_limited.json``
``gemini-embedding``     ``embedContent``: ``embed_single.json``;
                         ``batchEmbedContents``: ``embed_batch.json``
anything else            404 with Google's ``NOT_FOUND`` error body
=======================  ===================================================================

A request without an ``x-goog-api-key`` header gets 403. Every request is recorded (path, query,
lower-cased headers, parsed JSON, raw body) so tests can check what the gateway sent.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "crates" / "switchyard-providers" / "tests" / "fixtures" / "gemini"
RETRY_AFTER = "7"


def fixture(name: str) -> bytes:
    """The bytes of one fixture file."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    """One JSON fixture, parsed."""
    return json.loads(fixture(name))


@dataclass
class GeminiRequest:
    """One request the fake received."""

    path: str  # without the query, e.g. /v1beta/models/gemini-text:generateContent
    query: str
    headers: dict[str, str]
    json: Any
    raw_body: bytes = field(repr=False, default=b"")

    @property
    def model(self) -> str:
        return self.path.rsplit("/", 1)[-1].split(":", 1)[0]

    @property
    def method(self) -> str:
        return self.path.rsplit(":", 1)[-1] if ":" in self.path else ""


def google_error(code: int, status: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "status": status}}).encode()


def has_function_response(body: Any) -> bool:
    """Whether the request's contents carry a function result (the tool loop's second turn)."""
    contents = body.get("contents") if isinstance(body, dict) else None
    return any(
        "functionResponse" in part
        for content in contents or []
        for part in (content.get("parts") or [])
        if isinstance(part, dict)
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
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

    def _json(self, status: int, body: bytes, headers: Optional[dict[str, str]] = None) -> None:
        self._send(status, body, "application/json; charset=UTF-8", headers)

    def _sse(self, events: bytes) -> None:
        """Sends the events as Gemini does: text/event-stream, chunked, one write per event."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        separator = b"\r\n\r\n" if b"\r\n\r\n" in events else b"\n\n"
        for event in events.split(separator):
            if event.strip():
                data = event + separator
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        url = urlsplit(self.path)
        rec = GeminiRequest(
            path=url.path,
            query=url.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            json=parsed,
            raw_body=raw,
        )
        self.server.owner._append(rec)

        if "x-goog-api-key" not in rec.headers:
            self._json(403, google_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."))
            return
        model, method = rec.model, rec.method
        if method == "streamGenerateContent" and rec.query != "alt=sse":
            self._json(400, google_error(400, "INVALID_ARGUMENT", "this fake streams only with alt=sse"))
            return

        if model == "gemini-rate-limited":
            self._json(429, fixture("error_rate_limited.json"), {"retry-after": RETRY_AFTER})
        elif model == "gemini-text" and method == "generateContent":
            self._json(200, fixture("generate_text.json"))
        elif model == "gemini-text" and method == "streamGenerateContent":
            self._sse(fixture("stream_text.sse"))
        elif model == "gemini-tools" and method in ("generateContent", "streamGenerateContent"):
            streamed = method == "streamGenerateContent"
            if has_function_response(parsed):
                if streamed:
                    self._sse(fixture("stream_text.sse"))
                else:
                    self._json(200, fixture("generate_text.json"))
            elif streamed:
                self._sse(fixture("stream_function_call.sse"))
            else:
                self._json(200, fixture("generate_function_call.json"))
        elif model == "gemini-embedding" and method == "embedContent":
            self._json(200, fixture("embed_single.json"))
        elif model == "gemini-embedding" and method == "batchEmbedContents":
            self._json(200, fixture("embed_batch.json"))
        else:
            self._json(404, google_error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "FakeGemini"


class FakeGemini:
    """The fake Gemini upstream: ``start()`` it, point ``api_base`` at ``base_url``, ``stop()`` it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[GeminiRequest] = []
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "FakeGemini":
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-gemini", daemon=True)
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
        """What a Gemini deployment's ``api_base`` should be."""
        assert self._server is not None, "fake Gemini not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _append(self, rec: GeminiRequest) -> None:
        with self._lock:
            self._requests.append(rec)

    @property
    def requests(self) -> list[GeminiRequest]:
        with self._lock:
            return list(self._requests)

    def find(self, predicate: Callable[[GeminiRequest], bool]) -> list[GeminiRequest]:
        return [r for r in self.requests if predicate(r)]

    def find_by_text(self, marker: str) -> list[GeminiRequest]:
        """Requests whose raw body contains ``marker`` (each test puts its own in its prompt)."""
        needle = marker.encode()
        return self.find(lambda r: needle in r.raw_body)
