"""Hand-off tickets (办不成事反映): a question the assistant could not settle, routed to a department.

`TicketStore` keeps tickets durably in `data_dir/tickets.sqlite3` (WAL journal, one connection per
operation, like `assistant.feedback`). The question and every note go through `mask_pii` before
they are stored. The contact is the purpose of a ticket (staff call back), so it is stored as
given in its own column and nowhere else; it is never logged, and `Ticket.masked_contact` is what
lists show unless staff ask to reveal it. Every state change is kept as an event. sqlite errors
become `TicketStoreError` here.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from assistant.database import Database
from assistant.errors import TicketNotFoundError, TicketStoreError
from assistant.privacy import mask_pii
from assistant.routing import Router
from assistant.settings import Settings

log = logging.getLogger("zhengwu.tickets")
TicketState = Literal["open", "in_progress", "closed"]
# Refusals a department can take up: no evidence in the corpus, a person's own case, another
# city's rules. Advice, chitchat, fabrication and prompt requests are not offered a ticket.
HANDOFF_REASONS = frozenset({"no_evidence", "personal_case", "other_city"})
STATES: tuple[str, ...] = get_args(TicketState)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    contact TEXT NOT NULL,
    department TEXT NOT NULL,
    candidates TEXT NOT NULL,
    router TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'in_progress', 'closed')),
    note TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_state ON tickets (state, created_at);
CREATE TABLE IF NOT EXISTS ticket_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    at REAL NOT NULL,
    state TEXT NOT NULL,
    department TEXT NOT NULL,
    note TEXT NOT NULL
);
"""
_COLUMNS = "id, question, conversation_id, contact, department, candidates, router, state, note, created_at, updated_at"


def mask_contact(contact: str) -> str:
    """The contact as lists show it: personal identifiers masked; anything else (a WeChat id, a
    landline) hidden but for its last two characters."""
    masked = mask_pii(contact)
    if masked != contact:
        return masked
    return "*" * max(len(contact) - 2, 3) + contact[-2:] if len(contact) > 4 else "***"


@dataclass(frozen=True)
class Ticket:
    """One stored ticket (question and note already masked). Times are Unix seconds."""

    id: int
    question: str
    conversation_id: str
    contact: str  # as given: only for staff who ask to reveal it
    department: str
    candidates: tuple[tuple[str, float], ...]  # the router's top-3 when the ticket was opened
    router: str
    state: TicketState
    note: str
    created_at: float
    updated_at: float

    @property
    def masked_contact(self) -> str:
        return mask_contact(self.contact)


@dataclass(frozen=True)
class TicketEvent:
    at: float
    state: TicketState
    department: str
    note: str


class TicketStore:
    """Create, list and update tickets in one SQLite file."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._db = Database(path, _SCHEMA, TicketStoreError, "ticket store")

    @classmethod
    def from_settings(cls, settings: Settings) -> TicketStore:
        return cls(settings.data_dir / "tickets.sqlite3")

    def create(self, question: str, contact: str, candidates: Sequence[tuple[str, float]], router: str = "",
               conversation_id: str = "") -> Ticket:
        """Store an open ticket for the first candidate department; the question is masked first."""
        if not contact.strip():
            raise ValueError("a ticket needs a contact, got an empty one")
        if not candidates:
            raise ValueError("a ticket needs at least one candidate department")
        now = self.clock()
        top = [(str(d), round(float(s), 4)) for d, s in candidates[:3]]
        row = (mask_pii(question), mask_pii(conversation_id), contact.strip(), top[0][0],
               json.dumps(top, ensure_ascii=False), router, "open", now, now)
        with self._connect() as db:
            cursor = db.execute("INSERT INTO tickets (question, conversation_id, contact, department, candidates, "
                                "router, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            ticket_id = int(cursor.lastrowid or 0)
            db.execute("INSERT INTO ticket_events (ticket_id, at, state, department, note) VALUES (?, ?, 'open', ?, '')",
                       (ticket_id, now, top[0][0]))
        return self.get(ticket_id)

    def get(self, ticket_id: int) -> Ticket:
        with self._connect() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        if row is None:
            raise TicketNotFoundError(f"no ticket with id {ticket_id}")
        return _ticket(row)

    def find(self, state: TicketState | Literal["all"] = "all", limit: int = 200) -> list[Ticket]:
        """Open first, then in progress, then closed; oldest first within each."""
        if state != "all" and state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)} or all, got {state!r}")
        where, args = ("", ()) if state == "all" else ("WHERE state = ?", (state,))
        with self._connect() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM tickets {where} ORDER BY CASE state WHEN 'open' THEN 0 "
                              "WHEN 'in_progress' THEN 1 ELSE 2 END, created_at, id LIMIT ?", (*args, limit)).fetchall()
        return [_ticket(row) for row in rows]

    def update(self, ticket_id: int, state: TicketState, note: str = "", department: str | None = None) -> Ticket:
        """Move a ticket to `state` with a (masked) note; `department` reassigns it."""
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, got {state!r}")
        now, note = self.clock(), mask_pii(note)
        with self._connect() as db:
            row = db.execute("SELECT department FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
            if row is None:
                raise TicketNotFoundError(f"no ticket with id {ticket_id}")
            department = department or str(row[0])
            db.execute("UPDATE tickets SET state = ?, note = ?, department = ?, updated_at = ? WHERE id = ?",
                       (state, note, department, now, ticket_id))
            db.execute("INSERT INTO ticket_events (ticket_id, at, state, department, note) VALUES (?, ?, ?, ?, ?)",
                       (ticket_id, now, state, department, note))
        log.info("ticket %d is now %s (%s)", ticket_id, state, department)
        return self.get(ticket_id)

    def history(self, ticket_id: int) -> list[TicketEvent]:
        with self._connect() as db:
            rows = db.execute("SELECT at, state, department, note FROM ticket_events WHERE ticket_id = ? ORDER BY id",
                              (ticket_id,)).fetchall()
        if not rows:
            raise TicketNotFoundError(f"no ticket with id {ticket_id}")
        return [TicketEvent(float(at), state, str(department), str(note)) for at, state, department, note in rows]

    def counts(self) -> dict[str, int]:
        with self._connect() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM tickets GROUP BY state").fetchall()
        return {state: 0 for state in STATES} | {str(state): int(n) for state, n in rows}

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.connect()


def open_ticket(store: TicketStore, router: Router, question: str, contact: str, conversation_id: str = "") -> Ticket:
    """Route the question (top-3 departments) and store an open ticket for the best one."""
    candidates = router.predict(question, k=3)
    ticket = store.create(question, contact, candidates, router=router.name, conversation_id=conversation_id)
    log.info("ticket %d opened for %s: %s", ticket.id, ticket.department, ticket.question)  # masked question only
    return ticket


def _ticket(row: tuple) -> Ticket:  # type: ignore[type-arg]
    state: TicketState = row[7] if row[7] in STATES else "open"
    candidates = tuple((str(d), float(s)) for d, s in json.loads(row[5]))
    return Ticket(id=int(row[0]), question=str(row[1]), conversation_id=str(row[2]), contact=str(row[3]),
                  department=str(row[4]), candidates=candidates, router=str(row[6]), state=state, note=str(row[8]),
                  created_at=float(row[9]), updated_at=float(row[10]))
