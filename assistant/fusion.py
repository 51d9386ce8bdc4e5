"""Fusing the dense and the lexical candidate lists into one ranking.

Two methods, both over the candidates each side returned (no corpus-wide statistics needed, so
the same function serves the product's retriever and the offline benchmarks):

- `rrf`: weighted reciprocal-rank fusion, score = Σ weight / (k + rank) (what Langchain-Chatchat's
  ensemble retriever does with weights 0.5/0.5);
- `zscore`: each side's raw scores standardised over its own candidates (a candidate missing from a
  side gets that side's lowest standardised score), then weighted and summed. It keeps how far
  apart the scores are, which rank fusion throws away; measured on the dev splits (README).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from assistant.errors import ConfigError

Method = Literal["rrf", "zscore"]


@dataclass(frozen=True)
class FusionWeights:
    """How to fuse: the method, each side's weight, the RRF constant and the candidate depth."""

    dense: float = 1.0
    lexical: float = 1.0
    second: float = 1.0  # the second embedder's list, when there is one (`ZHENGWU_SECOND_EMBEDDER`)
    k: int = 60
    depth: int = 50  # candidates taken from each side
    method: Method = "rrf"

    def __post_init__(self) -> None:
        if self.dense < 0 or self.lexical < 0 or self.second < 0 or self.dense + self.lexical == 0:
            raise ConfigError(f"fusion weights must be ≥ 0 and dense, lexical not both 0, "
                              f"got {self.dense}/{self.lexical}/{self.second}")
        if self.k < 1 or self.depth < 1:
            raise ConfigError(f"k and depth must be greater than 0, got k={self.k}, depth={self.depth}")
        if self.method not in ("rrf", "zscore"):
            raise ConfigError(f"fusion method must be 'rrf' or 'zscore', got {self.method!r}")


# The product's fusion, chosen on the dev half of the eval set (README, "Measured"): RRF, dense 1.0 /
# lexical 0.7. Standardised scores with lexical 0.2 did better on MSGABench dev but lost 2 points of
# top-5 on the eval set's dev half.
DEFAULT_WEIGHTS = FusionWeights(dense=1.0, lexical=0.7)


def fuse(dense: Sequence[tuple[str, float]], lexical: Sequence[tuple[str, float]],
         weights: FusionWeights, second: Sequence[tuple[str, float]] = ()) -> list[tuple[str, float]]:
    """Fuse ranked candidate lists of (id, raw score), best first — the dense, the lexical and the
    second embedder's, if any; returns (id, fused score), best first. Scores are ≥ 0 for both
    methods. Ties keep the dense order, then the lexical order, then the second list's."""
    sides = [(dense, weights.dense), (lexical, weights.lexical)] + ([(second, weights.second)] if second else [])
    order = list(dict.fromkeys(item for side, _ in sides for item, _ in side))
    scores = dict.fromkeys(order, 0.0)
    if weights.method == "rrf":
        for side, weight in sides:
            for rank, (item, _) in enumerate(side, start=1):
                scores[item] += weight / (weights.k + rank)
    else:
        for side, weight in sides:
            standard = _standardise(side)
            floor = min(standard.values(), default=0.0)  # what a side gives a candidate it did not return
            for item in order:
                scores[item] += weight * standard.get(item, floor)
        lowest = min(scores.values(), default=0.0)
        scores = {item: value - lowest for item, value in scores.items()}  # ≥ 0, like RRF: sums stay meaningful
    position = {item: n for n, item in enumerate(order)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], position[pair[0]]))


def _standardise(candidates: Sequence[tuple[str, float]]) -> dict[str, float]:
    if not candidates:
        return {}
    values = np.asarray([score for _, score in candidates], dtype=np.float64)
    spread = values.std()
    standard = (values - values.mean()) / spread if spread > 1e-12 else np.zeros_like(values)
    return {item: float(z) for (item, _), z in zip(candidates, standard, strict=True)}
