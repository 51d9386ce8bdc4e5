"""Hand-off tickets: creation routed by the corpus keyword router, state changes with notes, masking
in the SQLite file and in logs, and the ticket endpoints (citizen and staff)."""

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import tickets as tickets_api
from api.app import create_app
from assistant.privacy import ID_CARD_MASK, MOBILE_MASK, NAME_MASK
from assistant.routing import KeywordRouter, LazyRouter, Router
from assistant.settings import Settings
from assistant.tickets import TicketNotFoundError, TicketStore, TicketStoreError, mask_contact, open_ticket
from indexer.loaders import load_paths

ROOT = Path(__file__).resolve().parents[1]
STAFF_KEY = "s3cret-staff-key"
STAFF = {"X-Staff-Key": STAFF_KEY}
PHONE = "13812345678"
ID_NUMBER = "11010519491231002X"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def router() -> Router:
    return KeywordRouter.from_documents(load_paths([ROOT / "corpus"]).documents)


def test_a_ticket_is_routed_to_the_obvious_department(tmp_path: Path, router: Router) -> None:
    store = TicketStore(tmp_path / "tickets.sqlite3")
    for question, department in (("身份证丢了补办一直没办下来", "示例市公安局户政部门"),
                                 ("公积金提取申请被退回了", "示例市住房公积金管理中心"),
                                 ("失业保险金申领不到", "示例市社会保险事业管理中心"),
                                 ("结婚登记预约不上", "示例市民政局")):
        ticket = open_ticket(store, router, question, PHONE)
        assert ticket.department == department, question
        assert ticket.candidates[0][0] == department and len(ticket.candidates) == 3
        assert ticket.state == "open" and ticket.router == "keyword" and ticket.created_at == ticket.updated_at


def test_personal_data_is_masked_in_the_file_except_the_contact_column(tmp_path: Path, router: Router) -> None:
    path = tmp_path / "tickets.sqlite3"
    store = TicketStore(path)
    question = f"我叫张三，身份证号{ID_NUMBER}，手机13912345678，失业金怎么还没到账"
    ticket = open_ticket(store, router, question, PHONE, conversation_id="c-1")
    assert ID_CARD_MASK in ticket.question and MOBILE_MASK in ticket.question and NAME_MASK in ticket.question
    store.update(ticket.id, "in_progress", note="已致电13912345678的张先生，我叫李四")
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # the database and its WAL
    for secret in (ID_NUMBER, "13912345678", "张三", "李四"):
        assert secret.encode() not in raw, secret
    assert PHONE.encode() in raw  # the contact itself is kept: staff call back on it
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM tickets").fetchall() + db.execute("SELECT * FROM ticket_events").fetchall()
        columns = [d[0] for d in db.execute("SELECT * FROM tickets").description]
    where = {(table, columns[i] if table == "tickets" else i) for table, row in
             [("tickets", r) for r in rows[:1]] + [("events", r) for r in rows[1:]]
             for i, value in enumerate(row) if PHONE in str(value)}
    assert where == {("tickets", "contact")}  # and nowhere else
    assert ticket.masked_contact == MOBILE_MASK and PHONE not in ticket.masked_contact


def test_the_contact_never_reaches_the_logs(tmp_path: Path, router: Router, caplog: pytest.LogCaptureFixture) -> None:
    store = TicketStore(tmp_path / "tickets.sqlite3")
    with caplog.at_level(logging.DEBUG):
        ticket = open_ticket(store, router, f"手机{PHONE}，公积金提取不了", "zhangsan@example.com")
        store.update(ticket.id, "closed", note="已回复")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"ticket {ticket.id} opened" in logged and f"ticket {ticket.id} is now closed" in logged
    assert PHONE not in logged and "zhangsan@example.com" not in logged


def test_state_changes_are_kept_with_their_notes(tmp_path: Path, router: Router) -> None:
    clock = Clock()
    store = TicketStore(tmp_path / "tickets.sqlite3", clock=clock)
    first = open_ticket(store, router, "身份证补办进度", PHONE).id
    clock.now += 60
    second = open_ticket(store, router, "公积金提取进度", PHONE).id
    clock.now += 60
    third = open_ticket(store, router, "医保报销进度", PHONE).id
    clock.now += 60
    moved = store.update(first, "in_progress", note="已转交户政窗口")
    assert moved.state == "in_progress" and moved.note == "已转交户政窗口" and moved.updated_at == clock.now
    clock.now += 60
    closed = store.update(second, "closed", note="已电话回复", department="示例市人力资源和社会保障局")
    assert closed.department == "示例市人力资源和社会保障局" and closed.candidates[0][0] == "示例市住房公积金管理中心"
    assert [t.id for t in store.find()] == [third, first, second]  # open, in progress, closed
    assert [t.id for t in store.find("closed")] == [second]
    assert store.counts() == {"open": 1, "in_progress": 1, "closed": 1}
    history = store.history(second)
    assert [(e.state, e.note) for e in history] == [("open", ""), ("closed", "已电话回复")]
    assert history[-1].department == "示例市人力资源和社会保障局"
    reopened = store.update(second, "open", note="市民再次来电")
    assert reopened.state == "open" and reopened.department == "示例市人力资源和社会保障局"


def test_bad_input_and_unknown_tickets_are_errors(tmp_path: Path, router: Router) -> None:
    store = TicketStore(tmp_path / "tickets.sqlite3")
    with pytest.raises(TicketNotFoundError):
        store.update(99, "closed")
    with pytest.raises(TicketNotFoundError):
        store.get(1)
    with pytest.raises(TicketNotFoundError):
        store.history(1)
    with pytest.raises(ValueError, match="state"):
        store.update(1, "done")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="contact"):
        store.create("问题", "  ", [("示例市民政局", 1.0)])
    with pytest.raises(ValueError, match="candidate"):
        store.create("问题", PHONE, [])


def test_sqlite_failures_become_ticket_store_errors(tmp_path: Path) -> None:
    folder = tmp_path / "tickets.sqlite3"
    folder.mkdir()
    with pytest.raises(TicketStoreError):
        TicketStore(folder).find()
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TicketStoreError):
        TicketStore(corrupt).create("问题", PHONE, [("示例市民政局", 1.0)])


def test_contacts_are_masked_for_lists() -> None:
    assert mask_contact(PHONE) == MOBILE_MASK
    assert mask_contact("wx_zhangsan88") == "***********88"
    assert mask_contact("abc") == "***" and PHONE not in mask_contact(f"电话 {PHONE}")


# --- POST /v1/tickets and the staff queue ---------------------------------------------------------

def tickets_app(settings: Settings, router: Router) -> FastAPI:
    app = create_app(settings)
    app.state.tickets = TicketStore.from_settings(settings)  # as create_app will set them
    app.state.router = router
    app.include_router(tickets_api.router)
    app.include_router(tickets_api.staff_router)
    return app


def test_ticket_endpoints(make_settings: Callable[..., Settings], router: Router) -> None:
    settings = make_settings(staff_key=STAFF_KEY)
    client = TestClient(tickets_app(settings, router))
    created = client.post("/v1/tickets", json={"question": f"公积金提取被退回，我的身份证号{ID_NUMBER}", "contact": PHONE,
                                               "conversation_id": "conv-1"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["department"] == "示例市住房公积金管理中心" and body["state"] == "open"
    assert len(body["candidates"]) == 3 and body["department"] in body["message"]
    assert (settings.data_dir / "tickets.sqlite3").exists()
    listed = client.get("/v1/staff/tickets", headers=STAFF).json()
    (item,) = listed["items"]
    assert item["contact"] == MOBILE_MASK and ID_CARD_MASK in item["question"] and ID_NUMBER not in item["question"]
    assert listed["counts"] == {"open": 1, "in_progress": 0, "closed": 0}
    revealed = client.get("/v1/staff/tickets?reveal=1", headers=STAFF).json()["items"][0]
    assert revealed["contact"] == PHONE
    updated = client.post(f"/v1/staff/tickets/{body['id']}", headers=STAFF, json={"state": "closed", "note": "已回电"})
    assert updated.status_code == 200 and updated.json()["state"] == "closed" and updated.json()["contact"] == MOBILE_MASK
    assert client.get("/v1/staff/tickets?state=open", headers=STAFF).json()["items"] == []


def test_ticket_endpoint_errors(make_settings: Callable[..., Settings], router: Router) -> None:
    client = TestClient(tickets_app(make_settings(staff_key=STAFF_KEY), router))
    empty = client.post("/v1/tickets", json={"question": "  ", "contact": PHONE})
    assert empty.status_code == 422 and empty.json()["error"] == "empty_question"
    for bad in ({"question": "问题"}, {"question": "问题", "contact": 13812345678}, {"question": "问题", "contact": "1"},
                {"question": "问题", "contact": PHONE, "conversation_id": "bad id!"}):
        assert client.post("/v1/tickets", json=bad).status_code == 422, bad
    long = client.post("/v1/tickets", json={"question": "问" * 501, "contact": PHONE})
    assert long.status_code == 422 and long.json()["error"] == "question_too_long"
    assert client.get("/v1/staff/tickets").status_code == 401
    assert client.get("/v1/staff/tickets", headers={"X-Staff-Key": "wrong"}).status_code == 403
    assert client.post("/v1/staff/tickets/1", json={"state": "closed"}).status_code == 401
    missing = client.post("/v1/staff/tickets/99", headers=STAFF, json={"state": "closed"})
    assert missing.status_code == 404 and missing.json()["error"] == "ticket_not_found"
    assert client.post("/v1/staff/tickets/1", headers=STAFF, json={"state": "done"}).status_code == 422
    assert client.get("/v1/staff/tickets?state=lost", headers=STAFF).status_code == 422
    closed = TestClient(tickets_app(make_settings(), router))  # no staff key set: staff access is closed
    assert closed.get("/v1/staff/tickets", headers=STAFF).status_code == 403


def test_a_broken_store_answers_503(make_settings: Callable[..., Settings], router: Router) -> None:
    settings = make_settings(staff_key=STAFF_KEY)
    (settings.data_dir / "tickets.sqlite3").mkdir(parents=True)  # a folder where the database should be
    client = TestClient(tickets_app(settings, router))
    response = client.post("/v1/tickets", json={"question": "公积金提取", "contact": PHONE})
    assert response.status_code == 503 and response.json()["error"] == "ticket_store_unavailable"


def test_no_router_answers_503(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings(corpus_dir=str(tmp_path / "no-corpus"))  # no fitted model, no corpus
    client = TestClient(tickets_app(settings, LazyRouter(settings)))
    response = client.post("/v1/tickets", json={"question": "公积金提取", "contact": PHONE})
    assert response.status_code == 503 and response.json()["error"] == "router_unavailable"
