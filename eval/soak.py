"""The soak run behind `python -m eval soak`: concurrent clients ask questions from the eval set
against a running `zhengwu serve` for a fixed time, then requests, errors and latency percentiles.

`soak()` is the bounded request loop (asyncio, one httpx client shared by every simulated
client). `spawned_server()` starts `zhengwu serve` on a free loopback port with the caller's
environment, indexes first when there is no index yet, waits for `/healthz` and stops the server
afterwards. Errors are every non-2xx answer except 429 (counted as rate-limited) and every
transport error (refused connection, timeout).
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from rich.console import Console
from rich.table import Table

from assistant.errors import ZhengwuError

SOAK_RATE_LIMIT = 100_000  # the most ZHENGWU_RATE_LIMIT_PER_MINUTE allows: the soak measures the server, not the limiter
TRANSPORT_PAUSE_SECONDS = 0.1  # after a transport error, so a dead server does not turn the loop into a spin


class SoakError(ZhengwuError):
    """The server to soak could not be started, indexed or reached."""


@dataclass(frozen=True)
class SoakResult:
    """What the clients saw. `latencies_ms` are those of the 2xx answers."""

    clients: int
    seconds: float
    requests: int
    errors: int
    rate_limited: int
    latencies_ms: tuple[float, ...]
    outcomes: dict[str, int] = field(default_factory=dict)  # "200", "503", "ReadTimeout", … → count

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile of the 2xx latencies (None when there was no 2xx answer)."""
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return round(ordered[rank - 1], 1)

    @property
    def requests_per_second(self) -> float:
        return round(self.requests / self.seconds, 2) if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        """The figures, `requests, errors, p50_ms, p95_ms, p99_ms` first."""
        return {"requests": self.requests, "errors": self.errors, "p50_ms": self.percentile(50),
                "p95_ms": self.percentile(95), "p99_ms": self.percentile(99), "rate_limited": self.rate_limited,
                "requests_per_s": self.requests_per_second, "clients": self.clients, "seconds": round(self.seconds, 2),
                "outcomes": dict(sorted(self.outcomes.items()))}


class _Tally:
    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.latencies_ms: list[float] = []

    def answered(self, status: int, milliseconds: float) -> None:
        self.outcomes[str(status)] += 1
        if 200 <= status < 300:
            self.latencies_ms.append(milliseconds)

    def failed(self, exc: Exception) -> None:
        self.outcomes[type(exc).__name__] += 1


async def soak(url: str, questions: Sequence[str], clients: int, seconds: float,
               request_timeout: float = 60.0) -> SoakResult:
    """`clients` loops POST /v1/ask with `questions` (each from its own offset) until `seconds`
    have passed; requests under way then finish (at most `request_timeout` more)."""
    if clients < 1:
        raise ValueError(f"clients must be at least 1, got {clients}")
    if seconds <= 0:
        raise ValueError(f"seconds must be greater than 0, got {seconds}")
    if not questions:
        raise ValueError("no questions to ask")
    tally = _Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=request_timeout, limits=limits, trust_env=False) as http:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(_client(http, questions, offset, clients, deadline, tally) for offset in range(clients)))
        elapsed = time.monotonic() - started
    outcomes = dict(tally.outcomes)
    requests = sum(outcomes.values())
    ok = sum(count for outcome, count in outcomes.items() if outcome.isdigit() and 200 <= int(outcome) < 300)
    rate_limited = outcomes.get("429", 0)
    return SoakResult(clients=clients, seconds=elapsed, requests=requests, errors=requests - ok - rate_limited,
                      rate_limited=rate_limited, latencies_ms=tuple(tally.latencies_ms), outcomes=outcomes)


async def _client(http: httpx.AsyncClient, questions: Sequence[str], offset: int, stride: int, deadline: float,
                  tally: _Tally) -> None:
    number = offset
    while time.monotonic() < deadline:
        question = questions[number % len(questions)]
        number += stride
        started = time.perf_counter()
        try:
            response = await http.post("/v1/ask", json={"question": question})
        except httpx.HTTPError as exc:
            tally.failed(exc)
            await asyncio.sleep(TRANSPORT_PAUSE_SECONDS)
            continue
        tally.answered(response.status_code, (time.perf_counter() - started) * 1000)


def warm_up(url: str, question: str, timeout: float = 120.0) -> None:
    """One question before the clock starts: the server builds its assistant on the first one."""
    try:
        response = httpx.post(f"{url}/v1/ask", json={"question": question}, timeout=timeout, trust_env=False)
    except httpx.HTTPError as exc:
        raise SoakError(f"cannot reach {url}: {exc}") from exc
    if response.status_code != 200:
        raise SoakError(f"the warm-up question got HTTP {response.status_code} from {url}: {response.text[:300]}")


# ---- a server of our own --------------------------------------------------------------------------

@dataclass
class SpawnedServer:
    """A `zhengwu serve` subprocess on loopback."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


@contextmanager
def spawned_server(environ: Mapping[str, str] | None = None, log_path: Path | None = None,
                   start_timeout: float = 180.0, index_timeout: float = 1800.0) -> Iterator[SpawnedServer]:
    """`zhengwu serve` on a free loopback port with `environ` (default: this process's) and a high
    rate limit, indexed first (`zhengwu index`) when there is no index yet. Its output goes to
    `log_path` (default: a temporary file, removed afterwards). Stopped on exit, if still running."""
    env = dict(os.environ if environ is None else environ)
    env["ZHENGWU_RATE_LIMIT_PER_MINUTE"] = str(SOAK_RATE_LIMIT)
    own_log = log_path is None
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="zhengwu-soak-", suffix=".log")
        os.close(handle)
        log_path = Path(name)
    server: SpawnedServer | None = None
    try:
        with log_path.open("ab") as log:
            server = _start(env, log, log_path, start_timeout)
            if not _wait_until_ready(server, start_timeout):  # no index yet: build it, then start again
                _stop(server)
                _index(env, log, log_path, index_timeout)
                server = _start(env, log, log_path, start_timeout)
                if not _wait_until_ready(server, start_timeout):
                    raise SoakError(f"the server still has no index after `zhengwu index`; log: {_tail(log_path)}")
            yield server
    finally:
        if server is not None:
            _stop(server)
        if own_log:
            log_path.unlink(missing_ok=True)


def zhengwu_command() -> list[str]:
    """The `zhengwu` console script beside this Python, else the same CLI as a module."""
    script = shutil.which("zhengwu", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "assistant.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(env: dict[str, str], log: IO[bytes], log_path: Path, timeout: float) -> SpawnedServer:
    port = free_port()
    process = subprocess.Popen([*zhengwu_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return SpawnedServer(f"http://127.0.0.1:{port}", process, log_path)


def _wait_until_ready(server: SpawnedServer, timeout: float) -> bool:
    """True once /healthz answers 200; False if it answers 503 with no index."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SoakError(f"zhengwu serve exited with {server.process.returncode}: {_tail(server.log_path)}")
        try:
            response = httpx.get(f"{server.url}/healthz", timeout=5, trust_env=False)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if response.status_code == 200:
            return True
        if response.status_code == 503 and response.json().get("status") == "no_index":
            return False
        raise SoakError(f"/healthz answered {response.status_code}: {response.text[:300]}")
    _stop(server)
    raise SoakError(f"zhengwu serve did not answer /healthz within {timeout:.0f} s: {_tail(server.log_path)}")


def _index(env: dict[str, str], log: IO[bytes], log_path: Path, timeout: float) -> None:
    try:
        done = subprocess.run([*zhengwu_command(), "index"], env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SoakError(f"zhengwu index took longer than {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise SoakError(f"zhengwu index failed with {done.returncode}: {_tail(log_path)}")


def _stop(server: SpawnedServer) -> None:
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def print_soak(result: SoakResult, url: str) -> None:
    """The figures as a table on stdout."""
    table = Table(title=f"soak · {url} · {result.clients} clients · {result.seconds:.1f} s")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows: list[tuple[str, object]] = [
        ("requests", result.requests), ("errors (non-2xx except 429, transport)", result.errors),
        ("rate-limited (429)", result.rate_limited), ("requests/s", result.requests_per_second),
        ("p50 ms", result.percentile(50)), ("p95 ms", result.percentile(95)), ("p99 ms", result.percentile(99)),
        ("outcomes", ", ".join(f"{k}: {v}" for k, v in sorted(result.outcomes.items()))),
    ]
    for figure, value in rows:
        table.add_row(figure, "-" if value is None else str(value))
    Console().print(table)
