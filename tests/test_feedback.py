import sqlite3
import threading
from pathlib import Path

import pytest

from assistant.feedback import (
    OVERDUE_SECONDS,
    AnsweredQuestion,
    FeedbackNotFoundError,
    FeedbackStore,
    FeedbackStoreError,
    RecentAnswers,
)
from assistant.privacy import ID_CARD_MASK, MOBILE_MASK, NAME_MASK

ANSWERED = AnsweredQuestion("c1", "身份证丢了怎么补办", "补领工本费40元。")


class Clock:
    """A settable clock (Unix seconds) for the store."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_free_text_is_masked_before_it_reaches_the_file(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    answered = AnsweredQuestion("c1", "我叫张三，手机13812345678，身份证丢了怎么办", "咨询电话000-6123 4567")
    stored = store.record("a" * 32, "down", "身份证号11010519491231002X，电话13912345678，我叫李四。", answered)
    assert stored.id == 1 and stored.rating == "down" and not stored.resolved
    assert ID_CARD_MASK in stored.reason and MOBILE_MASK in stored.reason and NAME_MASK in stored.reason
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # the database and its WAL
    for secret in ("11010519491231002X", "13912345678", "13812345678", "张三", "李四"):
        assert secret.encode() not in raw, secret
    assert "000-6123 4567".encode() in raw  # public service phones are kept


def test_listing_puts_down_votes_and_overdue_ones_first(tmp_path: Path) -> None:
    clock = Clock()
    store = FeedbackStore(tmp_path / "f.sqlite3", clock=clock)
    old_up = store.record("1" * 32, "up", "", ANSWERED).id
    old_down = store.record("2" * 32, "down", "旧的差评", ANSWERED).id
    clock.now += OVERDUE_SECONDS + 60
    new_down = store.record("3" * 32, "down", "新的差评", ANSWERED).id
    new_up = store.record("4" * 32, "up", "", ANSWERED).id
    order = [f.id for f in store.find("open")]
    assert order == [old_down, new_down, old_up, new_up]
    assert [f.overdue for f in store.find("open")] == [True, False, False, False]
    resolved = store.resolve(old_down, "已联系，手机13812345678")
    assert resolved.resolved and MOBILE_MASK in resolved.resolution_note and not resolved.overdue
    assert [f.id for f in store.find("open")] == [new_down, old_up, new_up]
    assert [f.id for f in store.find("all")] == [old_down, new_down, old_up, new_up]  # then oldest first
    assert store.counts() == {"up": 2, "down": 2, "open": 3}


def test_unknown_ids_and_bad_ratings_are_errors(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3")
    with pytest.raises(FeedbackNotFoundError):
        store.resolve(99, "note")
    with pytest.raises(FeedbackNotFoundError):
        store.get(1)
    with pytest.raises(ValueError, match="rating"):
        store.record("a" * 32, "meh", "", ANSWERED)  # type: ignore[arg-type]


def test_sqlite_failures_become_feedback_store_errors(tmp_path: Path) -> None:
    folder = tmp_path / "feedback.sqlite3"
    folder.mkdir()  # a folder where the database file should be
    with pytest.raises(FeedbackStoreError):
        FeedbackStore(folder).record("a" * 32, "up", "", ANSWERED)
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(FeedbackStoreError):
        FeedbackStore(corrupt).find()


def test_writes_from_many_threads_all_land_in_wal_mode(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite3")
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(10):
                store.record(f"{n:02d}{i:030d}", "up" if i % 2 else "down", f"线程{n}", ANSWERED)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.counts() == {"up": 40, "down": 40, "open": 80}
    with sqlite3.connect(tmp_path / "f.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_recent_answers_are_bounded_and_masked() -> None:
    answers = RecentAnswers(capacity=2)
    answers.remember("a", "c", "我的手机13812345678丢了", "答")
    answers.remember("b", "c", "问", "答")
    answers.remember("c", "c", "问", "答")
    assert answers.get("a") is None and answers.get("c") == AnsweredQuestion("c", "问", "答")
    answers.remember("x", "c", "我的手机13812345678丢了", "答")
    assert answers.get("x") is not None and "13812345678" not in answers.get("x").question  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        RecentAnswers(capacity=0)
