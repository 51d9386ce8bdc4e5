"""Prometheus metrics (`GET /metrics`) and the one log line per request.

Each app has its own registry, so several apps in one process (tests) do not share counters.
Request log lines carry the method, the path, the status and the latency; a question, if the
route recorded one, is logged only through `mask_pii`. Bodies are never logged.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.answer import Answer
from assistant.errors import FeedbackStoreError
from assistant.feedback import FeedbackStore
from assistant.privacy import mask_pii

log = logging.getLogger("zhengwu.api")
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.5, 10.0, 30.0)


class Metrics:
    """The counters and histograms of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("zhengwu_http_requests", "HTTP requests by route template, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.ask_latency = Histogram("zhengwu_ask_latency_seconds", "Time to answer one question.",
                                     buckets=LATENCY_BUCKETS, registry=self.registry)
        self.answers = Counter("zhengwu_answers", "Answers given, by mode.", ["mode"], registry=self.registry)
        self.refusals = Counter("zhengwu_refusals", "Refused questions, by reason.", ["reason"], registry=self.registry)
        self.feedback = Counter("zhengwu_feedback", "Feedback received, by rating.", ["rating"], registry=self.registry)
        self.feedback_open = Gauge("zhengwu_feedback_open", "Unresolved feedback in the store (at scrape time).",
                                   registry=self.registry)

    def observe_answer(self, answer: Answer, seconds: float) -> None:
        self.ask_latency.observe(seconds)
        self.answers.labels(answer.mode).inc()
        if answer.refused:
            self.refusals.labels(answer.refusal_reason or "unknown").inc()

    def render(self, feedback: FeedbackStore | None = None) -> bytes:
        if feedback is not None:
            try:
                self.feedback_open.set(feedback.counts()["open"])
            except FeedbackStoreError:
                pass  # the gauge keeps its last value; /metrics itself must not fail
        return generate_latest(self.registry)


router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                             "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """Requests by route and status, ask latency, refusals and feedback counts."""
    state = request.app.state
    return Response(state.metrics.render(state.feedback), media_type=CONTENT_TYPE_LATEST)


class RequestRecorder:
    """ASGI middleware: counts every request in `metrics` and writes one log line for it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recorded_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recorded_send)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = str(scope.get("method", ""))
        self.metrics.requests.labels(template, method, str(status)).inc()
        question = _state(scope).get("question")
        extra = f" question={mask_pii(question)[:200]!r}" if isinstance(question, str) else ""
        log.info("%s %s %d %.1fms%s", method, mask_pii(str(scope.get("path", ""))), status, seconds * 1000, extra)


def _state(scope: Scope) -> dict[str, Any]:
    state = scope.get("state")
    if isinstance(state, dict):
        return state
    return getattr(state, "_state", {}) if state is not None else {}
