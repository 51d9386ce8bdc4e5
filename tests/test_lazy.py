"""The lazily built, refreshable value behind the bundles, the policy catalog and the router."""

from __future__ import annotations

import threading

from assistant.lazy import Lazy


def test_built_once_on_first_use_and_again_after_a_refresh() -> None:
    builds: list[int] = []
    lazy = Lazy(lambda: builds.append(1) or len(builds))
    assert builds == []  # nothing built before first use
    assert lazy.get() == 1 and lazy.get() == 1 and len(builds) == 1
    lazy.refresh()
    assert lazy.get() == 2 and len(builds) == 2


def test_readers_never_see_nothing_while_refreshes_run() -> None:
    lazy = Lazy(lambda: object())
    seen: list[object] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(lazy.get())

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for _ in range(2000):
        lazy.refresh()
    stop.set()
    for reader in readers:
        reader.join()
    assert seen and all(value is not None for value in seen)
