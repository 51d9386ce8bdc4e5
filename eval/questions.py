"""The staff eval set (`eval/questions.jsonl`): format, loading and the dev/test split.

One JSON object a line:

| field | meaning |
|---|---|
| `id` | unique, e.g. `q-idcard-lost-03` |
| `need` | what the person needs; every phrasing of one need shares it (e.g. `idcard-lost-fee`) |
| `question` | the question as the person typed it |
| `style` | one of STYLES: standard, colloquial, cantonese (粤语), northeastern (东北话), sichuan (川渝话), traditional (繁體), typo, pinyin (pinyin fragment), elderly |
| `topic` | a short topic label (身份证, 社保, 公积金, 企业开办 …) |
| `expected_docs` | corpus document ids that answer it (empty for must_refuse) |
| `expected_section` | the guide section or law article that answers it, where one does ("" otherwise) |
| `must_include` | facts the answer must contain, verbatim as they appear in an expected document |
| `history` | previous user turns of the conversation, oldest first (multi-turn cases) |
| `must_refuse` | true for out-of-scope or unanswerable questions: the right answer is a refusal with a hand-off |

The split is by need, not by item, so no phrasing of a tuned need leaks into the test half:
`sha1(need) % 2 == 0` → test, otherwise dev. Tuning uses dev only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from assistant.errors import LoadError

STYLES = ("standard", "colloquial", "cantonese", "northeastern", "sichuan", "traditional", "typo", "pinyin", "elderly")
Split = Literal["dev", "test", "all"]


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    need: str
    question: str
    style: str
    topic: str
    expected_docs: tuple[str, ...] = ()
    expected_section: str = ""
    must_include: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    must_refuse: bool = False
    notes: str = field(default="", compare=False)

    @property
    def split(self) -> Literal["dev", "test"]:
        return split_of(self.need)


def split_of(key: str) -> Literal["dev", "test"]:
    return "test" if int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "dev"


def load_questions(path: Path, split: Split = "all") -> list[EvalQuestion]:
    """Load and validate the eval set; a bad line is an error naming the line (staff fix it)."""
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for where, row in read_rows(path):
        question = _parse(row, where)
        if question.id in seen:
            raise LoadError(where, f"duplicate id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    return [q for q in questions if split == "all" or q.split == split]


def read_rows(path: Path) -> Iterator[tuple[str, object]]:
    """The JSON value of each non-empty line of a JSON Lines file, with where it is (`path:line`);
    an unreadable file or a line that is no JSON is an error naming it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(path, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoadError(where, f"not valid JSON ({exc.msg})") from exc
        except RecursionError as exc:
            raise LoadError(where, "JSON nested too deeply") from exc
        yield where, row


def _parse(row: object, where: str) -> EvalQuestion:
    if not isinstance(row, dict):
        raise LoadError(where, "a line must hold a JSON object")
    for name in ("id", "need", "question", "style", "topic"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            raise LoadError(where, f"missing or empty {name!r}")
    if row["style"] not in STYLES:
        raise LoadError(where, f"style must be one of {', '.join(STYLES)}, got {row['style']!r}")
    lists = {}
    for name in ("expected_docs", "must_include", "history"):
        value = row.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise LoadError(where, f"{name!r} must be a list of non-empty strings")
        lists[name] = tuple(value)
    must_refuse = bool(row.get("must_refuse", False))
    if not must_refuse and not lists["expected_docs"]:
        raise LoadError(where, "an answerable question needs expected_docs")
    if must_refuse and lists["expected_docs"]:
        raise LoadError(where, "a must_refuse question has no expected_docs")
    return EvalQuestion(
        id=row["id"], need=row["need"], question=row["question"], style=row["style"], topic=row["topic"],
        expected_docs=lists["expected_docs"], expected_section=str(row.get("expected_section", "") or ""),
        must_include=lists["must_include"], history=lists["history"], must_refuse=must_refuse,
        notes=str(row.get("notes", "") or ""),
    )
