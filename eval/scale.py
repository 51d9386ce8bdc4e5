"""Indexes grown to a given number of chunks (for `latency` and `scale`), and the `scale` benchmark.

An index of N chunks holds the shipped corpus (whole documents, in order, while they fit) and
synthetic chunks up to N. A synthetic chunk's text is recombined from real corpus sentences (seeded):
the sentences of one source corpus chunk, a few dropped, plus one sentence of another chunk, under a
synthetic guide (`synthetic-<seed>-<n>`, the source document's title, department and region,
`sample: true`). Its vector is, with `embed`, its real embedding (cached under the data dir);
otherwise the real embedding of its source corpus chunk plus Gaussian noise, renormalised
(`NOISE`): cheap, but it keeps the vector distribution realistic for HNSW without encoding 100k
texts. Corpus vectors are always real (cached under `data_dir/bench-cache`, keyed by the chunks
and the embedder). The indexer embeds document titles too: corpus titles get their real vectors,
a synthetic guide's title its source's title vector noised the same way (real, with `embed`).
Everything is indexed by the product's own `Indexer` (Chroma in batches, the catalog, BM25) into a
temporary folder, through `PresetEmbedder`, which hands it those vectors.

`scale`: for each size, answer p50/p95/p99 and the process RSS (`eval.latency.serve`), a table and
a plot.
"""

from __future__ import annotations

import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from assistant.documents import Document
from assistant.embedders import Embedder
from assistant.errors import ConfigError, IndexingError
from assistant.settings import Settings
from assistant.store import ChromaStore
from eval.bench import embed_chunks
from eval.latency import Serving, serve
from indexer.indexing import Indexer
from indexer.splitter import Splitter

NOISE = 0.3  # norm of the noise added to a unit source vector: cosine to the source ≈ 0.96 (the
# real e5 embedding of a recombined text has cosine 0.94-0.98 to its source chunk's)
SECTIONS_PER_DOCUMENT = 4  # synthetic guides have this many sections, one chunk each
BUILD_BATCH = 1000  # chunks per Chroma add when the vectors are preset (one store page)
SENTENCE = re.compile(r"[^。！？；\n]+[。！？；]?")


class PresetEmbedder(Embedder):
    """The inner embedder, except that passage texts (and, given, query texts: the titles the
    indexer embeds as queries) given up front get their preset vectors. Keeps the inner embedder's
    key, so the index it builds is the one the product reads."""

    def __init__(self, inner: Embedder, texts: list[str], vectors: np.ndarray,
                 query_texts: list[str] | None = None, query_vectors: np.ndarray | None = None) -> None:
        query_texts = query_texts or []
        query_count = 0 if query_vectors is None else len(query_vectors)
        if len(texts) != len(vectors) or len(query_texts) != query_count:
            raise ValueError(f"texts and vectors differ in length: {len(texts)} != {len(vectors)} "
                             f"or {len(query_texts)} != {query_count} (queries)")
        self.inner = inner
        self.key = inner.key
        self.dim = inner.dim
        self._presets = {False: ({text: row for row, text in enumerate(texts)}, vectors),
                         True: ({text: row for row, text in enumerate(query_texts)},
                                query_vectors if query_vectors is not None else np.zeros((0, inner.dim)))}
        self.embedded = 0  # passage texts that had no preset vector and were embedded for real

    def encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        preset_rows, preset_vectors = self._presets[is_query]
        rows = [preset_rows.get(text) for text in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            out[missing] = self.inner.encode([texts[i] for i in missing], is_query=is_query)
            if not is_query:
                self.embedded += len(missing)
        known = [i for i, row in enumerate(rows) if row is not None]
        out[known] = preset_vectors[[rows[i] for i in known]]
        return out


@dataclass(frozen=True)
class GrownIndex:
    """An index built under `settings.data_dir`: `corpus` chunks of the shipped corpus and
    `synthetic` chunks."""

    settings: Settings
    corpus: int
    synthetic: int
    seconds: float
    embedded: int  # passage texts (chunks, titles) with no preset vector, so embedded for real (0 by design)

    @property
    def chunks(self) -> int:
        return self.corpus + self.synthetic


class IndexGrower:
    """The corpus, its chunks and their real vectors, from which indexes of any size are grown."""

    def __init__(self, documents: list[Document], embedder: Embedder, settings: Settings, seed: int = 0,
                 embed: bool = False) -> None:
        if not documents:
            raise ConfigError("no corpus documents to grow an index from")
        self.documents = documents
        self.embedder = embedder
        self.settings = settings
        self.seed = seed
        self.embed = embed
        self.splitter = Splitter(settings.chunk_chars, settings.chunk_overlap)
        self.chunks_of = [self.splitter.split(doc) for doc in documents]
        self.chunks = [chunk for chunks in self.chunks_of for chunk in chunks]
        self.vectors = embed_chunks(self.chunks, embedder, self.cache_dir, "corpus", settings.batch_size)
        # the indexer embeds them too: every title and similar question (`Catalog.all_names`)
        self.titles = sorted({name for doc in documents for name in doc.names if name.strip()})
        self.title_vectors = embedder.encode(self.titles, is_query=False)
        self.title_queries = embedder.encode(self.titles, is_query=True)
        self._sentences = [_sentences(chunk.text) for chunk in self.chunks]
        self._pool = [s for sentences in self._sentences for s in sentences]
        self._by_id = {doc.doc_id: doc for doc in documents}
        self._rows_of: dict[str, list[int]] = {}
        for row, chunk in enumerate(self.chunks):
            self._rows_of.setdefault(chunk.doc_id, []).append(row)

    @property
    def cache_dir(self) -> Path:
        return self.settings.data_dir / "bench-cache"

    @property
    def vectors_label(self) -> str:
        """How the synthetic chunks got their vectors, for table titles."""
        return "real embeddings" if self.embed else f"synthetic vectors = source chunk's real embedding + noise {NOISE}"

    def compose(self, total: int) -> tuple[list[Document], int]:
        """The corpus documents that fit in `total` chunks (in order, whole) and their chunk count;
        synthetic chunks fill the rest."""
        if total < 1:
            raise ConfigError(f"an index needs at least 1 chunk, got {total}")
        taken: list[Document] = []
        count = 0
        for doc, chunks in zip(self.documents, self.chunks_of, strict=True):
            if count + len(chunks) > total:
                break
            taken.append(doc)
            count += len(chunks)
        return taken, count

    def synthetic(self, count: int) -> tuple[list[Document], list[int]]:
        """`count` synthetic chunks in guides of `SECTIONS_PER_DOCUMENT` sections, each guide a
        variant of one corpus document (a chunk drawn at random, so documents weigh by their
        chunks); returns the documents and, per chunk in split order, its source corpus chunk."""
        rng = random.Random(self.seed)
        documents: list[Document] = []
        sources: list[int] = []
        for start in range(0, count, SECTIONS_PER_DOCUMENT):
            source = self._by_id[self.chunks[rng.randrange(len(self.chunks))].doc_id]
            own = self._rows_of[source.doc_id]
            picked = [rng.choice(own) for _ in range(min(SECTIONS_PER_DOCUMENT, count - start))]
            sections = [f"## {self.chunks[i].section or '正文'}\n{self._recombine(i, rng)}" for i in picked]
            number = len(documents)
            documents.append(Document(
                doc_id=f"synthetic-{self.seed}-{number:06d}", title=f"{source.title}（合成{number}）", kind="guide",
                similar=source.similar,  # as many names to read as the corpus's guides (vectors: the source's)
                body="\n\n".join(sections), source_path="synthetic", department=source.department,
                region=source.region, effective_date=source.effective_date, sample=True))
            sources += picked
        return documents, sources

    def grow(self, total: int, folder: Path) -> GrownIndex:
        """Build an index of exactly `total` chunks under `folder` with the product's indexer."""
        started = time.perf_counter()
        corpus, corpus_chunks = self.compose(total)
        count = total - corpus_chunks
        synthetic, sources = self.synthetic(count)
        fresh = [chunk for doc in synthetic for chunk in self.splitter.split(doc)]
        if len(fresh) != count:  # every synthetic section must make exactly one chunk
            raise IndexingError(f"synthetic documents split into {len(fresh)} chunks, expected {count}")
        if self.embed:
            vectors = embed_chunks(fresh, self.embedder, self.cache_dir, f"synthetic-{self.seed}", self.settings.batch_size)
        else:
            vectors = noised(self.vectors[sources], NOISE, self.seed)
        texts = [c.embed_text for c in self.chunks + fresh] + self.titles
        preset_vectors = [self.vectors, vectors, self.title_vectors]
        query_texts, query_vectors = list(self.titles), [self.title_queries]
        if not self.embed:  # a synthetic guide's title: its source document's title vectors, noised as its chunks
            row = {title: i for i, title in enumerate(self.titles)}
            source_rows = [row[self._by_id[self.chunks[sources[i * SECTIONS_PER_DOCUMENT]].doc_id].title]
                           for i in range(len(synthetic))]
            texts += [doc.title for doc in synthetic]
            query_texts += [doc.title for doc in synthetic]
            preset_vectors.append(noised(self.title_vectors[source_rows], NOISE, self.seed))
            query_vectors.append(noised(self.title_queries[source_rows], NOISE, self.seed))
        preset = PresetEmbedder(self.embedder, texts, np.vstack(preset_vectors), query_texts, np.vstack(query_vectors))
        scratch = self.settings.model_copy(update={"data_dir": folder, "chroma_url": None})
        indexer = Indexer(ChromaStore.connect(scratch), preset, self.splitter, scratch.index_dir, scratch.index_name,
                          BUILD_BATCH)
        indexer.run(corpus + synthetic)
        return GrownIndex(scratch, corpus_chunks, count, time.perf_counter() - started, preset.embedded)

    @contextmanager
    def grown(self, total: int) -> Iterator[GrownIndex]:
        """`grow` into a temporary folder, removed afterwards."""
        with tempfile.TemporaryDirectory(prefix="zhengwu-scale-") as folder:
            yield self.grow(total, Path(folder))

    def _recombine(self, index: int, rng: random.Random) -> str:
        own = self._sentences[index] or [self.chunks[index].text[: self.splitter.max_chars]]
        kept = [s for s in own if rng.random() > 0.2] or own[:1]
        kept.append(rng.choice(self._pool))
        text = ""
        for sentence in kept:
            joined = text + ("" if not text or text[-1] in "。！？；" else "\n") + sentence
            if len(joined) > self.splitter.max_chars:
                break
            text = joined
        return text or own[0][: self.splitter.max_chars]


def noised(vectors: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """Each unit vector plus Gaussian noise of expected norm `noise`, renormalised."""
    rng = np.random.default_rng(seed)
    jitter = rng.standard_normal(vectors.shape, dtype=np.float32) * np.float32(noise / np.sqrt(vectors.shape[1]))
    out = vectors.astype(np.float32) + jitter
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def _sentences(text: str) -> list[str]:
    """Sentences and list lines of a chunk; headings (`#`) are left out so no section is opened."""
    return [s.strip() for s in SENTENCE.findall(text) if len(s.strip()) >= 4 and not s.strip().startswith("#")]


# --- the scale benchmark ------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalePoint:
    index: GrownIndex
    serving: Serving

    def as_json(self) -> dict[str, float | int]:
        answer = self.serving.answer
        return {"chunks": self.index.chunks, "corpus_chunks": self.index.corpus, "synthetic": self.index.synthetic,
                "p50_ms": answer.p50_ms, "p95_ms": answer.p95_ms, "p99_ms": answer.p99_ms,
                "ask_p95_ms": self.serving.ask.p95_ms, "rss_mb": self.serving.rss_mb,
                "rss_baseline_mb": self.serving.rss_baseline_mb, "rss_growth_mb": self.serving.rss_growth_mb,
                "build_s": round(self.index.seconds, 1)}


def measure_scale(grower: IndexGrower, sizes: list[int], questions: list[str],
                  on_point: Callable[[ScalePoint], None] | None = None) -> list[ScalePoint]:
    """For each size: grow an index of that many chunks, serve the questions in a fresh process."""
    points = []
    for size in sizes:
        with grower.grown(size) as index:
            point = ScalePoint(index, serve(index.settings, questions, floor=False))
        if on_point:
            on_point(point)
        points.append(point)
    return points


def print_scale(points: list[ScalePoint], grower: IndexGrower, threads: int) -> None:
    table = Table(title=f"scale: answer latency (extractive path), process RSS and its growth over no index · "
                        f"{grower.embedder.key} · {threads} thread(s) · {grower.vectors_label}")
    for column in ("chunks", "p50 ms", "p95 ms", "p99 ms", "RSS MiB", "growth MiB", "build s"):
        table.add_column(column, justify="right", no_wrap=column == "chunks")
    for point in points:
        row = point.as_json()
        table.add_row(f"{row['chunks']:,}", f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}", f"{row['p99_ms']:.1f}",
                      f"{row['rss_mb']:.0f}", f"{row['rss_growth_mb']:.0f}", f"{row['build_s']:.0f}")
    Console().print(table)


def plot_scale(points: list[ScalePoint], path: Path, title: str) -> Path:
    """Answer p95 and process RSS against the number of chunks (log x), with the goals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = [p.index.chunks for p in points]
    figure, (latency, memory) = plt.subplots(1, 2, figsize=(10, 3.8))
    latency.plot(chunks, [p.serving.answer.p95_ms for p in points], marker="o", label="answer p95")
    latency.plot(chunks, [p.serving.ask.p95_ms for p in points], marker="s", linestyle=":", label="with rewrite p95")
    latency.axhline(300, color="grey", linestyle="--", linewidth=1, label="goal at 100k: 300 ms")
    latency.axhline(150, color="grey", linestyle=":", linewidth=1, label="goal at 10k: 150 ms")
    latency.set_ylabel("ms")
    memory.plot(chunks, [p.serving.rss_mb for p in points], marker="o", label="process RSS")
    memory.plot(chunks, [p.serving.rss_growth_mb for p in points], marker="s", linestyle=":", label="growth over no index")
    memory.axhline(2048, color="grey", linestyle="--", linewidth=1, label="goal at 100k: 2 GiB")
    memory.set_ylabel("MiB")
    for axes in (latency, memory):
        axes.set_xscale("log")
        axes.set_xlabel("chunks in the index")
        axes.set_ylim(bottom=0)
        axes.legend(fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
