"""Input limits: requests per client per minute, and the size of request bodies.

The client is the connection's peer address; `X-Forwarded-For` is not trusted (anyone can send
it). Behind a reverse proxy, run uvicorn with `--proxy-headers --forwarded-allow-ips` so the peer
address is the real client's.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_BODY_LIMIT = 64 * 1024
UPLOAD_BODY_LIMIT = 2 * 1024 * 1024 + 64 * 1024  # the 2 MiB file plus multipart headers


class RateLimiter:
    """A sliding window of `per_minute` requests per client (the oldest clients are forgotten first)."""

    def __init__(self, per_minute: int, window_seconds: float = 60.0, max_clients: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be greater than 0, got {per_minute}")
        self.per_minute, self.window, self.max_clients, self.clock = per_minute, window_seconds, max_clients, clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, client: str) -> int:
        """Count one request; returns 0 when allowed, else the seconds to wait (the request is not counted)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(client, None) or deque()
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            self._hits[client] = hits
            while len(self._hits) > self.max_clients:
                self._hits.popitem(last=False)
            if len(hits) >= self.per_minute:
                return max(1, math.ceil(self.window - (now - hits[0])))
            hits.append(now)
            return 0


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"请求内容过大（上限 {limit:,} 字节）。/ Request body too large (limit {limit:,} bytes).")
        self.limit = limit


class BodySizeLimit:
    """ASGI middleware: a request whose body exceeds its path's limit gets 413, read or not.

    A declared `Content-Length` over the limit is refused before the app runs; a body streamed
    without one is counted as it is read."""

    def __init__(self, app: ASGIApp, default_limit: int = JSON_BODY_LIMIT,
                 limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default_limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_413(send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await _send_413(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, limit: int) -> None:
    message = BodyTooLarge(limit).detail
    body = json.dumps({"error": "payload_too_large", "message": message}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
