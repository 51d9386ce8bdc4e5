"""Indexing throughput beside the embedder's raw `encode` throughput, measured in one run."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.documents import Document
from assistant.embedders import Embedder
from assistant.settings import Settings
from assistant.store import ChromaStore
from indexer.indexing import Indexer
from indexer.splitter import Splitter


@dataclass(frozen=True)
class Throughput:
    documents: int
    chunks: int
    raw_chunks_per_s: float
    index_chunks_per_s: float

    @property
    def ratio(self) -> float:
        return self.index_chunks_per_s / self.raw_chunks_per_s if self.raw_chunks_per_s else 0.0


def measure_throughput(documents: list[Document], embedder: Embedder, settings: Settings) -> Throughput:
    """Raw encode of the chunk texts, then a full index run of the same documents into a fresh
    embedded Chroma (split, embed, store, catalog, BM25, switch)."""
    splitter = Splitter(settings.chunk_chars, settings.chunk_overlap)
    texts = [chunk.embed_text for doc in documents for chunk in splitter.split(doc)]
    embedder.encode(texts[: settings.batch_size], is_query=False)  # warm-up, not timed
    started = time.perf_counter()
    for start in range(0, len(texts), settings.batch_size):
        embedder.encode(texts[start : start + settings.batch_size], is_query=False)
    raw_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="zhengwu-throughput-") as folder:
        scratch = settings.model_copy(update={"data_dir": Path(folder), "chroma_url": None})
        indexer = Indexer(ChromaStore.connect(scratch), embedder, splitter, scratch.index_dir,
                          scratch.index_name, scratch.batch_size)
        summary = indexer.run(documents)
    return Throughput(len(documents), len(texts), len(texts) / raw_seconds, summary.chunks_per_second)
