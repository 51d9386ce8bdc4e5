"""The WeChat official-account bot: `/wechat`, a thin face over `Assistant`.

GET verifies the server; POST takes a user's message (plaintext or safe mode, see
`api.wechat_envelope`) and replies within WeChat's 5-second wait. The answer runs in a worker
thread; if it is not ready within the budget the user gets a holding message and the answer comes
with their next message (or through the customer-service API, `api.wechat_delivery`). WeChat's
retries of one MsgId share one reply (`api.wechat_sessions`); texts are in `api.wechat_replies`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from wechatpy.replies import create_reply

from api.schemas import ErrorBody
from api.wechat_delivery import CustomerServiceSender, LateSender, WeChatDeliveryError
from api.wechat_envelope import Envelope, Inbound, WeChatRequestError
from api.wechat_replies import (BUSY, EMPTY_QUESTION, FAILED, HOLDING, NOTHING_MORE, REPORT_FAILED, REPORT_FILING, REPORT_NOTHING,
                                STILL_HOLDING, TEXT_LIMIT_BYTES, UNSUPPORTED, WELCOME, earlier_question, render_answer,
                                report_received, too_long)
from api.wechat_sessions import Mailbox, Outcome, PendingAnswer, Reply, Ticket, Tickets, resolved
from assistant.errors import ConfigError, ZhengwuError
from assistant.privacy import mask_pii
from assistant.service import Assistant, Conversations
from assistant.settings import Settings
from assistant.tickets import Ticket as HandoffTicket

logger = logging.getLogger("zhengwu.api.wechat")  # under zhengwu.api: served with the request log

A = TypeVar("A")
B = TypeVar("B")
T = TypeVar("T")
MAX_BODY_BYTES = 64 * 1024
CONTINUE = ("1", "１")
# 办不成事反映: "反映13800000000" hands the user's last question to a department as a ticket.
REPORT = re.compile(r"^(反映|转人工|人工)\s*[:：]?\s*(?P<contact>[0-9A-Za-z_.@+-]{3,100})$")  # phone, e-mail, WeChat ID
Reporter = Callable[[str, str, str], HandoffTicket]  # (question, contact, conversation id) -> the ticket
SUBSCRIBE_EVENTS = ("subscribe", "subscribe_scan")
_NOT_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description,
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for status, description in (
        (400, "Malformed XML, a DTD or entity, not a WeChat message, or no echostr"),
        (403, "Forged or stale signature, or a message for another AppID"),
        (404, "WeChat is not configured (ZHENGWU_WECHAT_TOKEN unset)"),
        (413, "Body larger than the limit"),
    )
}


# What WeChat signs and sends on server verification; read from the query by the envelope.
_SIGNED_QUERY: dict[str, Any] = {"parameters": [
    {"name": name, "in": "query", "required": required, "schema": {"type": "string"}, "description": description}
    for name, required, description in (
        ("signature", True, "sha1 over the sorted token, timestamp and nonce"),
        ("timestamp", True, "seconds since the epoch; outside the replay window → 403"),
        ("nonce", True, "a random string chosen by WeChat"),
        ("echostr", True, "echoed back when the signature is right"),
        ("msg_signature", False, "safe mode (WeCom style): the signature over the encrypted echostr"),
    )
]}


class WeChatBot:
    """Turns one checked message into one reply text, within `budget_seconds`."""

    def __init__(self, envelope: Envelope, assistant_provider: Callable[[], Assistant], *,
                 budget_seconds: float = 4.5, max_question_chars: int = 500, sender: LateSender | None = None,
                 workers: int = 4, max_in_flight: int = 32, reporter: Reporter | None = None) -> None:
        if not 0 < budget_seconds < 5:
            raise ConfigError(f"budget_seconds must be between 0 and 5 (WeChat waits 5 s), got {budget_seconds}")
        if workers < 1 or max_in_flight < 1:
            raise ConfigError(f"workers and max_in_flight must be at least 1, got {workers}, {max_in_flight}")
        self.envelope, self.assistant_provider, self.sender = envelope, assistant_provider, sender
        self.budget_seconds, self.max_question_chars = budget_seconds, max_question_chars
        self.workers, self.max_in_flight = workers, max_in_flight
        self.tickets, self.mailbox = Tickets(), Mailbox()
        self.reporter = reporter
        self.asked = Conversations(max_turns=1)  # each user's last question, for "反映…"
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight = 0
        self._lock = threading.Lock()

    async def reply(self, inbound: Inbound, started: float) -> str | None:
        """The reply text for `inbound` (None: nothing to say, WeChat gets "success")."""
        logger.info("wechat %s%s from %s", inbound.kind, f":{inbound.event}" if inbound.event else "", _user(inbound.openid))
        if inbound.kind == "event":
            return WELCOME if inbound.event in SUBSCRIBE_EVENTS else None
        ticket, _ = self.tickets.get_or_open(inbound.key, lambda: self._open(inbound))
        remaining = self.budget_seconds - (time.monotonic() - started)
        if not ticket.reply.done() and remaining > 0:
            await _wait(ticket.reply, remaining)
        if not ticket.reply.done():
            if ticket.pending is not None:  # a late answer: kept for the next message
                self._hold(inbound.openid, ticket.pending)
            return ticket.holding  # (a report still being filed is filed all the same)
        if ticket.reply.exception() is not None:
            logger.error("wechat reply failed for %s", _user(inbound.openid), exc_info=ticket.reply.exception())
            return FAILED
        reply = ticket.reply.result()
        if ticket.pending is not None:
            self.mailbox.release(inbound.openid, ticket.pending.outcome)
        if reply.rest is not None:
            self.mailbox.keep_parts(inbound.openid, reply.rest)
        return reply.text

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _open(self, inbound: Inbound) -> Ticket:
        """The ticket of a new message: a late answer to pick up (any message does), the next part,
        a new question, or a fixed text."""
        pending = self.mailbox.pending(inbound.openid)
        if pending is not None:
            header = earlier_question(pending.question)
            return Ticket(_then(pending.outcome, lambda outcome: self._render(outcome, header)), pending, STILL_HOLDING)
        question = inbound.content.strip()
        if inbound.kind != "text" and not question:  # image, location, …; voice without speech recognition
            return Ticket(resolved(Reply(UNSUPPORTED)))
        if question in CONTINUE:
            return Ticket(resolved(self.mailbox.next_part(inbound.openid) or Reply(NOTHING_MORE)))
        if not question:
            return Ticket(resolved(Reply(EMPTY_QUESTION)))
        report = REPORT.match(question) if self.reporter is not None else None
        if report is not None:
            filed = self._submit(self._report, inbound.openid, report.group("contact"))
            return Ticket(_then(filed, Reply), None, REPORT_FILING) if filed is not None else Ticket(resolved(Reply(BUSY)))
        if len(question) > self.max_question_chars:
            return Ticket(resolved(Reply(too_long(self.max_question_chars))))
        outcome = self._start(inbound.openid, question)
        if outcome is None:
            return Ticket(resolved(Reply(BUSY)))
        return Ticket(_then(outcome, self._render), PendingAnswer(question, outcome), HOLDING)

    def _start(self, openid: str, question: str) -> Future[Outcome] | None:
        return self._submit(self._ask, openid, question)

    def _submit(self, work: Callable[[str, str], T], openid: str, text: str) -> Future[T] | None:
        """`work(openid, text)` on a worker thread; None when too many are in flight."""
        with self._lock:
            if self._in_flight >= self.max_in_flight:
                logger.warning("wechat busy: %d answers in flight", self._in_flight)
                return None
            self._in_flight += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="wechat-answer")
            executor = self._executor
        try:
            future = executor.submit(work, openid, text)
        except RuntimeError:  # closed meanwhile (the app is shutting down)
            self._finished(None)
            return None
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[Outcome] | None) -> None:
        with self._lock:
            self._in_flight -= 1

    def _report(self, openid: str, contact: str) -> str:
        """A hand-off ticket for the user's last question, routed to a department (once: the
        question is forgotten when its ticket is opened)."""
        asked = self.asked.history(openid)
        if not asked or self.reporter is None:
            return REPORT_NOTHING
        try:
            ticket = self.reporter(asked[-1], contact, f"wechat:{_user(openid)}")
        except ZhengwuError as exc:
            logger.warning("wechat report failed for %s: %s", _user(openid), mask_pii(str(exc)))
            return REPORT_FAILED
        except Exception:  # the face's outer boundary, as for answers
            logger.exception("wechat report crashed for %s", _user(openid))
            return REPORT_FAILED
        self.asked.forget(openid)
        logger.info("wechat report from %s: ticket %d to %s", _user(openid), ticket.id, ticket.department)
        return report_received(ticket.department, ticket.id)

    def _ask(self, openid: str, question: str) -> Outcome:
        self.asked.remember(openid, question)
        try:
            answer = self.assistant_provider().ask(question, conversation_id=f"wechat:{openid}")
        except ZhengwuError as exc:
            logger.warning("wechat answer failed for %s: %s", _user(openid), mask_pii(str(exc)))
            return FAILED
        except Exception:  # the face's outer boundary: the user gets an apology, the log the trace
            logger.exception("wechat answer crashed for %s", _user(openid))
            return FAILED
        logger.info("wechat answered %s: %s (mode=%s, refused=%s)", _user(openid), mask_pii(question),
                    answer.mode, answer.refused)
        return answer

    def _hold(self, openid: str, pending: PendingAnswer) -> None:
        """Keep a late answer for the user's next message; push it when it is ready if a sender is set."""
        if self.mailbox.hold(openid, pending) and self.sender is not None:
            pending.outcome.add_done_callback(lambda _: self._push_later(openid, pending))

    def _push_later(self, openid: str, pending: PendingAnswer) -> None:
        with self._lock:
            executor = self._executor
        if executor is not None:
            try:
                executor.submit(self._push, openid, pending)
            except RuntimeError:  # shut down meanwhile: the answer waits for the next message
                pass

    def _render(self, outcome: Outcome, header: str = "") -> Reply:
        """The reply's text and further parts; a refusal invites "反映…" only when tickets can be filed."""
        if isinstance(outcome, str):
            return Reply(header + outcome, ())
        parts = render_answer(outcome, TEXT_LIMIT_BYTES - len(header.encode("utf-8")),
                              report_hint=self.reporter is not None)
        return Reply(header + parts[0], parts[1:])

    def _push(self, openid: str, pending: PendingAnswer) -> None:
        assert self.sender is not None
        if not self.mailbox.release(openid, pending.outcome):
            return  # a reply delivered it already
        reply = self._render(pending.outcome.result(), earlier_question(pending.question))
        try:
            self.sender.send_text(openid, reply.text)
        except WeChatDeliveryError as exc:
            self.mailbox.hold(openid, pending, if_absent=True)
            logger.warning("wechat push failed for %s, kept for the next message: %s", _user(openid), exc)
            return
        self.mailbox.keep_parts(openid, reply.rest or ())
        logger.info("wechat pushed a late answer to %s", _user(openid))


def create_wechat_router(settings: Settings, assistant_provider: Callable[[], Assistant], *,
                         budget_seconds: float = 4.5, max_body_bytes: int = MAX_BODY_BYTES,
                         max_skew_seconds: float = 300.0, clock: Callable[[], float] = time.time,
                         sender: LateSender | None = None, reporter: Reporter | None = None) -> APIRouter:
    """`GET`/`POST /wechat`. Closed (404) while `wechat_token` is unset; safe mode when
    `wechat_aes_key` is set; late answers pushed through `sender` (default: the customer-service
    API when `wechat_secret` is set); "反映+联系方式" opens a hand-off ticket through `reporter`."""
    bot: WeChatBot | None = None
    token = settings.wechat_token.get_secret_value() if settings.wechat_token is not None else ""
    if token:
        aes_key = settings.wechat_aes_key.get_secret_value() if settings.wechat_aes_key is not None else None
        envelope = Envelope(token, settings.wechat_appid, aes_key, max_skew_seconds, clock)
        bot = WeChatBot(envelope, assistant_provider, budget_seconds=budget_seconds,
                        max_question_chars=settings.max_question_chars,
                        sender=sender or CustomerServiceSender.from_settings(settings), reporter=reporter)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if bot is not None:
            bot.close()

    router = APIRouter(tags=["wechat"], lifespan=lifespan)

    @router.get("/wechat", response_class=PlainTextResponse, responses=_ERRORS, openapi_extra=_SIGNED_QUERY,
                summary="WeChat server verification (echoes echostr)")
    async def verify(request: Request) -> Response:
        if bot is None:
            return _closed()
        try:
            echo = bot.envelope.verify_server(request.query_params)
        except WeChatRequestError as exc:
            return _refused(exc)
        return PlainTextResponse(echo, headers={"X-Content-Type-Options": "nosniff"})

    @router.post("/wechat", responses=_ERRORS, summary="WeChat message push (XML in, XML reply out)")
    async def receive(request: Request) -> Response:
        started = time.monotonic()
        if bot is None:
            return _closed()
        params = request.query_params
        try:
            bot.envelope.verify_request(params)
            inbound = bot.envelope.open(await _read_body(request, max_body_bytes), params)
        except WeChatRequestError as exc:
            return _refused(exc)
        text = await bot.reply(inbound, started)
        if text is None:
            return PlainTextResponse("success")
        xml = create_reply(_xml_text(text), inbound.message, render=True)
        return Response(bot.envelope.seal(xml, params.get("nonce", "")), media_type="application/xml")

    return router


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise WeChatRequestError(413, "payload_too_large", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WeChatRequestError(413, "payload_too_large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _wait(future: Future[Any], timeout: float) -> None:
    """Wait for a thread's future without holding a thread, at most `timeout` seconds. (Not
    `asyncio.wrap_future`: its callback fails once this request's event loop is closed, and
    cancelling it would cancel the shared future.)"""
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not woken.done():
            woken.set_result(None)

    def on_done(_: Future[Any]) -> None:
        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    future.add_done_callback(on_done)
    await asyncio.wait([woken], timeout=timeout)


def _then(source: Future[A], transform: Callable[[A], B]) -> Future[B]:
    """A future of `transform(result)`, resolved when `source` is."""
    target: Future[B] = Future()

    def copy(done: Future[A]) -> None:
        try:
            target.set_result(transform(done.result()))
        except Exception as exc:
            target.set_exception(exc)

    source.add_done_callback(copy)
    return target


def _xml_text(text: str) -> str:
    """Text safe inside wechatpy's CDATA: no characters XML forbids, no "]]>"."""
    return _NOT_XML_CHARS.sub("", text).replace("]]>", "]] >")


def _user(openid: str) -> str:
    """A short stable pseudonym of the openid for logs."""
    return "u:" + hashlib.sha256(openid.encode("utf-8")).hexdigest()[:10]


def _closed() -> JSONResponse:
    return JSONResponse({"error": "wechat_not_configured", "message": "WeChat is not configured on this server "
                         "(set ZHENGWU_WECHAT_TOKEN)."}, status_code=404)


def _refused(exc: WeChatRequestError) -> JSONResponse:
    logger.info("wechat request refused: %s (%d)", exc.code, exc.status_code)
    return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status_code)
