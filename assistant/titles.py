"""How close a question reads to the titles the corpus gives a matter.

A document's title states its matter in a line ("临时居民身份证申领", "社保卡丢了怎么办？"), and so
do the titles of the FAQs resting on its guide and the similar questions each carries ("社保卡丢了，
咋补一张？": `Catalog.names`; the vectors below are keyed by the text, title or question alike). A
question on that matter reads close to one of
them; a question on a neighbouring matter the corpus lacks (a temporary ID card, with only the
renewal guide left) reads close to none, however many words it shares with the guide's text.
The answerer uses this as its semantic "same matter?" check (`Thresholds.title_floor`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.catalog import Catalog
from assistant.embedders import Embedder

CAPACITY = 50_000  # titles kept; the cache starts afresh beyond it (a corpus re-titled many times over)


class TitleVectors:
    """Titles embedded with the retriever's embedder, as passages (the answerer's "same matter?"
    check) or, with `as_queries`, as queries (the model's symmetric mode: a question against a
    question-like title, for retrieval's title order): those the indexer saved with the catalog,
    else each embedded once per process (a catalog rebuilt from a Chroma server has none)."""

    def __init__(self, embedder: Embedder, capacity: int = CAPACITY, as_queries: bool = False) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self.as_queries = as_queries
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def closeness(self, vector: Sequence[float], titles: Iterable[str],
                  stored: Mapping[str, np.ndarray] | None = None) -> float | None:
        """The best cosine between the question's `vector` (as retrieval embedded it) and `titles`;
        None when there is no title or no vector to compare. `stored`: title vectors the indexer
        saved with the catalog (`Catalog.title_vectors`), used before embedding anything."""
        wanted = list(dict.fromkeys(title for title in titles if title.strip()))
        if not wanted or not len(vector):
            return None
        return max(self.each_closeness(vector, wanted, stored))

    def each_closeness(self, vector: Sequence[float], titles: Sequence[str],
                       stored: Mapping[str, np.ndarray] | None = None) -> list[float]:
        """The cosine between the question's `vector` and each of `titles`, in order (non-empty
        titles and vector)."""
        known = self._vectors_of(titles, stored or {})
        question = np.asarray(vector, dtype=np.float32)
        return [float(np.dot(question, known[title])) for title in titles]

    def _vectors_of(self, titles: Sequence[str], saved: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self._vectors  # the cache may start afresh in another thread meanwhile
        known = {title: saved[title] if title in saved else vectors[title] for title in titles
                 if title in saved or title in vectors}
        missing = list(dict.fromkeys(title for title in titles if title not in known))
        if missing:
            embedded = dict(zip(missing, self.embedder.encode(missing, is_query=self.as_queries)))
            known.update(embedded)
            with self._lock:
                if len(self._vectors) + len(embedded) > self.capacity:
                    self._vectors = {}
                self._vectors.update(embedded)
        return known


@dataclass(frozen=True)
class Crossing:
    """A similar question that reads closer to another matter's name than to any other name of its
    own matter: the title order and the title checks may take it for that matter."""

    doc_id: str
    question: str
    own_closeness: float  # to the closest other name of its own matter (`Catalog.family_names`)
    other_doc_id: str
    other_name: str
    other_closeness: float

    @property
    def margin(self) -> float:
        return self.other_closeness - self.own_closeness


def crossing_names(catalog: Catalog) -> list[Crossing]:
    """Every similar question of `catalog` that crosses into another matter (`Crossing`), read with
    the vectors the indexer saved as queries (the title order's reading; nothing is embedded),
    largest margin first. A staff check before similar questions go live."""
    names = [name for name in catalog.title_queries if name.strip()]
    if not names:
        return []
    matrix = np.stack([catalog.title_queries[name] for name in names])
    owners: dict[str, set[str]] = {}
    for doc_id in catalog.documents:
        for name in catalog.names(doc_id):
            owners.setdefault(name, set()).add(doc_id)
    position = {name: i for i, name in enumerate(names)}
    crossings = []
    for doc_id in catalog.documents:
        family = set(catalog.matter_families.get(doc_id, ()))
        own = np.array([bool(owners.get(name, set()) & family) for name in names])
        if own.all():  # no other matter to cross into
            continue
        for question in catalog.names(doc_id)[1:]:
            if question not in position:
                continue
            closeness = matrix @ catalog.title_queries[question]
            mine = own.copy()
            mine[position[question]] = False
            if not mine.any():
                continue
            other = int(np.argmax(np.where(own, -np.inf, closeness)))
            if closeness[other] > closeness[mine].max():
                name = names[other]
                crossings.append(Crossing(doc_id, question, float(closeness[mine].max()), sorted(owners[name])[0],
                                          name, float(closeness[other])))
    return sorted(crossings, key=lambda c: -c.margin)
