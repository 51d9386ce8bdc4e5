"""Leave one matter out: does the assistant refuse when the corpus lacks the matter asked about?

The eval set holds too few must-refuse questions (about 77 a half) to tell. Here every answerable
question is asked twice through the extractive answerer: as the corpus is, and with its matter held
out of retrieval — its expected documents (with the guide an expected FAQ rests on), the FAQs
that rest on them and the life-event bundles that have them as steps (`family`). With the matter
gone the honest answer is a refusal; an answer that still comes must come from another document,
and never cites a held-out one (`leaks` counts
those: a check of the filter, which must stay 0). The held-out answerer sees a catalog without the
held-out documents too, so what the corpus "knows" (`assistant.matters.particular_things`) is
judged without them.

The held-out answerer has no life-event bundle guide (a checklist would answer before retrieval,
from the catalog, whatever is held out), so questions whose expected documents are all bundles are
not counted. Both answers are the extractive answerer's; with an LLM configured, the LLM answerer
keeps its refusals.

Label noise: a held-out matter may still be answerable from a law or another document outside its
family (补领身份证 from the 居民身份证法), so the held-out refusal share is a lower bound on honest
behaviour, not a figure that must reach 1.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import cast

from rich.console import Console
from rich.table import Table

from assistant.answering import ExtractiveAnswerer
from assistant.bundles import BundleGuide
from assistant.catalog import Catalog, rests_on
from assistant.documents import Scalar
from assistant.query import Query
from assistant.retrieval import Filters, HybridRetriever, Passage, Retrieved
from eval.questions import EvalQuestion


@dataclass(frozen=True)
class HeldOut(Filters):
    """The retrieval filters, and documents that retrieval must not find."""

    excluded: frozenset[str] = frozenset()

    def accepts(self, meta: dict[str, Scalar]) -> bool:
        return str(meta.get("doc_id", "")) not in self.excluded and super().accepts(meta)


class HeldOutRetriever:
    """A `HybridRetriever` that never finds the held-out documents, whatever filters it is given
    (so an `ExtractiveAnswerer` over it answers as if the corpus lacked them)."""

    def __init__(self, inner: HybridRetriever, excluded: frozenset[str]) -> None:
        self.inner = inner
        self.excluded = excluded

    def retrieve(self, question: str | Query, k: int = 8, filters: Filters | None = None) -> list[Passage]:
        return self.search(question, k, filters).passages

    def search(self, question: str | Query, k: int = 8, filters: Filters | None = None) -> Retrieved:
        found = self.inner.search(question, k, self._held_out(filters))
        return replace(found, catalog=self._without(found.catalog) if found.catalog is not None else None)

    def live_catalog(self) -> Catalog:
        return self._without(self.inner.live_catalog())

    def _without(self, catalog: Catalog) -> Catalog:
        """`catalog` as if the held-out documents were not in the corpus."""
        return replace(catalog, documents={doc_id: entry for doc_id, entry in catalog.documents.items()
                                           if doc_id not in self.excluded})

    def _held_out(self, filters: Filters | None) -> HeldOut:
        """The given filters, with the held-out documents (and any the filters already exclude)."""
        given = {f.name: getattr(filters, f.name) for f in fields(Filters)} if filters is not None else {}
        already = filters.excluded if isinstance(filters, HeldOut) else frozenset()
        return HeldOut(**given, excluded=self.excluded | already)


@dataclass(frozen=True)
class Case:
    """One answerable question, asked as the corpus is and with its matter held out."""

    id: str
    style: str
    held_out: frozenset[str]
    full_refused: bool
    refused: bool  # with the matter held out
    reason: str  # the held-out refusal's reason ("" when it answered)
    cited: tuple[str, ...]  # the documents the held-out answer cites
    cited_kind: str  # the kind of its first cited document ("" for a refusal)

    @property
    def leaked(self) -> bool:
        return bool(self.held_out.intersection(self.cited))


def family(expected: Iterable[str], catalog: Catalog, bundles: BundleGuide | None) -> frozenset[str]:
    """The matter, whole: the expected documents and what an expected FAQ rests on (its guide), then
    every document resting on one of those (the guide's FAQs) and every life-event bundle that is
    one of them or has one as a step."""
    def targets(doc_id: str) -> set[str]:
        return {target for target, _ in rests_on(catalog.first_metadata(doc_id))}

    wanted = set(expected)
    wanted |= {target for doc_id in list(wanted) for target in targets(doc_id)}
    members = set(wanted)
    for doc_id, entry in catalog.documents.items():
        steps = bundles.step_guides(doc_id) if bundles is not None and entry.kind == "bundle" else frozenset()
        if targets(doc_id) & wanted or steps & wanted:
            members.add(doc_id)
    return frozenset(members)


def held_out_answerer(extractive: ExtractiveAnswerer, excluded: frozenset[str]) -> ExtractiveAnswerer:
    """The extractive answerer's parts over a retriever that cannot find `excluded`, without a
    bundle guide (a checklist is assembled from the corpus, not retrieved)."""
    retriever = HeldOutRetriever(extractive.retriever, excluded)
    # the answerer is typed for the hybrid retriever; it only calls `search` and `retrieve`
    return ExtractiveAnswerer(cast(HybridRetriever, retriever), extractive.normalizer, extractive.scope,
                              extractive.thresholds, today=extractive.today, k=extractive.k, bundles=None,
                              titles=extractive.titles, query_titles=extractive.query_titles, elsewhere=extractive.elsewhere,
                              acts=extractive.acts)


def counted(q: EvalQuestion, catalog: Catalog) -> bool:
    """Whether `q` is scored: answerable, and not only about life-event bundles."""
    kinds = {catalog.documents[d].kind if d in catalog.documents else "" for d in q.expected_docs}
    return not q.must_refuse and bool(q.expected_docs) and kinds != {"bundle"}


def ask(extractive: ExtractiveAnswerer, q: EvalQuestion, catalog: Catalog) -> Case:
    """`q` asked as the corpus is and with its matter held out."""
    held_out = family(q.expected_docs, catalog, extractive.bundles)
    full = extractive.answer(q.question, q.history)
    answer = held_out_answerer(extractive, held_out).answer(q.question, q.history)
    return Case(q.id, q.style, held_out, full.refused, answer.refused, answer.refusal_reason if answer.refused else "",
                answer.cited_doc_ids, answer.citations[0].kind if answer.citations else "")


def run_holdout(extractive: ExtractiveAnswerer, questions: list[EvalQuestion]) -> dict:
    """Every counted question of `questions` asked both ways, summarised."""
    catalog = extractive.retriever.live_catalog()
    scored = [q for q in questions if counted(q, catalog)]
    skipped = sum(not q.must_refuse for q in questions) - len(scored)
    return summarise([ask(extractive, q, catalog) for q in scored], skipped)


def summarise(cases: list[Case], skipped: int) -> dict:
    answered_full = [c for c in cases if not c.full_refused]
    by_style: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_style[case.style].append(case)
    return {
        "n": len(cases),
        "skipped_bundles": skipped,  # answerable questions about life-event bundles only
        "held_out_refused": _share(sum(c.refused for c in cases), len(cases)),
        "full_refused": _share(sum(c.full_refused for c in cases), len(cases)),
        # of the questions answered with nothing held out: the held-out version refused
        "held_out_refused_of_answered": _share(sum(c.refused for c in answered_full), len(answered_full)),
        "held_out_refusals": sum(c.refused for c in cases),
        "full_refusals": sum(c.full_refused for c in cases),
        "leaks": sum(c.leaked for c in cases),
        "leaked_ids": [c.id for c in cases if c.leaked],
        "reasons": dict(Counter(c.reason for c in cases if c.refused).most_common()),
        "answered_from": dict(Counter(c.cited_kind for c in cases if not c.refused).most_common()),
        "per_style": {style: {"n": len(group), "held_out_refused": _share(sum(c.refused for c in group), len(group)),
                              "full_refused": _share(sum(c.full_refused for c in group), len(group))}
                      for style, group in sorted(by_style.items())},
    }


def print_holdout(summary: dict, title: str, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"leave one matter out · {title} · {summary['n']} questions "
                        f"({summary['skipped_bundles']} about bundles only, not counted)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("held out: refused (higher is honest)", f"{summary['held_out_refused']:.3f}")
    table.add_row("held out: refused, of those answered in full", f"{summary['held_out_refused_of_answered']:.3f}")
    table.add_row("nothing held out: refused (false refusals)", f"{summary['full_refused']:.3f}")
    table.add_row("held out: answers citing a held-out document (must be 0)", str(summary["leaks"]))
    console.print(table)
    styles = Table(title="per phrasing style")
    for column in ("style", "n", "held out: refused", "nothing held out: refused"):
        styles.add_column(column, justify="right")
    for style, figures in summary["per_style"].items():
        styles.add_row(style, str(figures["n"]), f"{figures['held_out_refused']:.3f}", f"{figures['full_refused']:.3f}")
    console.print(styles)
    console.print(f"held-out refusals by reason: {summary['reasons'] or '—'}")
    console.print(f"held-out answers by the kind of document cited first: {summary['answered_from'] or '—'}")
    if summary["leaks"]:
        console.print(f"[red]held-out documents cited by: {', '.join(summary['leaked_ids'])}[/red]")


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
