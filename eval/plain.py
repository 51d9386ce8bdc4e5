"""`python -m eval plain`: every answer on the eval set retold in plain words, before vs after.

Over every question of the split (a refusal counts through its hand-off text):
- fact preservation: the share of answers whose rewrite kept every fact, by the rewriter's own
  check (no fall-back to the original) and by the check run again here on the whole text;
- mean sentence length in characters: sentences end at 。！？!? or a line break; list markers,
  checkboxes and spaces are not counted;
- jargon left unexplained: of the glossary terms each answer uses (outside 《titles》), the share
  that the text still uses without their everyday wording appearing anywhere in it.
Traditional and 粤语 rewrites are measured after conversion back to Simplified.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant.answer import Answer, Block, RewriteOptions
from assistant.factcheck import LIST_MARKER, count_occurrences, extract_facts
from assistant.lexicon import GlossaryEntry, load_glossary
from assistant.rewriter import PlainRewriter, source_blocks
from assistant.service import Assistant
from assistant.settings import Settings
from eval.questions import EvalQuestion, load_questions

SENTENCE = re.compile(r"[^。！？!?\n]+")
TITLE = re.compile(r"《[^《》]*》")
DIGITS = re.compile(r"\d+(?:\.\d+)?")
BACK = {"traditional": "t2s", "cantonese": "hk2s"}


@dataclass
class PlainFigures:
    n: int = 0
    preserved: int = 0
    sentences_before: list[int] = field(default_factory=list)
    sentences_after: list[int] = field(default_factory=list)
    terms: int = 0
    unexplained_before: int = 0
    unexplained_after: int = 0
    failures: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "fact_preservation": _ratio(self.preserved, self.n),
            "mean_sentence_chars_before": _mean(self.sentences_before),
            "mean_sentence_chars_after": _mean(self.sentences_after),
            "jargon_unexplained_before": _ratio(self.unexplained_before, self.terms),
            "jargon_unexplained_after": _ratio(self.unexplained_after, self.terms),
        }


def sentence_lengths(text: str) -> list[int]:
    """Characters per sentence, without list markers, checkboxes or spaces."""
    lengths = []
    for line in text.splitlines():
        for sentence in SENTENCE.findall(LIST_MARKER.sub("", line)):
            chars = len(re.sub(r"\s", "", sentence))
            if chars:
                lengths.append(chars)
    return lengths


class JargonMeter:
    """Which glossary terms a text uses (longest first, outside 《titles》) and which it leaves
    unexplained (its everyday wording appears nowhere in the text)."""

    def __init__(self, glossary: list[GlossaryEntry]) -> None:
        self.plain = {entry.term: entry.plain for entry in glossary}
        self._pattern = re.compile("|".join(re.escape(t) for t in sorted(self.plain, key=len, reverse=True)))

    def terms(self, text: str) -> set[str]:
        return set(self._pattern.findall(TITLE.sub("", text))) if self.plain else set()

    def unexplained(self, terms: set[str], text: str) -> set[str]:
        used = self.terms(text)
        return {term for term in terms if term in used and self.plain[term] not in text}


def measure_plain(settings: Settings, split: str, questions: Path | None, options: RewriteOptions) -> PlainFigures:
    """Answer every question of the split through the assistant with a `PlainRewriter` and measure."""
    import opencc

    rewriter = PlainRewriter.from_settings(settings)
    assistant = Assistant(Assistant.from_settings(settings).answerer, rewriter=rewriter)
    glossary = load_glossary(settings.corpus_dir / "glossary.yaml")
    meter = JargonMeter(glossary)
    allowed = {n for entry in glossary for n in DIGITS.findall(entry.plain)}
    back: Callable[[str], str] = opencc.OpenCC(BACK[options.script]).convert if options.script in BACK else str
    figures = PlainFigures()
    for question in load_questions(questions or settings.eval_questions, split):  # type: ignore[arg-type]
        answer = _ask(assistant, question, options)
        score(figures, question.id, answer, meter, allowed, back)
    return figures


def score(figures: PlainFigures, name: str, answer: Answer, meter: JargonMeter, allowed: set[str],
          back: Callable[[str], str]) -> None:
    """Add one rewritten answer to the figures."""
    source = source_blocks(answer)
    rewrite = answer.plain
    if rewrite is None or not source:
        return
    before = "\n".join(block.text for block in source)
    after = back("\n".join(block.text for block in rewrite.blocks))
    figures.n += 1
    problem = _recheck(source, after, allowed)
    if rewrite.facts_preserved and not problem:
        figures.preserved += 1
    else:
        figures.failures.append(f"{name}: {problem or '; '.join(rewrite.notes)}")
    figures.sentences_before += sentence_lengths(before)
    figures.sentences_after += sentence_lengths(after)
    terms = meter.terms(before)
    figures.terms += len(terms)
    figures.unexplained_before += len(meter.unexplained(terms, before))
    figures.unexplained_after += len(meter.unexplained(terms, after))


def print_plain(figures: PlainFigures, title: str) -> None:
    result = figures.as_json()
    table = Table(title=f"plain-language rewrite · {title} · {figures.n} answers")
    for column in ("figure", "before", "after"):
        table.add_column(column, justify="right")
    table.add_row("fact preservation", "", f"{result['fact_preservation']:.1%}")
    table.add_row("mean sentence chars", f"{result['mean_sentence_chars_before']:.1f}",
                  f"{result['mean_sentence_chars_after']:.1f}")
    table.add_row("jargon unexplained", f"{result['jargon_unexplained_before']:.1%}",
                  f"{result['jargon_unexplained_after']:.1%}")
    Console().print(table)
    errors = Console(stderr=True)
    for failure in figures.failures:
        errors.print(f"[red]facts not preserved[/red] {failure}")


def _ask(assistant: Assistant, question: EvalQuestion, options: RewriteOptions) -> Answer:
    conversation = f"eval-{question.id}"
    for turn in question.history:
        assistant.conversations.remember(conversation, turn)
    return assistant.ask(question.question, conversation_id=conversation, options=options)


def _recheck(source: tuple[Block, ...], after: str, allowed: set[str]) -> str:
    """The fact check again, over the whole answer: every fact of every block, as often as the
    source has it, and no number that neither the source nor the glossary's wording has."""
    wanted = Counter(fact.text for block in source for fact in extract_facts(block.text, block.heading))
    missing = [text for text, count in wanted.items() if count_occurrences(text, after) < count]
    known = {n for block in source for n in DIGITS.findall(block.text)} | allowed
    invented = [n for n in DIGITS.findall(after) if n not in known]
    return "; ".join([f"{text!r} missing or altered" for text in missing] + [f"{n!r} added" for n in invented])


def _mean(values: list[int]) -> float:
    return round(sum(values) / len(values), 2) if values else 0.0


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
