"""Hybrid retrieval: dense (Chroma, the configured embedder) + lexical (BM25 over jieba tokens),
fused (assistant.fusion: weighted reciprocal rank or standardised scores) or, with a learned ranker,
re-scored candidate by candidate (assistant.ranker), after query normalisation (assistant.query);
then the best few are put in order once more, by rank fusion with how close the question reads to
each one's document title (`title order`, below).

The retriever always reads the live generation: it follows the registry pointer, loads that
generation's catalog once, and if a re-index switched and dropped the generation between two calls
it re-resolves and retries once. `as_langchain()` exposes it as a LangChain `BaseRetriever`.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from assistant.catalog import Catalog, lexical_text
from assistant.documents import Scalar
from assistant.embedders import Embedder
from assistant.errors import ConfigError, StoreError
from assistant.fusion import FusionWeights, fuse
from assistant.query import Query, QueryNormalizer
from assistant.ranker import CANDIDATE_DEPTH, Candidate, LearnedRanker
from assistant.store import ChromaStore, DenseHit
from assistant.titles import TitleVectors

# Title order: the best TITLE_ORDER_DEPTH passages re-ordered by reciprocal rank fusion of their
# rank and the rank of their document title's closeness to the question (titles embedded as queries:
# "租房可以提取住房公积金吗？需要什么条件？" reads closest to the FAQ titled so, which the ranker,
# fitted on benchmarks whose documents have no titles, put second). Chosen on the eval set's dev
# half (session 13): top 1 0.890 -> 0.921, 485 -> 488 passing, held-out refusals 181 -> 180 of 330.
TITLE_ORDER_DEPTH = 8
# weighted rank fusion (`fuse`) of the two orders: 1 / (9 + rank), rank from 1; the titles' order
# weighs as much as the ranker's. Session 15, with the similar questions read beside the titles, on
# the dev half: weight 0.5 / 0.75 / 1.0 / 1.5 gave 506 / 509 / 510 / 510 passing of 548, top 1
# 0.950 / 0.959 / 0.957 / 0.950 (top 5 0.993 at 1.5), held-out refusals 205 / 207 / 206 / 208
TITLE_ORDER = FusionWeights(dense=1.0, lexical=1.0, k=9)


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk with its fused score and everything a citation needs."""

    chunk_id: str
    doc_id: str
    text: str
    metadata: dict[str, Scalar]
    score: float
    dense: float | None = None  # cosine similarity, when the dense side found it
    lexical: float | None = None  # BM25 score, when the lexical side found it

    @property
    def title(self) -> str:
        return str(self.metadata.get("title", ""))

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", ""))

    @property
    def section(self) -> str:
        return str(self.metadata.get("section", ""))


@dataclass(frozen=True)
class Filters:
    """Metadata filters. `region` keeps national documents too; `effective_on` drops documents
    not yet in force or already expired on that date."""

    region: str | None = None
    kinds: tuple[str, ...] = ()
    department: str | None = None
    effective_on: dt.date | None = None

    def accepts(self, meta: dict[str, Scalar]) -> bool:
        if self.region and meta.get("region") not in (self.region, "全国", ""):
            return False
        if self.kinds and meta.get("kind") not in self.kinds:
            return False
        if self.department and self.department not in str(meta.get("department", "")):
            return False
        if self.effective_on:
            day = self.effective_on.isoformat()
            if str(meta.get("effective_date") or "") > day:
                return False
            expires = str(meta.get("expires") or "")
            if expires and expires < day:
                return False
        return True


@dataclass(frozen=True)
class Retrieved:
    """What one search found, the catalog of the generation it searched (None when nothing was
    searched: a question empty after normalisation) and the question's vector it searched with."""

    passages: list[Passage]
    catalog: Catalog | None
    vector: tuple[float, ...] = ()


class NamedEvent(Protocol):
    @property
    def bundle_id(self) -> str: ...


class EventRecognizer(Protocol):
    """Names the life-event bundle a question asks about as a whole ("老伴走了，后面要办哪些手续"),
    or None: `assistant.bundles.BundleGuide`."""

    def recognize(self, question: str) -> NamedEvent | None: ...


@dataclass
class _Live:
    collection: str
    catalog: Catalog


class HybridRetriever:
    """Retrieve passages for a question from the live index."""

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        normalizer: QueryNormalizer,
        catalog_root: Path,
        index_name: str = "zhengwu",
        weights: FusionWeights | None = None,
        ranker: LearnedRanker | None = None,
        second: Embedder | None = None,
        events: EventRecognizer | None = None,
        titles: TitleVectors | None = None,
    ) -> None:
        """`second`: a second embedder whose index (same name, its own key) adds a third list to rank
        fusion; the passages, their texts and the catalog stay the first embedder's. `events`: when
        it recognises a question about a whole life event, that event's checklist ranks first (a
        long story about a death or a lay-off shares few words with the checklist's title). `titles`:
        the titles embedded as queries (`as_queries`), for the title order; without it, none."""
        if ranker is not None and second is not None:
            raise ConfigError("the learned ranker scores one dense side; with a second embedder, use rank fusion")
        self.store = store
        self.embedder = embedder
        self.normalizer = normalizer
        self.catalog_root = catalog_root
        self.index_key = f"{index_name}-{embedder.key}"
        self.weights = weights or FusionWeights()
        self.ranker = ranker
        self.second = second
        self.second_key = f"{index_name}-{second.key}" if second is not None else None
        self.events = events
        self.titles = titles
        self._second_trouble_told = False
        self._live: _Live | None = None
        self._lock = threading.Lock()

    def retrieve(self, question: str | Query, k: int = 8, filters: Filters | None = None) -> list[Passage]:
        return self.search(question, k, filters).passages

    def search(self, question: str | Query, k: int = 8, filters: Filters | None = None) -> Retrieved:
        """The passages, with the catalog of the index generation they came from (one read of the
        live pointer for both, so a re-index between them cannot mix two generations)."""
        if k < 1:
            raise ValueError(f"k must be greater than 0, got {k}")
        query = question if isinstance(question, Query) else self.normalizer.normalize(question)
        if not query.text.strip():
            return Retrieved([], None)
        vector = self.embedder.embed_query(query.search_text)
        second = self.second.embed_query(query.search_text) if self.second is not None else None
        try:
            found = self._retrieve(query, vector, second, k, filters)
        except StoreError:
            self._live = None  # the generation may have been switched and dropped: follow the pointer
            found = self._retrieve(query, vector, second, k, filters)
        return replace(found, vector=tuple(vector))

    def live_catalog(self) -> Catalog:
        return self._current().catalog

    def with_catalog(self, catalog: Catalog) -> HybridRetriever:
        """A retriever over the same index that reads `catalog` (names, chunks, BM25) in place of
        the live generation's own: for evaluations that change what the catalog holds
        (`Catalog.withholding`). `catalog` must be of the live generation. After a re-index (or a
        store error) the copy reads the new generation's own catalog: the change is gone."""
        live = self._current().collection
        if catalog.collection != live:
            raise ValueError(f"the catalog is of {catalog.collection}, the live index is {live}")
        clone = copy.copy(self)
        clone._live = _Live(live, catalog)
        clone._lock = threading.Lock()
        return clone

    def _retrieve(self, query: Query, vector: list[float], second: list[float] | None, k: int,
                  filters: Filters | None) -> Retrieved:
        live = self._current()
        depth = max(self.weights.depth, k)
        dense = self.store.query(live.collection, vector, depth * (3 if filters else 1))
        lexical = live.catalog.lexical.search(query.search_text, depth * (3 if filters else 1))
        accepted = filters.accepts if filters else (lambda meta: True)
        found: dict[str, tuple[str, dict[str, Scalar]]] = {}
        dense_side: list[tuple[str, float]] = []
        for hit in dense:
            if accepted(hit.metadata):
                found[hit.chunk_id] = (hit.text, hit.metadata)
                dense_side.append((hit.chunk_id, hit.score))
        lexical_side: list[tuple[str, float]] = []
        for chunk_id, bm25 in lexical:
            stored = live.catalog.chunks.get(chunk_id)
            if stored is not None and accepted(stored.metadata):
                found.setdefault(chunk_id, (stored.text, stored.metadata))
                lexical_side.append((chunk_id, bm25))
        second_side: list[tuple[str, float]] = []
        for hit in self._second_side(second, depth * (3 if filters else 1)):
            stored = live.catalog.chunks.get(hit.chunk_id)
            # the same chunk of the same document version only: an index one re-index behind is ignored
            if (stored is not None and stored.metadata.get("doc_hash") == hit.metadata.get("doc_hash")
                    and accepted(stored.metadata)):
                found.setdefault(hit.chunk_id, (stored.text, stored.metadata))
                second_side.append((hit.chunk_id, hit.score))
        if self.ranker is None:
            ranked = fuse(dense_side[:depth], lexical_side[:depth], self.weights, second_side[:depth])
        else:
            ranked = _rerank(self.ranker, live, query, dense_side, lexical_side)
            if len(ranked) < k:  # more asked for than the ranker scores: the rest follow in fused order
                seen = {chunk_id for chunk_id, _ in ranked}
                ranked += [(chunk_id, 0.0) for chunk_id, _ in fuse(dense_side[:depth], lexical_side[:depth], self.weights)
                           if chunk_id not in seen]
        ranked = self._title_order(ranked, found, live.catalog, vector)
        ranked = self._event_first(query, live.catalog, ranked, found, accepted)
        dense_scores, lexical_scores = dict(dense_side), dict(lexical_side)
        passages = []
        for chunk_id, score in ranked[:k]:
            text, metadata = found[chunk_id]
            passages.append(Passage(chunk_id=chunk_id, doc_id=str(metadata.get("doc_id", "")), text=text,
                                    metadata=metadata, score=score, dense=dense_scores.get(chunk_id),
                                    lexical=lexical_scores.get(chunk_id)))
        return Retrieved(passages, live.catalog)

    def _title_order(self, ranked: list[tuple[str, float]], found: dict[str, tuple[str, dict[str, Scalar]]],
                     catalog: Catalog, vector: list[float]) -> list[tuple[str, float]]:
        """`ranked` with its best `TITLE_ORDER_DEPTH` re-ordered by rank fusion with their titles'
        closeness to the question, a title read with its document's similar questions (the closest
        of them counts; each passage keeps its score); as it was when a passage has no title (the
        benchmarks' documents have none) or there are no title vectors."""
        head = ranked[:TITLE_ORDER_DEPTH]
        if self.titles is None or len(head) < 2:
            return ranked
        titles = [str(found[chunk_id][1].get("title", "")) for chunk_id, _ in head]
        if not all(title.strip() for title in titles):
            return ranked
        names = [catalog.names(str(found[chunk_id][1].get("doc_id", ""))) or [title]
                 for title, (chunk_id, _) in zip(titles, head)]
        flat = list(dict.fromkeys(name for each in names for name in each))
        closeness = dict(zip(flat, self.titles.each_closeness(vector, flat, catalog.title_queries)))
        best = [max(closeness[name] for name in each) for each in names]
        return order_by_title(head, best) + ranked[TITLE_ORDER_DEPTH:]

    def _event_first(self, query: Query, catalog: Catalog, ranked: list[tuple[str, float]],
                     found: dict[str, tuple[str, dict[str, Scalar]]],
                     accepted: Callable[[dict[str, Scalar]], bool]) -> list[tuple[str, float]]:
        """`ranked` with the chunks of the life-event checklist the question asks for in front
        (scored as the best candidate; fetched from the catalog when neither side found them)."""
        match = self.events.recognize(query.text) if self.events is not None else None
        chunks = [chunk for chunk in catalog.document_chunks(match.bundle_id) if accepted(chunk.metadata)] if match else []
        if not chunks:
            return ranked
        top = ranked[0][1] if ranked else 0.0
        front = {chunk.chunk_id for chunk in chunks}
        for chunk in chunks:
            found.setdefault(chunk.chunk_id, (chunk.text, chunk.metadata))
        return [(chunk.chunk_id, top) for chunk in chunks] + [(c, s) for c, s in ranked if c not in front]

    def _second_side(self, vector: list[float] | None, limit: int) -> list[DenseHit]:
        """The second embedder's hits, best first; none while its index is missing or unreadable
        (the first embedder's answers go on; told once in the log)."""
        if vector is None or self.second_key is None:
            return []
        for attempt in (1, 2):  # a re-index may switch and drop the generation between the two calls
            try:
                collection = self.store.live(self.second_key)
                if collection is None:
                    self._tell_once(f"no index for the second embedder ({self.second_key}) yet: run `zhengwu index`")
                    return []
                return self.store.query(collection, vector, limit)
            except StoreError as exc:
                if attempt == 2:
                    self._tell_once(f"the second embedder's index ({self.second_key}) cannot be read: {exc}")
        return []

    def _tell_once(self, problem: str) -> None:
        if not self._second_trouble_told:
            self._second_trouble_told = True
            logging.getLogger("zhengwu.retrieval").warning("%s; fusing two lists meanwhile", problem)

    def _current(self) -> _Live:
        collection = self.store.require_live(self.index_key)
        live = self._live
        if live is not None and live.collection == collection:
            return live
        with self._lock:
            if self._live is None or self._live.collection != collection:
                self._live = _Live(collection, Catalog.open(self.catalog_root, self.store, collection))
            return self._live

    def as_langchain(self, k: int = 8, filters: Filters | None = None) -> Any:
        """This retriever as a LangChain `BaseRetriever` (documents carry the citation metadata)."""
        from assistant.langchain_retriever import ZhengwuRetriever

        return ZhengwuRetriever(retriever=self, k=k, filters=filters)


def order_by_title(ranked: list[tuple[str, float]], closeness: list[float]) -> list[tuple[str, float]]:
    """`ranked` ((id, score), best first) in the order `fuse` gives its own order and the order of
    `closeness` (one per item, higher closer) with `TITLE_ORDER`; each keeps its score, and ties keep
    their order."""
    by_title = sorted(zip((item for item, _ in ranked), closeness), key=lambda pair: -pair[1])
    scores = dict(ranked)
    return [(item, scores[item]) for item, _ in fuse(ranked, by_title, TITLE_ORDER)]


def _rerank(ranker: LearnedRanker, live: _Live, query: Query, dense_side: list[tuple[str, float]],
            lexical_side: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Each side's best `CANDIDATE_DEPTH`, scored by the learned ranker, best first."""
    dense, lexical = dict(dense_side[:CANDIDATE_DEPTH]), dict(lexical_side[:CANDIDATE_DEPTH])
    stored = live.catalog.chunks
    candidates = [  # scored on what BM25 and the embedder saw (title and section prefixed)
        Candidate(chunk_id, lexical_text(stored[chunk_id]), dense.get(chunk_id), lexical.get(chunk_id))
        for chunk_id in dict.fromkeys([*dense, *lexical]) if chunk_id in stored
    ]
    return ranker.rank(query.search_text, candidates)
