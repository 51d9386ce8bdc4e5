"""Re-indexing the corpus and the staff uploads; the uploads folder itself.

`reindex()` builds the `Indexer` the way `zhengwu index` does and runs it over `default_sources`
(the corpus folder and `data_dir/uploads`). `ReindexJob` runs it in a background thread, one run
at a time, and keeps the status of the last run. `Uploads` keeps staff files: a file is checked
with the real loaders before it is kept, and no name can place a file outside the folder.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Protocol

from assistant.documents import Document, relative_source
from assistant.catalog import open_manifest
from assistant.embedders import Embedder, Embedders, create_embedder, embedder_key
from assistant.errors import (
    ConfigError,
    DocumentConflictError,
    DocumentNotFoundError,
    IndexBusyError,
    IndexingError,
    InvalidUploadNameError,
    LoadError,
    UploadTooLargeError,
    ZhengwuError,
)
from assistant.settings import Settings
from assistant.store import ChromaStore
from indexer.indexing import IndexSummary, Indexer, ProgressCallback, index_lock
from indexer.loaders import DOCUMENT_SUFFIXES, LoadResult, load_file, load_paths
from indexer.records import iter_records
from indexer.splitter import Splitter

UPLOADS = "uploads"
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# Letters, digits, Han characters, '-', '_' and '.'; no separators, no leading dot or underscore
# (the loaders skip such files), no '..'.
SAFE_NAME = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff][0-9A-Za-z\u4e00-\u9fff_.-]{0,99}$")


def uploads_dir(settings: Settings) -> Path:
    return settings.data_dir / UPLOADS


def default_sources(settings: Settings) -> list[Path]:
    """The corpus folder, plus the staff uploads folder when it exists."""
    sources = [settings.corpus_dir]
    if uploads_dir(settings).is_dir():
        sources.append(uploads_dir(settings))
    return sources


def index_key(settings: Settings, embedder: str | None = None) -> str:
    """The key of the index an embedder (by default the settings' own, which answers) writes to,
    e.g. `zhengwu-e5`."""
    return f"{settings.index_name}-{embedder_key(embedder or settings.embedder)}"


def used_indexes(settings: Settings) -> set[str]:
    """The keys of the indexes the settings' embedders write."""
    return {index_key(settings)} | ({index_key(settings, settings.second_embedder)} if settings.second_embedder else set())


def unused_indexes(settings: Settings, store: ChromaStore) -> list[str]:
    """Indexes that look like this index name's but that neither of the settings' embedders writes:
    left when ZHENGWU_SECOND_EMBEDDER is removed or ZHENGWU_EMBEDDER changes. A guess from the
    shape `index_key` gives keys (`<index name>-e5`, `-use`, `-st-…`): another deployment whose
    index name begins with this one's (`zhengwu-st`) looks the same, so nothing is dropped unless
    named (`drop_index`)."""
    own = re.compile(rf"{re.escape(settings.index_name)}-(e5|use|st-[a-z0-9-]+)")
    used = used_indexes(settings)
    return [key for key in store.keys() if own.fullmatch(key) and key not in used]


def drop_index(settings: Settings, store: ChromaStore, key: str) -> None:
    """Drop the index `key`, which the settings must not use, under its indexing lock: its pointer
    first (nothing serves from it any more), then each generation's catalog folder and collection.
    A drop cut short is finished by the next: the collections left without a pointer still name
    the key (`ChromaStore.keys`)."""
    if key in used_indexes(settings):
        raise ConfigError(f"the index {key!r} is used by these settings; it is not dropped")
    with index_lock(settings.index_dir, key):
        store.forget(key)
        for collection in store.generations(key):
            shutil.rmtree(settings.index_dir / collection, ignore_errors=True)
            store.drop(collection)


def load_sources(sources: list[Path]) -> LoadResult:
    """Load as every re-index does (paths relative to the working directory, so the same files give
    the same document hashes wherever the paths point from)."""
    return load_paths(sources, root=Path.cwd())


def indexed_documents(settings: Settings, store: ChromaStore) -> list[Document]:
    """The corpus and upload documents the live index holds, as it holds them: a file saved but not
    indexed yet (or changed since) waits for the re-index that takes it in, so the bundles and the
    policy matcher never show what the answers cannot cite. Before the first index, every document
    on disk. A StoreError (the index unreadable) is raised, not remembered."""
    documents = load_sources(default_sources(settings)).documents
    live = store.live(index_key(settings))
    if live is None:
        return documents
    manifest = open_manifest(settings.index_dir, store, live)
    return [doc for doc in documents if doc.doc_id in manifest and manifest[doc.doc_id].doc_hash == doc.content_hash]


def reindex(
    settings: Settings,
    sources: list[Path] | None = None,
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    second_embedder: Embedder | None = None,
    on_progress: ProgressCallback | None = None,
    on_problem: Callable[[LoadError], None] | None = None,
) -> IndexSummary:
    """Load `sources` (default: `default_sources`) and bring the index in line with them.

    Files that cannot be loaded are passed to `on_problem` and skipped. With the default sources a
    missing corpus folder is an error: indexing without it would remove every corpus document. With
    `settings.second_embedder` the documents are indexed with it too, first, so that a failure
    there leaves the index answers come from as it was; the summary is the first embedder's.
    `embedder` and `second_embedder` are the loaded models to use (created from the settings when
    not given), so a long-running caller loads each once."""
    if sources is None:
        if not settings.corpus_dir.is_dir():
            raise IndexingError(f"the corpus folder {settings.corpus_dir} does not exist; nothing was indexed")
        sources = default_sources(settings)
    loaded = load_sources(sources)
    for problem in loaded.problems:
        if on_problem is not None:
            on_problem(problem)
    store = ChromaStore.connect(settings)

    def index_with(model: Embedder) -> IndexSummary:
        indexer = Indexer(store=store, embedder=model, splitter=Splitter(settings.chunk_chars, settings.chunk_overlap),
                          catalog_root=settings.index_dir, index_name=settings.index_name,
                          batch_size=settings.batch_size)
        return indexer.run(loaded.documents, rebuild=rebuild, on_progress=on_progress)

    second = None
    if settings.second_embedder:  # its index first: if it fails, the index answers are cited from is unchanged
        second = index_with(second_embedder or create_embedder(settings.second_embedder, settings.threads))
    return replace(index_with(embedder or create_embedder(settings.embedder, settings.threads)), second=second)


class ReindexRun(Protocol):
    def __call__(self, settings: Settings, sources: list[Path] | None = None, *, rebuild: bool = False,
                 embedder: Embedder | None = None, second_embedder: Embedder | None = None,
                 on_progress: ProgressCallback | None = None,
                 on_problem: Callable[[LoadError], None] | None = None) -> IndexSummary: ...


@dataclass(frozen=True)
class ReindexStatus:
    """The state of the last background run (`idle`: none has run in this process)."""

    state: Literal["idle", "running", "succeeded", "failed"] = "idle"
    rebuild: bool = False
    started_at: float | None = None  # Unix seconds
    finished_at: float | None = None
    chunks_done: int = 0
    chunks_total: int = 0
    summary: IndexSummary | None = None  # of the last run that succeeded (kept while a new one runs or fails)
    problems: tuple[str, ...] = ()  # files skipped by the loaders
    error: str = ""


class ReindexJob:
    """Runs `reindex` in a background thread; a second start while one runs is `IndexBusyError`."""

    def __init__(self, settings: Settings, run: ReindexRun = reindex, embedder: Embedder | None = None,
                 on_success: Callable[[], None] | None = None, embedders: Embedders | None = None) -> None:
        """`embedders`: the process's loaded models, shared with the answerer (the app passes its
        own); `embedder` overrides the answering index's model (tests)."""
        self.settings = settings
        self._on_success = on_success  # e.g. re-read the bundles and policies
        self._run = run
        self._lock = threading.Lock()
        self._status = ReindexStatus()
        self._thread: threading.Thread | None = None
        self._embedder = embedder
        self._embedders = embedders or Embedders(settings.threads)  # each loaded on the first run, then kept
        self._problems: list[str] = []

    def start(self, rebuild: bool = False) -> ReindexStatus:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise IndexBusyError("a re-index is already running; wait for it to finish (GET /v1/staff/reindex)")
            self._problems = []
            self._status = ReindexStatus(state="running", rebuild=rebuild, started_at=time.time(),
                                         summary=self._status.summary)
            self._thread = threading.Thread(target=self._work, args=(rebuild,), name="zhengwu-reindex", daemon=True)
            self._thread.start()
            return self._status

    def status(self) -> ReindexStatus:
        with self._lock:
            return replace(self._status, problems=tuple(self._problems))

    def wait(self, timeout: float | None = None) -> ReindexStatus:
        """Block until the current run (if any) has finished, or `timeout` seconds."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()

    def _work(self, rebuild: bool) -> None:
        try:
            embedder = self._embedder or self._embedders.get(self.settings.embedder)
            second = self._embedders.get(self.settings.second_embedder) if self.settings.second_embedder else None
            summary = self._run(self.settings, rebuild=rebuild, embedder=embedder, second_embedder=second,
                                on_progress=self._progress, on_problem=self._problem)
            if self._on_success is not None:
                self._on_success()
        except ZhengwuError as exc:
            self._finish(state="failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a background thread must always record how it ended
            self._finish(state="failed", error=f"unexpected {type(exc).__name__}: {exc}")
        else:
            self._finish(state="succeeded", summary=summary)

    def _progress(self, done: int, total: int) -> None:
        with self._lock:
            self._status = replace(self._status, chunks_done=done, chunks_total=total)

    def _problem(self, problem: LoadError) -> None:
        with self._lock:
            self._problems.append(str(problem))

    def _finish(self, state: Literal["succeeded", "failed"], summary: IndexSummary | None = None,
                error: str = "") -> None:
        with self._lock:
            self._status = replace(self._status, state=state, finished_at=time.time(), error=error,
                                   summary=summary or self._status.summary)


@dataclass(frozen=True)
class StoredUpload:
    """One kept upload: its file name and the documents it holds."""

    name: str
    doc_ids: tuple[str, ...]
    size: int


class Uploads:
    """Staff-uploaded source files in one folder, each checked with the loaders before it is kept."""

    def __init__(self, folder: Path, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> Uploads:
        return cls(uploads_dir(settings))

    def save(self, filename: str, data: bytes, taken: Mapping[str, str] | None = None) -> StoredUpload:
        """Validate and keep one file. `taken` maps doc ids used elsewhere (the corpus) to where.

        Raises `InvalidUploadNameError`, `UploadTooLargeError`, `LoadError` (the loaders' reason) or
        `DocumentConflictError`; in every such case nothing is left in the folder."""
        name = safe_name(filename)
        if len(data) > self.max_bytes:
            raise UploadTooLargeError(name, f"the file is too large ({len(data):,} bytes; the limit is {self.max_bytes:,})")
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = self.folder / f".incoming-{uuid.uuid4().hex}{Path(name).suffix}"
        try:
            _write(temp, data)
            loaded = load_file(temp)
            if loaded.problems:
                more = f" (and {len(loaded.problems) - 1} more problem(s))" if len(loaded.problems) > 1 else ""
                first = loaded.problems[0]
                raise LoadError(name, str(first).replace(str(temp), name).removeprefix(f"{name}: ") + more)
            if not loaded.documents:
                raise LoadError(name, "the file holds no documents")
            self._check_ids(name, [doc.doc_id for doc in loaded.documents], taken or {})
            os.replace(temp, self.folder / name)
        finally:
            temp.unlink(missing_ok=True)
        # Ids of law texts and code-less records derive from the source path: read them as indexed.
        kept = load_file(self.folder / name, root=Path.cwd())
        return StoredUpload(name, tuple(doc.doc_id for doc in kept.documents), len(data))

    def documents(self) -> dict[str, tuple[str, Document]]:
        """Every uploaded document by id, with the name of the file that holds it."""
        if not self.folder.is_dir():
            return {}
        loaded = load_sources([self.folder])  # as `reindex` loads: the same ids and hashes
        return {doc.doc_id: (Path(doc.source_path).name, doc) for doc in loaded.documents}

    def delete(self, doc_id: str) -> str:
        """Remove one uploaded document (its file, or its line of a `.jsonl` file); returns the file name."""
        found = self.documents().get(doc_id)
        if found is None:
            raise DocumentNotFoundError(f"no uploaded document with id {doc_id!r}")
        path = self.folder / found[0]
        if path.suffix == ".md":
            path.unlink()
            return path.name
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        numbered = [n for n, line in enumerate(lines) if line.strip()]
        items = list(iter_records(path, "\n".join(lines), relative_source(path, Path.cwd())))
        drop = {n for n, item in zip(numbered, items, strict=True) if isinstance(item, Document) and item.doc_id == doc_id}
        kept = [line for n, line in enumerate(lines) if n not in drop and line.strip()]
        if not kept:
            path.unlink()
            return path.name
        temp = path.with_name(f".rewrite-{uuid.uuid4().hex}{path.suffix}")
        _write(temp, ("\n".join(kept) + "\n").encode("utf-8"))
        os.replace(temp, path)
        return path.name

    def holds(self, source_path: str) -> bool:
        """Whether a document's `source_path` (as the loaders recorded it) lies in this folder."""
        path = Path(source_path)
        if not path.is_absolute():
            path = Path.cwd() / path
        return path.resolve().is_relative_to(self.folder.resolve())

    def _check_ids(self, name: str, doc_ids: list[str], taken: Mapping[str, str]) -> None:
        for doc_id in doc_ids:
            if doc_id in taken:
                raise DocumentConflictError(f"{name}: the id {doc_id!r} is already used by {taken[doc_id]}")
        for doc_id, (other, _) in self.documents().items():
            if doc_id in doc_ids and other != name:
                raise DocumentConflictError(f"{name}: the id {doc_id!r} is already used by the upload {other}")


def safe_name(filename: str) -> str:
    """The file name itself if it is a plain `.md`/`.jsonl` name that stays inside the folder."""
    if not filename or "/" in filename or "\\" in filename or "\x00" in filename or ".." in filename:
        raise InvalidUploadNameError(filename or "(no name)", "the file name must be a plain name without folders or '..'")
    if not SAFE_NAME.match(filename):
        raise InvalidUploadNameError(filename, "the file name may hold only letters, digits, Chinese characters, "
                                     "'-', '_' and '.', and must not start with '.' or '_'")
    if Path(filename).suffix not in DOCUMENT_SUFFIXES or filename == "README.md":
        raise InvalidUploadNameError(filename, "only .md and .jsonl documents can be uploaded (and not README.md)")
    return filename


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
