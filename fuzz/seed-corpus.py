#!/usr/bin/env python3
"""Writes the seed corpora, fuzz/corpus/<target>/, from the repository's fixtures and the
hand-written request bodies and OpenAI streams in fuzz/seeds/. Rerun after fixtures change;
it only (over)writes the files it makes.

Stream targets take one leading byte that says how the body is cut into reads (see
`pieces` in src/lib.rs); each fixture is written whole (mode 0) and cut a few ways, and the SSE
ones also with CRLF and CR line ends. The gateway target's leading byte picks the route
(0 chat, 1 embeddings, 2 messages).
"""

import json
import re
import struct
import zlib
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
FIXTURES = ROOT / "crates/switchyard-providers/tests/fixtures"
SEEDS = FUZZ / "seeds"
CORPUS = FUZZ / "corpus"


def write(target, name, data):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def sse_variants(target, name, text):
    """An SSE body whole and cut (LF), with CRLF line ends, and with CR line ends."""
    lf = text.replace("\r\n", "\n").encode()
    for mode in (0, 1, 14, 0x2B):
        write(target, f"{name}.lf.m{mode}", bytes([mode]) + lf)
    crlf = lf.replace(b"\n", b"\r\n")
    for mode in (0, 9):
        write(target, f"{name}.crlf.m{mode}", bytes([mode]) + crlf)
    write(target, f"{name}.cr.m0", b"\x00" + lf.replace(b"\n", b"\r"))


def frame(headers, payload):
    """One AWS event stream message: prelude, string headers, payload, CRCs."""
    encoded = b""
    for name, value in headers:
        name, value = name.encode(), value.encode()
        encoded += bytes([len(name)]) + name + b"\x07" + struct.pack(">H", len(value)) + value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event_frames(events):
    return b"".join(
        frame(
            [
                (":event-type", event["event"]),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            json.dumps(event["payload"], separators=(",", ":")).encode(),
        )
        for event in events
    )


def binary_variants(target, name, data):
    for mode in (0, 1, 12, 0x2E):
        write(target, f"{name}.m{mode}", bytes([mode]) + data)


def main():
    # Request bodies.
    for path in sorted(SEEDS.glob("*.json")):
        kind = path.name.split("_")[0]
        target, route = {
            "chat": ("chat_request", 0),
            "embeddings": ("embeddings_request", 1),
            "messages": ("messages_request", 2),
        }[kind]
        body = path.read_bytes()
        write(target, path.name, body)
        write("gateway", path.name, bytes([route]) + body)

    # OpenAI-compatible streams (no fixtures in the providers crate: hand-written).
    for path in sorted(SEEDS.glob("openai_*.sse")):
        sse_variants("openai_stream", path.stem, path.read_text())

    # Anthropic: the SSE fixtures, and each error body as an `error` event.
    for path in sorted((FIXTURES / "anthropic").glob("stream_*.sse")):
        sse_variants("anthropic_stream", path.stem, path.read_text())
    for path in sorted((FIXTURES / "anthropic").glob("error_*.json")):
        body = json.dumps(json.loads(path.read_text()), separators=(",", ":"))
        sse_variants("anthropic_stream", path.stem, f"event: error\ndata: {body}\n\n")

    # Gemini: the SSE fixtures, and every complete answer and error body as one event.
    for path in sorted((FIXTURES / "gemini").glob("stream_*.sse")):
        sse_variants("gemini_stream", path.stem, path.read_text())
    for pattern in ("generate_*.json", "error_*.json"):
        for path in sorted((FIXTURES / "gemini").glob(pattern)):
            body = json.dumps(json.loads(path.read_text()), separators=(",", ":"))
            sse_variants("gemini_stream", path.stem, f"data: {body}\n\n")

    # Bedrock: the event fixtures framed as AWS sends them, and each error as an exception.
    for path in sorted((FIXTURES / "bedrock").glob("stream_*.json")):
        binary_variants("bedrock_stream", path.stem, event_frames(json.loads(path.read_text())))
    start = event_frames([{"event": "messageStart", "payload": {"role": "assistant"}}])
    for path in sorted((FIXTURES / "bedrock").glob("error_*.json")):
        kind = "".join(w.capitalize() for w in path.stem.split("_")[1:])
        kind = kind[0].lower() + kind[1:] + "Exception"
        payload = json.dumps(json.loads(path.read_text()), separators=(",", ":")).encode()
        exception = frame(
            [
                (":exception-type", kind),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            payload,
        )
        binary_variants("bedrock_stream", path.stem, start + exception)

    # Cohere: the SSE fixtures, and each error body as one event.
    for path in sorted((FIXTURES / "cohere").glob("stream_*.sse")):
        sse_variants("cohere_stream", path.stem, path.read_text())
    for path in sorted((FIXTURES / "cohere").glob("error_*.json")):
        body = json.dumps(json.loads(path.read_text()), separators=(",", ":"))
        sse_variants("cohere_stream", path.stem, f"data: {body}\n\n")

    # SageMaker: the PayloadParts framed as AWS sends them, and a ModelStreamError exception.
    def payload_parts(parts):
        return b"".join(
            frame(
                [
                    (":event-type", part["event"]),
                    (":content-type", "application/octet-stream"),
                    (":message-type", "event"),
                ],
                part["bytes"].encode(),
            )
            for part in parts
        )

    for path in sorted((FIXTURES / "sagemaker").glob("stream_*.json")):
        parts = json.loads(path.read_text())
        binary_variants("sagemaker_stream", path.stem, payload_parts(parts))
        exception = frame(
            [
                (":exception-type", "ModelStreamError"),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            b'{"Message":"the model container crashed","ErrorCode":"ModelStreamError"}',
        )
        binary_variants("sagemaker_stream", path.stem + "_model_error", payload_parts(parts[:1]) + exception)

    # Configuration: the shipped files, and the YAML the config tests load.
    write("config", "default.yaml", (ROOT / "crates/switchyard-server/src/config/default.yaml").read_bytes())
    for path in sorted((ROOT / "deploy/examples").glob("*.yaml")):
        write("config", path.name, path.read_bytes())
    config_dir = ROOT / "crates/switchyard-server/src/config"
    literal = re.compile(r'r#"(.*?)"#|"((?:[^"\\]|\\.)*)"', re.S)
    top = re.compile(r"^(model_list|general_settings|litellm_settings|router_settings|experiments|routing_rules|rate_limits|max_tokens|telemetry):", re.M)
    for path in sorted(config_dir.rglob("*.rs")):
        for n, match in enumerate(literal.finditer(path.read_text())):
            raw, escaped = match.groups()
            if raw is not None:
                text = raw
            else:
                text = re.sub(r"\\\n\s*", "", escaped)
                text = text.replace("\\n", "\n").replace('\\"', '"').replace("\\t", "\t").replace("\\\\", "\\")
            if top.search(text):
                write("config", f"{path.relative_to(config_dir).as_posix().replace('/', '_')}.{n}.yaml", text.encode())


if __name__ == "__main__":
    main()
