from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from assistant.embedders import Embedder
from assistant.settings import Settings
from assistant.store import ChromaStore
from indexer.indexing import Indexer
from indexer.loaders import load_paths
from indexer.splitter import Splitter


def test_healthz_reports_no_index_with_503(make_settings: Callable[..., Settings]) -> None:
    client = TestClient(create_app(make_settings()))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["index_loaded"] is False and response.json()["status"] == "no_index"


def test_healthz_reports_the_live_index(make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    settings = make_settings()
    store = ChromaStore.connect(settings)
    Indexer(store, e5, Splitter(), settings.index_dir, settings.index_name).run(load_paths([tiny_corpus]).documents)
    body = TestClient(create_app(settings)).get("/healthz").json()
    assert body["status"] == "ok" and body["index_loaded"] is True
    assert (body["documents"], body["chunks"], body["embedder"]) == (4, 15, "e5")
    assert body["index"] == f"{settings.index_name}-e5"
