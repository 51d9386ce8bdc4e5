"""Ask the corpus's own similar questions back: false refusals the eval set was never tuned on.

Every guide carries a few similar questions (相似问法, `similar` in its front matter), written from
the guide alone by writers who never saw the eval set (corpus/README.md). Each is asked here as a
citizen would ask it, with itself withheld from the guide's names (`Catalog.withholding`), so it
reads no closer to its guide than an unseen question worded the same way would; the guide's title
and other similar questions stay. Every one of them is answerable from its guide's matter, so a
refusal is a false refusal, and an answer that cites nothing of the matter (`Catalog.matter_families`)
is off the matter (a lower bound: the matter may be answerable from a law too).

Only guides: an FAQ's similar questions are in its BM25 text as well (`catalog.lexical_text`),
which withholding the name would not undo.

Written in session 16, after every threshold and rule had been chosen on the eval set's dev half:
its first run (18 of 256 refused, 0.070, against 2 of 418 dev questions) showed the dev half had
been tuned past what it can tell. That run then found two causes, each changed only when the
eval set's dev half did not move and `eval holdout` was measured beside it (README, session 16), so
its figures are no longer untouched by choices; none of its questions is in the eval set.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from assistant.answering import ExtractiveAnswerer
from assistant.catalog import Catalog, similar_questions

KINDS = ("guide",)
# the order the corpus's writers were asked to write a document's four similar questions in
# (corpus/README.md): a standard rephrasing, a colloquial one, an older person's, a search-box query
STYLES = ("standard", "colloquial", "elderly", "search")


@dataclass(frozen=True)
class AskedBack:
    doc_id: str  # the guide that carries the question
    question: str
    refused: bool
    reason: str  # the refusal's category ("" when it answered)
    cited: tuple[str, ...]
    on_matter: bool  # the answer cites a document of the guide's matter
    style: str  # by the question's place among its guide's four (`STYLES`); "" when it has not four
    rank: int | None  # where retrieval ranks the guide's matter's first document (0 = first); None: not in its k


def ask_back(extractive: ExtractiveAnswerer, limit: int | None = None) -> list[AskedBack]:
    """Every guide's similar questions (at most `limit` in all), each asked with itself withheld."""
    retriever = extractive.retriever
    catalog = retriever.live_catalog()
    asked = []
    for doc_id, entry in sorted(catalog.documents.items()):
        questions = similar_questions(catalog.first_metadata(doc_id)) if entry.kind in KINDS else []
        styles = styles_of(len(questions))
        asked += [(doc_id, question, style) for question, style in zip(questions, styles, strict=True)]
    return [_ask(extractive, catalog, doc_id, question, style) for doc_id, question, style in asked[:limit]]


def styles_of(count: int) -> tuple[str, ...]:
    """The styles of a document's `count` similar questions, by place: known only for four."""
    return STYLES if count == len(STYLES) else ("",) * count


def _ask(extractive: ExtractiveAnswerer, catalog: Catalog, doc_id: str, question: str, style: str) -> AskedBack:
    retriever = extractive.retriever.with_catalog(catalog.withholding(doc_id, question))
    answerer = copy.copy(extractive)  # the same answerer, over the withholding catalog
    answerer.retriever = retriever
    answer = answerer.answer(question)
    matter = set(catalog.matter_families.get(doc_id, (doc_id,)))
    ranked = list(dict.fromkeys(p.doc_id for p in retriever.retrieve(question, k=extractive.k)))
    rank = next((i for i, found in enumerate(ranked) if found in matter), None)
    return AskedBack(doc_id, question, answer.refused, answer.refusal_reason if answer.refused else "",
                     answer.cited_doc_ids, bool(matter.intersection(answer.cited_doc_ids)), style, rank)


def summarise(cases: list[AskedBack]) -> dict:
    answered = [c for c in cases if not c.refused]
    by_style: dict[str, list[AskedBack]] = defaultdict(list)
    for case in cases:
        by_style[case.style or "unknown"].append(case)
    return {
        "n": len(cases),
        "guides": len({c.doc_id for c in cases}),
        **_retrieval(cases),
        "refused": _share(sum(c.refused for c in cases), len(cases)),  # false refusals
        "refusals": sum(c.refused for c in cases),
        "off_matter": sum(not c.on_matter for c in answered),
        "on_matter": _share(sum(c.on_matter for c in answered), len(cases)),
        "reasons": dict(Counter(c.reason for c in cases if c.refused).most_common()),
        "per_style": {style: {"n": len(group), "refused": _share(sum(c.refused for c in group), len(group)),
                              **_retrieval(group)}
                      for style, group in sorted(by_style.items())},
        "refused_questions": [{"doc_id": c.doc_id, "question": c.question, "reason": c.reason}
                              for c in cases if c.refused],
        "off_matter_questions": [{"doc_id": c.doc_id, "question": c.question, "cited": list(c.cited)}
                                 for c in answered if not c.on_matter],
    }


def print_asked_back(summary: dict, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"similar questions asked back · {summary['n']} questions of {summary['guides']} guides")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("refused (false refusals)", f"{summary['refused']:.3f} ({summary['refusals']})")
    table.add_row("answered from the guide's matter", f"{summary['on_matter']:.3f}")
    table.add_row("answered from another matter only", str(summary["off_matter"]))
    table.add_row("retrieval: the guide's matter first / in the 5 best",
                  f"{summary['top1']:.3f} / {summary['top5']:.3f}")
    console.print(table)
    styles = Table(title="per style (the question's place among its guide's four)")
    for column in ("style", "n", "refused", "top 1", "top 5"):
        styles.add_column(column, justify="right")
    for style, figures in summary["per_style"].items():
        styles.add_row(style, str(figures["n"]), f"{figures['refused']:.3f}", f"{figures['top1']:.3f}",
                       f"{figures['top5']:.3f}")
    console.print(styles)
    console.print(f"refusals by reason: {summary['reasons'] or '—'}")
    for case in summary["refused_questions"]:
        console.print(f"  refused: {case['question']} ({case['doc_id']})")


def _retrieval(cases: list[AskedBack]) -> dict[str, float]:
    """Where retrieval put the guide's matter: first, or among the 5 best documents."""
    return {"top1": _share(sum(c.rank == 0 for c in cases), len(cases)),
            "top5": _share(sum(c.rank is not None and c.rank < 5 for c in cases), len(cases))}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
