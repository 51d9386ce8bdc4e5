"""A small SQLite file shared by the durable stores (feedback, tickets): WAL mode, the schema
created once, one connection per operation (committed on success, always closed), and sqlite's
errors translated into the store's own project error."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.errors import ZhengwuError


class Database:
    def __init__(self, path: Path, schema: str, error: type[ZhengwuError], name: str) -> None:
        self.path, self.schema, self.error, self.name = path, schema, error, name
        self._ready = False
        self._lock = threading.Lock()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """One connection per operation, committed on success, always closed."""
        try:
            self._prepare()
            db = sqlite3.connect(self.path, timeout=10)
        except (sqlite3.Error, OSError) as exc:
            raise self.error(f"cannot open the {self.name} {self.path}: {exc}") from exc
        try:
            with db:
                yield db
        except sqlite3.Error as exc:
            raise self.error(f"the {self.name} {self.path} failed: {exc}") from exc
        finally:
            db.close()

    def _prepare(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(self.schema)
                db.commit()
            finally:
                db.close()
            self._ready = True
