"""`POST /v1/ask` and `POST /v1/ask/stream` (server-sent events): question in, cited answer out."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.dependencies import AnswersDep, AssistantDep, LiveIndex, MetricsDep, RateLimited, RouterDep, SettingsDep
from api.errors import ApiError, status_of
from api.metrics import Metrics
from api.schemas import AskRequest, AskResponse, BlockOut, error_responses
from api.tickets import offer_ticket
from assistant.answer import RewriteOptions
from assistant.errors import ZhengwuError
from assistant.feedback import RecentAnswers
from assistant.routing import Router
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.tickets import HANDOFF_REASONS

log = logging.getLogger("zhengwu.api")
router = APIRouter(prefix="/v1", tags=["ask"])
ASK_ERRORS = error_responses(400, 413, 422, 429, 500, 503)
STREAM_DOC = {
    200: {
        "description": "Server-sent events: `block` (one per answer block, as BlockOut JSON), then `answer` "
                       "(the same object /v1/ask returns), then `done`; `error` ({error, message}) if the answer "
                       "fails after the stream began.",
        "content": {"text/event-stream": {"schema": {  # one event (OpenAPI 3.1: the schema describes each event)
            "type": "object",
            "required": ["event", "data"],
            "properties": {"event": {"type": "string", "enum": ["block", "answer", "done", "error"]},
                           "data": {"type": "string", "contentMediaType": "application/json"}},
        }}},
    },
}


@router.post("/ask", response_model=AskResponse, responses=ASK_ERRORS)
def ask(body: AskRequest, request: Request, _limit: RateLimited, settings: SettingsDep, assistant: AssistantDep,
        answers: AnswersDep, metrics: MetricsDep, router: RouterDep) -> AskResponse:
    """Answer one question with numbered citations, or refuse honestly with a hand-off (and the offer
    of a ticket to the department the question routes to)."""
    question = checked_question(body, settings, request)
    return answer_question(assistant, answers, metrics, body, question, router)


@router.post("/ask/stream", response_class=StreamingResponse, responses={**STREAM_DOC, **ASK_ERRORS})
def ask_stream(body: AskRequest, request: Request, _limit: RateLimited, _live: LiveIndex, settings: SettingsDep,
               assistant: AssistantDep, answers: AnswersDep, metrics: MetricsDep, router: RouterDep) -> StreamingResponse:
    """The same answer as /v1/ask, as server-sent events."""
    question = checked_question(body, settings, request)
    events = stream_events(assistant, answers, metrics, body, question, router)
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def checked_question(body: AskRequest, settings: Settings, request: Request) -> str:
    """The cleaned question, within `settings.max_question_chars` (else 422 question_too_long)."""
    request.state.question = body.question  # logged masked by the request recorder
    if len(body.question) > settings.max_question_chars:
        raise ApiError(422, "question_too_long",
                       f"问题太长了（{len(body.question)}字），请控制在{settings.max_question_chars}字以内。/ The question is "
                       f"too long ({len(body.question)} characters; the limit is {settings.max_question_chars}).")
    return body.question


def answer_question(assistant: Assistant, answers: RecentAnswers, metrics: Metrics, body: AskRequest,
                    question: str, router: Router | None = None) -> AskResponse:
    """The answer, registered for feedback; a refusal carries a ticket offer when a router is given."""
    started = time.perf_counter()
    options = RewriteOptions(plain=body.plain, elderly=body.elderly, script=body.script)
    answer = assistant.ask(question, conversation_id=body.conversation_id, options=options)
    seconds = time.perf_counter() - started
    answer_id = uuid.uuid4().hex
    shown = answer.text or (answer.handoff.message if answer.handoff else "")
    answers.remember(answer_id, answer.conversation_id, question, shown)
    metrics.observe_answer(answer, seconds)
    wanted = router is not None and answer.refused and answer.refusal_reason in HANDOFF_REASONS
    offer = offer_ticket(router, answer.resolved_question or question) if wanted and router else None
    return AskResponse.of(answer, answer_id, seconds * 1000, offer)



def stream_events(assistant: Assistant, answers: RecentAnswers, metrics: Metrics, body: AskRequest,
                  question: str, router: Router | None = None) -> Iterator[str]:
    """`block`… `answer` `done`, or `error` with the stable error body."""
    try:
        response = answer_question(assistant, answers, metrics, body, question, router)
        for block in response.answer.blocks:
            yield sse("block", block)
        yield sse("answer", response)
        yield sse("done", {"answer_id": response.answer_id})
    except ZhengwuError as exc:
        status, code = status_of(exc)
        log.warning("stream failed with %s (%d): %s", code, status, exc)
        yield sse("error", {"error": code, "message": str(exc)})
    except Exception as exc:  # noqa: BLE001 - the response has begun: the client must be told in-band
        log.error("stream failed", exc_info=exc)
        yield sse("error", {"error": "internal_error", "message": "内部错误，请稍后再试。/ Internal error."})


def sse(event: str, data: AskResponse | BlockOut | dict[str, str]) -> str:
    payload = data.model_dump_json() if not isinstance(data, dict) else json.dumps(data, ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n"
