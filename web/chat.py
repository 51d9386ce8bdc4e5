"""The citizen page's conversation: asking, follow-ups, and 👍/👎 with an optional reason.

Answers come through `api.ask.answer_question`, so a page answer is registered for feedback and
counted in the metrics exactly like a /v1/ask answer; 👍/👎 are stored by `api.feedback.record_feedback`
(the page offers its own ticket form instead of the API's `ticket_offer`).
A conversation lives server-side in `gr.State` (`ChatSession`), which also says when the hand-off
ticket form is offered (`Offer`: after a refusal, or after a 👎) and for which question.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import gradio as gr
from pydantic import ValidationError

from api.ask import answer_question, checked_question
from api.errors import ApiError
from api.feedback import record_feedback
from api.limits import RateLimiter
from api.metrics import Metrics
from api.schemas import AskRequest, AskResponse, FeedbackRequest
from assistant.errors import IndexNotFoundError, ZhengwuError
from assistant.feedback import FeedbackStore, RecentAnswers
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.tickets import HANDOFF_REASONS
from web import chinese, client_of
from web.answers import escape, render_answer
from web.validation import explain_invalid

log = logging.getLogger("zhengwu.web")

PENDING = "正在查找相关的办事指南和政策原文……"
UNAVAILABLE = "系统暂时无法回答，请稍后再试，或拨打12345政务服务便民热线。"
SIMPLIFIED_ONLY = "（繁體和粤语显示需要改写服务，当前未启用，以下为简体原文。）"
ASK_FIELDS = {"question": "问题", "conversation_id": "对话编号", "script": "文字"}
CSS = """
.zw-elderly .message, .zw-elderly .message *, .zw-elderly textarea, .zw-elderly button {
    font-size: 22px !important; line-height: 1.7 !important; }
"""


@dataclass
class Turn:
    """One question and what was shown for it: an answer, or a notice (busy, too long, failed)."""

    question: str
    response: AskResponse | None = None
    notice: str = ""
    script: str = "simplified"  # the script asked for


@dataclass(frozen=True)
class Offer:
    """The hand-off ticket form is offered: why, and the question it is about (which the person may
    still edit, so the department is named only once the ticket is routed)."""

    reason: Literal["refused", "disliked"]
    question: str


@dataclass
class ChatSession:
    """One browser session's conversation; kept server-side in `gr.State`."""

    conversation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    turns: list[Turn] = field(default_factory=list)
    disliked: str = ""  # the answer id whose 👎 waits for its reason
    offer: Offer | None = None

    def messages(self) -> list[dict[str, str]]:
        """Chatbot messages: two per turn, so message `2n + 1` is the answer of turn `n`."""
        shown: list[dict[str, str]] = []
        for turn in self.turns:
            answer = render_answer(turn.response) if turn.response is not None else turn.notice
            if turn.response is not None and turn.response.plain is None and turn.script != "simplified":
                answer = f"{SIMPLIFIED_ONLY}\n\n{answer}"
            shown += [{"role": "user", "content": escape(turn.question)},
                      {"role": "assistant", "content": answer or PENDING}]
        return shown

    def turn_at(self, index: int) -> Turn | None:
        """The turn whose answer is chat message `index` (None for a question or a wrong index)."""
        if index % 2 != 1 or not 0 <= index // 2 < len(self.turns):
            return None
        return self.turns[index // 2]

    def answer_id_at(self, index: int) -> str:
        turn = self.turn_at(index)
        return turn.response.answer_id if turn is not None and turn.response is not None else ""


class Chat:
    """The conversation's event handlers; the page (`web.citizen`) lays it out and wires them."""

    def __init__(self, settings: Settings, assistant: Callable[[], Assistant], answers: RecentAnswers,
                 feedback: FeedbackStore, metrics: Metrics, limiter: RateLimiter) -> None:
        self.settings = settings
        self.assistant = assistant
        self.answers = answers
        self.feedback = feedback
        self.metrics = metrics
        self.limiter = limiter

    def ask(self, question: str, session: ChatSession | None, plain: bool, elderly: bool, script: str,
            request: gr.Request) -> Iterator[tuple[Any, ...]]:
        """Yields (chat, question box, session, feedback note): first the question, then its answer.
        A refused answer offers the ticket form; any other outcome withdraws an earlier offer."""
        session = session or ChatSession()
        try:
            body = AskRequest(question=question or "", conversation_id=session.conversation_id, plain=bool(plain),
                              elderly=bool(elderly), script=script)
        except ValidationError as exc:
            gr.Warning(explain_invalid(exc, ASK_FIELDS))
            yield session.messages(), question, session, ""
            return
        turn = Turn(body.question, script=body.script)
        session.turns.append(turn)
        session.offer = None
        wait = self.limiter.hit(client_of(request))
        if wait:
            turn.notice = f"提问太频繁了，请{wait}秒后再试。"
            yield session.messages(), "", session, ""
            return
        try:
            checked_question(body, self.settings, request.request)
        except ApiError as exc:
            turn.notice = chinese(exc.message)
            yield session.messages(), "", session, ""
            return
        yield session.messages(), "", session, ""
        try:
            turn.response = answer_question(self.assistant(), self.answers, self.metrics, body, body.question)
        except IndexNotFoundError:
            turn.notice = "资料库还在准备中，暂时无法回答。请稍后再试，或拨打12345政务服务便民热线。"
        except ZhengwuError as exc:
            log.error("the web page could not answer: %s", exc)
            turn.notice = UNAVAILABLE
        except Exception as exc:  # noqa: BLE001 - the person must see an answer, never a page stuck waiting
            log.error("the web page could not answer", exc_info=exc)
            turn.notice = UNAVAILABLE
        if turn.response is not None and turn.response.refused and turn.response.refusal_reason in HANDOFF_REASONS:
            session.offer = Offer("refused", turn.question)
        yield session.messages(), "", session, ""

    def ask_example(self, sample: list[str] | str, session: ChatSession | None, plain: bool, elderly: bool,
                    script: str, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        question = sample[0] if isinstance(sample, list) else sample
        yield from self.ask(question, session, plain, elderly, script, request)

    def restart(self) -> tuple[Any, ...]:
        return [], "", ChatSession(), "", gr.Column(visible=False)

    def rate(self, session: ChatSession | None, liked: gr.LikeData, request: gr.Request) -> tuple[Any, ...]:
        """👍 is recorded at once; 👎 opens the reason box (the reason is optional) and offers a ticket."""
        session = session or ChatSession()
        index = liked.index if isinstance(liked.index, int) else liked.index[0]
        turn = session.turn_at(index)
        answer_id = session.answer_id_at(index)
        if turn is None or not answer_id:
            return session, "这条消息不能评价。", gr.Column(visible=False)
        if liked.liked is False:
            session.disliked = answer_id
            session.offer = Offer("disliked", turn.question)
            return session, "", gr.Column(visible=True)
        if liked.liked is True:
            return session, self._record(answer_id, "up", "", request), gr.Column(visible=False)
        return session, "", gr.Column(visible=False)  # the rating was taken back

    def send_dislike(self, reason: str, session: ChatSession | None, request: gr.Request) -> tuple[Any, ...]:
        session = session or ChatSession()
        if not session.disliked:
            return session, "", "", gr.Column(visible=False)
        note = self._record(session.disliked, "down", reason or "", request)
        session.disliked = ""
        return session, note, "", gr.Column(visible=False)

    def _record(self, answer_id: str, rating: str, reason: str, request: gr.Request | None) -> str:
        if self.limiter.hit(client_of(request)):
            return "提交太频繁了，请稍后再试。"
        try:
            body = FeedbackRequest(answer_id=answer_id, rating=rating, reason=reason)
            record_feedback(body, self.answers, self.feedback, self.metrics)  # the page offers its own ticket form
        except ValidationError as exc:
            return explain_invalid(exc, {"reason": "理由"})
        except ApiError as exc:
            return chinese(exc.message)
        except ZhengwuError as exc:
            log.error("feedback from the web page was not stored: %s", exc)
            return "评价暂时无法保存，请稍后再试。"
        if rating == "up":
            return "感谢您的好评！"
        return "已收到您的意见，工作人员会在24小时内跟进处理。"
