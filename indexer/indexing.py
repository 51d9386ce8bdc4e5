"""Incremental, atomic indexing.

A run compares the documents with the live generation's manifest (content hash per document).
Nothing changed: nothing is written. Otherwise a new generation is built: unchanged documents'
chunks are copied with their stored embeddings (never re-embedded), added and changed documents
are split and embedded in batches, the catalog (manifest, chunk texts, BM25) is written, and only
then is the pointer switched. Killing the process at any moment leaves the previous generation
live and complete; leftovers of an interrupted run are removed by the next run.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.catalog import Catalog, has_title_vectors, open_manifest, read_title_vectors
from assistant.documents import Chunk, Document
from assistant.embedders import Embedder
from assistant.errors import IndexBusyError, IndexingError, StoreError
from assistant.store import ChromaStore, StoredChunk
from indexer.splitter import Splitter

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class IndexSummary:
    """What one run did. Counts are documents unless named chunks."""

    index_key: str
    collection: str
    added: int
    updated: int
    removed: int
    unchanged: int
    chunks_total: int
    chunks_embedded: int
    chunks_copied: int
    seconds: float
    embed_seconds: float
    switched: bool
    second: IndexSummary | None = None  # the second embedder's run, when one is set (ZHENGWU_SECOND_EMBEDDER)

    @property
    def chunks_per_second(self) -> float:
        """Chunks embedded per second of the whole run (0 when nothing was embedded)."""
        return self.chunks_embedded / self.seconds if self.chunks_embedded and self.seconds > 0 else 0.0


class Indexer:
    """Builds and refreshes the index of one embedder."""

    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        splitter: Splitter,
        catalog_root: Path,
        index_name: str = "zhengwu",
        batch_size: int = 32,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be greater than 0, got {batch_size}")
        self.store = store
        self.embedder = embedder
        self.splitter = splitter
        self.catalog_root = catalog_root
        self.index_key = f"{index_name}-{embedder.key}"
        self.batch_size = batch_size

    def run(
        self,
        documents: list[Document],
        *,
        rebuild: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> IndexSummary:
        """Bring the index in line with `documents`; `rebuild` re-embeds every document."""
        started = time.perf_counter()
        with self._lock():
            live = self.store.live(self.index_key)
            self._remove_leftovers(keep=live)
            previous = open_manifest(self.catalog_root, self.store, live) if live else {}
            current = {doc.doc_id: doc for doc in documents}
            added = [d for i, d in current.items() if i not in previous]
            updated = [d for i, d in current.items() if i in previous and previous[i].doc_hash != d.content_hash]
            unchanged = [i for i, d in current.items() if i in previous and previous[i].doc_hash == d.content_hash]
            removed = [i for i in previous if i not in current]
            counts = dict(added=len(added), updated=len(updated), removed=len(removed), unchanged=len(unchanged))
            # nothing changed: nothing is written (an index without vectors for every title and
            # similar question — from before them, or its catalog rebuilt from a Chroma server —
            # gets them in a new generation, its chunks copied)
            names = [name for doc in documents for name in doc.names]
            if (live and not rebuild and not (added or updated or removed)
                    and has_title_vectors(self.catalog_root, live, names)):
                return self._summary(live, counts, started, switched=False)

            to_embed = list(current.values()) if rebuild else added + updated
            to_copy = [] if rebuild else [cid for i in unchanged for cid in previous[i].chunk_ids]
            collection = self.store.create_generation(self.index_key)
            copied = self._copy(live, to_copy, collection)
            fresh = [chunk for doc in to_embed for chunk in self.splitter.split(doc)]
            embed_seconds = self._embed_into(collection, fresh, on_progress)
            chunks = copied + [StoredChunk(c.chunk_id, c.text, c.metadata) for c in fresh]
            catalog = Catalog.build(collection, chunks)
            tick = time.perf_counter()
            catalog.title_vectors, catalog.title_queries = self._title_vectors(
                catalog, ({}, {}) if rebuild else self._live_title_vectors(live))
            embed_seconds += time.perf_counter() - tick
            catalog.save(self.catalog_root)
            self.store.switch(self.index_key, collection)  # the one step that makes it live
            if live:
                self._drop(live)
            return self._summary(
                collection, counts, started, switched=True, total=len(chunks), embedded=len(fresh),
                copied=len(copied), embed_seconds=embed_seconds,
            )

    def _copy(self, live: str | None, chunk_ids: list[str], collection: str) -> list[StoredChunk]:
        if not live or not chunk_ids:
            return []
        stored = list(self.store.fetch(live, chunk_ids, embeddings=True))
        if len(stored) != len(chunk_ids):
            raise IndexingError(f"the live index {live} lost {len(chunk_ids) - len(stored)} chunk(s); run with --rebuild")
        self.store.add(
            collection,
            [c.chunk_id for c in stored],
            [c.embedding or [] for c in stored],
            [c.text for c in stored],
            [c.metadata for c in stored],
        )
        return [StoredChunk(c.chunk_id, c.text, c.metadata) for c in stored]

    def _live_title_vectors(self, live: str | None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The title vectors of the live generation's catalog, as passages and as queries; none when
        it has none or they cannot be read (then every title is embedded again)."""
        try:
            return read_title_vectors(self.catalog_root, live) if live else ({}, {})
        except StoreError:
            return {}, {}

    def _title_vectors(self, catalog: Catalog, known: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
                       ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Every document's title and similar questions (`Catalog.names`) as vectors, as passages
        and as queries: `known` ones (the live generation's) kept, the others embedded, in batches."""
        titles = catalog.all_names()
        passages, queries = known
        return self._embed_titles(titles, passages, is_query=False), self._embed_titles(titles, queries, is_query=True)

    def _embed_titles(self, titles: list[str], known: dict[str, np.ndarray], is_query: bool) -> dict[str, np.ndarray]:
        missing = [title for title in titles if title not in known]
        embedded: dict[str, np.ndarray] = {}
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            embedded.update(zip(batch, self.embedder.encode(batch, is_query=is_query)))
        return {title: known[title] if title in known else embedded[title] for title in titles}

    def _embed_into(self, collection: str, chunks: list[Chunk], on_progress: ProgressCallback | None) -> float:
        spent = 0.0
        if on_progress:
            on_progress(0, len(chunks))
        for start in range(0, len(chunks), self.batch_size):
            batch = chunks[start : start + self.batch_size]
            tick = time.perf_counter()
            vectors = self.embedder.encode([c.embed_text for c in batch], is_query=False)
            spent += time.perf_counter() - tick
            self.store.add(
                collection,
                [c.chunk_id for c in batch],
                vectors.tolist(),
                [c.text for c in batch],
                [c.metadata for c in batch],
            )
            if on_progress:
                on_progress(start + len(batch), len(chunks))
        return spent

    def _remove_leftovers(self, keep: str | None) -> None:
        """Collections and catalog folders of interrupted runs (never the live one)."""
        for name in self.store.generations(self.index_key):
            if name != keep:
                self._drop(name)
        for folder in self.catalog_root.glob(f"{self.index_key}-g*"):
            if folder.name != keep:
                shutil.rmtree(folder, ignore_errors=True)

    def _drop(self, collection: str) -> None:
        try:
            self.store.drop(collection)
        except StoreError:
            pass  # already gone; the next run retries the catalog folder below regardless
        shutil.rmtree(self.catalog_root / collection, ignore_errors=True)

    def _lock(self) -> AbstractContextManager[None]:
        return index_lock(self.catalog_root, self.index_key)

    def _summary(self, collection: str, counts: dict[str, int], started: float, *, switched: bool,
                 total: int | None = None, embedded: int = 0, copied: int = 0,
                 embed_seconds: float = 0.0) -> IndexSummary:
        return IndexSummary(
            index_key=self.index_key,
            collection=collection,
            **counts,
            chunks_total=total if total is not None else self.store.count(collection),
            chunks_embedded=embedded,
            chunks_copied=copied,
            seconds=time.perf_counter() - started,
            embed_seconds=embed_seconds,
            switched=switched,
        )


@contextmanager
def index_lock(catalog_root: Path, index_key: str) -> Iterator[None]:
    """Hold `index_key`'s lock file under `catalog_root` (one run or drop of an index at a time,
    across processes); `IndexBusyError` when another holds it."""
    catalog_root.mkdir(parents=True, exist_ok=True)
    path = catalog_root / f".{index_key}.lock"
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError(f"another indexing run holds {path}") from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
