"""Request and response models of the HTTP API; the only place answers are shaped for display."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from assistant.answer import Answer, Block, Citation, Rewrite
from assistant.feedback import Feedback
from assistant.query import clean_text
from indexer.indexing import IndexSummary
from indexer.reindex import ReindexStatus

EMPTY_QUESTION = "问题不能为空，请输入您想咨询的问题。/ The question is empty: please type your question."
ANSWER_ID = r"^[0-9a-f]{32}$"
CONVERSATION_ID = r"^[A-Za-z0-9_.:@-]{1,128}$"
VISIBLE = (r"[^\s\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u180e\u200b-\u200f\u202a-\u202e"
           r"\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")  # one character neither space, control nor format


def clean_question(value: object) -> object:
    """A question's text cleaned (control and format characters dropped); nothing left → 422
    empty_question. Non-strings pass through for the type check to report."""
    if not isinstance(value, str):
        return value
    value = clean_text(value)
    if not value:
        raise PydanticCustomError("empty_question", EMPTY_QUESTION)
    return value


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error: a stable machine-readable `error` code and a human `message`."""

    error: str = Field(description="Stable code, e.g. index_not_found, rate_limited, empty_question.")
    message: str
    details: list[ErrorDetail] | None = Field(None, description="Which input fields failed validation.")


ERROR_DESCRIPTIONS = {
    400: "Malformed request (unreadable body, bad UTF-8)",
    401: "X-Staff-Key header missing",
    403: "Wrong staff key, or staff access closed",
    404: "Not found",
    409: "Conflict (a re-index is running; the document is not an upload; the id is taken)",
    413: "Body or upload too large",
    422: "Invalid input (empty question, question too long, invalid field, file the loaders reject)",
    429: "Rate limit reached (see Retry-After)",
    500: "Internal error",
    503: "No index yet, or the store is unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, all with the `ErrorBody` schema."""
    return {status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]} for status in statuses}


class AskRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # JSON types as declared: no "1" for true

    question: str = Field(
        min_length=1, pattern=VISIBLE, examples=["身份证丢了怎么补办"],
        description="The question in everyday words. Control characters are removed; empty → 422 empty_question; "
        "longer than ZHENGWU_MAX_QUESTION_CHARS (default 500) → 422 question_too_long.",
    )
    conversation_id: str | None = Field(None, pattern=CONVERSATION_ID,
                                        description="Continue a conversation (follow-up questions); new when absent.")
    plain: bool = Field(True, description="Also retell the answer in plain words (when a rewriter is wired).")
    elderly: bool = Field(False, description="Elderly mode: shorter sentences, phone and address at the end.")
    script: Literal["simplified", "traditional", "cantonese"] = "simplified"

    @field_validator("question", mode="before")
    @classmethod
    def _clean_question(cls, value: object) -> object:
        return clean_question(value)


ASKED_LABEL = "对应问题"  # shown before an FAQ's own question, beside the answer it gives


class BlockOut(BaseModel):
    heading: str
    text: str
    citations: list[int] = Field(description="Numbers of the citations behind this block (1-based).")
    asked: str = Field("", description="For an FAQ's answer, the FAQ's own question: what the text answers "
                                       "(show it beside the text; it may differ from the question asked).")

    @classmethod
    def of(cls, block: Block) -> BlockOut:
        return cls(heading=block.heading, text=block.text, citations=list(block.citations), asked=block.asked)

    @property
    def title(self) -> str:
        """The heading as shown: with the FAQ's own question when there is one."""
        return f"{self.heading}（{ASKED_LABEL}：{self.asked}）" if self.asked else self.heading


class AnswerText(BaseModel):
    blocks: list[BlockOut]
    text: str


class PlainOut(BaseModel):
    blocks: list[BlockOut]
    text: str
    closing: str
    facts_preserved: bool

    @classmethod
    def of(cls, rewrite: Rewrite) -> PlainOut:
        return cls(blocks=[BlockOut.of(b) for b in rewrite.blocks], text=rewrite.text, closing=rewrite.closing,
                   facts_preserved=rewrite.facts_preserved)


class CitationOut(BaseModel):
    number: int
    doc_id: str
    title: str
    section: str
    effective_date: str
    source_url: str
    quote: str
    kind: str
    sample: bool = Field(description="True for sample (示例) data, not a real office's guide.")
    expires: str

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls(number=c.number, doc_id=c.doc_id, title=c.title, section=c.section,
                   effective_date=c.effective_date, source_url=c.source_url, quote=c.quote, kind=c.kind,
                   sample=c.sample, expires=c.expires)


class HandoffOut(BaseModel):
    message: str
    hotline: str
    department: str
    phone: str


class TicketOfferOut(BaseModel):
    """办不成事反映: how to hand the question to a person when the answer did not settle it."""

    endpoint: str = Field("/v1/tickets", description="POST the question, a contact and the conversation id here.")
    department: str = Field(description="Where a ticket on this question would be routed (the router's best guess).")
    message: str

    @classmethod
    def of(cls, department: str) -> TicketOfferOut:
        to = f"转给「{department}」" if department else "转给相关部门"
        return cls(department=department, message=f"没有解决您的问题？留下联系方式提交反映，我们会{to}，由工作人员跟进答复。")


class AskResponse(BaseModel):
    answer_id: str = Field(description="Names this answer in POST /v1/feedback.")
    conversation_id: str
    question: str
    normalized_question: str
    mode: str
    refused: bool
    refusal_reason: str
    answer: AnswerText
    plain: PlainOut | None = Field(description="The plain-language version; null when no rewriter is wired.")
    citations: list[CitationOut]
    handoff: HandoffOut | None
    warnings: list[str]
    generator: Literal["extractive", "llm"]
    fallback_reason: str
    latency_ms: float
    ticket_offer: TicketOfferOut | None = Field(None, description="Offered when the assistant refused.")

    @classmethod
    def of(cls, answer: Answer, answer_id: str, latency_ms: float, ticket_offer: TicketOfferOut | None = None) -> AskResponse:
        citations = [CitationOut.of(c) for c in answer.citations]
        handoff = answer.handoff
        return cls(
            answer_id=answer_id, conversation_id=answer.conversation_id, question=answer.question,
            normalized_question=answer.normalized_question, mode=answer.mode, refused=answer.refused,
            refusal_reason=answer.refusal_reason,
            answer=AnswerText(blocks=[BlockOut.of(b) for b in answer.blocks], text=answer.text),
            plain=PlainOut.of(answer.plain) if answer.plain is not None else None, citations=citations,
            handoff=HandoffOut(message=handoff.message, hotline=handoff.hotline, department=handoff.department,
                               phone=handoff.phone) if handoff else None,
            warnings=list(answer.warnings), generator=answer.generator, fallback_reason=answer.fallback_reason,
            latency_ms=round(latency_ms, 1), ticket_offer=ticket_offer,
        )


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # JSON types as declared: no "1" for true

    answer_id: str = Field(pattern=ANSWER_ID, description="The answer_id of a recent /v1/ask answer.")
    rating: Literal["up", "down"] = Field(description="up = 好评, down = 差评.")
    reason: str = Field("", max_length=2000, description="Optional reason; personal data is masked before storage.")

    @field_validator("reason")
    @classmethod
    def _clean_reason(cls, value: str) -> str:
        return clean_text(value, keep_newlines=True)


class FeedbackCreated(BaseModel):
    id: int
    answer_id: str
    rating: Literal["up", "down"]
    ticket_offer: TicketOfferOut | None = Field(None, description="Offered after 差评 (the answer did not help).")


class FeedbackOut(BaseModel):
    id: int
    answer_id: str
    conversation_id: str
    rating: Literal["up", "down"]
    reason: str
    question: str
    answer: str
    created_at: dt.datetime
    resolved: bool
    resolved_at: dt.datetime | None
    resolution_note: str
    overdue: bool = Field(description="A 差评 still unresolved after 24 hours.")

    @classmethod
    def of(cls, item: Feedback) -> FeedbackOut:
        return cls(id=item.id, answer_id=item.answer_id, conversation_id=item.conversation_id, rating=item.rating,
                   reason=item.reason, question=item.question, answer=item.answer, created_at=_time(item.created_at),
                   resolved=item.resolved,
                   resolved_at=_time(item.resolved_at) if item.resolved_at is not None else None,
                   resolution_note=item.resolution_note, overdue=item.overdue)


class FeedbackList(BaseModel):
    items: list[FeedbackOut]
    counts: dict[str, int] = Field(description="All feedback: up, down, and open (unresolved).")


class ResolveRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # JSON types as declared: no "1" for true

    note: str = Field(min_length=1, max_length=2000, pattern=VISIBLE,
                      description="What was done; personal data is masked before storage.")

    @field_validator("note", mode="before")
    @classmethod
    def _clean_note(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        value = clean_text(value, keep_newlines=True)
        if not value:
            raise PydanticCustomError("empty_note", "处理说明不能为空。/ The note is empty: say what was done.")
        return value


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    kind: str
    effective_date: str
    expires: str
    stale: bool = Field(description="Expired, or in force for longer than the freshness limit (15 years).")
    chunks: int
    source: Literal["corpus", "upload"]
    indexed: bool = Field(description="False for an upload not yet indexed (POST /v1/staff/reindex).")
    file: str


class SecondIndexOut(BaseModel):
    """The second embedder's index (ZHENGWU_SECOND_EMBEDDER), which adds a list to retrieval."""

    embedder: str
    collection: str | None = Field(description="Its live collection; null until a re-index builds it.")
    documents: int
    behind: list[str] = Field(description="Documents it lacks, holds in another version, or holds though the "
                                          "answering index does not; their hits are ignored until a re-index.")


class DocumentList(BaseModel):
    collection: str | None
    total: int
    documents: list[DocumentOut]
    second_index: SecondIndexOut | None = Field(default=None, description="The second embedder's index, when one is "
                                                                             "set (ZHENGWU_SECOND_EMBEDDER).")


class UploadResult(BaseModel):
    file: str
    doc_ids: list[str]
    size: int
    message: str


class DeleteResult(BaseModel):
    doc_id: str
    file: str
    message: str


class SummaryOut(BaseModel):
    index_key: str
    collection: str
    added: int
    updated: int
    removed: int
    unchanged: int
    chunks_total: int
    chunks_embedded: int
    chunks_copied: int
    seconds: float
    switched: bool

    @classmethod
    def of(cls, summary: IndexSummary) -> SummaryOut:
        return cls(index_key=summary.index_key, collection=summary.collection, added=summary.added,
                   updated=summary.updated, removed=summary.removed, unchanged=summary.unchanged,
                   chunks_total=summary.chunks_total, chunks_embedded=summary.chunks_embedded,
                   chunks_copied=summary.chunks_copied, seconds=round(summary.seconds, 3), switched=summary.switched)


class ReindexStatusOut(BaseModel):
    state: Literal["idle", "running", "succeeded", "failed"]
    rebuild: bool
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    chunks_done: int
    chunks_total: int
    summary: SummaryOut | None
    problems: list[str] = Field(description="Files the loaders skipped, with the reason.")
    error: str

    @classmethod
    def of(cls, status: ReindexStatus) -> ReindexStatusOut:
        return cls(state=status.state, rebuild=status.rebuild,
                   started_at=_time(status.started_at) if status.started_at is not None else None,
                   finished_at=_time(status.finished_at) if status.finished_at is not None else None,
                   chunks_done=status.chunks_done, chunks_total=status.chunks_total,
                   summary=SummaryOut.of(status.summary) if status.summary else None,
                   problems=list(status.problems), error=status.error)


class Health(BaseModel):
    status: str
    index_loaded: bool
    index: str
    collection: str | None
    documents: int
    chunks: int
    embedder: str
    store: str
    second_embedder: str | None = None  # ZHENGWU_SECOND_EMBEDDER, when set
    second_collection: str | None = None  # its live collection; None while it has no index (two lists are fused)


def _time(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
