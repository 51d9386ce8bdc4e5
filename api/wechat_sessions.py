"""What the WeChat bot remembers between messages, in memory and bounded in size and age.

- `Tickets`: one reply per WeChat message (by MsgId), so WeChat's retries of a message share one
  answer instead of asking the assistant again.
- `Mailbox`: per user (openid), the answer still being computed after a holding message, and the
  parts of a long answer not yet read ("回复1看全文").
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from assistant.answer import Answer

K = TypeVar("K")
V = TypeVar("V")
Outcome = Answer | str  # the assistant's answer, or a text to send instead (e.g. it failed)


@dataclass(frozen=True)
class Reply:
    """The text sent for one message. `rest` becomes the user's continuation when it is sent
    (an empty tuple clears it); None leaves any earlier continuation alone."""

    text: str
    rest: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PendingAnswer:
    """An answer that missed the reply budget: delivered on the user's next message (or pushed)."""

    question: str
    outcome: Future[Outcome]


@dataclass(frozen=True)
class Ticket:
    """The one reply to one message, shared by its retries. `pending` is the answer the reply
    waits for, held for later delivery if the budget runs out (None for instant replies)."""

    reply: Future[Reply]
    pending: PendingAnswer | None = None
    holding: str = ""  # sent instead when the budget runs out


def resolved(reply: Reply) -> Future[Reply]:
    future: Future[Reply] = Future()
    future.set_result(reply)
    return future


class BoundedMap(Generic[K, V]):
    """A dict that forgets entries older than `ttl_seconds` and its oldest entries beyond
    `max_items`. Not thread-safe: the owner locks."""

    def __init__(self, max_items: int, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be greater than 0, got {ttl_seconds}")
        self.max_items, self.ttl_seconds, self.clock = max_items, ttl_seconds, clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._items)

    def get(self, key: K) -> V | None:
        self._expire()
        entry = self._items.get(key)
        return None if entry is None else entry[1]

    def put(self, key: K, value: V) -> None:
        self._items.pop(key, None)
        self._items[key] = (self.clock(), value)
        self._expire()

    def pop(self, key: K) -> V | None:
        entry = self._items.pop(key, None)
        return None if entry is None else entry[1]

    def _expire(self) -> None:
        cutoff = self.clock() - self.ttl_seconds
        while self._items:
            key, (stamp, _) = next(iter(self._items.items()))
            if stamp >= cutoff and len(self._items) <= self.max_items:
                break
            del self._items[key]


class Tickets:
    """Replies by message key (MsgId; for events, user and CreateTime)."""

    def __init__(self, max_items: int = 10_000, ttl_seconds: float = 600.0) -> None:
        self._tickets: BoundedMap[str, Ticket] = BoundedMap(max_items, ttl_seconds)
        self._lock = threading.Lock()

    def get_or_open(self, key: str, open_ticket: Callable[[], Ticket]) -> tuple[Ticket, bool]:
        """The ticket of `key`, opened with `open_ticket` (called once, under the lock) when it is
        the first time the key is seen; the flag says whether it was opened now."""
        with self._lock:
            ticket = self._tickets.get(key)
            if ticket is not None:
                return ticket, False
            ticket = open_ticket()
            self._tickets.put(key, ticket)
            return ticket, True


class Mailbox:
    """Per user: the late answer waiting for delivery and the unread parts of a long answer."""

    def __init__(self, max_users: int = 10_000, ttl_seconds: float = 1800.0) -> None:
        self._pending: BoundedMap[str, PendingAnswer] = BoundedMap(max_users, ttl_seconds)
        self._parts: BoundedMap[str, tuple[str, ...]] = BoundedMap(max_users, ttl_seconds)
        self._lock = threading.Lock()

    def hold(self, openid: str, pending: PendingAnswer, *, if_absent: bool = False) -> bool:
        """Keep `pending` as the user's late answer; True if it was not held before. With
        `if_absent`, a different answer already held is left in place."""
        with self._lock:
            current = self._pending.get(openid)
            if current is not None and (if_absent or current.outcome is pending.outcome):
                return False
            self._pending.put(openid, pending)
            return True

    def pending(self, openid: str) -> PendingAnswer | None:
        with self._lock:
            return self._pending.get(openid)

    def release(self, openid: str, outcome: Future[Outcome]) -> bool:
        """Forget the pending answer of `openid` if it is `outcome`; True if this call did."""
        with self._lock:
            current = self._pending.get(openid)
            if current is None or current.outcome is not outcome:
                return False
            self._pending.pop(openid)
            return True

    def keep_parts(self, openid: str, parts: tuple[str, ...]) -> None:
        with self._lock:
            if parts:
                self._parts.put(openid, parts)
            else:
                self._parts.pop(openid)

    def next_part(self, openid: str) -> Reply | None:
        """The next unread part (its own rest kept for the following "1"), or None."""
        with self._lock:
            parts = self._parts.pop(openid)
            if not parts:
                return None
            if parts[1:]:
                self._parts.put(openid, parts[1:])
            return Reply(parts[0], parts[1:])
