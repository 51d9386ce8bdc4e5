"""Re-scoring the hybrid candidates with a learned linear model.

Rank fusion sees only where each side put a chunk. The ranker looks at every candidate the two
sides returned and scores it from features the retriever already has: its cosine and BM25 score
(raw, standardised over the candidates, and as a rank), how much of the question it covers
(IDF-weighted jieba words, characters, character bigrams), its length, and how its coverage compares
with the best candidate's. A logistic model turns them into a score in (0, 1). The weights are
fitted on the dev splits of the benchmarks by `python -m eval fit-ranker` (never on a test split)
and shipped as `assistant/data/ranker.json`, which records what they were fitted on.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ConfigError
from assistant.lazy import Lazy
from assistant.lexical import tokenize

BUNDLED_RANKER = Path(__file__).parent / "data" / "ranker.json"

FEATURES = (
    "dense_z", "dense", "dense_rank", "lexical_share", "lexical_z", "lexical_rank",
    "term_cover", "char_cover", "bigram_cover", "log_length",
    "bigram_gap", "term_gap", "best_bigram", "bigram_x_best", "dense_z_unmatched",
)
# Each side's candidates the ranker scores (its fit used the same depth); a candidate a side did
# not return gets this rank from it.
CANDIDATE_DEPTH = 50
MISSING_RANK = CANDIDATE_DEPTH
MISSING_LEXICAL_Z = -2.0
CJK = re.compile(r"[\u4e00-\u9fff]")
# Characters that carry no matter on their own (question words, pronouns, particles).
FUNCTION_CHARS = frozenset("的了和与及或是在有就都也还要吗呢吧啊呀么嘛我你您他她它这那个一请问下怎如何什可以能否需应当该哪些里多少为样办")


@dataclass(frozen=True)
class Candidate:
    """One chunk either side returned: the text BM25 and the embedder saw (title and section
    prefixed) and each side's raw score, None where that side did not return it."""

    chunk_id: str
    text: str
    dense: float | None = None
    lexical: float | None = None


def _load_idf() -> tuple[dict[str, float], float]:
    import jieba.analyse

    table = jieba.analyse.default_tfidf  # the IDF table shipped inside jieba (read, never changed)
    return table.idf_freq, float(table.median_idf)


_IDF: Lazy[tuple[dict[str, float], float]] = Lazy(_load_idf)


def warm() -> None:
    """Load jieba's IDF table now (about 0.4 s) rather than on the first question."""
    _IDF.get()


def describe(question: str, candidates: Sequence[Candidate]) -> np.ndarray:
    """The feature matrix, one row per candidate, columns as `FEATURES`. Give it at most
    `CANDIDATE_DEPTH` candidates from each side, as the fit had."""
    if not candidates:
        return np.zeros((0, len(FEATURES)))
    dense_scores = [c.dense for c in candidates if c.dense is not None]
    floor = min(dense_scores) if dense_scores else 0.0
    dense = np.array([c.dense if c.dense is not None else floor for c in candidates])
    dense_rank = _ranks([c.dense for c in candidates])
    lexical_raw = [c.lexical for c in candidates if c.lexical is not None]
    lexical_values = np.array(lexical_raw or [0.0])
    lexical_top, lexical_mean, lexical_spread = lexical_values.max(), lexical_values.mean(), lexical_values.std() + 1e-6
    lexical_rank = _ranks([c.lexical for c in candidates])

    idf, median_idf = _IDF.get()
    terms = list(dict.fromkeys(tokenize(question)))
    term_weight = {t: idf.get(t, median_idf) for t in terms}
    term_total = sum(term_weight.values()) or 1.0
    chars = {c for c in question if CJK.match(c) and c not in FUNCTION_CHARS}
    bigrams = {question[i:i + 2] for i in range(len(question) - 1) if CJK.match(question[i]) and CJK.match(question[i + 1])}

    rows = []
    for n, candidate in enumerate(candidates):
        text = candidate.text.lower()  # the question's terms are lower-cased by `tokenize`
        lexical = candidate.lexical
        rows.append([
            0.0, dense[n], 1.0 / (1 + dense_rank[n]),
            (lexical or 0.0) / (lexical_top + 1e-6),
            (lexical - lexical_mean) / lexical_spread if lexical is not None else MISSING_LEXICAL_Z,
            1.0 / (1 + lexical_rank[n]),
            sum(term_weight[t] for t in terms if t in text) / term_total,
            sum(1 for c in chars if c in text) / max(len(chars), 1),
            sum(1 for b in bigrams if b in text) / max(len(bigrams), 1),
            math.log(len(text) + 1),
        ])
    matrix = np.array(rows, dtype=np.float64)
    matrix[:, 0] = (dense - dense.mean()) / (dense.std() + 1e-6)
    bigram, term = matrix[:, 8], matrix[:, 6]
    best_bigram = bigram.max()
    return np.hstack([
        matrix,
        np.column_stack([bigram - best_bigram, term - term.max(), np.full(len(matrix), best_bigram),
                         bigram * best_bigram, matrix[:, 0] * (1 - best_bigram)]),
    ])


def _ranks(scores: Sequence[float | None]) -> list[int]:
    """0-based rank of each score among the present ones (best first); MISSING_RANK where absent."""
    present = sorted((i for i, s in enumerate(scores) if s is not None), key=lambda i: -scores[i])  # type: ignore[operator]
    ranks = [MISSING_RANK] * len(scores)
    for rank, index in enumerate(present):
        ranks[index] = rank
    return ranks


@dataclass(frozen=True)
class LearnedRanker:
    """A logistic model over `FEATURES`."""

    weights: tuple[float, ...]
    intercept: float
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def embedder(self) -> str | None:
        """The embedder whose cosines the weights were fitted on (its cosines' spread is part of the fit)."""
        value = self.provenance.get("embedder")
        return str(value) if value else None

    def __post_init__(self) -> None:
        if len(self.weights) != len(FEATURES):
            raise ConfigError(f"the ranker needs {len(FEATURES)} weights, got {len(self.weights)}")
        if not all(math.isfinite(w) for w in (*self.weights, self.intercept)):
            raise ConfigError("the ranker's weights must be finite numbers")

    def score(self, features: np.ndarray) -> np.ndarray:
        """The model's probability that each row's chunk answers the question."""
        logits = features @ np.asarray(self.weights) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))

    def rank(self, question: str, candidates: Sequence[Candidate]) -> list[tuple[str, float]]:
        """(chunk id, score), best first; ties keep the candidates' order."""
        scores = self.score(describe(question, candidates))
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
        return [(candidates[i].chunk_id, float(scores[i])) for i in order]

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None,
            strength: float = 1.0, provenance: dict[str, Any] | None = None) -> LearnedRanker:
        """Fit the weights (L2-regularised logistic regression; `strength` is sklearn's C)."""
        from sklearn.linear_model import LogisticRegression

        if features.ndim != 2 or features.shape[1] != len(FEATURES) or len(features) != len(labels):
            raise ValueError(f"features must be n × {len(FEATURES)} with one label per row")
        if len(set(labels.tolist())) < 2:
            raise ValueError("fitting needs both relevant and irrelevant candidates")
        model = LogisticRegression(C=strength, max_iter=5000).fit(features, labels, sample_weight=sample_weight)
        return cls(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]), dict(provenance or {}))

    @classmethod
    def load(cls, path: Path = BUNDLED_RANKER) -> LearnedRanker:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            named, intercept = data["weights"], data["intercept"]
            if sorted(named) != sorted(FEATURES):
                raise ConfigError(f"{path}: the ranker's features {sorted(named)} are not {sorted(FEATURES)}")
            numbers = [named[name] for name in FEATURES] + [intercept]
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in numbers):
                raise ConfigError(f"{path}: the ranker's weights and intercept must be numbers")
            return cls(tuple(float(named[name]) for name in FEATURES), float(intercept),
                       dict(data.get("provenance", {})))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise ConfigError(f"cannot read the ranker {path}: {exc}") from exc

    def save(self, path: Path) -> None:
        payload = {"weights": dict(zip(FEATURES, self.weights, strict=True)), "intercept": self.intercept,
                   "provenance": self.provenance}
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        temp.replace(path)
