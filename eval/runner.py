"""Run the staff eval set through the full assistant and score it.

Per question: retrieval (expected document in top 1 / top 5 of the retriever, MRR), the answer
(must-include facts found in the answer text, as the document states them or as the plain
rewriter retells them), citations (precision: a cited passage is correct
when it belongs to an expected document — for an expected life-event bundle, also the guides of its
steps, which its checklist is built from — or quotes one of the expected facts), refusals (accuracy on
`must_refuse`, false refusals on answerable questions), and latency.

Given an `Assistant`, each question is asked as a citizen asks it (`Assistant.ask`: retrieval,
answer and the plain-language rewrite, in a conversation holding the question's history), the
latency covers all of it, and facts are looked for in what the citizen reads: the plain version
when the rewriter produced one, else the answer itself (a refusal finds no facts). Given a bare
answerer (anything with `answer(question, history)` and a `retriever`), only the answer is scored.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Protocol

from assistant.answer import Answer, Block, RewriteOptions
from assistant.bundles import BundleGuide
from assistant.retrieval import HybridRetriever
from assistant.rewriter import PlainRewriter
from assistant.service import Assistant
from eval.questions import EvalQuestion


class RetrievingAnswerer(Protocol):
    """An answerer with the retriever the eval scores retrieval on (`ExtractiveAnswerer` is one)."""

    retriever: HybridRetriever

    def answer(self, question: str, history: tuple[str, ...] = ()) -> Answer: ...


@dataclass
class QuestionResult:
    id: str
    style: str
    topic: str
    question: str
    must_refuse: bool
    refused: bool
    retrieved: list[str]
    cited: list[str]
    answer: str
    facts_found: int
    facts_total: int
    citations_correct: int
    citations_total: int
    ms: float
    failures: list[str] = field(default_factory=list)
    rewritten: bool = False  # `answer` is the plain-language version the citizen reads
    # the expected section cited at all / first (None: no expected section, or no answer to judge)
    section_cited: bool | None = None
    section_first: bool | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def run_question(asked: Assistant | RetrievingAnswerer, q: EvalQuestion) -> QuestionResult:
    """Ask one question (through the assistant, or the bare answerer) and score what came back."""
    rewriter = None
    if isinstance(asked, Assistant):
        answer, ms = ask(asked, q)
        answerer = getattr(asked.answerer, "extractive", asked.answerer)
        rewriter = asked.rewriter if answer.plain is not None else None
    else:
        started = time.perf_counter()
        answer = asked.answer(q.question, q.history)
        ms = (time.perf_counter() - started) * 1000
        answerer = asked
    retriever = answerer.retriever
    supporting = supporting_docs(q, getattr(answerer, "bundles", None))
    resolved = answer.resolved_question or answer.normalized_question
    # Retrieval is scored on its own, at depth 10, whatever the answerer used (or if it refused early).
    passages = retriever.retrieve(resolved, k=10)
    retrieved = list(dict.fromkeys(p.doc_id for p in passages))
    text = shown_text(answer)
    forms = {fact: fact_forms(fact, rewriter) for fact in q.must_include}
    found_facts = [] if answer.refused else [fact for fact in q.must_include if any(form in text for form in forms[fact])]
    facts_found = len(found_facts)
    correct = sum(c.doc_id in supporting or any(f in c.quote for f in q.must_include) for c in answer.citations)
    failures = []
    if q.must_refuse and not answer.refused:
        failures.append("answered a must-refuse question")
    if not q.must_refuse:
        if answer.refused:
            failures.append(f"refused ({answer.refusal_reason})")
        if not any(d in q.expected_docs for d in retrieved[:5]):
            failures.append("expected document not in top 5")
        if facts_found < len(q.must_include):
            failures.append(f"missing facts: {[f for f in q.must_include if f not in found_facts]}")
        if answer.citations and correct < len(answer.citations):
            failures.append("cited an unrelated passage")
    judged = bool(q.expected_section) and not q.must_refuse and not answer.refused
    sections = [c.section for c in answer.citations if c.kind != "faq"] if judged else []
    return QuestionResult(q.id, q.style, q.topic, q.question, q.must_refuse, answer.refused, retrieved[:5],
                          [f"{c.doc_id}#{c.section}" for c in answer.citations], text, facts_found, len(q.must_include),
                          correct, len(answer.citations), round(ms, 1), failures, answer.plain is not None,
                          any(is_section(s, q.expected_section) for s in sections) if judged else None,
                          bool(sections) and is_section(sections[0], q.expected_section) if judged else None)


def is_section(cited: str, expected: str) -> bool:
    """Whether a citation's section is the expected one: a guide section by its name (申请材料), a
    law article by its number, after its chapter ("第二章 申领和发放 第七条" is 第七条)."""
    return cited == expected or cited.endswith(f" {expected}")


def fact_forms(fact: str, rewriter: object | None) -> tuple[str, ...]:
    """A fact as the document states it and, when the plain rewriter told the answer, as the
    rewriter tells it ("个人不缴纳" → "个人不交", "住房公积金" → "公积金"): the rewriter's own
    fact check has already held its numbers and names to the source's."""
    if not isinstance(rewriter, PlainRewriter):
        return (fact,)
    told = rewriter.rewrite(Answer(question="", normalized_question="", blocks=(Block("", fact, ()),), citations=(),
                                   mode="guide"), RewriteOptions())
    plain = told.blocks[0].text if told.facts_preserved and told.blocks else fact
    return tuple(dict.fromkeys((fact, plain)))


def supporting_docs(q: EvalQuestion, bundles: BundleGuide | None) -> frozenset[str]:
    """The documents whose passages support an answer to `q`: the expected ones and, for an
    expected life-event bundle, the guides of its steps (the checklist's materials are theirs)."""
    steps = (bundles.step_guides(doc_id) for doc_id in q.expected_docs) if bundles is not None else ()
    return frozenset(q.expected_docs).union(*steps)


def ask(assistant: Assistant, q: EvalQuestion) -> tuple[Answer, float]:
    """`Assistant.ask` in a fresh conversation that holds the question's history; the answer and
    the milliseconds the ask took."""
    conversation = f"eval-{q.id}-{uuid.uuid4().hex[:8]}"
    for turn in q.history:
        assistant.conversations.remember(conversation, turn)
    started = time.perf_counter()
    answer = assistant.ask(q.question, conversation_id=conversation)
    return answer, (time.perf_counter() - started) * 1000


def shown_text(answer: Answer) -> str:
    """What the citizen reads: the plain-language version when there is one, else the answer."""
    return answer.plain.text if answer.plain is not None else answer.text


def summarise(questions: list[EvalQuestion], results: list[QuestionResult]) -> dict:
    answerable = [(q, r) for q, r in zip(questions, results, strict=True) if not q.must_refuse]
    refusals = [r for q, r in zip(questions, results, strict=True) if q.must_refuse]

    def top(k: int, pairs: list) -> float:
        return _ratio(sum(any(d in q.expected_docs for d in r.retrieved[:k]) for q, r in pairs), len(pairs))

    def mrr(pairs: list) -> float:
        total = 0.0
        for q, r in pairs:
            rank = next((i for i, d in enumerate(r.retrieved) if d in q.expected_docs), None)
            total += 1 / (rank + 1) if rank is not None else 0.0
        return _ratio(total, len(pairs))

    answered = [r for _, r in answerable if not r.refused]
    per_style: dict[str, dict[str, float]] = {}
    by_style: dict[str, list] = defaultdict(list)
    for q, r in answerable:
        by_style[q.style].append((q, r))
    for style, pairs in sorted(by_style.items()):
        per_style[style] = {"n": len(pairs), "top1": top(1, pairs), "top5": top(5, pairs),
                            "fact_recall": _ratio(sum(r.facts_found for _, r in pairs), sum(r.facts_total for _, r in pairs))}
    per_topic: dict[str, dict[str, float]] = {}
    by_topic: dict[str, list] = defaultdict(list)
    for q, r in answerable:
        by_topic[q.topic].append((q, r))
    for topic, pairs in sorted(by_topic.items()):
        per_topic[topic] = {"n": len(pairs), "top5": top(5, pairs),
                            "fact_recall": _ratio(sum(r.facts_found for _, r in pairs), sum(r.facts_total for _, r in pairs))}
    latencies = sorted(r.ms for r in results)
    judged = [r for r in results if r.section_cited is not None]
    return {
        "n": len(results),
        "answerable": len(answerable),
        "must_refuse": len(refusals),
        "top1": top(1, answerable),
        "top5": top(5, answerable),
        "mrr": mrr(answerable),
        # over every answerable question: a refusal counts as facts missed
        "fact_recall": _ratio(sum(r.facts_found for _, r in answerable), sum(r.facts_total for _, r in answerable)),
        "citation_precision": _ratio(sum(r.citations_correct for r in answered), sum(r.citations_total for r in answered)),
        "refusal_accuracy": _ratio(sum(r.refused for r in refusals), len(refusals)),
        "false_refusal": _ratio(sum(r.refused for _, r in answerable), len(answerable)),
        "passed": sum(r.passed for r in results),
        # answered questions with an expected section: cited at all, cited first
        "section_judged": len(judged),
        "section_cited": _ratio(sum(bool(r.section_cited) for r in judged), len(judged)),
        "section_first": _ratio(sum(bool(r.section_first) for r in judged), len(judged)),
        "per_style": per_style,
        "per_topic": per_topic,
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
    }


def as_row(result: QuestionResult) -> dict:
    return {**asdict(result), "passed": result.passed}


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted `values` (0.0 when empty), rounded to 0.1."""
    if not values:
        return 0.0
    return round(values[max(0, math.ceil(q * len(values)) - 1)], 1)
