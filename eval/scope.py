"""What the scope rules refuse in texts nobody tuned them on: `python -m eval scope`.

Each text of the given JSONL files (`PATH:FIELD`, e.g. real citizen messages) is normalised as the
assistant normalises a question and checked against the scope rules — the shipped ones, or
`--rules FILE` to compare another version on the same texts. Printed: how many texts each category
refuses, with the first examples. Other cities are left out unless asked for: external data names
real places, which the corpus does not serve. Nothing here is labelled, so a flag is not by itself
wrong (a complaint can well be a person's own case): read the examples.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant.errors import LoadError
from assistant.query import QueryNormalizer
from assistant.scope import ScopeChecker
from eval.datasets import read_jsonl


@dataclass
class ScopeReport:
    texts: int
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # category → (matched, text)

    def as_json(self) -> dict:
        return {"texts": self.texts, "flagged": sum(self.counts.values()), "per_category": dict(self.counts),
                "examples": {c: [{"matched": m, "text": t} for m, t in e] for c, e in self.examples.items()}}


def read_texts(spec: str, max_chars: int) -> list[str]:
    """The non-empty `FIELD` values of the JSONL file `PATH` (`spec` is `PATH:FIELD`), at most
    `max_chars` long (longer ones are left out: the API takes questions of up to 500 characters)."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise LoadError(spec, "expected PATH:FIELD, e.g. messages.jsonl:message")
    rows = read_jsonl(Path(path))
    return [text for row in rows if isinstance(text := row.get(name) if isinstance(row, dict) else None, str)
            and text.strip() and len(text) <= max_chars]


def flag(checker: ScopeChecker, normalizer: QueryNormalizer, texts: list[str], other_city: bool = False,
         examples: int = 3) -> ScopeReport:
    report = ScopeReport(len(texts))
    for text in texts:
        verdict = checker.check(normalizer.normalize(text).text)
        if verdict is None or (verdict.category == "other_city" and not other_city):
            continue
        report.counts[verdict.category] += 1
        shown = report.examples.setdefault(verdict.category, [])
        if len(shown) < examples:
            shown.append((verdict.matched, text))
    return report


def print_scope(report: ScopeReport, console: Console) -> None:
    table = Table(title=f"scope rules · {report.texts} texts · {sum(report.counts.values())} flagged")
    for column in ("category", "texts", "first examples (matched | text)"):
        table.add_column(column)
    for category, count in report.counts.most_common():
        shown = "\n".join(f"{m} | {t[:60]}" for m, t in report.examples.get(category, []))
        table.add_row(category, str(count), shown)
    console.print(table)
