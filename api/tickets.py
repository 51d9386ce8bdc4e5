"""`POST /v1/tickets` (办不成事反映: a question routed to a department) and the staff ticket queue:
`GET /v1/staff/tickets`, `POST /v1/staff/tickets/{id}` (state change with a note)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.dependencies import RateLimited, RouterDep, SettingsDep, TicketsDep, require_staff
from api.errors import ApiError
from api.schemas import CONVERSATION_ID, VISIBLE, TicketOfferOut, clean_question, error_responses
from assistant.errors import RouterError
from assistant.query import clean_text
from assistant.routing import Router
from assistant.tickets import Ticket, open_ticket

log = logging.getLogger("zhengwu.api")
router = APIRouter(prefix="/v1", tags=["tickets"])
staff_router = APIRouter(prefix="/v1/staff", tags=["staff"], dependencies=[Depends(require_staff)],
                         responses=error_responses(401, 403, 500, 503))

TicketId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The id POST /v1/tickets returned.")]
Reveal = Annotated[bool, Query(description="Show contacts as given (for calling back); masked otherwise.")]


class TicketRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # JSON types as declared: no 1 for "1"

    question: str = Field(min_length=1, pattern=VISIBLE, examples=["我的失业金申请一直没批下来，该找哪个部门？"],
                          description="What could not be settled. Personal data is masked before storage.")
    contact: str = Field(min_length=3, max_length=100, pattern=VISIBLE, examples=["13800000000"],
                         description="How staff can reach you (phone, e-mail …); stored for the call-back only, "
                                     "masked in logs and lists.")
    conversation_id: str | None = Field(None, pattern=CONVERSATION_ID, description="The conversation it came from.")

    @field_validator("question", mode="before")
    @classmethod
    def _clean_question(cls, value: object) -> object:
        return clean_question(value)

    @field_validator("contact")
    @classmethod
    def _clean_contact(cls, value: str) -> str:
        return clean_text(value) or value.strip() or value  # kept as given when cleaning leaves nothing


def offer_ticket(router: Router, question: str) -> TicketOfferOut:
    """The offer names the department the router predicts; a broken router leaves it unnamed rather
    than failing the answer (or the feedback, already stored)."""
    try:
        predicted = router.predict(question, k=1)
    except RouterError as exc:
        log.warning("no department for the ticket offer: %s", exc)
        predicted = []
    return TicketOfferOut.of(predicted[0][0] if predicted else "")

class CandidateOut(BaseModel):
    department: str
    score: float


class TicketCreated(BaseModel):
    id: int
    department: str = Field(description="The department the ticket was routed to.")
    candidates: list[CandidateOut] = Field(description="The router's top three.")
    state: Literal["open", "in_progress", "closed"]
    message: str


class TicketOut(BaseModel):
    id: int
    question: str
    conversation_id: str
    contact: str = Field(description="Masked unless ?reveal=1.")
    department: str
    candidates: list[CandidateOut]
    router: str
    state: Literal["open", "in_progress", "closed"]
    note: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, ticket: Ticket, reveal: bool = False) -> TicketOut:
        return cls(id=ticket.id, question=ticket.question, conversation_id=ticket.conversation_id,
                   contact=ticket.contact if reveal else ticket.masked_contact, department=ticket.department,
                   candidates=[CandidateOut(department=d, score=s) for d, s in ticket.candidates], router=ticket.router,
                   state=ticket.state, note=ticket.note, created_at=_time(ticket.created_at),
                   updated_at=_time(ticket.updated_at))


class TicketList(BaseModel):
    items: list[TicketOut]
    counts: dict[str, int] = Field(description="Tickets per state.")


class TicketUpdate(BaseModel):
    model_config = ConfigDict(strict=True)

    state: Literal["open", "in_progress", "closed"]
    note: str = Field("", max_length=2000, description="What was done; personal data is masked before storage.")
    department: str | None = Field(None, min_length=1, max_length=100, description="Reassign to this department.")

    @field_validator("note")
    @classmethod
    def _clean_note(cls, value: str) -> str:
        return clean_text(value, keep_newlines=True)


@router.post("/tickets", status_code=201, response_model=TicketCreated,
             responses=error_responses(400, 413, 422, 429, 500, 503))
def create_ticket(body: TicketRequest, request: Request, _limit: RateLimited, settings: SettingsDep,
                  store: TicketsDep, department_router: RouterDep) -> TicketCreated:
    """Hand a question the assistant could not settle to the department predicted from it."""
    request.state.question = body.question  # logged masked by the request recorder
    if len(body.question) > settings.max_question_chars:
        raise ApiError(422, "question_too_long", f"问题太长了，请控制在{settings.max_question_chars}字以内。/ The question "
                       f"is too long (the limit is {settings.max_question_chars} characters).")
    ticket = open_ticket(store, department_router, body.question, body.contact, body.conversation_id or "")
    return TicketCreated(id=ticket.id, department=ticket.department,
                         candidates=[CandidateOut(department=d, score=s) for d, s in ticket.candidates],
                         state=ticket.state, message=f"已转交{ticket.department}，工作人员会通过您留下的联系方式回复。")


@staff_router.get("/tickets", response_model=TicketList, responses=error_responses(422))
def list_tickets(store: TicketsDep, state: Literal["open", "in_progress", "closed", "all"] = "all",
                 limit: Annotated[int, Query(ge=1, le=1000)] = 200, reveal: Reveal = False) -> TicketList:
    """Open tickets first, then in progress, then closed; oldest first within each."""
    tickets = store.find(state, limit)
    counts = store.counts()
    if reveal:
        log.info("staff revealed the contacts of %d tickets", len(tickets))
    return TicketList(items=[TicketOut.of(t, reveal) for t in tickets], counts=counts)


@staff_router.post("/tickets/{ticket_id}", response_model=TicketOut, responses=error_responses(400, 404, 413, 422))
def update_ticket(ticket_id: TicketId, body: TicketUpdate, store: TicketsDep, reveal: Reveal = False) -> TicketOut:
    """Move a ticket to open, in_progress or closed, with a note; optionally reassign its department."""
    return TicketOut.of(store.update(ticket_id, body.state, body.note, body.department), reveal)


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
