"""Hand-off tickets (办不成事反映) on the pages: the citizen's form and the staff console's queue.

On the citizen page, a refusal or a 👎 offers a small form (the turn's question, editable, and a
contact) that `open_ticket` routes to a department; the page answers with the ticket number and
the department. The input is validated by the API's own `TicketRequest` and counted by the same
rate limiter as asking; the contact is never logged. In the staff console, tickets are listed by
state with the router's top three and the contact masked, and staff move a ticket on with a note,
re-route it, or reveal one contact to call back (logged without the contact).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Literal

import gradio as gr
from pydantic import ValidationError

from api.limits import RateLimiter
from api.tickets import TicketRequest, TicketUpdate
from assistant.errors import TicketNotFoundError, ZhengwuError
from assistant.routing import Router
from assistant.settings import Settings
from assistant.tickets import Ticket, TicketStore, open_ticket
from web import client_of
from web.access import require_unlocked
from web.chat import ChatSession
from web.validation import explain_invalid

log = logging.getLogger("zhengwu.web")

OFFERS = {"refused": ("转人工办理", "这个问题我没能答上来。"), "disliked": ("提交反映", "回答没有解决您的问题？")}
OFFER_TEXT = "留下联系方式，我们按问题把它转给主管部门，由工作人员回复您。"
FIELDS = {"question": "要反映的问题", "contact": "联系方式", "conversation_id": "对话编号"}
NOT_STORED = "工单暂时无法提交，请稍后再试，或拨打12345政务服务便民热线。"
STATE_NAMES = {"open": "待处理", "in_progress": "处理中", "closed": "已办结"}
FILTERS = [("待处理", "open"), ("处理中", "in_progress"), ("已办结", "closed"), ("全部", "all")]
MOVES = [("处理中", "in_progress"), ("已办结", "closed"), ("重新打开", "open")]
COLUMNS = ["工单号", "提交时间", "问题", "转交部门", "系统推荐部门（前3）", "联系方式", "状态", "处理说明"]
UPDATE_FIELDS = {"state": "新状态", "note": "处理说明", "department": "改派部门"}
CSS = """
.zw-ticket { padding: .6em .9em; border: 1px solid var(--color-accent); border-radius: 8px; }
"""
TicketFilter = Literal["open", "in_progress", "closed", "all"]


class TicketOffer:
    """The citizen page's ticket form: shown on an `Offer` of the chat session, submitted once."""

    def __init__(self, settings: Settings, tickets: TicketStore, router: Router, limiter: RateLimiter) -> None:
        self.settings = settings
        self.tickets = tickets
        self.router = router
        self.limiter = limiter

    def show_form(self, session: ChatSession | None) -> tuple[Any, ...]:
        """(form, heading, question, button): the form with the offered question, or hidden."""
        offer = session.offer if session is not None else None
        if offer is None:
            return gr.Column(visible=False), gr.skip(), gr.skip(), gr.skip()
        title, lead = OFFERS[offer.reason]
        return gr.Column(visible=True), f"#### {title}\n{lead}{OFFER_TEXT}", offer.question, gr.Button(title)

    def reset_form(self) -> tuple[Any, ...]:
        """(form, note): a new conversation has no form and no confirmation."""
        return gr.Column(visible=False), ""

    def submit(self, question: str, contact: str, session: ChatSession | None,
               request: gr.Request) -> tuple[Any, ...]:
        """(form, note, contact box, session): the confirmation with the ticket number and department,
        or what to correct (the form stays open)."""
        session = session or ChatSession()
        try:
            body = TicketRequest(question=question or "", contact=contact or "",
                                 conversation_id=session.conversation_id)
        except ValidationError as exc:
            return gr.skip(), f"⚠ {explain_invalid(exc, FIELDS)}", gr.skip(), session
        if len(body.question) > self.settings.max_question_chars:
            return gr.skip(), f"⚠ 问题太长了，请控制在{self.settings.max_question_chars}字以内。", gr.skip(), session
        wait = self.limiter.hit(client_of(request))
        if wait:
            return gr.skip(), f"⚠ 提交太频繁了，请{wait}秒后再试。", gr.skip(), session
        try:
            ticket = open_ticket(self.tickets, self.router, body.question, body.contact, session.conversation_id)
        except ZhengwuError as exc:  # the messages name the store or the router, never the contact
            log.error("a ticket from the web page was not stored: %s", exc)
            return gr.skip(), f"⚠ {NOT_STORED}", gr.skip(), session
        session.offer = None
        return gr.Column(visible=False), confirmation(ticket), "", session


def confirmation(ticket: Ticket) -> str:
    return f"✅ 已转给「{ticket.department}」，工单号 {ticket.id}，工作人员会按您留的联系方式回复。"


@dataclass(frozen=True)
class TicketForm:
    box: gr.Column
    heading: gr.Markdown
    question: gr.Textbox
    send: gr.Button
    note: gr.Markdown

    @property
    def shown(self) -> list[Any]:
        """What `TicketOffer.show_form` updates."""
        return [self.box, self.heading, self.question, self.send]


def ticket_form(offer: TicketOffer, session: gr.State) -> TicketForm:
    """Lay out the (hidden) ticket form and its confirmation line, and wire the submit button."""
    with gr.Column(visible=False, elem_id="zw-ticket", elem_classes=["zw-ticket"]) as box:
        heading = gr.Markdown("", elem_id="zw-ticket-heading")
        question = gr.Textbox(label="要反映的问题（可以修改）", lines=2, max_lines=6, elem_id="zw-ticket-question")
        contact = gr.Textbox(label="联系方式（必填：手机、电话或邮箱，只用于工作人员回复您）", max_length=100,
                             elem_id="zw-ticket-contact")
        send = gr.Button("转人工办理", variant="primary", elem_id="zw-ticket-send")
    note = gr.Markdown("", elem_id="zw-ticket-note")
    send.click(offer.submit, [question, contact, session], [box, note, contact, session], api_visibility="private")
    return TicketForm(box, heading, question, send, note)


class TicketDesk:
    """The staff console's ticket queue; every handler needs the unlocked session."""

    def __init__(self, tickets: TicketStore) -> None:
        self.tickets = tickets

    def ticket_queue(self, state: TicketFilter, unlocked: bool) -> tuple[str, list[list[str]], Any]:
        """(counts, rows, departments to re-route to)."""
        require_unlocked(unlocked)
        try:
            listed = self.tickets.find(state, 500)
            counts = self.tickets.counts()
            known = self.tickets.find("all", 1000)
        except (ZhengwuError, ValueError) as exc:
            raise gr.Error(f"无法读取工单：{exc}") from exc
        rows = [[str(t.id), stamp(t.created_at), t.question, t.department,
                 "；".join(f"{department} {score:.2f}" for department, score in t.candidates), t.masked_contact,
                 STATE_NAMES.get(t.state, t.state), t.note] for t in listed]
        departments = sorted({t.department for t in known} | {d for t in known for d, _ in t.candidates})
        text = "，".join(f"{name} {counts.get(state_, 0)} 件" for state_, name in STATE_NAMES.items()) + "。"
        return text, rows, gr.Dropdown(choices=departments, value=None)

    def update_ticket(self, ticket_id: float | None, move: str, note: str, department: str | None,
                      state: TicketFilter, unlocked: bool) -> tuple[Any, ...]:
        """(done, counts, rows, departments, note box): the ticket moved on, the queue again."""
        require_unlocked(unlocked)
        number = _ticket_number(ticket_id)
        try:
            body = TicketUpdate(state=move, note=note or "", department=(department or "").strip() or None)
        except ValidationError as exc:
            raise gr.Error(explain_invalid(exc, UPDATE_FIELDS)) from exc
        try:
            ticket = self.tickets.update(number, body.state, body.note, body.department)
        except TicketNotFoundError as exc:
            raise gr.Error(f"没有第 {number} 号工单。") from exc
        except ZhengwuError as exc:
            raise gr.Error(f"无法更新工单：{exc}") from exc
        counts, rows, departments = self.ticket_queue(state, unlocked)
        done = f"第 {ticket.id} 号工单已改为「{STATE_NAMES[ticket.state]}」，转交部门：{ticket.department}。"
        return done, counts, rows, departments, ""

    def reveal_contact(self, ticket_id: float | None, unlocked: bool) -> str:
        """One ticket's contact as given, for the call-back (the log names the ticket, not the contact)."""
        require_unlocked(unlocked)
        number = _ticket_number(ticket_id)
        try:
            ticket = self.tickets.get(number)
        except TicketNotFoundError as exc:
            raise gr.Error(f"没有第 {number} 号工单。") from exc
        except ZhengwuError as exc:
            raise gr.Error(f"无法读取工单：{exc}") from exc
        log.info("staff revealed the contact of ticket %d on the console", ticket.id)
        return f"第 {ticket.id} 号工单的联系方式：**{ticket.contact}**（仅用于回复本人，请勿外传）"


def _ticket_number(ticket_id: float | None) -> int:
    if not ticket_id or ticket_id < 1 or ticket_id != int(ticket_id):
        raise gr.Error("请填写工单号。")
    return int(ticket_id)


def stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class TicketSection:
    counts: gr.Markdown
    table: gr.Dataframe
    departments: gr.Dropdown

    @property
    def listed(self) -> list[Any]:
        """What `TicketDesk.ticket_queue` fills (also on unlocking)."""
        return [self.counts, self.table, self.departments]


def ticket_section(desk: TicketDesk, unlocked: gr.State) -> TicketSection:
    """Lay out the console's ticket queue and its update form, and wire them."""
    gr.Markdown("## 工单　办不成事反映，按部门转办", elem_id="zw-tickets-title")
    with gr.Row():
        state = gr.Radio(FILTERS, value="open", label="状态", elem_id="zw-ticket-state")
        refresh = gr.Button("刷新工单", elem_id="zw-tickets-refresh")
    counts = gr.Markdown("", elem_id="zw-ticket-counts")
    table = gr.Dataframe(headers=COLUMNS, label="工单（联系方式已脱敏）", interactive=False, wrap=True, elem_id="zw-tickets",
                         column_widths=["6%", "11%", "22%", "13%", "20%", "10%", "7%", "11%"])
    with gr.Row():
        ticket_id = gr.Number(None, label="工单号", precision=0, elem_id="zw-ticket-id")
        move = gr.Radio(MOVES, value="in_progress", label="改为", elem_id="zw-ticket-move")
        departments = gr.Dropdown([], value=None, label="改派部门（可选，不选则不变）", allow_custom_value=True,
                                  elem_id="zw-ticket-department")
    with gr.Row():
        note = gr.Textbox(label="处理说明", scale=3, elem_id="zw-ticket-resolution")
        update = gr.Button("更新工单", variant="primary", elem_id="zw-ticket-update")
        reveal = gr.Button("查看联系方式", elem_id="zw-ticket-reveal")
    done = gr.Markdown("", elem_id="zw-ticket-done")
    section = TicketSection(counts, table, departments)
    private = {"api_visibility": "private"}
    refresh.click(desk.ticket_queue, [state, unlocked], section.listed, **private)
    state.change(desk.ticket_queue, [state, unlocked], section.listed, **private)
    update.click(desk.update_ticket, [ticket_id, move, note, departments, state, unlocked],
                 [done, *section.listed, note], **private)
    reveal.click(desk.reveal_contact, [ticket_id, unlocked], [done], **private)
    return section
