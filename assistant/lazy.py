"""A value built on first use, shared by threads, and built again on first use after `refresh()`
(the bundles, the policy catalog and the department router after a re-index)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        value = self._value  # read once: `refresh()` may clear it meanwhile
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    value = self._value = self._build()
        return value

    def refresh(self) -> None:
        with self._lock:
            self._value = None
