"""Ask the corpus's own similar questions back: false refusals the eval set was never tuned on.

Every guide and FAQ carries a few similar questions (相似问法, `similar` in its front matter), written
from the document alone by writers who never saw the eval set (corpus/README.md). Each is asked here
as a citizen would ask it, with itself withheld from its document (`Catalog.withholding`: from the
document's names, and from an FAQ's BM25 text, re-indexed without it), so it reads no closer to its
document than an unseen question worded the same way would; the title and the other similar
questions stay. Every one of them is answerable from its document's matter, so a refusal is a false
refusal, and an answer that cites nothing of the matter (`Catalog.matter_families`) is off the
matter (a lower bound: the matter may be answerable from a law too).

Written in session 16 for the guides, after every threshold and rule had been chosen on the eval
set's dev half: its first run (18 of 256 refused, 0.070, against 2 of 418 dev questions) showed the
dev half had been tuned past what it can tell. That run then found two causes, each changed only
when the eval set's dev half did not move and `eval holdout` was measured beside it (README, session
16), so the guides' figures are no longer untouched by choices. The FAQs' similar questions were
first asked in session 17, once BM25 could be re-indexed without one. None of them is in the eval set.

`split` halves the questions by the guide a document is on (`anchor`; `sha1(guide) % 2 == 0` is
test, as the eval set splits by need), so a guide's questions and its FAQs' fall in one half. Since
session 17 rules are chosen on the dev half and the test half is only reported: the rules the dev
half found that session moved its test half not at all (README).
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from assistant.answering import ExtractiveAnswerer
from assistant.catalog import Catalog, rests_on, similar_questions
from eval.questions import Split, split_of

KINDS = ("guide", "faq")  # the kinds that carry similar questions
# the order the corpus's writers were asked to write a document's four similar questions in
# (corpus/README.md): a standard rephrasing, a colloquial one, an older person's, a search-box query
STYLES = ("standard", "colloquial", "elderly", "search")


@dataclass(frozen=True)
class AskedBack:
    doc_id: str  # the document that carries the question
    kind: str  # its kind: guide or faq
    question: str
    refused: bool
    reason: str  # the refusal's category ("" when it answered)
    cited: tuple[str, ...]
    on_matter: bool  # the answer cites a document of its document's matter
    style: str  # by the question's place among its document's four (`STYLES`); "" when it has not four
    rank: int | None  # where retrieval ranks the document's matter's first document (0 = first); None: not in its k


def ask_back(extractive: ExtractiveAnswerer, limit: int | None = None, kinds: tuple[str, ...] = KINDS,
             split: Split = "all") -> list[AskedBack]:
    """The similar questions of every document of `kinds` in `split` (`split_of` its `anchor`; at
    most `limit` in all), each asked with itself withheld; guides first, then FAQs, each in id order."""
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        raise ValueError(f"kinds must be some of {KINDS}, got {kinds}")
    catalog = extractive.retriever.live_catalog()
    asked = []
    for kind in (k for k in KINDS if k in kinds):
        for doc_id, entry in sorted(catalog.documents.items()):
            wanted = entry.kind == kind and split in ("all", split_of(anchor(catalog, doc_id)))
            questions = similar_questions(catalog.first_metadata(doc_id)) if wanted else []
            styles = styles_of(len(questions))
            asked += [(doc_id, kind, question, style) for question, style in zip(questions, styles, strict=True)]
    return [_ask(extractive, catalog, *case) for case in asked[:limit]]


def anchor(catalog: Catalog, doc_id: str) -> str:
    """What a document's questions are split by: the first guide an FAQ rests on (an FAQ may rest on
    a law first and a guide after), else the first document it rests on that the catalog holds, else
    the document itself; so a guide's questions and its FAQs' fall in one half."""
    rests = [target for target, _ in rests_on(catalog.first_metadata(doc_id)) if target in catalog.documents]
    guides = [target for target in rests if catalog.documents[target].kind == "guide"]
    return (guides or rests or [doc_id])[0]


def styles_of(count: int) -> tuple[str, ...]:
    """The styles of a document's `count` similar questions, by place: known only for four."""
    return STYLES if count == len(STYLES) else ("",) * count


def _ask(extractive: ExtractiveAnswerer, catalog: Catalog, doc_id: str, kind: str, question: str,
         style: str) -> AskedBack:
    retriever = extractive.retriever.with_catalog(catalog.withholding(doc_id, question))
    answerer = copy.copy(extractive)  # the same answerer, over the withholding catalog
    answerer.retriever = retriever
    answer = answerer.answer(question)
    matter = set(catalog.matter_families.get(doc_id, (doc_id,)))
    ranked = list(dict.fromkeys(p.doc_id for p in retriever.retrieve(question, k=extractive.k)))
    rank = next((i for i, found in enumerate(ranked) if found in matter), None)
    return AskedBack(doc_id, kind, question, answer.refused, answer.refusal_reason if answer.refused else "",
                     answer.cited_doc_ids, bool(matter.intersection(answer.cited_doc_ids)), style, rank)


def summarise(cases: list[AskedBack]) -> dict:
    answered = [c for c in cases if not c.refused]
    return {
        "n": len(cases),
        "documents": len({c.doc_id for c in cases}),
        **_retrieval(cases),
        "refused": _share(sum(c.refused for c in cases), len(cases)),  # false refusals
        "refusals": sum(c.refused for c in cases),
        "off_matter": sum(not c.on_matter for c in answered),
        "on_matter": _share(sum(c.on_matter for c in answered), len(cases)),
        "reasons": dict(Counter(c.reason for c in cases if c.refused).most_common()),
        "per_kind": _per(cases, lambda c: c.kind),
        "per_style": _per(cases, lambda c: c.style or "unknown"),
        "refused_questions": [{"doc_id": c.doc_id, "question": c.question, "style": c.style, "reason": c.reason}
                              for c in cases if c.refused],
        "off_matter_questions": [{"doc_id": c.doc_id, "question": c.question, "cited": list(c.cited)}
                                 for c in answered if not c.on_matter],
    }


def print_asked_back(summary: dict, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"similar questions asked back · {summary['n']} questions of {summary['documents']} documents")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("refused (false refusals)", f"{summary['refused']:.3f} ({summary['refusals']})")
    table.add_row("answered from the document's matter", f"{summary['on_matter']:.3f}")
    table.add_row("answered from another matter only", str(summary["off_matter"]))
    table.add_row("retrieval: the document's matter first / in the 5 best",
                  f"{summary['top1']:.3f} / {summary['top5']:.3f}")
    console.print(table)
    for title, key in (("per kind (the document carrying the question)", "per_kind"),
                       ("per style (the question's place among its document's four)", "per_style")):
        groups = Table(title=title)
        for column in ("group", "n", "refused", "top 1", "top 5"):
            groups.add_column(column, justify="right")
        for name, figures in summary[key].items():
            groups.add_row(name, str(figures["n"]), f"{figures['refused']:.3f}", f"{figures['top1']:.3f}",
                           f"{figures['top5']:.3f}")
        console.print(groups)
    console.print(f"refusals by reason: {summary['reasons'] or '—'}")
    for case in summary["refused_questions"]:
        console.print(f"  refused: {case['question']} ({case['doc_id']})")


def _per(cases: list[AskedBack], key: Callable[[AskedBack], str]) -> dict[str, dict]:
    """The share refused and retrieval's figures per group (kind or style)."""
    groups: dict[str, list[AskedBack]] = defaultdict(list)
    for case in cases:
        groups[key(case)].append(case)
    return {name: {"n": len(group), "refused": _share(sum(c.refused for c in group), len(group)),
                   **_retrieval(group)}
            for name, group in sorted(groups.items())}


def _retrieval(cases: list[AskedBack]) -> dict[str, float]:
    """Where retrieval put the document's matter: first, or among the 5 best documents."""
    return {"top1": _share(sum(c.rank == 0 for c in cases), len(cases)),
            "top5": _share(sum(c.rank is not None and c.rank < 5 for c in cases), len(cases))}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
