"""Fresh batches (`eval/fresh/*.jsonl`): questions written by helpers who saw the corpus but
neither the eval set nor the code, each `{"q", "expect", "kind", …}` (style and aspect kept for reading) with `expect`
the title of the document that states the answer or "REFUSE". Asked through the product's
extractive answerer: how many must-refuse questions it refused (by `kind`: detail, uncovered,
offscope), how many answerable ones it refused, and how many it answered citing the expected
document. A batch is independent only for the changes made before it was read (README, Session 23).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import LoadError
from eval.questions import read_rows

if TYPE_CHECKING:
    from assistant.answering import ExtractiveAnswerer

REFUSE = "REFUSE"


@dataclass(frozen=True)
class BatchQuestion:
    question: str
    expect: str  # a document title, or REFUSE
    kind: str  # answerable, detail, uncovered or offscope

    @property
    def must_refuse(self) -> bool:
        return self.expect == REFUSE


@dataclass(frozen=True)
class BatchResult:
    asked: BatchQuestion
    refused: bool
    cited: tuple[str, ...]  # the titles the answer cites

    @property
    def right(self) -> bool:
        """Refused when it must be; else answered citing the expected document."""
        if self.asked.must_refuse:
            return self.refused
        return not self.refused and self.asked.expect in self.cited


def load_batch(path: Path) -> list[BatchQuestion]:
    """Read a batch; a bad line is an error naming the line."""
    questions = []
    for where, row in read_rows(path):
        if not isinstance(row, dict) or not all(isinstance(row.get(name), str) and row[name].strip() for name in ("q", "expect")):
            raise LoadError(where, "a line must be a JSON object with non-empty \"q\" and \"expect\"")
        questions.append(BatchQuestion(row["q"], row["expect"], str(row.get("kind", ""))))
    return questions


def ask_batch(extractive: ExtractiveAnswerer, questions: list[BatchQuestion]) -> list[BatchResult]:
    results = []
    for asked in questions:
        answer = extractive.answer(asked.question)
        results.append(BatchResult(asked, answer.refused, tuple(citation.title for citation in answer.citations)))
    return results


def summarise(results: list[BatchResult]) -> dict:
    refuse = [r for r in results if r.asked.must_refuse]
    answerable = [r for r in results if not r.asked.must_refuse]
    kinds = Counter(r.asked.kind for r in refuse)
    return {
        "n": len(results),
        "must_refuse": len(refuse),
        "refusals": sum(r.refused for r in refuse),
        "refusals_by_kind": {kind: [sum(r.refused for r in refuse if r.asked.kind == kind), count]
                             for kind, count in sorted(kinds.items())},
        "answerable": len(answerable),
        "false_refusals": sum(r.refused for r in answerable),
        "expected_cited": sum(r.right for r in answerable),
        "missed": [r.asked.question for r in results if not r.right],
    }
