"""Fitting the learned ranker (`assistant.ranker`) on the dev splits of the benchmarks.

A candidate is labelled relevant when it lies in a relevant document (MSGABench) or contains the
labelled answer span (NCP, whose figure of merit is the span being cited). Each benchmark weighs the
same in the fit, however many candidates it has. `cross_check` scores the ranker (linear and
quadratic) by k-fold cross-validation over the dev questions beside rank fusion on the same folds,
so the choice of ranker is made on dev data only; the test split is never read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from assistant.documents import Chunk
from assistant.fusion import FusionWeights
from assistant.ranker import LearnedRanker, describe
from eval.bench import Candidates, rank_candidates, score

FOLDS = 5
DEGREES = (1, 2)
SYSTEMS = {1: "linear", 2: "quadratic"}  # how `cross_check` names the ranker of each degree


@dataclass(frozen=True)
class Gathered:
    """One benchmark's dev questions with their candidates, ready to fit on."""

    name: str
    chunks: list[Chunk]
    questions: list[Candidates]

    @cached_property
    def examples(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each question's feature matrix and labels, described once for every fold's fit."""
        return [(describe(q.search_text, q.candidates), label(q, self.chunks)) for q in self.questions]


def label(found: Candidates, chunks: list[Chunk]) -> np.ndarray:
    """1 for a candidate that answers the question, 0 otherwise."""
    span = found.query.span
    picked = [chunks[int(c.chunk_id)] for c in found.candidates]
    if span:
        return np.array([span in chunk.text for chunk in picked], dtype=int)
    return np.array([chunk.doc_id in found.query.relevant for chunk in picked], dtype=int)


def fit(benchmarks: list[Gathered], strength: float = 1.0, skip_fold: int | None = None,
        provenance: dict | None = None, degree: int = 2) -> LearnedRanker:
    """Fit on every question (but those of `skip_fold`), each benchmark weighing the same."""
    features, labels, weights = [], [], []
    for bench in benchmarks:
        kept = [e for n, e in enumerate(bench.examples) if skip_fold is None or n % FOLDS != skip_fold]
        size = sum(len(matrix) for matrix, _ in kept)
        for matrix, labelled in kept:
            features.append(matrix)
            labels.append(labelled)
            weights.append(np.full(len(matrix), 1000.0 / max(size, 1)))
    return LearnedRanker.fit(np.vstack(features), np.concatenate(labels), np.concatenate(weights), strength,
                             provenance, degree)


def cross_check(benchmarks: list[Gathered], fusion: FusionWeights, strength: float = 1.0,
                degrees: tuple[int, ...] = DEGREES) -> dict[str, dict]:
    """k-fold figures per benchmark: rank fusion, and for each degree the ranker fitted without the
    fold scored (named as in `SYSTEMS`)."""
    figures: dict[str, dict] = {}
    rankers = {degree: [fit(benchmarks, strength, skip_fold=fold, degree=degree) for fold in range(FOLDS)]
               for degree in degrees}
    for bench in benchmarks:
        spans = any(q.query.span for q in bench.questions)
        queries = [q.query for q in bench.questions]
        figures[bench.name] = {"n": len(queries),
                               "fusion": score(queries, rank_candidates(bench.questions, bench.chunks, fusion), spans)}
        for degree, folds in rankers.items():
            learned = []
            for fold, ranker in enumerate(folds):
                held_out = [q for n, q in enumerate(bench.questions) if n % FOLDS == fold]
                learned += rank_candidates(held_out, bench.chunks, fusion, ranker)
            figures[bench.name][SYSTEMS[degree]] = score(queries, learned, spans)
    return figures
