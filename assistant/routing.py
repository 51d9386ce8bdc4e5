"""Which department a question should go to, for hand-off tickets.

Two routers, both `Router`s with `predict(question, k) -> [(department, score), …]` (best first,
scores summing to at most 1):

- `ModelRouter`: TF-IDF over jieba tokens and character 1–3-grams, then logistic regression,
  fitted on labelled questions (`python -m eval routing --data PATH --save` fits it on MSGABench's
  dev split and saves it under `data_dir/router`; the dataset itself is never copied).
- `KeywordRouter`: each question word votes for the departments whose texts use it, weighted by
  how few departments do. Built from the corpus's own front matter (guide and policy titles and
  tags, FAQ questions routed to the department of the guide they rest on), so a fresh clone routes
  without any dataset; also the keyword baseline of the routing benchmark.

`load_router(settings)` returns the fitted model when one is saved and loads, else the keyword
router; `LazyRouter` does that on first use. Model files that cannot be read or written raise
`RouterError`.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from assistant.documents import Document
from assistant.errors import RouterError
from assistant.lazy import Lazy
from assistant.lexical import tokenize
from assistant.settings import Settings
from indexer.loaders import load_paths

log = logging.getLogger("zhengwu.routing")
ROUTER_DIR = "router"
MODEL_FILE = "model.pkl"
META_FILE = "model.json"
Prediction = list[tuple[str, float]]


class Router(Protocol):
    name: str

    def predict(self, question: str, k: int = 3) -> Prediction: ...


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be greater than 0, got {k}")


class KeywordRouter:
    """Keyword votes: a question word votes for each department in proportion to the texts using it
    that belong to that department, times log(1 + departments / departments using it)."""

    name = "keyword"

    def __init__(self, votes: dict[str, dict[str, float]], prior: dict[str, float]) -> None:
        if not prior:
            raise ValueError("a keyword router needs at least one department")
        self.votes = votes
        self.prior = prior

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str]) -> KeywordRouter:
        if len(texts) != len(labels):
            raise ValueError(f"texts and labels differ in length: {len(texts)} != {len(labels)}")
        sizes = Counter(labels)
        seen: dict[str, Counter[str]] = defaultdict(Counter)  # token -> department -> texts using it
        for text, label in zip(texts, labels):
            for token in set(tokenize(text)):
                seen[token][label] += 1
        departments = len(sizes)
        votes = {}
        for token, per in seen.items():
            weight = math.log(1 + departments / len(per))
            used = sum(per.values())
            votes[token] = {d: weight * n / used for d, n in per.items()}
        total = sum(sizes.values())
        return cls(votes, {d: n / total for d, n in sizes.items()})

    @classmethod
    def from_documents(cls, documents: Iterable[Document]) -> KeywordRouter:
        """Guides and local policies by their `department`; FAQs by the department of the guide
        they rest on. Laws (national bodies) and bundles (several departments) are left out."""
        docs = list(documents)
        departments = {d.doc_id: d.department for d in docs
                       if d.department and (d.kind == "guide" or d.extra.get("doc_type") == "local_policy")}
        texts, labels = [], []
        for doc in docs:
            department = departments.get(doc.doc_id)
            if department is None and doc.kind == "faq":
                targets = [str(t).partition("#")[0] for t in doc.extra.get("rests_on") or []]
                department = next((departments[t] for t in targets if t in departments), None)
            if department:
                texts.append(" ".join([doc.title, str(doc.extra.get("question", "")), *doc.tags]))
                labels.append(department)
        return cls.fit(texts, labels)

    def predict(self, question: str, k: int = 3) -> Prediction:
        _check_k(k)
        scores: Counter[str] = Counter()
        for token in set(tokenize(question)):
            for department, vote in self.votes.get(token, {}).items():
                scores[department] += vote
        total = sum(scores.values())
        common = sorted(self.prior.items(), key=lambda item: (-item[1], item[0]))
        if total == 0:  # no known word: the most common departments, with low confidence
            return [(d, round(p * 0.1, 4)) for d, p in common[:k]]
        ranked = sorted(scores.items(), key=lambda item: (-item[1], -self.prior.get(item[0], 0.0), item[0]))
        voted = [(d, round(s / total, 4)) for d, s in ranked[:k]]
        return voted + [(d, 0.0) for d, _ in common if d not in scores][:k - len(voted)]  # k when there are k


class ModelRouter:
    """TF-IDF (jieba words + character 1–3-grams) and logistic regression (scikit-learn)."""

    name = "zhengwu"

    def __init__(self, pipeline: object, meta: dict[str, object]) -> None:
        self.pipeline = pipeline
        self.meta = meta

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], c: float = 10.0) -> ModelRouter:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        if len(texts) != len(labels):
            raise ValueError(f"texts and labels differ in length: {len(texts)} != {len(labels)}")
        if len(set(labels)) < 2:
            raise ValueError(f"need at least two departments to fit a router, got {sorted(set(labels))}")
        words = TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False, sublinear_tf=True)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        pipeline = make_pipeline(make_union(words, chars), LogisticRegression(C=c, max_iter=2000))
        pipeline.fit(list(texts), list(labels))
        return cls(pipeline, {"c": c, "n_train": len(texts), "departments": sorted(set(labels))})

    def predict(self, question: str, k: int = 3) -> Prediction:
        _check_k(k)
        probabilities = self.pipeline.predict_proba([question])[0]  # type: ignore[attr-defined]
        classes = self.pipeline.classes_  # type: ignore[attr-defined]
        ranked = sorted(zip(classes, probabilities), key=lambda item: -item[1])[:k]
        return [(str(d), round(float(p), 4)) for d, p in ranked]

    def save(self, folder: Path, **provenance: object) -> Path:
        """Write the model and a JSON description (never the training texts) into `folder`."""
        import sklearn

        meta = {**self.meta, **provenance, "sklearn": sklearn.__version__, "fitted_at": time.time()}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / (MODEL_FILE + ".partial")
            partial.write_bytes(pickle.dumps(self.pipeline, protocol=pickle.HIGHEST_PROTOCOL))
            partial.replace(folder / MODEL_FILE)
            (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        except OSError as exc:
            raise RouterError(f"cannot save the router to {folder}: {exc}") from exc
        return folder / MODEL_FILE

    @classmethod
    def load(cls, folder: Path) -> ModelRouter:
        """The model saved in `folder` (a file this project wrote: the data dir is trusted)."""
        import sklearn

        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            if meta.get("sklearn") != sklearn.__version__:
                raise RouterError(f"the router in {folder} was fitted with scikit-learn {meta.get('sklearn')}, "
                                  f"this is {sklearn.__version__}: fit it again")
            pipeline = pickle.loads((folder / MODEL_FILE).read_bytes())
        except (OSError, ValueError, TypeError, KeyError, IndexError, pickle.UnpicklingError, AttributeError, ImportError,
                EOFError) as exc:
            raise RouterError(f"cannot load the router from {folder}: {exc}") from exc
        return cls(pipeline, meta)


def load_router(settings: Settings, documents: Iterable[Document] | None = None) -> Router:
    """The fitted model under `data_dir/router` when there is one that loads, else the keyword
    router over `documents` (default: the corpus)."""
    folder = settings.data_dir / ROUTER_DIR
    if (folder / MODEL_FILE).exists():
        try:
            return ModelRouter.load(folder)
        except RouterError as exc:
            log.warning("%s; routing with the corpus keyword router instead", exc)
    if documents is None:
        documents = load_paths([settings.corpus_dir]).documents
    try:
        return KeywordRouter.from_documents(documents)
    except ValueError as exc:
        raise RouterError(f"no router: no fitted model in {folder} and no documents with a department in "
                          f"{settings.corpus_dir}") from exc


class LazyRouter:
    """`load_router(settings, read())` on first use (so the app starts without reading the corpus),
    and again after `refresh()` (a re-index: new documents, new departments)."""

    def __init__(self, settings: Settings, read: Callable[[], Iterable[Document]] | None = None) -> None:
        self.settings = settings
        self._router: Lazy[Router] = Lazy(lambda: load_router(settings, read() if read else None))

    def refresh(self) -> None:
        self._router.refresh()

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.router.name

    @property
    def router(self) -> Router:
        return self._router.get()

    def predict(self, question: str, k: int = 3) -> Prediction:
        return self.router.predict(question, k)
