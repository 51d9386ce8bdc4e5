import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.schemas import AskResponse
from api.staff import list_documents
from assistant.answer import Answer
from assistant.answering import ExtractiveAnswerer, Thresholds
from assistant.embedders import Embedder
from assistant.errors import StoreError
from assistant.privacy import ID_CARD_MASK, MOBILE_MASK, NAME_MASK
from assistant.query import QueryNormalizer
from assistant.retrieval import HybridRetriever
from assistant.scope import ScopeChecker
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import ChromaStore
from indexer.indexing import IndexSummary
from indexer.loaders import load_paths
from indexer.reindex import ReindexJob, Uploads, reindex
from tests.conftest import DOG_GUIDE, GUIDE_IDCARD, index_corpus, write_tiny_corpus
from tests.test_matcher import POLICY
from web.staff import describe_second_index

STAFF_KEY = "s3cret-staff-key"
STAFF = {"X-Staff-Key": STAFF_KEY}


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
    assert body["index"] == f"{settings.index_name}-e5" and body["second_embedder"] is None
    with_second = settings.model_copy(update={"second_embedder": "use"})  # set, not indexed with yet: two lists fused
    body = TestClient(create_app(with_second)).get("/healthz").json()
    assert body["status"] == "ok" and body["second_embedder"] == "use" and body["second_collection"] is None


def build_assistant(settings: Settings, embedder: Embedder, corpus: Path) -> Assistant:
    """The real extractive assistant over `corpus`, indexed into `settings`' store."""
    store = index_corpus(settings, embedder, corpus).store
    normalizer = QueryNormalizer([], [])
    retriever = HybridRetriever(store, embedder, normalizer, settings.index_dir, settings.index_name)
    return Assistant(ExtractiveAnswerer(retriever, normalizer, ScopeChecker.load(), Thresholds()))


def settings_over(data_dir: Path, corpus: Path, index_name: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": str(data_dir), "corpus_dir": str(corpus), "index_name": index_name,
                              "threads": 1, "staff_key": STAFF_KEY}
    values.update(overrides)
    return Settings.from_environ({}, **values)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, e5: Embedder) -> tuple[Path, Path, str, Assistant]:
    """The tiny corpus indexed once for the module: (data dir, corpus, index name, assistant)."""
    root = tmp_path_factory.mktemp("api")
    corpus = write_tiny_corpus(root / "corpus")
    name = f"t{uuid.uuid4().hex[:10]}"
    assistant = build_assistant(settings_over(root / "data", corpus, name), e5, corpus)
    return root / "data", corpus, name, assistant


@pytest.fixture
def app_for(indexed: tuple[Path, Path, str, Assistant]) -> Callable[..., TestClient]:
    """A client of a fresh app over the shared index (settings overrides allowed)."""
    data_dir, corpus, name, assistant = indexed

    def build(assistant_: Assistant | None = None, **overrides: Any) -> TestClient:
        settings = settings_over(data_dir, corpus, name, **overrides)
        return TestClient(create_app(settings, assistant_ or assistant))

    return build


@pytest.fixture
def client(app_for: Callable[..., TestClient]) -> TestClient:
    return app_for()


def events(text: str) -> list[tuple[str, Any]]:
    """Server-sent events as (event, parsed JSON data)."""
    parsed = []
    for chunk in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines())
        parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code and body["message"], body
    return body


def test_ask_returns_a_cited_answer(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "补办身份证的工本费是多少钱"})
    assert response.status_code == 200
    body = response.json()
    AskResponse.model_validate(body)
    assert len(body["answer_id"]) == 32 and body["conversation_id"] and body["latency_ms"] >= 0
    assert body["refused"] is False and body["handoff"] is not None and body["generator"] == "extractive"
    assert "40元" in body["answer"]["text"] and body["plain"] is None  # no rewriter wired in this assistant
    numbers = [c["number"] for c in body["citations"]]
    assert numbers == list(range(1, len(numbers) + 1))
    for block in body["answer"]["blocks"]:
        (number,) = block["citations"]
        cited = body["citations"][number - 1]
        assert cited["quote"] == block["text"]
        assert block["asked"] == (cited["title"] if cited["kind"] == "faq" else "")  # an FAQ's own question
    assert any(block["asked"] for block in body["answer"]["blocks"])
    first = body["citations"][0]
    assert first["doc_id"] in {"guide-idcard-replace", "faq-idcard-lost-fee"}
    assert first["effective_date"] == "2012-01-01" and first["source_url"].startswith("https://")


def test_follow_up_questions_continue_the_conversation(client: TestClient) -> None:
    first = client.post("/v1/ask", json={"question": "身份证丢了怎么补办"}).json()
    follow = client.post("/v1/ask", json={"question": "那要带什么材料？", "conversation_id": first["conversation_id"]}).json()
    assert follow["conversation_id"] == first["conversation_id"] and follow["answer_id"] != first["answer_id"]
    assert any(b["heading"] == "申请材料" and "居民户口簿" in b["text"] for b in follow["answer"]["blocks"])
    assert_error(client.post("/v1/ask", json={"question": "你好", "conversation_id": "no spaces/allowed"}), 422,
                 "validation_error")


def test_out_of_scope_questions_are_refused_with_a_hand_off(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "明天天气怎么样"}).json()
    assert body["refused"] is True and body["refusal_reason"] == "chitchat" and body["mode"] == "refusal"
    assert body["citations"] == [] and body["answer"]["blocks"] == []
    assert body["handoff"]["hotline"] == "12345" and "12345" in body["handoff"]["message"]


def test_a_refusal_and_a_down_vote_offer_a_ticket_to_the_predicted_department(client: TestClient) -> None:
    refused = client.post("/v1/ask", json={"question": "买了个无人机，要去哪里登记"}).json()
    offer = refused["ticket_offer"]
    assert refused["refusal_reason"] == "no_evidence" and offer["endpoint"] == "/v1/tickets" and offer["department"]
    assert offer["department"] in offer["message"]
    created = client.post(offer["endpoint"], json={"question": refused["question"], "contact": "13800000000",
                                                   "conversation_id": refused["conversation_id"]})
    assert created.status_code == 201 and created.json()["department"] == offer["department"]
    chitchat = client.post("/v1/ask", json={"question": "明天天气怎么样"}).json()
    assert chitchat["refused"] and chitchat["ticket_offer"] is None  # nothing for a department to take up
    answered = client.post("/v1/ask", json={"question": "补办身份证的工本费是多少钱"}).json()
    assert not answered["refused"] and answered["ticket_offer"] is None
    down = client.post("/v1/feedback", json={"answer_id": answered["answer_id"], "rating": "down"}).json()
    assert down["ticket_offer"]["endpoint"] == "/v1/tickets" and down["ticket_offer"]["department"]
    up = client.post("/v1/feedback", json={"answer_id": answered["answer_id"], "rating": "up"}).json()
    assert up["ticket_offer"] is None


def test_the_stream_sends_blocks_then_the_same_final_object(client: TestClient) -> None:
    question = {"question": "补领身份证要带什么材料"}
    with client.stream("POST", "/v1/ask/stream", json=question) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    stream = events(text)
    names = [name for name, _ in stream]
    assert names[-2:] == ["answer", "done"] and set(names[:-2]) == {"block"}
    final = stream[-2][1]
    AskResponse.model_validate(final)
    assert [data for name, data in stream if name == "block"] == final["answer"]["blocks"]
    assert stream[-1][1] == {"answer_id": final["answer_id"]}
    plain = client.post("/v1/ask", json=question).json()
    volatile = {"answer_id", "conversation_id", "latency_ms"}
    assert {k: v for k, v in final.items() if k not in volatile} == {k: v for k, v in plain.items() if k not in volatile}
    assert client.post("/v1/feedback", json={"answer_id": final["answer_id"], "rating": "up"}).status_code == 201


class FailingAnswerer:
    """Test double: an answerer whose store fails mid-request."""

    def answer(self, question: str, history: tuple[str, ...] = ()) -> Answer:
        raise StoreError("Chroma went away")


def test_a_failure_inside_the_stream_is_an_error_event(app_for: Callable[..., TestClient]) -> None:
    client = app_for(Assistant(FailingAnswerer()))
    response = client.post("/v1/ask/stream", json={"question": "身份证丢了怎么补办"})
    assert response.status_code == 200
    assert events(response.text) == [("error", {"error": "store_unavailable", "message": "Chroma went away"})]
    assert_error(client.post("/v1/ask", json={"question": "身份证丢了怎么补办"}), 503, "store_unavailable")


def test_without_an_index_asking_is_503_and_health_still_answers(make_settings: Callable[..., Settings],
                                                                  tiny_corpus: Path) -> None:
    app = create_app(make_settings(corpus_dir=str(Path(__file__).resolve().parents[1] / "corpus")))
    client = TestClient(app)
    assert client.get("/healthz").status_code == 503
    assert app.state.assistant is None  # not built until a question needs it
    assert_error(client.post("/v1/ask", json={"question": "身份证丢了怎么补办"}), 503, "index_not_found")
    assert isinstance(app.state.assistant, Assistant)  # built lazily from settings on first use
    assert_error(client.post("/v1/ask/stream", json={"question": "身份证丢了怎么补办"}), 503, "index_not_found")


def test_questions_are_validated_with_clear_errors(client: TestClient) -> None:
    for blank in ("", "   ", "\x00\x07\u200b", "\t\n"):
        body = assert_error(client.post("/v1/ask", json={"question": blank}), 422, "empty_question")
        assert "问题不能为空" in body["message"] and "empty" in body["message"]
    raw = '{"question": "补办\\u0000身份证\\u001b的工本费\\u202e是多少钱\\ud800"}'.encode()  # NUL, ESC, RLO, lone surrogate
    cleaned = client.post("/v1/ask", content=raw, headers={"content-type": "application/json"}).json()
    assert cleaned["question"] == "补办身份证的工本费是多少钱" and "40元" in cleaned["answer"]["text"]
    too_long = assert_error(client.post("/v1/ask", json={"question": "问" * 501}), 422, "question_too_long")
    assert "500" in too_long["message"]
    assert client.post("/v1/ask", json={"question": "问" * 499 + "？"}).status_code == 200
    assert_error(client.post("/v1/ask", json={}), 422, "validation_error")
    assert_error(client.post("/v1/ask", json={"question": 42}), 422, "validation_error")
    assert_error(client.post("/v1/ask", json={"question": "好", "script": "klingon"}), 422, "validation_error")
    assert_error(client.post("/v1/ask", json=["question"]), 422, "validation_error")
    headers = {"content-type": "application/json"}
    assert_error(client.post("/v1/ask", content=b'{"question": ', headers=headers), 422, "validation_error")
    assert_error(client.post("/v1/ask", content='{"question": "身份证"}'.encode("gb18030"), headers=headers), 400,
                 "bad_request")
    assert_error(client.post("/v1/ask", content=b"question=x", headers={"content-type": "text/plain"}), 422,
                 "validation_error")


def test_unknown_routes_and_methods_get_the_error_body(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.get("/v1/ask"), 405, "method_not_allowed")
    assert_error(client.put("/v1/feedback", json={}), 405, "method_not_allowed")
    allowed = client.request("PATCH", "/v1/staff/documents", headers=STAFF)
    assert_error(allowed, 405, "method_not_allowed")
    assert {"GET", "POST"} <= {m.strip() for m in allowed.headers["Allow"].split(",")}  # both routes of the path


def test_oversized_bodies_are_refused_with_413(client: TestClient) -> None:
    big = json.dumps({"question": "问" * 30_000}).encode()  # > 64 KiB of JSON
    assert_error(client.post("/v1/ask", content=big, headers={"content-type": "application/json"}), 413,
                 "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it is read
        yield b'{"question": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    assert_error(client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"}), 413,
                 "payload_too_large")
    assert client.post("/v1/ask", json={"question": "身份证丢了怎么补办"}).status_code == 200


def test_the_rate_limit_answers_429_with_retry_after(app_for: Callable[..., TestClient]) -> None:
    client = app_for(rate_limit_per_minute=2)
    for _ in range(2):
        assert client.post("/v1/ask", json={"question": "身份证丢了怎么补办"}).status_code == 200
    for path, body in (("/v1/ask", {"question": "身份证丢了怎么补办"}), ("/v1/ask/stream", {"question": "好"}),
                       ("/v1/feedback", {"answer_id": "a" * 32, "rating": "up"})):
        response = client.post(path, json=body, headers={"X-Forwarded-For": "10.9.8.7"})  # not trusted
        limited = assert_error(response, 429, "rate_limited")
        assert 1 <= int(response.headers["Retry-After"]) <= 60 and "请求过于频繁" in limited["message"]
    assert client.get("/healthz").status_code == 200  # health is not rate limited


def test_feedback_is_stored_with_personal_data_masked(client: TestClient, indexed: tuple[Path, Path, str, Assistant]
                                                      ) -> None:
    answer = client.post("/v1/ask", json={"question": "我叫王小明，手机13812345678，身份证丢了怎么补办"}).json()
    reason = "我叫张三，身份证号11010519491231002X，手机13912345678，材料写得不清楚"
    response = client.post("/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "down", "reason": reason})
    assert response.status_code == 201
    created = response.json()
    assert created["id"] >= 1 and created["answer_id"] == answer["answer_id"] and created["rating"] == "down"
    database = indexed[0] / "feedback.sqlite3"
    raw = b"".join(p.read_bytes() for p in database.parent.glob("feedback.sqlite3*"))
    for secret in ("11010519491231002X", "13912345678", "13812345678", "张三", "王小明"):
        assert secret.encode() not in raw, secret
    with sqlite3.connect(database) as db:
        stored_reason, question = db.execute("SELECT reason, question FROM feedback WHERE id = ?",
                                             (created["id"],)).fetchone()
    assert ID_CARD_MASK in stored_reason and MOBILE_MASK in stored_reason and NAME_MASK in stored_reason
    assert MOBILE_MASK in question and "身份证丢了怎么补办" in question
    assert_error(client.post("/v1/feedback", json={"answer_id": uuid.uuid4().hex, "rating": "up"}), 404,
                 "answer_not_found")
    assert_error(client.post("/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "meh"}), 422,
                 "validation_error")
    assert_error(client.post("/v1/feedback", json={"answer_id": "../x", "rating": "up"}), 422, "validation_error")


def test_staff_endpoints_need_the_key(app_for: Callable[..., TestClient]) -> None:
    client = app_for()
    for method, path in (("GET", "/v1/staff/documents"), ("GET", "/v1/staff/feedback"), ("GET", "/v1/staff/reindex"),
                         ("POST", "/v1/staff/reindex"), ("DELETE", "/v1/staff/documents/x")):
        assert_error(client.request(method, path), 401, "unauthorized")
        assert_error(client.request(method, path, headers={"X-Staff-Key": "wrong"}), 403, "forbidden")
        assert_error(client.request(method, path, headers={"X-Staff-Key": STAFF_KEY + "x"}), 403, "forbidden")
    assert client.get("/v1/staff/documents", headers=STAFF).status_code == 200
    closed = app_for(staff_key=None)
    assert_error(closed.get("/v1/staff/documents", headers=STAFF), 403, "staff_closed")
    assert_error(closed.get("/v1/staff/documents"), 403, "staff_closed")


def test_staff_list_documents_from_the_index(client: TestClient) -> None:
    body = client.get("/v1/staff/documents", headers=STAFF).json()
    assert body["total"] == 4 and body["collection"]
    documents = {d["doc_id"]: d for d in body["documents"]}
    guide = documents["guide-idcard-replace"]
    assert (guide["title"], guide["kind"], guide["source"], guide["indexed"]) == ("居民身份证补领", "guide", "corpus", True)
    assert guide["effective_date"] == "2012-01-01" and guide["expires"] == ""
    assert documents["guide-unemployment-benefit"]["stale"] is False
    assert sum(d["chunks"] for d in body["documents"]) == 15


def test_staff_see_feedback_down_votes_first_and_resolve_it(client: TestClient) -> None:
    ids = []
    for rating in ("up", "down"):
        answer = client.post("/v1/ask", json={"question": "失业保险金怎么申领"}).json()
        created = client.post("/v1/feedback", json={"answer_id": answer["answer_id"], "rating": rating,
                                                    "reason": f"测试{rating}"}).json()
        ids.append(created["id"])
    up_id, down_id = ids
    listed = client.get("/v1/staff/feedback", headers=STAFF).json()
    order = [item["id"] for item in listed["items"]]
    assert order.index(down_id) < order.index(up_id)
    assert all(item["rating"] == "down" for item in listed["items"][: order.index(up_id)] if item["id"] in ids)
    resolved = client.post(f"/v1/staff/feedback/{down_id}/resolve", json={"note": "已更新材料说明，联系电话13812345678"},
                           headers=STAFF)
    assert resolved.status_code == 200
    assert resolved.json()["resolved"] is True and MOBILE_MASK in resolved.json()["resolution_note"]
    open_ids = [item["id"] for item in client.get("/v1/staff/feedback?state=open", headers=STAFF).json()["items"]]
    all_ids = [item["id"] for item in client.get("/v1/staff/feedback?state=all", headers=STAFF).json()["items"]]
    assert down_id not in open_ids and up_id in open_ids and down_id in all_ids
    assert_error(client.post("/v1/staff/feedback/999999/resolve", json={"note": "x"}, headers=STAFF), 404,
                 "feedback_not_found")
    assert_error(client.post(f"/v1/staff/feedback/{up_id}/resolve", json={"note": " \x00 "}, headers=STAFF), 422,
                 "empty_note")
    assert_error(client.post("/v1/staff/feedback/0/resolve", json={"note": "x"}, headers=STAFF), 422, "validation_error")
    assert_error(client.post(f"/v1/staff/feedback/{2**70}/resolve", json={"note": "x"}, headers=STAFF), 422,
                 "validation_error")
    assert_error(client.get("/v1/staff/feedback?state=closed", headers=STAFF), 422, "validation_error")


def wait_for_reindex(client: TestClient) -> dict[str, Any]:
    job: ReindexJob = client.app.state.reindex_job  # type: ignore[attr-defined]
    job.wait(120)
    status: dict[str, Any] = client.get("/v1/staff/reindex", headers=STAFF).json()
    return status


def test_upload_reindex_answer_and_delete(make_settings: Callable[..., Settings], e5: Embedder,
                                          tiny_corpus: Path) -> None:
    settings = make_settings(corpus_dir=str(tiny_corpus), staff_key=STAFF_KEY)
    client = TestClient(create_app(settings, build_assistant(settings, e5, tiny_corpus)), headers=STAFF)
    upload = client.post("/v1/staff/documents", files={"file": ("养犬登记.md", DOG_GUIDE.encode(), "text/markdown")})
    assert upload.status_code == 201 and upload.json()["doc_ids"] == ["guide-dog-registration"]
    assert (settings.data_dir / "uploads" / "养犬登记.md").read_text(encoding="utf-8") == DOG_GUIDE
    pending = {d["doc_id"]: d for d in client.get("/v1/staff/documents").json()["documents"]}
    assert pending["guide-dog-registration"]["indexed"] is False

    started = client.post("/v1/staff/reindex")
    assert started.status_code == 202 and started.json()["state"] == "running"
    status = wait_for_reindex(client)
    assert status["state"] == "succeeded" and status["summary"]["added"] == 1, status
    listed = {d["doc_id"]: d for d in client.get("/v1/staff/documents").json()["documents"]}
    dog = listed["guide-dog-registration"]
    assert (dog["source"], dog["indexed"], dog["chunks"] > 0) == ("upload", True, True)
    assert dog["expires"] == "2020-12-31" and dog["stale"] is True
    assert listed["guide-idcard-replace"]["source"] == "corpus"
    answer = client.post("/v1/ask", json={"question": "办理养犬登记要带什么材料"}).json()
    assert not answer["refused"] and answer["citations"][0]["doc_id"] == "guide-dog-registration"
    assert "犬只狂犬病免疫证明" in answer["answer"]["text"]

    conflict = assert_error(client.delete("/v1/staff/documents/guide-idcard-replace"), 409, "document_conflict")
    assert "corpus" in conflict["message"]
    assert (tiny_corpus / "guides" / "guide-idcard-replace.md").exists()
    again = client.post("/v1/staff/documents", files={"file": ("copy.md", GUIDE_IDCARD.lstrip().encode(), "text/markdown")})
    assert_error(again, 409, "document_conflict")
    deleted = client.delete("/v1/staff/documents/guide-dog-registration")
    assert deleted.status_code == 200 and deleted.json()["file"] == "养犬登记.md"
    assert list((settings.data_dir / "uploads").iterdir()) == []
    assert_error(client.delete("/v1/staff/documents/guide-dog-registration"), 404, "document_not_found")
    client.post("/v1/staff/reindex")
    assert wait_for_reindex(client)["summary"]["removed"] == 1
    assert "guide-dog-registration" not in {d["doc_id"] for d in client.get("/v1/staff/documents").json()["documents"]}


def test_the_staff_reindex_and_the_answerer_share_one_loaded_model(make_settings: Callable[..., Settings],
                                                                   e5: Embedder, tiny_corpus: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []

    def load(spec: str, threads: int = 1) -> Embedder:  # stands in for loading a model: counts, hands back e5
        loads.append(spec)
        return e5

    monkeypatch.setattr("assistant.embedders.create_embedder", load)
    shipped = Path(__file__).resolve().parents[1] / "corpus"
    for lexicon in ("dialect.yaml", "glossary.yaml"):  # the assistant reads the corpus's lexicons
        (tiny_corpus / lexicon).write_text((shipped / lexicon).read_text(encoding="utf-8"), encoding="utf-8")
    settings = make_settings(corpus_dir=str(tiny_corpus), staff_key=STAFF_KEY)
    client = TestClient(create_app(settings), headers=STAFF)  # the product's own assistant, built on first ask
    assert client.post("/v1/staff/reindex").status_code == 202
    assert wait_for_reindex(client)["state"] == "succeeded"
    answer = client.post("/v1/ask", json={"question": "身份证丢了怎么补办"}).json()
    assert not answer["refused"] and answer["citations"][0]["doc_id"] == "guide-idcard-replace"
    client.post("/v1/staff/reindex")
    assert wait_for_reindex(client)["state"] == "succeeded"
    assert loads == ["e5"]  # loaded once, for the first re-index; the answerer and the second run reuse it


def test_an_uploaded_policy_is_matched_once_the_reindex_succeeds(make_settings: Callable[..., Settings], e5: Embedder,
                                                                 tiny_corpus: Path) -> None:
    settings = make_settings(corpus_dir=str(tiny_corpus), staff_key=STAFF_KEY)
    client = TestClient(create_app(settings, build_assistant(settings, e5, tiny_corpus)), headers=STAFF)

    def matched(app: TestClient = client) -> set[str]:
        body = app.post("/v1/policies/match", json={"applicant_type": "company"}).json()
        return {p["policy_id"] for group in ("qualifies", "nearly", "not") for p in body[group]}

    assert "policy-test-ops" not in matched()
    upload = client.post("/v1/staff/documents", files={"file": ("测试政策.md", POLICY.lstrip().encode(), "text/markdown")})
    assert upload.status_code == 201, upload.text
    assert "policy-test-ops" not in matched()  # read again only after a successful re-index
    restarted = TestClient(create_app(settings, client.app.state.assistant), headers=STAFF)  # type: ignore[attr-defined]
    assert "policy-test-ops" not in matched(restarted)  # on disk but not indexed: not offered after a restart either
    client.post("/v1/staff/reindex")
    assert wait_for_reindex(client)["state"] == "succeeded"
    assert "policy-test-ops" in matched()
    again = TestClient(create_app(settings, client.app.state.assistant), headers=STAFF)  # type: ignore[attr-defined]
    assert "policy-test-ops" in matched(again)


def test_bad_uploads_are_refused_and_nothing_is_written(app_for: Callable[..., TestClient],
                                                        indexed: tuple[Path, Path, str, Assistant]) -> None:
    client = app_for()
    uploads = indexed[0] / "uploads"
    cases = [
        ("binary.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "load_error", 422),
        ("front.md", b"---\nid: dog\ntitle: [unclosed\n---\n\nbody\n", "load_error", 422),
        ("fields.md", b"---\nid: dog\ntitle: x\n---\n\nbody\n", "load_error", 422),
        ("records.jsonl", b'{"id": "q1", "question": "a?", "answer": "b"}\n{broken\n', "load_error", 422),
        ("../../x.md", DOG_GUIDE.encode(), "invalid_file_name", 422),
        ("..\\..\\x.md", DOG_GUIDE.encode(), "invalid_file_name", 422),
        ("/tmp/x.md", DOG_GUIDE.encode(), "invalid_file_name", 422),
        (".x.md", DOG_GUIDE.encode(), "invalid_file_name", 422),
        ("dog.exe", DOG_GUIDE.encode(), "invalid_file_name", 422),
        ("big.md", b"x" * (2 * 1024 * 1024 + 1), "upload_too_large", 413),
        ("huge.md", b"x" * (3 * 1024 * 1024), "payload_too_large", 413),
    ]
    for name, data, code, status in cases:
        body = assert_error(client.post("/v1/staff/documents", files={"file": (name, data, "text/markdown")},
                                        headers=STAFF), status, code)
        if code == "load_error":
            assert body["message"].startswith(name)
    assert_error(client.post("/v1/staff/documents", content=b"garbage", headers={
        **STAFF, "content-type": "multipart/form-data; boundary=zz"}), 400, "bad_request")
    assert_error(client.post("/v1/staff/documents", headers=STAFF), 422, "validation_error")
    assert not uploads.exists() or list(uploads.iterdir()) == []
    assert not (indexed[0] / "x.md").exists() and not (indexed[0].parent / "x.md").exists()
    assert not Path("/tmp/x.md").exists() or Path("/tmp/x.md").read_bytes() != DOG_GUIDE.encode()


def test_a_second_reindex_while_one_runs_is_409(app_for: Callable[..., TestClient], e5: Embedder) -> None:
    client = app_for()
    started, release = threading.Event(), threading.Event()

    def gated(*args: Any, **kwargs: Any) -> IndexSummary:  # the real reindex, held until released
        started.set()
        release.wait(30)
        return reindex(*args, **kwargs)

    settings = client.app.state.settings  # type: ignore[attr-defined]
    client.app.state.reindex_job = ReindexJob(settings, run=gated, embedder=e5)  # type: ignore[attr-defined]
    assert client.post("/v1/staff/reindex", headers=STAFF).status_code == 202
    assert started.wait(30)
    assert_error(client.post("/v1/staff/reindex", headers=STAFF), 409, "index_busy")
    assert client.get("/v1/staff/reindex", headers=STAFF).json()["state"] == "running"
    release.set()
    status = wait_for_reindex(client)
    assert status["state"] == "succeeded" and status["summary"]["switched"] is False  # nothing had changed


def test_metrics_count_requests_latency_refusals_and_feedback(client: TestClient) -> None:
    answer = client.post("/v1/ask", json={"question": "补办身份证的工本费是多少钱"}).json()
    client.post("/v1/ask", json={"question": "明天天气怎么样"})
    client.post("/v1/ask", json={"question": ""})
    client.post("/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "down"})
    text = client.get("/metrics").text
    assert 'zhengwu_http_requests_total{method="POST",route="/v1/ask",status="200"} 2.0' in text
    assert 'zhengwu_http_requests_total{method="POST",route="/v1/ask",status="422"} 1.0' in text
    assert "zhengwu_ask_latency_seconds_count 2.0" in text
    assert 'zhengwu_refusals_total{reason="chitchat"} 1.0' in text
    assert 'zhengwu_feedback_total{rating="down"} 1.0' in text
    assert "zhengwu_feedback_open" in text


def test_request_log_lines_mask_personal_data(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="zhengwu.api"):
        client.post("/v1/ask", json={"question": "我的手机13812345678，身份证11010519491231002X丢了怎么补办"})
        client.get("/healthz")
    lines = [r.getMessage() for r in caplog.records if r.name == "zhengwu.api"]
    ask_line = next(line for line in lines if line.startswith("POST /v1/ask 200"))
    assert MOBILE_MASK in ask_line and ID_CARD_MASK in ask_line and "ms" in ask_line
    assert "13812345678" not in caplog.text and "11010519491231002X" not in caplog.text
    assert any(line.startswith("GET /healthz 200") for line in lines)


def test_openapi_describes_every_endpoint_and_its_errors(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    operations = {(method.upper(), path): op for path, ops in spec["paths"].items() for method, op in ops.items()}
    expected = {("POST", "/v1/ask"), ("POST", "/v1/ask/stream"), ("POST", "/v1/feedback"), ("GET", "/healthz"),
                ("GET", "/metrics"), ("GET", "/v1/staff/documents"), ("POST", "/v1/staff/documents"),
                ("DELETE", "/v1/staff/documents/{doc_id}"), ("POST", "/v1/staff/reindex"), ("GET", "/v1/staff/reindex"),
                ("GET", "/v1/staff/feedback"), ("POST", "/v1/staff/feedback/{feedback_id}/resolve")}
    assert expected <= set(operations)
    error_ref = "#/components/schemas/ErrorBody"
    for key, op in operations.items():
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and key != ("GET", "/healthz"):
                assert response["content"]["application/json"]["schema"]["$ref"] == error_ref, (key, status)
        if key[1].startswith("/v1/staff"):
            assert {"401", "403"} <= set(op["responses"]) and op["security"]
    assert "text/event-stream" in operations[("POST", "/v1/ask/stream")]["responses"]["200"]["content"]
    for key in (("POST", "/v1/ask"), ("POST", "/v1/feedback")):
        assert {"413", "422", "429"} <= set(operations[key]["responses"])


def test_staleness_is_expiry_or_more_than_fifteen_years_in_force() -> None:
    import datetime as dt

    from api.staff import is_stale

    today = dt.date(2028, 2, 29)
    assert is_stale("2012-01-01", "", today) and is_stale("2024-01-01", "2028-02-28", today)
    assert not is_stale("2013-03-01", "", today) and not is_stale("2024-01-01", "2028-02-29", today)
    assert not is_stale("", "", today)


def test_staff_see_whether_the_second_index_is_in_step(make_settings: Callable[..., Settings], e5: Embedder,
                                                       tiny_corpus: Path, tmp_path: Path) -> None:
    settings = make_settings(corpus_dir=str(tiny_corpus), second_embedder="use")
    store, uploads = ChromaStore.connect(settings), Uploads(tmp_path / "uploads")
    indexer = index_corpus(settings, e5, tiny_corpus)  # the answering index only, as before the setting
    listed = list_documents(settings, store, uploads)
    assert listed.second_index is not None and listed.second_index.collection is None
    assert listed.second_index.behind == sorted(d.doc_id for d in listed.documents) and listed.total == 4
    assert "尚未建立" in describe_second_index(listed.second_index)

    reindex(settings, embedder=e5)  # both indexes
    second = list_documents(settings, store, uploads).second_index
    assert second is not None and second.collection and second.documents == 4 and second.behind == []
    assert "与主索引一致" in describe_second_index(second)

    guide = tiny_corpus / "guides" / "guide-idcard-replace.md"
    guide.write_text(guide.read_text(encoding="utf-8") + "\n补充说明。\n", encoding="utf-8")
    indexer.run(load_paths([tiny_corpus]).documents)  # the answering index only: the second is a version behind
    second = list_documents(settings, store, uploads).second_index
    assert second is not None and second.behind == ["guide-idcard-replace"]
    assert "1 篇与主索引不一致（guide-idcard-replace）" in describe_second_index(second)
    assert list_documents(make_settings(corpus_dir=str(tiny_corpus)), store, uploads).second_index is None
    assert describe_second_index(None) == ""


def test_the_product_refuses_a_matter_handled_elsewhere_with_its_department(make_settings: Callable[..., Settings],
                                                                           e5: Embedder, tiny_corpus: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The assistant the app builds reads the corpus's `elsewhere.yaml`: a question on 公租房 is
    refused and the hand-off names the housing department; a malformed file is a clear error. It
    holds the shipped acts too: hurrying (加急) a replacement the ID card's guide does not cover is
    refused, naming the card's department."""
    monkeypatch.setattr("assistant.embedders.create_embedder", lambda spec, threads=1: e5)
    shipped = Path(__file__).resolve().parents[1] / "corpus"
    for lexicon in ("dialect.yaml", "glossary.yaml", "elsewhere.yaml"):
        (tiny_corpus / lexicon).write_text((shipped / lexicon).read_text(encoding="utf-8"), encoding="utf-8")
    settings = make_settings(corpus_dir=str(tiny_corpus))
    reindex(settings)
    client = TestClient(create_app(settings))
    answer = client.post("/v1/ask", json={"question": "申请公租房要满足什么条件？"}).json()
    assert answer["refused"] and answer["citations"] == []
    assert answer["handoff"]["department"] == "当地住房保障部门（住房和城乡建设部门）"
    assert "公租房" in answer["handoff"]["message"]
    hurried = client.post("/v1/ask", json={"question": "身份证丢了，补领能加急办吗？"}).json()
    assert hurried["refused"] and hurried["handoff"]["department"] == "示例市公安局"
    assert "加急" in hurried["handoff"]["message"]
    (tiny_corpus / "elsewhere.yaml").write_text("- matter: 公租房\n  names: 公租房\n  department: 住房保障部门\n", encoding="utf-8")
    broken = TestClient(create_app(settings)).post("/v1/ask", json={"question": "身份证丢了怎么补办"})
    assert broken.status_code == 500 and broken.json()["error"] == "config_error"
    assert "elsewhere.yaml" in broken.json()["message"] and "names must be a list" in broken.json()["message"]
