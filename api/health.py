"""`GET /healthz`: is an index live, how big is it, which embedder and store serve it (and the
second embedder's index, when one is set)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.dependencies import SettingsDep, StoreDep, index_key
from api.schemas import Health
from assistant.catalog import open_manifest

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health,
            responses={503: {"model": Health, "description": "No index yet (status no_index)"}})
def healthz(settings: SettingsDep, store: StoreDep) -> JSONResponse | Health:
    """200 with document and chunk counts when an index is live; 503 with status no_index before."""
    key = index_key(settings)
    live = store.live(key)
    second = settings.second_embedder
    second_live = store.live(index_key(settings, second)) if second else None
    if live is None:
        body = Health(status="no_index", index_loaded=False, index=key, collection=None, documents=0, chunks=0,
                      embedder=settings.embedder, store=store.description, second_embedder=second,
                      second_collection=second_live)
        return JSONResponse(body.model_dump(), status_code=503)
    documents = open_manifest(settings.index_dir, store, live)
    return Health(status="ok", index_loaded=True, index=key, collection=live, documents=len(documents),
                  chunks=sum(len(d.chunk_ids) for d in documents.values()), embedder=settings.embedder,
                  store=store.description, second_embedder=second, second_collection=second_live)
