"""`create_app(settings)`: the FastAPI application served by `zhengwu serve`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from assistant.catalog import open_manifest
from assistant.embedders import embedder_key
from assistant.errors import IndexNotFoundError, StoreError, ZhengwuError
from assistant.settings import Settings
from assistant.store import ChromaStore


class Health(BaseModel):
    status: str
    index_loaded: bool
    index: str
    collection: str | None
    documents: int
    chunks: int
    embedder: str
    store: str


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="政务问答助手 Zhengwu", version="0.1.0",
                  description="Cited answers about government services and policies.")
    app.state.settings = settings
    app.state.store = ChromaStore.connect(settings)

    @app.exception_handler(ZhengwuError)
    async def _zhengwu_error(_: Request, exc: ZhengwuError) -> JSONResponse:
        status = 503 if isinstance(exc, StoreError) else 500
        return JSONResponse({"error": type(exc).__name__, "message": str(exc)}, status_code=status)

    @app.get("/healthz", response_model=Health)
    def healthz(store: Annotated[ChromaStore, Depends(_store)]) -> JSONResponse | Health:
        index_key = f"{settings.index_name}-{embedder_key(settings.embedder)}"
        try:
            live = store.require_live(index_key)
        except IndexNotFoundError:
            body = Health(status="no_index", index_loaded=False, index=index_key, collection=None, documents=0,
                          chunks=0, embedder=settings.embedder, store=store.description)
            return JSONResponse(body.model_dump(), status_code=503)
        documents = open_manifest(settings.index_dir, store, live)
        return Health(status="ok", index_loaded=True, index=index_key, collection=live, documents=len(documents),
                      chunks=sum(len(d.chunk_ids) for d in documents.values()), embedder=settings.embedder,
                      store=store.description)

    return app


def _store(request: Request) -> ChromaStore:
    return request.app.state.store
