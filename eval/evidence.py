"""Choosing the evidence thresholds (`assistant.answering.Thresholds`) on the eval set.

Each question is weighed once: the extractive answerer says what its evidence check sees
(`weigh`), or gives the answer it gives before the check (out of scope: a refusal; a life event: a
checklist). With an LLM configured, the
figures are still the extractive answerer's, whose refusals the LLM answerer keeps.
Every threshold choice on a grid is then scored without asking again: refusal accuracy on the
must-refuse questions and false refusals on the answerable ones, as `python -m eval run` counts
them. The thresholds are chosen on the dev half; the command never changes the code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import product

import numpy as np

from assistant.answering import Evidence, ExtractiveAnswerer, Thresholds
from eval.questions import EvalQuestion


@dataclass(frozen=True)
class Case:
    """One question: what the check sees (None when the answerer decides before it) and, then,
    whether it refused."""

    must_refuse: bool
    evidence: Evidence | None
    refused_before: bool = False

    def refused(self, thresholds: Thresholds) -> bool:
        return self.refused_before if self.evidence is None else not self.evidence.suffices(thresholds)


@dataclass(frozen=True)
class Outcome:
    thresholds: Thresholds
    refusal_accuracy: float
    false_refusal: float
    errors: int  # must-refuse questions answered plus answerable questions refused


def gather(answerer: ExtractiveAnswerer, questions: list[EvalQuestion]) -> list[Case]:
    cases = []
    for q in questions:
        weighed = answerer.weigh(q.question, q.history)
        if isinstance(weighed, Evidence):
            cases.append(Case(q.must_refuse, weighed))
        else:  # answered before the check
            cases.append(Case(q.must_refuse, None, weighed.refused))
    return cases


def score(cases: list[Case], thresholds: Thresholds) -> Outcome:
    refusing = [c.refused(thresholds) for c in cases if c.must_refuse]
    answering = [c.refused(thresholds) for c in cases if not c.must_refuse]
    return Outcome(thresholds, _share(sum(refusing), len(refusing)), _share(sum(answering), len(answering)),
                   (len(refusing) - sum(refusing)) + sum(answering))


def sweep(cases: list[Case], current: Thresholds, floors: np.ndarray, weaks: np.ndarray,
          coverages: np.ndarray) -> list[Outcome]:
    """Every grid point (dense_floor ≤ dense_weak), fewest errors first; among equals, the one
    closest to `current` first (the smallest change that does as well)."""
    outcomes = []
    for floor, weak, coverage in product(floors, weaks, coverages):
        if floor <= weak:
            choice = replace(current, dense_floor=round(float(floor), 4), dense_weak=round(float(weak), 4),
                             coverage_weak=round(float(coverage), 4))
            outcomes.append(score(cases, choice))

    def distance(outcome: Outcome) -> float:
        t = outcome.thresholds
        return (abs(t.dense_floor - current.dense_floor) + abs(t.dense_weak - current.dense_weak)
                + abs(t.coverage_weak - current.coverage_weak) / 10)  # 0.01 of cosine weighs as 0.1 of coverage

    return sorted(outcomes, key=lambda o: (o.errors, distance(o)))


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
