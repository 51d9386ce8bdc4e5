"""The on-disk companion of one index generation, kept in step with its Chroma collection.

`data/index/<collection>/` holds the manifest (which documents, with which content hash, made which
chunks), every chunk's text and metadata, the BM25 index over the same chunks and the documents'
names — titles and similar questions (`Catalog.names`) — embedded by the index's embedder, as passages
(for the answerer's "same matter?" check) and as queries (for retrieval's title order). It is written
to a temporary folder and renamed into place before the generation is switched in, so a reader
finds either a complete catalog or none. When it is missing (a Chroma server indexed from another
host, or a crash after the switch), it is rebuilt from the collection itself.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.documents import SIMILAR_SEPARATOR, Scalar, embed_text
from assistant.errors import StoreError
from assistant.lexical import LexicalIndex, tokenize
from assistant.store import ChromaStore, StoredChunk

MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
TITLES = "titles.npz"
log = logging.getLogger("zhengwu.catalog")


@dataclass(frozen=True)
class DocEntry:
    doc_hash: str
    chunk_ids: list[str]
    title: str
    kind: str
    source_path: str


@dataclass
class Catalog:
    collection: str
    documents: dict[str, DocEntry]
    chunks: dict[str, StoredChunk]
    lexical: LexicalIndex
    # the documents' names (titles and similar questions, `names`) embedded as passages by the
    # index's embedder, name → unit vector (`assistant.titles`); empty for a catalog rebuilt from
    # the collection
    title_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    # the same names embedded as queries (the model's symmetric mode), for retrieval's title order
    title_queries: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, collection: str, chunks: list[StoredChunk]) -> Catalog:
        """Manifest and BM25 derived from the chunks (their metadata carries doc id and hash)."""
        documents: dict[str, DocEntry] = {}
        ordered = sorted(chunks, key=lambda c: (str(c.metadata.get("doc_id")), int(c.metadata.get("chunk_no", 0))))
        for chunk in ordered:
            meta = chunk.metadata
            doc_id = str(meta["doc_id"])
            if doc_id not in documents:
                documents[doc_id] = DocEntry(
                    doc_hash=str(meta.get("doc_hash", "")),
                    chunk_ids=[],
                    title=str(meta.get("title", "")),
                    kind=str(meta.get("kind", "")),
                    source_path=str(meta.get("source_path", "")),
                )
            documents[doc_id].chunk_ids.append(chunk.chunk_id)
        lexical = LexicalIndex.build([c.chunk_id for c in ordered], [lexical_text(c) for c in ordered])
        return cls(collection, documents, {c.chunk_id: _without_embedding(c) for c in ordered}, lexical)

    def first_metadata(self, doc_id: str) -> dict[str, Scalar]:
        """The metadata of a document's first chunk (empty for an unknown document)."""
        entry = self.documents.get(doc_id)
        first = self.chunks.get(entry.chunk_ids[0]) if entry is not None and entry.chunk_ids else None
        return first.metadata if first is not None else {}

    def document_chunks(self, doc_id: str) -> list[StoredChunk]:
        """A document's chunks in order (none for an unknown document)."""
        entry = self.documents.get(doc_id)
        return [self.chunks[c] for c in entry.chunk_ids if c in self.chunks] if entry is not None else []

    def document_text(self, doc_id: str) -> str:
        """A document's title, tags and text, as the catalog holds them."""
        entry = self.documents.get(doc_id)
        chunks = self.document_chunks(doc_id)
        tags = str(chunks[0].metadata.get("tags", "")) if chunks else ""
        return " ".join([entry.title if entry else "", tags, *(c.text for c in chunks)])

    @cached_property
    def document_texts(self) -> dict[str, str]:
        """Every document's `document_text`, built once per catalog (one per index generation)."""
        return {doc_id: self.document_text(doc_id) for doc_id in self.documents}

    @cached_property
    def matter_families(self) -> dict[str, tuple[str, ...]]:
        """Per document, the documents on its matter: itself, what it rests on (an FAQ's guide) and
        the FAQs resting on either, in id order."""
        targets = {doc_id: [target for target, _ in rests_on(self.first_metadata(doc_id))] for doc_id in self.documents}
        resting: dict[str, list[str]] = {}
        for doc_id, rests in targets.items():
            for target in rests:
                resting.setdefault(target, []).append(doc_id)
        families = {}
        for doc_id in self.documents:
            near = {doc_id, *targets[doc_id]}
            family = near.union(*(resting.get(d, []) for d in near))
            families[doc_id] = tuple(sorted(d for d in family if d in self.documents))
        return families

    @cached_property
    def matter_names(self) -> dict[str, str]:
        """Per document, what the corpus calls the matter it is on: the titles and tags of its
        `matter_families` ("家里突然遇到大病或事故，能申请临时救助吗？" names 临时救助申请's matter too)."""
        heads = {doc_id: f"{entry.title} {self.first_metadata(doc_id).get('tags', '')}"
                 for doc_id, entry in self.documents.items()}
        return {doc_id: " ".join(heads[d] for d in family) for doc_id, family in self.matter_families.items()}

    def family_names(self, doc_id: str) -> list[str]:
        """The `names` (titles and similar questions) of a document's `matter_families` (none for an
        unknown document); `matter_names` is their titles and tags as one text."""
        return [name for d in self.matter_families.get(doc_id, ()) for name in self._names[d]]

    def names(self, doc_id: str) -> list[str]:
        """What a document is called: its title, then the similar questions it carries (相似问法:
        "身份证丢了咋补" beside 居民身份证补领); none for an unknown document."""
        return list(self._names.get(doc_id, ()))

    def withholding(self, doc_id: str, name: str) -> Catalog:
        """This catalog as if `doc_id` did not carry the similar question `name` (its title stays):
        for asking a document's similar questions back (`python -m eval asked-back`) without the
        question reading as one of its own names, nor, for an FAQ, as its BM25 text
        (`lexical_text`), which is re-indexed without it."""
        own = self._names.get(doc_id, ())
        if name not in own[1:]:
            raise ValueError(f"{name!r} is not a similar question of {doc_id}")
        kept = SIMILAR_SEPARATOR.join(other for other in own[1:] if other != name)
        chunks = dict(self.chunks)
        changed: dict[str, str] = {}  # chunk id -> its BM25 text, where that changed (an FAQ's)
        for chunk in self.document_chunks(doc_id):
            chunks[chunk.chunk_id] = StoredChunk(chunk.chunk_id, chunk.text, {**chunk.metadata, "similar": kept})
            text = lexical_text(chunks[chunk.chunk_id])
            if text != lexical_text(chunk):
                changed[chunk.chunk_id] = text
        lexical = self.lexical
        if changed:
            tokens = {**self._lexical_tokens, **{chunk_id: tokenize(text) for chunk_id, text in changed.items()}}
            lexical = LexicalIndex.from_tokens(self.lexical.ids, [tokens[chunk_id] for chunk_id in self.lexical.ids])
        return replace(self, chunks=chunks, lexical=lexical)

    @cached_property
    def _lexical_tokens(self) -> dict[str, list[str]]:
        """What BM25 was built from, chunk by chunk (`withholding` re-indexes with one chunk changed)."""
        return {chunk_id: tokenize(lexical_text(self.chunks[chunk_id])) if chunk_id in self.chunks else []
                for chunk_id in self.lexical.ids}

    @cached_property
    def _names(self) -> dict[str, tuple[str, ...]]:
        """Every document's `names`, read once per catalog (the title checks ask per question)."""
        return {doc_id: (entry.title, *similar_questions(self.first_metadata(doc_id)))
                for doc_id, entry in self.documents.items()}

    def all_names(self) -> list[str]:
        """Every document's `names`, each once, sorted: what the indexer embeds as titles."""
        return sorted({name for names in self._names.values() for name in names if name.strip()})

    @classmethod
    def rebuild_from_store(cls, store: ChromaStore, collection: str) -> Catalog:
        return cls.build(collection, list(store.fetch(collection)))

    def save(self, root: Path) -> Path:
        """Write atomically to `root/<collection>`."""
        final = root / self.collection
        temp = root / f"{self.collection}.tmp-{os.getpid()}"
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(parents=True)
        manifest = {"collection": self.collection, "documents": {k: asdict(v) for k, v in self.documents.items()}}
        _write(temp / MANIFEST, json.dumps(manifest, ensure_ascii=False))
        _write(
            temp / CHUNKS,
            "".join(
                json.dumps({"id": c.chunk_id, "text": c.text, "metadata": c.metadata}, ensure_ascii=False) + "\n"
                for c in self.chunks.values()
            ),
        )
        self.lexical.save(temp)
        with (temp / TITLES).open("wb") as handle:  # written even when empty: the index has been through this
            titles = list(self.title_vectors)
            queries = [self.title_queries[title] for title in titles if title in self.title_queries]
            np.savez(handle, titles=np.array(titles, dtype=str), vectors=_stack(list(self.title_vectors.values())),
                     queries=_stack(queries if len(queries) == len(titles) else []))
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(temp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(temp, final)
        _fsync_dir(root)
        return final

    @classmethod
    def load(cls, root: Path, collection: str) -> Catalog:
        folder = root / collection
        documents = read_manifest(root, collection)
        try:
            chunks: dict[str, StoredChunk] = {}
            with (folder / CHUNKS).open(encoding="utf-8") as handle:
                for line in handle:
                    row = json.loads(line)
                    chunks[row["id"]] = StoredChunk(row["id"], row["text"], row["metadata"])
        except (OSError, ValueError, KeyError) as exc:
            raise StoreError(f"cannot read the index catalog in {folder}: {exc}") from exc
        try:
            titles, queries = read_title_vectors(root, collection)
        except StoreError as exc:  # the title checks embed what they lack
            log.warning("%s; the titles will be embedded when first needed", exc)
            titles, queries = {}, {}
        return cls(collection, documents, chunks, LexicalIndex.load(folder), titles, queries)

    @classmethod
    def open(cls, root: Path, store: ChromaStore, collection: str) -> Catalog:
        """Load the catalog of `collection`, rebuilding and saving it if it is missing."""
        if (root / collection / MANIFEST).exists():
            return cls.load(root, collection)
        catalog = cls.rebuild_from_store(store, collection)
        catalog.save(root)
        return catalog


def read_manifest(root: Path, collection: str) -> dict[str, DocEntry]:
    """Only the manifest (documents, their hashes and chunk ids): cheap, no chunk texts or BM25."""
    path = root / collection / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        return {k: DocEntry(**v) for k, v in manifest["documents"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"cannot read the index manifest {path}: {exc}") from exc


def has_title_vectors(root: Path, collection: str, names: Iterable[str]) -> bool:
    """Whether `collection`'s catalog was written with vectors for every one of `names` (titles and
    similar questions), as passages and as queries: an index from before them, or a catalog rebuilt
    from a Chroma server (saved with none), was not."""
    try:
        passages, queries = read_title_vectors(root, collection)
    except StoreError:
        return False
    wanted = {name for name in names if name.strip()}
    return wanted <= passages.keys() and wanted <= queries.keys()


def read_title_vectors(root: Path, collection: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The title vectors saved with `collection`'s catalog, as passages and as queries (none when it
    has none; no queries in an index from before them)."""
    path = root / collection / TITLES
    if not path.exists():
        return {}, {}
    try:
        with np.load(path, allow_pickle=False) as saved:
            titles = [str(title) for title in saved["titles"]]
            queries = saved["queries"] if "queries" in saved.files else np.zeros((0, 0))
            return (dict(zip(titles, saved["vectors"].astype(np.float32))),
                    dict(zip(titles, queries.astype(np.float32))) if len(queries) == len(titles) else {})
    except (OSError, ValueError, KeyError) as exc:
        raise StoreError(f"cannot read the title vectors in {path}: {exc}") from exc


def _stack(vectors: list[np.ndarray]) -> np.ndarray:
    return np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)


def open_manifest(root: Path, store: ChromaStore, collection: str) -> dict[str, DocEntry]:
    """The manifest of `collection`, rebuilding the catalog from Chroma first if it is missing."""
    if (root / collection / MANIFEST).exists():
        return read_manifest(root, collection)
    return Catalog.open(root, store, collection).documents


def rests_on(metadata: dict[str, Scalar]) -> list[tuple[str, str]]:
    """An FAQ chunk's `rests_on` targets, as the splitter writes them ("doc#section,…"): (document
    id, section) pairs in order, the first the one it rests on most."""
    targets = str(metadata.get("rests_on", "")).split(",")
    return [(doc_id, section) for doc_id, _, section in (target.partition("#") for target in targets if target)]


def similar_questions(metadata: dict[str, Scalar]) -> list[str]:
    """A chunk's document's similar questions, as the splitter writes them (one per line)."""
    return [line for line in str(metadata.get("similar", "")).split(SIMILAR_SEPARATOR) if line.strip()]


def lexical_text(chunk: StoredChunk) -> str:
    """What BM25 reads of a chunk: title, section labels and text as embedded, and an FAQ's similar
    questions (one short chunk; a guide's are read by the title checks only). Dev half (session 15):
    passing 497 -> 506 of 548, with a guide's first chunk reading them too 502."""
    meta = chunk.metadata
    label = " ".join(str(p) for p in (meta.get("chapter", ""), meta.get("section", "")) if p)
    text = embed_text(str(meta.get("title", "")), str(meta.get("kind", "")), label, chunk.text)
    similar = similar_questions(meta) if meta.get("kind") == "faq" else []
    return "\n".join([text, *similar]) if similar else text  # a benchmark's records carry none


def _without_embedding(chunk: StoredChunk) -> StoredChunk:
    return chunk if chunk.embedding is None else StoredChunk(chunk.chunk_id, chunk.text, chunk.metadata)


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
