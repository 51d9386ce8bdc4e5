"""The vector store: Chroma, embedded (`PersistentClient`) or a server (`chroma run`).

This module is the only one that imports chromadb; its errors become `StoreError` here.

An index is a series of *generations*: each indexing run that changes anything writes a complete
new collection, then switches a pointer to it. The pointers live in Chroma itself, one record per
index key in a small registry collection, so a switch is one atomic write that touches no other
key's pointer: processes on several hosts sharing one Chroma server need no lock between them, and
readers never see a half-built index. Embeddings are always computed by us: no collection has an
embedding function, and the store never sends text to Chroma for embedding (Chroma would download a
model); a pointer record carries a fixed one-number vector, as Chroma wants one per record.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings

from assistant.documents import Scalar
from assistant.errors import ConfigError, IndexNotFoundError, StoreError
from assistant.settings import Settings

REGISTRY = "zhengwu-registry"
REGISTRY_METADATA = {"purpose": "zhengwu index registry"}
POINTER_VECTOR = [1.0]  # every pointer record's embedding: the registry is never queried by vector
PAGE = 1000
NAME_OK = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,200}[a-zA-Z0-9]$")
GENERATION = re.compile(r"^(.+)-g\d{20}$")  # `create_generation`'s names: the key and a microsecond stamp


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    text: str
    metadata: dict[str, Scalar]
    embedding: list[float] | None = None


@dataclass(frozen=True)
class DenseHit:
    chunk_id: str
    score: float  # cosine similarity
    text: str
    metadata: dict[str, Scalar]


class ChromaStore:
    """Generations of one or more indexes in one Chroma database, and the registry of which
    generation serves each index key: one record per key (id = the key, metadata
    `{"collection": name}`), so writes for different keys never meet, whichever process or host
    makes them. Older databases kept every pointer in the registry collection's metadata; reads
    still see those (a record wins) and the first change moves them into records (`_registry_to_change`)."""

    def __init__(self, client: Any, description: str) -> None:
        self._client = client
        self.description = description
        self._collections: dict[str, Any] = {}
        self._registry_handle: Any = None
        self._migrated = False
        self._migrating = threading.Lock()  # threads of this process move the legacy pointers once

    @classmethod
    def connect(cls, settings: Settings) -> ChromaStore:
        """Embedded under `settings.chroma_path`, or the server at `settings.chroma_url`."""
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if settings.chroma_url:
                url = urlparse(settings.chroma_url)
                if not url.hostname:
                    raise ConfigError(f"ZHENGWU_CHROMA_URL has no host: {settings.chroma_url!r}")
                client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
                return cls(client, f"Chroma server {settings.chroma_url}")
            settings.chroma_path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
            return cls(client, f"embedded Chroma at {settings.chroma_path}")
        except ConfigError:
            raise
        except Exception as exc:  # chromadb raises many types (httpx, ValueError, its own errors)
            raise StoreError(f"cannot open Chroma ({settings.chroma_url or settings.chroma_path}): {exc}") from exc

    # --- the pointer -------------------------------------------------------------------------

    def live(self, index_key: str) -> str | None:
        """The collection currently serving `index_key`, or None if none was ever switched in."""
        registry = self._registry()
        got = self._call("read the index registry", lambda: registry.get(ids=[index_key], include=["metadatas"]))
        if got["ids"]:
            return _pointer(got["metadatas"][0])
        return self._legacy_pointers().get(index_key)

    def require_live(self, index_key: str) -> str:
        name = self.live(index_key)
        if name is None:
            raise IndexNotFoundError(f"no index named {index_key!r} yet: run `zhengwu index` first")
        return name

    def switch(self, index_key: str, collection: str) -> None:
        """Point `index_key` at `collection` in one write: an upsert of that key's record alone."""
        registry = self._registry_to_change()
        self._call(
            "switch the live index",
            lambda: registry.upsert(
                ids=[index_key], embeddings=[POINTER_VECTOR], metadatas=[{"collection": collection}]
            ),
        )

    def keys(self) -> list[str]:
        """Every index key the registry points at or a collection was made for (a run or a drop cut
        short can leave collections without a pointer)."""
        registry = self._registry()
        got = self._call("read the index registry", lambda: registry.get(include=["metadatas"]))
        pointed = {key for key, metadata in zip(got["ids"], got["metadatas"], strict=True) if _pointer(metadata)}
        pointed |= set(self._legacy_pointers()) - set(got["ids"])
        names = self._call("list collections", lambda: [c.name for c in self._client.list_collections()])
        made = {m.group(1) for m in map(GENERATION.match, names) if m}
        return sorted(pointed | made)

    def forget(self, index_key: str) -> None:
        """Remove `index_key`'s pointer: nothing is served from it any more (a legacy pointer was
        made a record by `_registry_to_change`, so deleting the record removes it too)."""
        registry = self._registry_to_change()
        self._call("forget an index", lambda: registry.delete(ids=[index_key]))

    # --- generations --------------------------------------------------------------------------

    def create_generation(self, index_key: str) -> str:
        if not NAME_OK.match(index_key):
            raise ConfigError(f"index name must use letters, digits, '.', '_' or '-', got {index_key!r}")
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S%f")
        name = f"{index_key}-g{stamp}"
        self._collections[name] = self._call(
            f"create collection {name}",
            lambda: self._client.create_collection(
                name, embedding_function=None, metadata={"hnsw:space": "cosine", "index_key": index_key}
            ),
        )
        return name

    def generations(self, index_key: str) -> list[str]:
        """Every collection of `index_key`, live or left over from an interrupted run (not those of
        a longer key it begins: `zhengwu-st-m3e-small-gte-…` is not `zhengwu-st-m3e-small`'s)."""
        names = self._call("list collections", lambda: [c.name for c in self._client.list_collections()])
        return sorted(n for n in names if (m := GENERATION.match(n)) and m.group(1) == index_key)

    def drop(self, name: str) -> None:
        self._collections.pop(name, None)
        self._call(f"delete collection {name}", lambda: self._client.delete_collection(name))

    # --- data ---------------------------------------------------------------------------------

    def add(
        self,
        name: str,
        ids: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Scalar]],
    ) -> None:
        collection = self._collection(name)
        for start in range(0, len(ids), PAGE):
            end = start + PAGE
            self._call(
                f"add to {name}",
                lambda: collection.add(
                    ids=list(ids[start:end]),
                    embeddings=[list(map(float, e)) for e in embeddings[start:end]],
                    documents=list(texts[start:end]),
                    metadatas=[dict(m) for m in metadatas[start:end]],
                ),
            )

    def fetch(self, name: str, ids: Sequence[str] | None = None, *, embeddings: bool = False) -> Iterator[StoredChunk]:
        """Chunks of a collection (all of them when `ids` is None), a page at a time."""
        collection = self._collection(name)
        include = ["documents", "metadatas"] + (["embeddings"] if embeddings else [])
        if ids is None:
            total = self.count(name)
            pages = [dict(limit=PAGE, offset=offset) for offset in range(0, total, PAGE)]
        else:
            pages = [dict(ids=list(ids[i : i + PAGE])) for i in range(0, len(ids), PAGE)]
        for page in pages:
            got = self._call(f"read {name}", lambda: collection.get(include=include, **page))
            vectors = got.get("embeddings")
            for i, chunk_id in enumerate(got["ids"]):
                yield StoredChunk(
                    chunk_id=chunk_id,
                    text=got["documents"][i] or "",
                    metadata=dict(got["metadatas"][i] or {}),
                    embedding=[float(x) for x in vectors[i]] if vectors is not None else None,
                )

    def count(self, name: str) -> int:
        collection = self._collection(name)
        return int(self._call(f"count {name}", collection.count))

    def query(self, name: str, embedding: Sequence[float], k: int, where: dict[str, Any] | None = None) -> list[DenseHit]:
        if k < 1:
            raise ValueError(f"k must be greater than 0, got {k}")
        collection = self._collection(name)
        got = self._call(
            f"query {name}",
            lambda: collection.query(
                query_embeddings=[list(map(float, embedding))],
                n_results=k,
                where=where or None,
                include=["documents", "metadatas", "distances"],
            ),
        )
        return [
            DenseHit(chunk_id=cid, score=1.0 - float(dist), text=text or "", metadata=dict(meta or {}))
            for cid, dist, text, meta in zip(
                got["ids"][0], got["distances"][0], got["documents"][0], got["metadatas"][0], strict=True
            )
        ]

    # --- internals ----------------------------------------------------------------------------

    def _registry(self, *, fresh: bool = False) -> Any:
        """The registry collection, opened once (records are read through the handle, so a read
        of a pointer is one call); `fresh` opens it again for its current metadata."""
        if fresh or self._registry_handle is None:
            self._registry_handle = self._call(
                "open the index registry",
                lambda: self._client.get_or_create_collection(
                    REGISTRY, embedding_function=None, metadata=dict(REGISTRY_METADATA)
                ),
            )
        return self._registry_handle

    def _legacy_pointers(self) -> dict[str, str]:
        """Pointers an older version kept in the registry collection's metadata (every key but
        "purpose"); empty once they have been moved into records."""
        metadata = self._registry(fresh=True).metadata or {}
        return {str(key): str(value) for key, value in metadata.items() if key not in REGISTRY_METADATA and value}

    def _registry_to_change(self) -> Any:
        """The registry, once its legacy pointers are records: the first change through this
        store moves each legacy pointer into a record (`add` keeps a record that already exists,
        so a pointer switched since wins), then rewrites the collection metadata to
        `REGISTRY_METADATA` alone.

        The move happens on the first change, not on opening, so that reading stays read-only and
        one call per pointer: a process that only answers questions never writes, and reads see
        legacy pointers anyway. The move itself is a one-off read-modify-write of the metadata:
        a pointer another host forgets between our read and our `add` comes back, and a pointer
        an older version writes into the metadata meanwhile is lost. Upgrade every host sharing a
        Chroma server together; after the first change the metadata holds no pointers, and the
        move costs one read per store."""
        with self._migrating:
            if not self._migrated:
                legacy = self._legacy_pointers()
                registry = self._registry()
                if legacy:
                    self._call(
                        "move legacy pointers into the index registry",
                        lambda: registry.add(
                            ids=list(legacy),
                            embeddings=[POINTER_VECTOR] * len(legacy),
                            metadatas=[{"collection": name} for name in legacy.values()],
                        ),
                    )
                    self._call(
                        "rewrite the index registry's metadata",
                        lambda: registry.modify(metadata=dict(REGISTRY_METADATA)),
                    )
                self._migrated = True
        return self._registry()

    def _collection(self, name: str) -> Any:
        if name not in self._collections:
            self._collections[name] = self._call(
                f"open collection {name}",
                lambda: self._client.get_collection(name, embedding_function=None),
            )
        return self._collections[name]

    @staticmethod
    def _call(what: str, action: Any) -> Any:
        try:
            return action()
        except Exception as exc:  # the one boundary where chromadb's errors are translated
            raise StoreError(f"Chroma could not {what}: {exc}") from exc


def _pointer(metadata: Any) -> str | None:
    """The collection a pointer record names, or None for an empty one."""
    name = (metadata or {}).get("collection")
    return str(name) if name else None
