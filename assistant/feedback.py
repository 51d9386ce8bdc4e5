"""Feedback on answers (好评/差评), kept durably in SQLite, and the recent answers it refers to.

`FeedbackStore` writes `data_dir/feedback.sqlite3` (WAL journal, one connection per operation, so
it is safe across threads and processes). Every free-text field goes through `mask_pii` before it
is stored. sqlite errors become `FeedbackStoreError` here. `RecentAnswers` remembers, in memory and
bounded, which question and answer an `answer_id` names, so feedback can be tied to it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assistant.database import Database
from assistant.errors import FeedbackNotFoundError, FeedbackStoreError
from assistant.privacy import mask_pii
from assistant.settings import Settings

Rating = Literal["up", "down"]
OVERDUE_SECONDS = 24 * 3600  # unresolved 差评 older than this are listed first

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    reason TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at REAL NOT NULL,
    resolved_at REAL,
    resolution_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_open ON feedback (resolved_at, rating, created_at);
"""
_COLUMNS = ("id, answer_id, conversation_id, rating, reason, question, answer, created_at, resolved_at, "
            "resolution_note")


@dataclass(frozen=True)
class Feedback:
    """One stored piece of feedback (free text already masked). Times are Unix seconds."""

    id: int
    answer_id: str
    conversation_id: str
    rating: Rating
    reason: str
    question: str
    answer: str
    created_at: float
    resolved_at: float | None
    resolution_note: str
    overdue: bool  # a 差评 still unresolved after 24 hours

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None


@dataclass(frozen=True)
class AnsweredQuestion:
    """What an answer id stands for (question and answer text masked)."""

    conversation_id: str
    question: str
    answer: str


class FeedbackStore:
    """Record, list and resolve feedback in one SQLite file."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self._db = Database(path, _SCHEMA, FeedbackStoreError, "feedback store")

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackStore:
        return cls(settings.data_dir / "feedback.sqlite3")

    def record(self, answer_id: str, rating: Rating, reason: str, answered: AnsweredQuestion) -> Feedback:
        """Store one rating; `reason`, the question and the answer are masked first."""
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', got {rating!r}")
        row = (answer_id, mask_pii(answered.conversation_id), rating, mask_pii(reason), mask_pii(answered.question),
               mask_pii(answered.answer), self.clock())
        with self._connect() as db:
            cursor = db.execute("INSERT INTO feedback (answer_id, conversation_id, rating, reason, question, answer, "
                                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            feedback_id = int(cursor.lastrowid or 0)
        return self.get(feedback_id)

    def get(self, feedback_id: int) -> Feedback:
        with self._connect() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM feedback WHERE id = ?", (feedback_id,)).fetchone()
        if row is None:
            raise FeedbackNotFoundError(f"no feedback with id {feedback_id}")
        return self._feedback(row)

    def find(self, state: Literal["open", "all"] = "open", limit: int = 200) -> list[Feedback]:
        """差评 first; among them (and then among 好评) unresolved ones older than 24 h first; then
        oldest first. `state="open"` lists only unresolved feedback."""
        where = "WHERE resolved_at IS NULL" if state == "open" else ""
        cutoff = self.clock() - OVERDUE_SECONDS
        with self._connect() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM feedback {where} ORDER BY rating != 'down', "
                "NOT (resolved_at IS NULL AND created_at < ?), created_at, id LIMIT ?", (cutoff, limit),
            ).fetchall()
        return [self._feedback(row) for row in rows]

    def resolve(self, feedback_id: int, note: str) -> Feedback:
        """Mark resolved with a (masked) note; resolving again replaces the note."""
        with self._connect() as db:
            cursor = db.execute("UPDATE feedback SET resolved_at = ?, resolution_note = ? WHERE id = ?",
                                (self.clock(), mask_pii(note), feedback_id))
            if cursor.rowcount == 0:
                raise FeedbackNotFoundError(f"no feedback with id {feedback_id}")
        return self.get(feedback_id)

    def counts(self) -> dict[str, int]:
        """Feedback per rating, and how much is still open."""
        with self._connect() as db:
            rows = db.execute("SELECT rating, COUNT(*), SUM(resolved_at IS NULL) FROM feedback GROUP BY rating").fetchall()
        counts = {"up": 0, "down": 0, "open": 0}
        for rating, total, still_open in rows:
            counts[str(rating)] = int(total)
            counts["open"] += int(still_open or 0)
        return counts

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.connect()

    def _feedback(self, row: tuple) -> Feedback:  # type: ignore[type-arg]
        rating: Rating = "down" if row[3] == "down" else "up"
        resolved_at = None if row[8] is None else float(row[8])
        overdue = rating == "down" and resolved_at is None and float(row[7]) < self.clock() - OVERDUE_SECONDS
        return Feedback(id=int(row[0]), answer_id=str(row[1]), conversation_id=str(row[2]), rating=rating,
                        reason=str(row[4]), question=str(row[5]), answer=str(row[6]), created_at=float(row[7]),
                        resolved_at=resolved_at, resolution_note=str(row[9]), overdue=overdue)


class RecentAnswers:
    """The last `capacity` answers by id, in memory (feedback names an answer by this id)."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be greater than 0, got {capacity}")
        self.capacity = capacity
        self._answers: OrderedDict[str, AnsweredQuestion] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, answer_id: str, conversation_id: str, question: str, answer: str) -> None:
        entry = AnsweredQuestion(conversation_id, mask_pii(question), mask_pii(answer))
        with self._lock:
            self._answers[answer_id] = entry
            self._answers.move_to_end(answer_id)
            while len(self._answers) > self.capacity:
                self._answers.popitem(last=False)

    def get(self, answer_id: str) -> AnsweredQuestion | None:
        with self._lock:
            return self._answers.get(answer_id)
