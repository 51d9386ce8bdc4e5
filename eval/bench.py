"""Retrieval benchmarks: every system over the same corpus and queries, in one run.

Systems: `bm25` (jieba + bm25s over the chunks), and one dense system per embedder (exact cosine
over the chunks). Documents are split with the product's splitter and a document scores as its
best chunk (passage-level scoring). Chunk embeddings are cached under the data dir, keyed by the
data, the chunking and the embedder, so a second run does not re-embed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.documents import Chunk
from assistant.embedders import Embedder
from assistant.lexical import LexicalIndex
from eval.datasets import Benchmark, BenchQuery
from indexer.splitter import Splitter

DEPTH = 10  # ranks scored (MRR@10); hit@k for k ≤ DEPTH


@dataclass(frozen=True)
class Ranking:
    qid: str
    doc_ids: list[str]


def chunk_benchmark(bench: Benchmark, splitter: Splitter) -> list[Chunk]:
    return [chunk for doc in bench.documents for chunk in splitter.split(doc)]


def embed_chunks(chunks: list[Chunk], embedder: Embedder, cache_dir: Path, key: str,
                 batch_size: int = 32, on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Chunk embeddings, from the cache when this exact data, chunking and embedder were seen."""
    digest = hashlib.sha1("".join(c.chunk_id + c.embed_text for c in chunks).encode("utf-8")).hexdigest()[:16]
    path = cache_dir / f"{key}-{embedder.key}-{digest}.npy"
    if path.exists():
        return np.load(path)
    parts = []
    for start in range(0, len(chunks), batch_size):
        parts.append(embedder.encode([c.embed_text for c in chunks[start : start + batch_size]], is_query=False))
        if on_progress:
            on_progress(min(start + batch_size, len(chunks)), len(chunks))
    vectors = np.vstack(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp.npy")
    np.save(temp, vectors)
    temp.replace(path)
    return vectors


def best_per_document(chunk_doc_ids: list[str], scores: np.ndarray, depth: int = DEPTH) -> list[str]:
    """Documents ranked by their best chunk."""
    order = np.argsort(-scores, kind="stable")
    ranked: list[str] = []
    seen: set[str] = set()
    for index in order:
        doc_id = chunk_doc_ids[index]
        if doc_id not in seen:
            seen.add(doc_id)
            ranked.append(doc_id)
            if len(ranked) == depth:
                break
    return ranked


def rank_dense(queries: list[BenchQuery], chunks: list[Chunk], vectors: np.ndarray, embedder: Embedder) -> list[Ranking]:
    doc_ids = [c.doc_id for c in chunks]
    query_vectors = embedder.encode([q.question for q in queries], is_query=True)
    return [Ranking(q.qid, best_per_document(doc_ids, vectors @ qv)) for q, qv in zip(queries, query_vectors, strict=True)]


def build_bm25(chunks: list[Chunk]) -> LexicalIndex:
    return LexicalIndex.build([str(i) for i in range(len(chunks))], [c.embed_text for c in chunks])


def rank_bm25(queries: list[BenchQuery], chunks: list[Chunk], index: LexicalIndex) -> list[Ranking]:
    rankings = []
    for query in queries:
        scores = np.zeros(len(chunks), dtype=np.float32)
        for chunk_index, score in index.search(query.question, k=DEPTH * 5):
            scores[int(chunk_index)] = score
        ranked = best_per_document([c.doc_id for c in chunks], scores) if scores.any() else []
        rankings.append(Ranking(query.qid, [d for d in ranked if d]))
    return rankings


def score(queries: list[BenchQuery], rankings: list[Ranking]) -> dict[str, float]:
    """hit@1, hit@5 and MRR@10 (a hit: any relevant document at that rank or better)."""
    by_id = {r.qid: r.doc_ids for r in rankings}
    hit1 = hit5 = reciprocal = 0.0
    for query in queries:
        ranked = by_id.get(query.qid, [])
        first = next((i for i, d in enumerate(ranked[:DEPTH]) if d in query.relevant), None)
        if first is not None:
            hit1 += first == 0
            hit5 += first < 5
            reciprocal += 1.0 / (first + 1)
    n = max(len(queries), 1)
    return {"hit@1": round(hit1 / n, 4), "hit@5": round(hit5 / n, 4), "mrr@10": round(reciprocal / n, 4)}


def timed(action: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started
