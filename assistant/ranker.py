"""Re-scoring the hybrid candidates with a learned model.

Rank fusion sees only where each side put a chunk. The ranker looks at every candidate the two
sides returned and scores it from features the retriever already has: its cosine and BM25 score
(raw, standardised over the candidates, and as a rank), how much of the question it covers
(IDF-weighted jieba words, characters, character bigrams), its length, and how its coverage compares
with the best candidate's. A logistic model over the standardised features and their pairwise
products turns them into a score in (0, 1). The weights are fitted on the dev splits of the
benchmarks by `python -m eval fit-ranker` (never on a test split) and shipped as
`assistant/data/ranker.json`, which records what they were fitted on.
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


PER_FEATURE = ("center", "scale", "low", "high")  # the per-feature values a ranker file may hold
_PAIRS = np.triu_indices(len(FEATURES))  # each pair of features once, squares included


def terms(degree: int) -> tuple[str, ...]:
    """The model's terms: the features (degree 1), then each pair's product, squares included
    (degree 2), named "a*b"."""
    if isinstance(degree, bool) or not isinstance(degree, int) or degree not in (1, 2):
        raise ConfigError(f"the ranker's degree must be 1 or 2, got {degree!r}")
    if degree == 1:
        return FEATURES
    return FEATURES + tuple(f"{FEATURES[i]}*{FEATURES[j]}" for i, j in zip(*_PAIRS, strict=True))


def expand(standardised: np.ndarray, degree: int) -> np.ndarray:
    """The model's terms for each row of standardised features, in the order of `terms(degree)`."""
    if degree == 1:
        return standardised
    first, second = _PAIRS
    return np.hstack([standardised, standardised[:, first] * standardised[:, second]])


@dataclass(frozen=True)
class LearnedRanker:
    """A logistic model over the standardised `FEATURES` (degree 1) or over them and their pairwise
    products (degree 2: how much a candidate's coverage is worth depends on its cosine, and so on).
    A linear ranker may hold raw-feature weights (no center, scale, low, high: files from before)."""

    weights: tuple[float, ...]
    intercept: float
    degree: int = 1
    center: tuple[float, ...] = ()  # per feature, subtracted before the model
    scale: tuple[float, ...] = ()  # per feature, divided by after centring
    low: tuple[float, ...] = ()  # per feature, the least value the fit saw; lower values count as it
    high: tuple[float, ...] = ()  # per feature, the greatest value the fit saw; likewise
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def embedder(self) -> str | None:
        """The embedder whose cosines the weights were fitted on (its cosines' spread is part of the fit)."""
        value = self.provenance.get("embedder")
        return str(value) if value else None

    def __post_init__(self) -> None:
        wanted = len(terms(self.degree))
        if len(self.weights) != wanted:
            raise ConfigError(f"a degree-{self.degree} ranker needs {wanted} weights, got {len(self.weights)}")
        if not all(math.isfinite(w) for w in (*self.weights, self.intercept)):
            raise ConfigError("the ranker's weights and intercept must be finite numbers")
        given = [name for name, values in self._per_feature() if values]
        if given and len(given) < len(PER_FEATURE) or self.degree == 2 and not given:
            raise ConfigError(f"the ranker needs all of {', '.join(PER_FEATURE)} or none (a quadratic one all), "
                              f"got {', '.join(given) or 'none'}")
        for name, values in self._per_feature():
            if values and len(values) != len(FEATURES):
                raise ConfigError(f"the ranker's {name} needs {len(FEATURES)} values, got {len(values)}")
            if not all(math.isfinite(v) for v in values):
                raise ConfigError(f"the ranker's {name} must be finite numbers")
        if any(s <= 0 for s in self.scale):
            raise ConfigError("the ranker's scales must be positive")
        if any(lo > hi for lo, hi in zip(self.low, self.high, strict=True)):
            raise ConfigError("the ranker's low bounds must not exceed its high bounds")

    def _per_feature(self) -> tuple[tuple[str, tuple[float, ...]], ...]:
        return tuple(zip(PER_FEATURE, (self.center, self.scale, self.low, self.high), strict=True))

    def score(self, features: np.ndarray) -> np.ndarray:
        """The model's probability that each row's chunk answers the question. Features beyond the
        range the fit saw are held at its edge: a quadratic model is not asked to extrapolate."""
        if self.center:
            features = (np.clip(features, self.low, self.high) - np.asarray(self.center)) / np.asarray(self.scale)
        logits = expand(features, self.degree) @ np.asarray(self.weights) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))

    def rank(self, question: str, candidates: Sequence[Candidate]) -> list[tuple[str, float]]:
        """(chunk id, score), best first; ties keep the candidates' order."""
        scores = self.score(describe(question, candidates))
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
        return [(candidates[i].chunk_id, float(scores[i])) for i in order]

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None,
            strength: float = 1.0, provenance: dict[str, Any] | None = None, degree: int = 2) -> LearnedRanker:
        """Standardise the features, expand them to `degree` and fit the weights (L2-regularised
        logistic regression; `strength` is sklearn's C)."""
        from sklearn.linear_model import LogisticRegression

        terms(degree)  # a ConfigError for a degree it has no terms for
        if features.ndim != 2 or features.shape[1] != len(FEATURES) or len(features) != len(labels):
            raise ValueError(f"features must be n × {len(FEATURES)} with one label per row")
        if len(set(labels.tolist())) < 2:
            raise ValueError("fitting needs both relevant and irrelevant candidates")
        low, high = features.min(axis=0), features.max(axis=0)
        center = features.mean(axis=0)
        spread = features.std(axis=0)
        scale = np.where(spread > 1e-9, spread, 1.0)  # a constant feature is only centred
        model = LogisticRegression(C=strength, max_iter=5000).fit(
            expand((features - center) / scale, degree), labels, sample_weight=sample_weight)
        return cls(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]), degree,
                   *(tuple(float(v) for v in values) for values in (center, scale, low, high)),
                   provenance=dict(provenance or {}))

    @classmethod
    def load(cls, path: Path = BUNDLED_RANKER) -> LearnedRanker:
        """A ranker file written by `save`; anything else is a ConfigError naming the file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            degree = data.get("degree", 1)
            weights = _numbers(data["weights"], terms(degree), "weights")
            per_feature = [_numbers(data[part], FEATURES, part) if part in data else () for part in PER_FEATURE]
            return cls(weights, _number(data["intercept"], "intercept"), degree, *per_feature,
                       provenance=dict(data.get("provenance", {})))
        except ConfigError as exc:
            raise ConfigError(f"cannot read the ranker {path}: {exc}") from exc
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError) as exc:
            raise ConfigError(f"cannot read the ranker {path}: {exc}") from exc

    def save(self, path: Path) -> None:
        payload: dict[str, Any] = {"degree": self.degree}
        for part, values in self._per_feature():
            if values:
                payload[part] = dict(zip(FEATURES, values, strict=True))
        payload |= {"weights": dict(zip(terms(self.degree), self.weights, strict=True)), "intercept": self.intercept,
                    "provenance": self.provenance}
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        temp.replace(path)


def _numbers(named: object, names: tuple[str, ...], part: str) -> tuple[float, ...]:
    """`named` ({name: number}) in the order of `names`; it must name exactly those."""
    if not isinstance(named, dict):
        raise ConfigError(f"{part} must map names to numbers")
    if set(named) != set(names):
        raise ConfigError(f"{part} lacks {sorted(set(names) - set(named))} and has unknown {sorted(set(named) - set(names))}")
    return tuple(_number(named[name], f"{part}[{name}]") for name in names)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} must be a number, got {value!r}")
    return float(value)  # OverflowError for an integer too large for a float: a ConfigError in `load`
