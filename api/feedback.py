"""`POST /v1/feedback` (好评/差评 on an answer) and the staff feedback queue."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.dependencies import AnswersDep, FeedbackDep, MetricsDep, RateLimited, RouterDep, require_staff
from api.errors import ApiError
from api.metrics import Metrics
from api.schemas import FeedbackCreated, FeedbackList, FeedbackOut, FeedbackRequest, ResolveRequest, error_responses
from api.tickets import offer_ticket
from assistant.feedback import FeedbackStore, RecentAnswers

router = APIRouter(prefix="/v1", tags=["feedback"])
staff_router = APIRouter(prefix="/v1/staff", tags=["staff"], dependencies=[Depends(require_staff)],
                         responses=error_responses(401, 403, 500, 503))

FeedbackId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The id POST /v1/feedback returned.")]


@router.post("/feedback", status_code=201, response_model=FeedbackCreated,
             responses=error_responses(400, 404, 413, 422, 429, 500, 503))
def give_feedback(body: FeedbackRequest, _limit: RateLimited, answers: AnswersDep, store: FeedbackDep,
                  metrics: MetricsDep, router: RouterDep) -> FeedbackCreated:
    """Rate a recent answer. ID-card numbers, phone numbers and names in the reason are masked before storage.
    差评 comes back with the offer of a ticket (the answer did not settle it)."""
    created, question = record_feedback(body, answers, store, metrics)
    if body.rating == "down":
        created.ticket_offer = offer_ticket(router, question)
    return created


def record_feedback(body: FeedbackRequest, answers: RecentAnswers, store: FeedbackStore,
                    metrics: Metrics) -> tuple[FeedbackCreated, str]:
    """Store one rating of a recent answer; what was stored and the (masked) question it rated."""
    answered = answers.get(body.answer_id)
    if answered is None:
        raise ApiError(404, "answer_not_found", f"找不到这个回答（{body.answer_id}），可能已过期。/ No recent answer "
                       f"with id {body.answer_id}.")
    stored = store.record(body.answer_id, body.rating, body.reason, answered)
    metrics.feedback.labels(body.rating).inc()
    return FeedbackCreated(id=stored.id, answer_id=stored.answer_id, rating=stored.rating), answered.question


@staff_router.get("/feedback", response_model=FeedbackList, responses=error_responses(422))
def list_feedback(store: FeedbackDep, state: Literal["open", "all"] = "open",
                  limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> FeedbackList:
    """差评 first; unresolved feedback older than 24 hours before newer; then oldest first."""
    return FeedbackList(items=[FeedbackOut.of(item) for item in store.find(state, limit)], counts=store.counts())


@staff_router.post("/feedback/{feedback_id}/resolve", response_model=FeedbackOut,
                   responses=error_responses(400, 404, 413, 422))
def resolve_feedback(feedback_id: FeedbackId, body: ResolveRequest, store: FeedbackDep) -> FeedbackOut:
    """Mark one piece of feedback resolved, with a note of what was done."""
    return FeedbackOut.of(store.resolve(feedback_id, body.note))
