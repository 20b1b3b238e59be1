"""Shared fixtures of the SDK client tests: the processes and clients they run against.

This module owns the test environment of ``tests/clients``:

* ``fake_upstream``: one :class:`fake_upstream.FakeUpstream` for the session;
* ``gateway``: one real ``switchyard serve`` process for the session, built from this tree and
  found through ``SWITCHYARD_BIN``, with a LiteLLM-style config written to a temporary
  directory that routes model names to the fake upstream, to the built-in mock, and to an
  upstream port nothing listens on; the upstream key reaches it only through its environment
  (``FAKE_UPSTREAM_KEY``);
* ``launch_gateway``: the factory behind ``gateway``, for tests that need a gateway of their own
  (such as the shutdown test); every process it starts is stopped at the end of the session;
* ``openai_client``: an ``openai.OpenAI`` client pointed at the gateway, with no retries;
* ``http``: a raw HTTP client (the SDK's own HTTP library) for requests the SDK cannot send.

Startup never sleeps for a fixed time: it reads the gateway's first stdout line (with a
timeout), then polls ``/health/readiness`` a bounded number of times.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

try:  # openai >= 3 is built on httpx2; older SDKs on httpx.
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the pinned SDK
    import httpx  # type: ignore[no-redef]

import openai

from fake_upstream import FakeUpstream

MASTER_KEY = "sk-test-master"
UPSTREAM_KEY = "sk-upstream-secret"
UPSTREAM_KEY_ENV = "FAKE_UPSTREAM_KEY"
LISTEN_PREFIX = "switchyard listening on "

# Model names clients send -> what the tests expect of them.
MODEL = "gpt-4o-mini"  # -> fake upstream, upstream model "upstream-model"
MODEL_DEPLOYMENT_ID = "fake-upstream-main"
UPSTREAM_MODEL = "upstream-model"
MOCK_ECHO = "mock-echo"
MOCK_EMBED = "mock-embed"
UPSTREAM_EMBED = "upstream-embed"  # -> fake upstream, upstream model "upstream-embedding"
UPSTREAM_EMBED_MODEL = "upstream-embedding"
RATE_LIMITED = "up-rate-limited"
BROKEN = "up-broken"
GARBAGE = "up-garbage"
SLOW = "up-slow"
UNREACHABLE = "up-unreachable"
SLOW_TIMEOUT_SECONDS = 0.5

CONFIGURED_MODELS = [
    MODEL,
    MOCK_ECHO,
    MOCK_EMBED,
    UPSTREAM_EMBED,
    RATE_LIMITED,
    BROKEN,
    GARBAGE,
    SLOW,
    UNREACHABLE,
]

STARTUP_LINE_TIMEOUT = 60.0  # seconds to wait for the listening line
READINESS_ATTEMPTS = 100
READINESS_INTERVAL = 0.05  # seconds between readiness attempts (waiting on the process itself)
SHUTDOWN_TIMEOUT = 10.0

# Everything here is on 127.0.0.1: keep any proxy settings of the machine out of the way, for
# this process (the SDK and raw clients) and for the gateway, which inherits the environment.
for _var in ("NO_PROXY", "no_proxy"):
    _hosts = [h for h in os.environ.get(_var, "").split(",") if h]
    os.environ[_var] = ",".join(_hosts + ["127.0.0.1", "localhost"])


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, noted, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gateway_config(upstream_base: str, dead_base: str) -> str:
    """The LiteLLM-style ``config.yaml`` the session gateway serves."""

    def upstream(name: str, model: str, *, base: str = upstream_base, timeout: float = 5,
                 deployment_id: Optional[str] = None) -> str:
        text = (
            f"  - model_name: {name}\n"
            f"    litellm_params:\n"
            f"      model: openai/{model}\n"
            f"      api_base: {base}\n"
            f"      api_key: os.environ/{UPSTREAM_KEY_ENV}\n"
            f"      timeout: {timeout}\n"
        )
        if deployment_id:
            text += f"    model_info:\n      id: {deployment_id}\n"
        return text

    return (
        "# Written by tests/clients/conftest.py for one test session.\n"
        "model_list:\n"
        + upstream(MODEL, UPSTREAM_MODEL, deployment_id=MODEL_DEPLOYMENT_ID)
        + f"  - model_name: {MOCK_ECHO}\n    litellm_params: {{model: mock/echo}}\n"
        + f"  - model_name: {MOCK_EMBED}\n    litellm_params: {{model: mock/embed}}\n"
        + upstream(UPSTREAM_EMBED, UPSTREAM_EMBED_MODEL)
        + upstream(RATE_LIMITED, "rate-limited")
        + upstream(BROKEN, "broken")
        + upstream(GARBAGE, "garbage")
        + upstream(SLOW, "slow", timeout=SLOW_TIMEOUT_SECONDS)
        + upstream(UNREACHABLE, UPSTREAM_MODEL, base=dead_base, timeout=2)
        + "general_settings:\n"
        + f"  master_key: {MASTER_KEY}\n"
    )


@dataclass
class Gateway:
    """A running ``switchyard serve`` process."""

    proc: subprocess.Popen
    base_url: str  # e.g. http://127.0.0.1:PORT (no /v1)
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> Optional[int]:
        """SIGTERM, wait up to SHUTDOWN_TIMEOUT, then SIGKILL. Returns the exit code, or None
        when it had to be killed."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=SHUTDOWN_TIMEOUT)
            return None


def switchyard_bin() -> Path:
    value = os.environ.get("SWITCHYARD_BIN")
    if not value:
        pytest.fail(
            "SWITCHYARD_BIN is not set: build the gateway (`cargo build -p switchyard`) and run "
            "with SWITCHYARD_BIN=<workspace>/target/debug/switchyard, or use `cargo xtask test`",
            pytrace=False,
        )
    path = Path(value)
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"SWITCHYARD_BIN={value} is not an executable file: build it with "
            "`cargo build -p switchyard`",
            pytrace=False,
        )
    return path


def _start_gateway(binary: Path, config_path: Path, workdir: Path, env_extra: dict[str, str]) -> Gateway:
    log_path = workdir / "gateway.stderr.log"
    env = dict(os.environ)
    for var in ("SWITCHYARD_CONFIG", "SWITCHYARD_PORT", "SWITCHYARD_HOST"):
        env.pop(var, None)
    env.update(env_extra)
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [str(binary), "serve", "-c", str(config_path), "-p", "0", "--host", "127.0.0.1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
            env=env,
            cwd=workdir,
        )
    gateway = Gateway(proc=proc, base_url="", log_path=log_path)

    # Read the first stdout line on a thread so the wait has a timeout; keep draining stdout
    # afterwards so the gateway can never block on a full pipe.
    lines: "queue.Queue[bytes]" = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        first = True
        for line in iter(proc.stdout.readline, b""):
            if first:
                lines.put(line)
                first = False
        if first:
            lines.put(b"")
        proc.stdout.close()

    threading.Thread(target=pump, name="switchyard-stdout", daemon=True).start()

    def fail(reason: str) -> None:
        gateway.stop()
        pytest.fail(f"{reason}\n--- gateway stderr ---\n{gateway.log()}", pytrace=False)

    try:
        first_line = lines.get(timeout=STARTUP_LINE_TIMEOUT).decode(errors="replace").rstrip("\r\n")
    except queue.Empty:
        fail(f"gateway printed no line on stdout within {STARTUP_LINE_TIMEOUT:.0f} s")
    if not first_line.startswith(LISTEN_PREFIX):
        fail(f"gateway's first stdout line is {first_line!r}, expected {LISTEN_PREFIX!r}+URL "
             f"(exit code {proc.poll()})")
    gateway.base_url = first_line[len(LISTEN_PREFIX):].strip().rstrip("/")
    if not gateway.base_url.startswith("http://127.0.0.1:"):
        fail(f"gateway listens on {gateway.base_url!r}, expected http://127.0.0.1:PORT")

    # Poll readiness, a bounded number of times; the pause between attempts is a wait on the
    # process itself, so a gateway that dies is noticed at once.
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    last_error = "no attempt made"
    for _ in range(READINESS_ATTEMPTS):
        try:
            with no_proxy.open(f"{gateway.base_url}/health/readiness", timeout=2) as resp:
                if resp.status == 200:
                    return gateway
                last_error = f"HTTP {resp.status}"
        except urllib.error.HTTPError as err:
            last_error = f"HTTP {err.code}"
        except (urllib.error.URLError, OSError) as err:
            last_error = repr(err)
        try:
            code = proc.wait(timeout=READINESS_INTERVAL)
            fail(f"gateway exited with code {code} before it was ready")
        except subprocess.TimeoutExpired:
            pass
    fail(f"gateway not ready after {READINESS_ATTEMPTS} attempts (last: {last_error})")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream().start()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture(scope="session")
def launch_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Gateway]]:
    """``launch_gateway(config_text, env={...}) -> Gateway``; all are stopped at session end."""
    binary = switchyard_bin()
    started: list[Gateway] = []

    def launch(config_text: str, env: Optional[dict[str, str]] = None) -> Gateway:
        workdir = tmp_path_factory.mktemp("gateway")
        config_path = workdir / "config.yaml"
        config_path.write_text(config_text)
        gateway = _start_gateway(binary, config_path, workdir, env or {})
        started.append(gateway)
        return gateway

    try:
        yield launch
    finally:
        for gateway in started:
            gateway.stop()


@pytest.fixture(scope="session")
def gateway(fake_upstream: FakeUpstream, launch_gateway: Callable[..., Gateway]) -> Gateway:
    config = gateway_config(fake_upstream.base_url, f"http://127.0.0.1:{closed_port()}/v1")
    return launch_gateway(config, env={UPSTREAM_KEY_ENV: UPSTREAM_KEY})


@pytest.fixture(scope="session")
def openai_client(gateway: Gateway) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def http(gateway: Gateway) -> Iterator["httpx.Client"]:
    """A raw client on the gateway's root URL, sending nothing the test does not ask for."""
    with httpx.Client(base_url=gateway.base_url, timeout=30, trust_env=False) as client:
        yield client
