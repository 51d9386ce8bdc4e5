from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from assistant.embedders import Embedder
from assistant.settings import Settings
from tests.conftest import index_corpus


def test_healthz_reports_no_index_with_503(make_settings: Callable[..., Settings]) -> None:
    client = TestClient(create_app(make_settings()))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["index_loaded"] is False and response.json()["status"] == "no_index"


def test_healthz_reports_the_live_index(make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    settings = make_settings()
    index_corpus(settings, e5, tiny_corpus)
    body = TestClient(create_app(settings)).get("/healthz").json()
    assert body["status"] == "ok" and body["index_loaded"] is True
    assert (body["documents"], body["chunks"], body["embedder"]) == (4, 15, "e5")
    assert body["index"] == f"{settings.index_name}-e5"
