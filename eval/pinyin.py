"""How well typed pinyin is read back: `python -m eval pinyin`.

Each question of the given JSONL files (`PATH[:FIELD]`, the field `question` by default) is typed
the way a citizen who cannot find a character types it: some of its words (jieba's precise mode)
are replaced by their toneless pinyin (`pypinyin.lazy_pinyin`). Four variants, all deterministic:

- `word`: one word of two or more Han characters, the longest (the first of the longest);
- `words`: every such word (neighbouring words run together: "shenfenzheng丢了zenmebuban");
- `all`: every Han character, one-character words too ("shenfenzhengdiulezenmebuban"), so a
  decoder that merely prefers fewer, longer words is caught out;
- `spaced`: every Han character, a space between words ("shenfenzheng diu le zenme buban"), as
  people who type whole sentences in pinyin often do: a typed space is a word boundary, as a rule.

The product's decoder (built by `create_normalizer` over the shipped corpus) reads the text back,
and the result is scored against the question: exact (the decoded text is the question), character
accuracy (the typed characters less the edit distance, over the typed characters, at least 0) and
undecoded (a Latin run left as it was).

Rows with an id (`id`, or `qid` as in the NCP questions) are filtered to the dev split
(`eval.datasets.in_split`): tune on these only. A file whose rows have no id is used whole, and the
report says so. Questions that already hold Latin letters, or no word of two Han characters, are
left out; of the rest, `limit` are used: the first in the order of their ids' sha1 (of the text's
where there are no ids), so a sample spread over the file, the same every run. Spaces are ignored
when a decoding is compared with its question (the decoder drops the spaces inside a run).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.table import Table

from assistant.errors import LoadError
from assistant.pinyin import PinyinDecoder
from eval.datasets import in_split, read_jsonl

Variant = Literal["word", "words", "all", "spaced"]
VARIANTS: tuple[Variant, ...] = ("word", "words", "all", "spaced")
ID_FIELDS = ("id", "qid")


@dataclass(frozen=True)
class Questions:
    source: str  # PATH:FIELD
    split: Literal["dev", "all"]  # "all": the rows carry no id
    texts: list[str]


@dataclass(frozen=True)
class Typed:
    question: str
    typed: str
    chars: int  # Han characters typed as pinyin


@dataclass
class Figures:
    n: int = 0
    exact: int = 0
    correct_chars: float = 0.0
    typed_chars: int = 0
    undecoded: int = 0
    wrong: list[tuple[str, str]] = field(default_factory=list)  # (typed, decoded), the first few

    def add(self, typed: Typed, decoded: str, examples: int) -> None:
        self.n += 1
        self.typed_chars += typed.chars
        decoded, question = _compact(decoded), _compact(typed.question)  # a run's inner spaces are dropped
        self.exact += decoded == question
        self.correct_chars += max(typed.chars - edit_distance(decoded, question), 0)
        self.undecoded += any(char.isascii() and char.isalpha() for char in decoded)
        if decoded != question and len(self.wrong) < examples:
            self.wrong.append((typed.typed, decoded))

    def as_json(self) -> dict:
        return {"n": self.n, "exact": round(self.exact / max(self.n, 1), 4),
                "char_accuracy": round(self.correct_chars / max(self.typed_chars, 1), 4),
                "undecoded": round(self.undecoded / max(self.n, 1), 4), "typed_chars": self.typed_chars}


@dataclass
class PinyinReport:
    sources: list[Questions]
    per_source: dict[str, dict[Variant, Figures]]
    overall: dict[Variant, Figures]

    def as_json(self) -> dict:
        return {"sources": [{"source": q.source, "split": q.split, "questions": len(q.texts)} for q in self.sources],
                "overall": {v: f.as_json() for v, f in self.overall.items()},
                "per_source": {s: {v: f.as_json() for v, f in by.items()} for s, by in self.per_source.items()},
                "wrong": {v: [{"typed": t, "decoded": d} for t, d in f.wrong] for v, f in self.overall.items()}}


def read_questions(spec: str, limit: int) -> Questions:
    """The first `limit` usable questions of `spec` (`PATH[:FIELD]`): of the dev split when rows have
    ids (rows without one are then left out), of the whole file when none has."""
    path, sep, name = spec.rpartition(":")
    if not sep:
        path, name = spec, "question"
    if not path or not name:
        raise LoadError(spec, "expected PATH[:FIELD], e.g. zhengwu_qa.jsonl:question")
    rows = [row for row in read_jsonl(Path(path)) if isinstance(row, dict)]
    ids = [next((str(row[f]) for f in ID_FIELDS if row.get(f) not in (None, "")), None) for row in rows]
    split: Literal["dev", "all"] = "dev" if any(ids) else "all"  # a row without an id, among rows with: left out
    found = {_digest(key or text): text.strip() for row, key in zip(rows, ids)
             if isinstance(text := row.get(name), str) and usable(text)
             and (split == "all" or key is not None and in_split(key, "dev"))}
    texts = [found[digest] for digest in sorted(found)[:limit]]  # spread over the file, the same every run
    return Questions(f"{path}:{name}", split, texts)


def _digest(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


def usable(question: str) -> bool:
    """No Latin letters already (they would run into the typed pinyin) and a word to type."""
    return not any(char.isascii() and char.isalpha() for char in question) and bool(_words(question.strip()))


def type_pinyin(question: str, variant: Variant) -> Typed | None:
    """`question` with one word (`word`: the longest), every word (`words`) or every Han character
    (`all`; `spaced`: a space between words) typed as toneless pinyin."""
    from pypinyin import lazy_pinyin

    words = _words(question, 1 if variant in ("all", "spaced") else 2)
    if not words:
        return None
    chosen = {max(words, key=lambda w: len(w[1]))} if variant == "word" else set(words)
    parts, chars, position = [], 0, 0
    for start, word in sorted(chosen):
        between = question[position:start]
        if variant == "spaced" and parts and not between:
            between = " "
        parts += [between, "".join(lazy_pinyin(word))]
        chars, position = chars + len(word), start + len(word)
    return Typed(question, "".join(parts) + question[position:], chars)


def _words(question: str, min_chars: int = 2) -> list[tuple[int, str]]:
    """(start, word) for jieba's precise-mode words of `min_chars` or more Han characters."""
    import jieba

    from assistant.lexical import tokenize

    tokenize("")  # initialises jieba once, quietly
    found, position = [], 0
    for word in jieba.lcut(question):
        if len(word) >= min_chars and all("\u4e00" <= char <= "\u9fff" for char in word):
            found.append((position, word))
        position += len(word)
    return found


def _compact(text: str) -> str:
    return "".join(text.split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (the shared prefix and suffix skipped first)."""
    while a and b and a[0] == b[0]:
        a, b = a[1:], b[1:]
    while a and b and a[-1] == b[-1]:
        a, b = a[:-1], b[:-1]
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]


def measure(decoder: PinyinDecoder, sources: list[Questions], variants: tuple[Variant, ...] = VARIANTS,
            examples: int = 10) -> PinyinReport:
    """Every question of `sources` typed in each variant and decoded; figures per source and overall."""
    overall: dict[Variant, Figures] = {v: Figures() for v in variants}
    per_source: dict[str, dict[Variant, Figures]] = {}
    for questions in sources:
        by_variant = per_source.setdefault(questions.source, {v: Figures() for v in variants})
        for text in questions.texts:
            for variant in variants:
                typed = type_pinyin(text, variant)
                if typed is not None:
                    decoded, _ = decoder.decode(typed.typed)
                    by_variant[variant].add(typed, decoded, examples)
                    overall[variant].add(typed, decoded, examples)
    return PinyinReport(sources, per_source, overall)


def print_pinyin(report: PinyinReport, console: Console) -> None:
    shown_sources = [f"{Path(q.source).name} ({'dev' if q.split == 'dev' else 'all: no ids'}, {len(q.texts)})"
                     for q in report.sources]
    table = Table(title="typed pinyin read back · " + " · ".join(shown_sources))
    for column in ("source", "variant", "questions", "exact", "char accuracy", "undecoded"):
        table.add_column(column, justify="right")
    rows = [(Path(s).name, by) for s, by in report.per_source.items()] + [("all", report.overall)]
    for source, by_variant in rows:
        for variant, figures in by_variant.items():
            shown = figures.as_json()
            table.add_row(source, variant, str(figures.n), f"{shown['exact']:.3f}", f"{shown['char_accuracy']:.3f}",
                          f"{shown['undecoded']:.3f}")
    console.print(table)
    for variant, figures in report.overall.items():
        for typed, decoded in figures.wrong:
            console.print(f"{variant}: {typed} → {decoded}")
