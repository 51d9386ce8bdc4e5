"""Serving one index, timed: the `latency` benchmark (answer vs raw floor at growing sizes) and
the measurement `scale` uses too.

Each index is served in a fresh (spawned) process, so one size's memory does not inflate the next:
the product's `Assistant` without an LLM. Per question: `ExtractiveAnswerer.answer` (normalise,
scope, bundles, hybrid retrieval, assembly: the extractive path), then the plain-language rewrite
that `Assistant.ask` adds ("ask" = both), then, separately, the raw floor: embed the question and
one Chroma query at the retriever's depth on the same collection. The process RSS is read once the
models are loaded but before the index is opened, and again after the questions.

`latency`: the shipped corpus, then the corpus plus N synthetic chunks for each N asked (built as
`eval.scale` describes); the ratio is answer p95 over floor p95 (the rewrite is shown beside it,
not in the ratio).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from assistant.errors import ConfigError
from assistant.settings import Settings
from eval.runner import percentile

if TYPE_CHECKING:
    from eval.scale import GrownIndex, IndexGrower

MIB = 1024 * 1024


@dataclass(frozen=True)
class Percentiles:
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @classmethod
    def of(cls, milliseconds: list[float]) -> Percentiles:
        ordered = sorted(milliseconds)
        return cls(percentile(ordered, 0.50), percentile(ordered, 0.95), percentile(ordered, 0.99))


@dataclass(frozen=True)
class Serving:
    """What answering `queries` questions over one index cost, in one fresh process."""

    queries: int
    answer: Percentiles  # the extractive answerer: normalise, scope, retrieve, assemble
    ask: Percentiles  # the answer plus the plain-language rewrite (what `Assistant.ask` returns)
    floor: Percentiles | None  # embed one query + one Chroma query at the retriever's depth
    rss_baseline_mb: float  # models loaded, before the index is opened
    rss_mb: float  # after the questions

    @property
    def rss_growth_mb(self) -> float:
        return round(self.rss_mb - self.rss_baseline_mb, 1)


def serve(settings: Settings, questions: list[str], floor: bool = True) -> Serving:
    """Measure serving the index `settings` names in a fresh (spawned) process."""
    if not questions:
        raise ConfigError("no questions to ask")
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure_serving, settings, questions, floor).result()


def measure_serving(settings: Settings, questions: list[str], floor: bool = True) -> Serving:
    """Answer every question (and, with `floor`, the raw floor for it) in this process."""
    import psutil

    from assistant.answer import RewriteOptions
    from assistant.lexical import tokenize
    from assistant.service import Assistant

    process = psutil.Process()
    assistant = Assistant.from_settings(settings.model_copy(update={"llm_base_url": None}))
    answerer, rewriter = assistant.answerer, assistant.rewriter
    if rewriter is None:
        raise ConfigError("the assistant has no rewriter to measure")
    retriever = answerer.retriever  # type: ignore[attr-defined]
    if retriever.normalizer.pinyin is not None:
        retriever.normalizer.pinyin.warm()
    retriever.embedder.embed_query(questions[0])
    tokenize(questions[0])
    baseline = process.memory_info().rss
    collection = retriever.store.require_live(retriever.index_key)
    depth = max(retriever.weights.depth, answerer.k)  # type: ignore[attr-defined]
    rewriter.rewrite(answerer.answer(questions[0]), RewriteOptions())  # opens the index: not timed
    answered, asked, floors = [], [], []
    for question in questions:
        started = time.perf_counter()
        answer = answerer.answer(question)
        middle = time.perf_counter()
        rewriter.rewrite(answer, RewriteOptions())
        ended = time.perf_counter()
        answered.append((middle - started) * 1000)
        asked.append((ended - started) * 1000)
        if floor:
            started = time.perf_counter()
            retriever.store.query(collection, retriever.embedder.embed_query(question), depth)
            floors.append((time.perf_counter() - started) * 1000)
    return Serving(len(questions), Percentiles.of(answered), Percentiles.of(asked),
                   Percentiles.of(floors) if floor else None, round(baseline / MIB, 1),
                   round(process.memory_info().rss / MIB, 1))


def cycled(questions: list[str], count: int) -> list[str]:
    """`count` questions, going round the list as often as needed."""
    if not questions:
        raise ConfigError("the eval set holds no questions")
    return [questions[i % len(questions)] for i in range(count)]


# --- the latency benchmark ---------------------------------------------------------------------


@dataclass(frozen=True)
class SizeLatency:
    index: GrownIndex
    serving: Serving

    @property
    def floor(self) -> Percentiles:
        if self.serving.floor is None:
            raise ValueError("this serving run measured no floor")
        return self.serving.floor

    @property
    def ratio_p95(self) -> float:
        return round(self.serving.answer.p95_ms / self.floor.p95_ms, 3) if self.floor.p95_ms else 0.0

    def as_json(self) -> dict:
        return {"chunks": self.index.chunks, "synthetic": self.index.synthetic,
                "answer": _figures(self.serving.answer), "floor": _figures(self.floor),
                "ask": _figures(self.serving.ask), "ratio_p95": self.ratio_p95}


def measure_latency(grower: IndexGrower, synthetic: list[int], questions: list[str],
                    on_size: Callable[[SizeLatency], None] | None = None) -> list[SizeLatency]:
    """The corpus alone, then the corpus plus each count of synthetic chunks."""
    corpus = len(grower.chunks)
    results = []
    for extra in [0, *synthetic]:
        with grower.grown(corpus + extra) as index:
            result = SizeLatency(index, serve(index.settings, questions, floor=True))
        if on_size:
            on_size(result)
        results.append(result)
    return results


def print_latency(results: list[SizeLatency], grower: IndexGrower, threads: int, queries: int) -> None:
    table = Table(title=f"answer latency (extractive path) vs raw floor (embed + Chroma query) · {queries} questions · "
                        f"{grower.embedder.key} · {threads} thread(s) · {grower.vectors_label}")
    for column in ("chunks", "answer p50/p95/p99 ms", "floor p50/p95/p99 ms", "p95 ratio", "ask p95 ms"):
        table.add_column(column, justify="right", no_wrap=column == "chunks")
    for result in results:
        table.add_row(f"{result.index.chunks:,}", _triple(result.serving.answer), _triple(result.floor),
                      f"{result.ratio_p95:.2f}×", f"{result.serving.ask.p95_ms:.1f}")
    Console().print(table)


def _figures(percentiles: Percentiles) -> dict[str, float]:
    return {"p50_ms": percentiles.p50_ms, "p95_ms": percentiles.p95_ms, "p99_ms": percentiles.p99_ms}


def _triple(percentiles: Percentiles) -> str:
    return f"{percentiles.p50_ms:.1f} / {percentiles.p95_ms:.1f} / {percentiles.p99_ms:.1f}"
