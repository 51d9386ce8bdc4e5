"""Staff endpoints behind `X-Staff-Key`: documents (list, upload, delete) and re-indexing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.dependencies import ReindexJobDep, SettingsDep, StoreDep, UploadsDep, index_key, require_staff
from api.schemas import (
    DeleteResult,
    DocumentList,
    DocumentOut,
    ReindexStatusOut,
    SecondIndexOut,
    UploadResult,
    error_responses,
)
from assistant.answering import Thresholds
from assistant.catalog import DocEntry, open_manifest
from assistant.settings import Settings
from assistant.store import ChromaStore
from assistant.errors import DocumentConflictError, DocumentNotFoundError
from indexer.reindex import Uploads

router = APIRouter(prefix="/v1/staff", tags=["staff"], dependencies=[Depends(require_staff)],
                   responses=error_responses(401, 403, 500, 503))

DocId = Annotated[str, Path(min_length=1, max_length=200, description="The document id (front-matter `id`).")]


@router.get("/documents", response_model=DocumentList)
def list_documents(settings: SettingsDep, store: StoreDep, uploads: UploadsDep) -> DocumentList:
    """Every indexed document (and uploads not yet indexed), with freshness and chunk counts."""
    collection, entries = _live_manifest(settings, store)
    metadata = _first_chunk_metadata(store, collection, entries)
    uploaded = uploads.documents()
    today = dt.date.today()
    documents = []
    for doc_id, entry in sorted(entries.items()):
        meta = metadata.get(doc_id, {})
        effective, expires = str(meta.get("effective_date", "")), str(meta.get("expires", ""))
        from_upload = uploads.holds(entry.source_path) if entry.source_path else doc_id in uploaded
        documents.append(DocumentOut(doc_id=doc_id, title=entry.title, kind=entry.kind, effective_date=effective,
                                     expires=expires, stale=is_stale(effective, expires, today),
                                     chunks=len(entry.chunk_ids), source="upload" if from_upload else "corpus",
                                     indexed=True, file=entry.source_path))
    for doc_id, (name, doc) in sorted(uploaded.items()):
        if doc_id not in entries:
            documents.append(DocumentOut(doc_id=doc_id, title=doc.title, kind=doc.kind, effective_date=doc.effective_date,
                                         expires=doc.expires, stale=is_stale(doc.effective_date, doc.expires, today),
                                         chunks=0, source="upload", indexed=False, file=name))
    return DocumentList(collection=collection, total=len(documents), documents=documents,
                        second_index=_second_index(settings, store, entries))


@router.post("/documents", status_code=201, response_model=UploadResult, responses=error_responses(400, 409, 413, 422))
async def upload_document(file: UploadFile, settings: SettingsDep, store: StoreDep, uploads: UploadsDep) -> UploadResult:
    """Upload one `.md` (front matter, see corpus/README.md) or `.jsonl` file. It is checked with the
    loaders first; a file they reject is not kept. Re-index to make it answerable."""
    data = await file.read(uploads.max_bytes + 1)
    taken = await run_in_threadpool(_corpus_ids, settings, store, uploads)
    stored = await run_in_threadpool(uploads.save, file.filename or "", data, taken)
    return UploadResult(file=stored.name, doc_ids=list(stored.doc_ids), size=stored.size,
                        message=f"已保存 {len(stored.doc_ids)} 篇文档；重新索引后生效（POST /v1/staff/reindex）。")


@router.delete("/documents/{doc_id}", response_model=DeleteResult, responses=error_responses(404, 409, 422))
def delete_document(doc_id: DocId, settings: SettingsDep, store: StoreDep, uploads: UploadsDep) -> DeleteResult:
    """Delete an uploaded document (corpus documents cannot be deleted here: 409). Re-index to drop it
    from the answers."""
    try:
        name = uploads.delete(doc_id)
    except DocumentNotFoundError:
        entry = _live_manifest(settings, store)[1].get(doc_id)
        if entry is not None and not (entry.source_path and uploads.holds(entry.source_path)):
            raise DocumentConflictError(f"《{entry.title}》({doc_id}) comes from the shipped corpus ({entry.source_path}), "
                                        "not from an upload; change the corpus and re-index instead") from None
        raise
    return DeleteResult(doc_id=doc_id, file=name, message="已删除；重新索引后不再用于回答（POST /v1/staff/reindex）。")


@router.post("/reindex", status_code=202, response_model=ReindexStatusOut, responses=error_responses(409, 422))
def start_reindex(job: ReindexJobDep, rebuild: Annotated[bool, Query(description="Re-embed every document.")] = False
                  ) -> ReindexStatusOut:
    """Start an incremental re-index of the corpus and the uploads in the background (409 while one runs)."""
    return ReindexStatusOut.of(job.start(rebuild=rebuild))


@router.get("/reindex", response_model=ReindexStatusOut)
def reindex_status(job: ReindexJobDep) -> ReindexStatusOut:
    """The state of the last re-index run and its summary."""
    return ReindexStatusOut.of(job.status())


def is_stale(effective_date: str, expires: str, today: dt.date, max_age_years: int = Thresholds().max_age_years) -> bool:
    """Expired, or in force for longer than the answerer's freshness limit."""
    if expires and expires < today.isoformat():
        return True
    try:
        oldest = today.replace(year=today.year - max_age_years)
    except ValueError:  # 29 February
        oldest = today.replace(year=today.year - max_age_years, day=28)
    return bool(effective_date) and effective_date < oldest.isoformat()


def _live_manifest(settings: Settings, store: ChromaStore) -> tuple[str | None, dict[str, DocEntry]]:
    collection = store.live(index_key(settings))
    return collection, open_manifest(settings.index_dir, store, collection) if collection else {}


def _second_index(settings: Settings, store: ChromaStore, entries: dict[str, DocEntry]) -> SecondIndexOut | None:
    """The second embedder's index beside the answering one's documents (`entries`)."""
    if not settings.second_embedder:
        return None
    collection = store.live(index_key(settings, settings.second_embedder))
    held = open_manifest(settings.index_dir, store, collection) if collection else {}
    behind = sorted(doc_id for doc_id in entries.keys() | held.keys()  # missing, extra or another version
                    if doc_id not in held or doc_id not in entries or held[doc_id].doc_hash != entries[doc_id].doc_hash)
    return SecondIndexOut(embedder=settings.second_embedder, collection=collection, documents=len(held), behind=behind)


def _first_chunk_metadata(store: ChromaStore, collection: str | None,
                          entries: dict[str, DocEntry]) -> dict[str, dict[str, object]]:
    ids = [entry.chunk_ids[0] for entry in entries.values() if entry.chunk_ids]
    if collection is None or not ids:
        return {}
    return {str(chunk.metadata.get("doc_id")): dict(chunk.metadata) for chunk in store.fetch(collection, ids)}


def _corpus_ids(settings: Settings, store: ChromaStore, uploads: Uploads) -> dict[str, str]:
    """Ids of indexed documents that are not uploads, with where they come from."""
    entries = _live_manifest(settings, store)[1]
    return {doc_id: entry.source_path or "the corpus" for doc_id, entry in entries.items()
            if not (entry.source_path and uploads.holds(entry.source_path))}
