"""Retrieval benchmarks: every system over the same corpus and queries, in one run.

Systems: `bm25` (jieba + bm25s over the chunks), one dense system per embedder (exact cosine over
the chunks), `chatchat` (Langchain-Chatchat's ensemble: RRF of BM25 and e5 with weights 0.5/0.5,
raw question), `zhengwu-z` (our pipeline with standardised-score fusion instead of RRF),
`zhengwu-rrf` (our pipeline with the product's RRF weights) and `zhengwu`: the product's own
retrieval: the query normaliser (Traditional, pinyin, dialect, numerals, glossary), then each side's
50 best e5 and BM25 candidates re-scored by the learned ranker (`assistant.ranker`).
Documents are split with the product's splitter and a document scores as its best chunk
(passage-level scoring); the chunk ranking is kept too, for the NCP answer-span check. Chunk embeddings are cached under the data dir, keyed by the
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
from assistant.fusion import FusionWeights, fuse
from assistant.lexical import LexicalIndex
from assistant.ranker import CANDIDATE_DEPTH, Candidate, LearnedRanker
from assistant.query import QueryNormalizer
from eval.datasets import Benchmark, BenchQuery
from indexer.splitter import Splitter

DEPTH = 10  # ranks scored (MRR@10); hit@k for k ≤ DEPTH


@dataclass(frozen=True)
class Ranking:
    qid: str
    doc_ids: list[str]
    chunk_texts: tuple[str, ...] = ()  # the best chunks, best first (what an answer would cite)


SPAN_DEPTH = 5  # an answer span counts as cited when it lies inside one of the 5 best chunks


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


@dataclass(frozen=True)
class Candidates:
    """What the product's retriever would have for one question: the text it searched with and the
    chunks either side returned (ids are chunk positions), in the dense side's order, then the
    lexical side's; `lexical_ids` keeps BM25's own order (ties as the index returned them)."""

    query: BenchQuery
    search_text: str
    candidates: list[Candidate]
    lexical_ids: tuple[str, ...]


def gather_candidates(queries: list[BenchQuery], chunks: list[Chunk], vectors: np.ndarray, embedder: Embedder,
                      index: LexicalIndex, depth: int, normalizer: QueryNormalizer | None) -> list[Candidates]:
    """Each side's `depth` best chunks, as the product's retriever takes them."""
    texts = [normalizer.normalize(q.question).search_text if normalizer else q.question for q in queries]
    query_vectors = embedder.encode(texts, is_query=True)
    gathered = []
    for query, text, vector in zip(queries, texts, query_vectors, strict=True):
        cosine = vectors @ vector
        dense = {int(i): float(cosine[i]) for i in np.argsort(-cosine, kind="stable")[:depth]}
        lexical = {int(i): score for i, score in index.search(text, depth)}
        order = list(dict.fromkeys([*dense, *lexical]))
        gathered.append(Candidates(query, text, [
            Candidate(str(i), chunks[i].embed_text, dense.get(i), lexical.get(i)) for i in order],
            tuple(str(i) for i in lexical)))
    return gathered


def rank_hybrid(queries: list[BenchQuery], chunks: list[Chunk], vectors: np.ndarray, embedder: Embedder,
                index: LexicalIndex, weights: FusionWeights, normalizer: QueryNormalizer | None,
                ranker: LearnedRanker | None = None,
                second: tuple[Embedder, np.ndarray] | None = None) -> list[Ranking]:
    """Dense and BM25 candidates fused by `assistant.fusion` (with `second`, a second embedder and
    its chunk vectors, as a third list), or scored by the learned ranker, as the product's
    retriever does."""
    if ranker is not None and weights.depth != CANDIDATE_DEPTH:
        raise ValueError(f"the learned ranker scores {CANDIDATE_DEPTH} candidates a side, not {weights.depth}")
    gathered = gather_candidates(queries, chunks, vectors, embedder, index, weights.depth, normalizer)
    second_sides = None
    if second is not None:
        second_embedder, second_vectors = second
        asked = second_embedder.encode([found.search_text for found in gathered], is_query=True)
        second_sides = [[(str(int(i)), float(cosine[i])) for i in np.argsort(-cosine, kind="stable")[:weights.depth]]
                        for cosine in (second_vectors @ vector for vector in asked)]
    return rank_candidates(gathered, chunks, weights, ranker, second_sides)


def rank_candidates(gathered: list[Candidates], chunks: list[Chunk], weights: FusionWeights,
                    ranker: LearnedRanker | None = None,
                    second_sides: list[list[tuple[str, float]]] | None = None) -> list[Ranking]:
    doc_ids = [c.doc_id for c in chunks]
    rankings = []
    for n, found in enumerate(gathered):
        if ranker is not None:
            scored = ranker.rank(found.search_text, found.candidates)
        else:
            by_id = {c.chunk_id: c for c in found.candidates}
            dense = [(c.chunk_id, c.dense) for c in found.candidates if c.dense is not None]
            scored = fuse(dense, [(i, by_id[i].lexical or 0.0) for i in found.lexical_ids], weights,
                          second_sides[n] if second_sides else ())
        order = [int(i) for i, _ in scored]
        scores = np.full(len(chunks), -np.inf, dtype=np.float32)
        scores[order] = [score for _, score in scored]
        rankings.append(Ranking(found.query.qid, best_per_document(doc_ids, scores, finite=True),
                                tuple(chunks[i].text for i in order[:SPAN_DEPTH])))
    return rankings


def best_per_document(chunk_doc_ids: list[str], scores: np.ndarray, depth: int = DEPTH,
                      finite: bool = False) -> list[str]:
    """Documents ranked by their best chunk."""
    order = np.argsort(-scores, kind="stable")
    ranked: list[str] = []
    seen: set[str] = set()
    for index in order:
        if finite and not np.isfinite(scores[index]):
            break
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
    rankings = []
    for query, vector in zip(queries, query_vectors, strict=True):
        cosine = vectors @ vector
        top = np.argsort(-cosine, kind="stable")[:SPAN_DEPTH]
        rankings.append(Ranking(query.qid, best_per_document(doc_ids, cosine), tuple(chunks[i].text for i in top)))
    return rankings


def build_bm25(chunks: list[Chunk]) -> LexicalIndex:
    return LexicalIndex.build([str(i) for i in range(len(chunks))], [c.embed_text for c in chunks])


def rank_bm25(queries: list[BenchQuery], chunks: list[Chunk], index: LexicalIndex) -> list[Ranking]:
    rankings = []
    for query in queries:
        hits = index.search(query.question, k=DEPTH * 5)
        scores = np.full(len(chunks), -np.inf, dtype=np.float32)
        for chunk_index, score in hits:
            scores[int(chunk_index)] = score
        ranked = best_per_document([c.doc_id for c in chunks], scores, finite=True)
        rankings.append(Ranking(query.qid, ranked, tuple(chunks[int(i)].text for i, _ in hits[:SPAN_DEPTH])))
    return rankings


def score(queries: list[BenchQuery], rankings: list[Ranking], spans: bool = False) -> dict[str, float]:
    """hit@1, hit@5 and MRR@10 (a hit: any relevant document at that rank or better); with
    `spans`, also span@5: the share of questions whose answer span lies inside one of the 5 best chunks."""
    by_id = {r.qid: r for r in rankings}
    hit1 = hit5 = reciprocal = spanned = 0.0
    for query in queries:
        found = by_id.get(query.qid)
        ranked = found.doc_ids if found else []
        if spans and found and query.span and any(query.span in text for text in found.chunk_texts):
            spanned += 1
        first = next((i for i, d in enumerate(ranked[:DEPTH]) if d in query.relevant), None)
        if first is not None:
            hit1 += first == 0
            hit5 += first < 5
            reciprocal += 1.0 / (first + 1)
    n = max(len(queries), 1)
    figures = {"hit@1": round(hit1 / n, 4), "hit@5": round(hit5 / n, 4), "mrr@10": round(reciprocal / n, 4)}
    if spans:
        figures["span@5"] = round(spanned / max(sum(1 for q in queries if q.span), 1), 4)
    return figures


def timed(action: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started
