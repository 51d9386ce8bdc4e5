"""The WeChat bot through FastAPI's TestClient, with messages signed, encrypted and parsed by
wechatpy itself; the real assistant over the tiny corpus answers, and an answerer test double
counts calls and holds answers back for the timing and dedupe tests."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import xmltodict
from fastapi import FastAPI
from fastapi.testclient import TestClient
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.utils import WeChatSigner

from api.wechat import WeChatBot, create_wechat_router
from api.wechat_delivery import CustomerServiceSender, WeChatDeliveryError
from api.wechat_envelope import Envelope
from api.wechat_replies import (BUSY, HOLDING, MORE, NOTHING_MORE, STILL_HOLDING, TEXT_LIMIT_BYTES, UNSUPPORTED,
                                WELCOME, render_answer)
from api.wechat_sessions import BoundedMap
from assistant.answer import Answer, Block, Citation, Handoff
from assistant.embedders import Embedder
from assistant.errors import ConfigError, TicketStoreError
from assistant.routing import KeywordRouter
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.tickets import TicketStore, open_ticket
from indexer.loaders import load_paths
from tests.conftest import write_tiny_corpus
from tests.test_answering import build

TOKEN = "zhengwu-test-token"
APPID = "wx0123456789abcdef"
AES_KEY = base64.b64encode(b"zhengwu-wechat-aes-key-32-bytes!").decode().rstrip("=")
ACCOUNT = "gh_zhengwu"
OPENID = "oUser-0001"


# ---- test doubles and message builders ---------------------------------------------------------

def fee_answer(text: str = "补领居民身份证的工本费是40元。") -> Answer:
    citation = Citation(number=1, doc_id="faq-idcard-lost-fee", title="身份证丢了补办要多少钱？", section="",
                        effective_date="2012-01-01", source_url="https://zwfw.shili.example/guide/guide-idcard-replace",
                        quote=text, kind="faq")
    return Answer(question="", normalized_question="", blocks=(Block("收费标准", text, (1,)),),
                  citations=(citation,), mode="faq")


class AnswererDouble:
    """Test double for the answerer: a canned answer, counted calls, optionally held back by a gate."""

    def __init__(self, answer: Answer | None = None, gate: threading.Event | None = None, delay: float = 0.0) -> None:
        self.canned = answer or fee_answer()
        self.gate, self.delay = gate, delay
        self.calls: list[str] = []
        self.answered = threading.Event()
        self._lock = threading.Lock()

    def answer(self, question: str, history: tuple[str, ...] = ()) -> Answer:
        with self._lock:
            self.calls.append(question)
        time.sleep(self.delay)
        if self.gate is not None:
            assert self.gate.wait(20), "the test never released the answer"
        self.answered.set()
        return replace(self.canned, question=question, normalized_question=question)


class SenderDouble:
    """Test double for the customer-service API: records what it was asked to send."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = fail
        self.called = threading.Event()

    def send_text(self, openid: str, text: str) -> None:
        self.sent.append((openid, text))
        self.called.set()
        if self.fail:
            raise WeChatDeliveryError("customer-service message not sent: test double refuses")


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def signed(timestamp: str | None = None, nonce: str = "nonce-1") -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    return {"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, "openid": OPENID}


def text_xml(content: str, msg_id: int, openid: str = OPENID) -> str:
    content = content.replace("]]>", "]]]]><![CDATA[>")  # how "]]>" is written inside CDATA
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def other_xml(msg_type: str, extra: str, msg_id: int | None = None, openid: str = OPENID) -> str:
    msg = f"<MsgId>{msg_id}</MsgId>" if msg_id is not None else ""
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{extra}{msg}</xml>")


def post(client: TestClient, xml: str | bytes, params: dict[str, str] | None = None) -> httpx.Response:
    body = xml.encode("utf-8") if isinstance(xml, str) else xml
    return client.post("/wechat", params=params or signed(), content=body, headers={"Content-Type": "text/xml"})


def content_of(response: httpx.Response, openid: str = OPENID) -> str:
    assert response.status_code == 200, response.text
    message = parse_message(response.text)
    assert message.type == "text" and message.target == openid and message.source == ACCOUNT
    return str(message.content)


def ask(client: TestClient, content: str, msg_id: int, openid: str = OPENID) -> str:
    return content_of(post(client, text_xml(content, msg_id, openid)), openid)


def post_safe(client: TestClient, xml: str, appid: str = APPID, nonce: str = "safe-nonce") -> httpx.Response:
    timestamp = str(int(time.time()))
    sealed = xmltodict.parse(WeChatCrypto(TOKEN, AES_KEY, appid).encrypt_message(xml, nonce, timestamp))["xml"]
    body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>")
    params = {**signed(timestamp, nonce), "encrypt_type": "aes", "msg_signature": sealed["MsgSignature"]}
    return post(client, body, params)


def open_safe_reply(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    sealed = xmltodict.parse(response.text)["xml"]
    plain = WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt_message(response.text, sealed["MsgSignature"],
                                                                sealed["TimeStamp"], sealed["Nonce"])
    message = parse_message(plain)
    assert message.type == "text" and message.target == OPENID and message.source == ACCOUNT
    return str(message.content)


def wechat_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": str(tmp_path / "data"), "wechat_token": TOKEN, "wechat_appid": APPID}
    values.update(overrides)
    return Settings.from_environ({}, **values)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Start an app with only the WeChat router; every client is closed (lifespan ends) after the test."""
    clients: list[TestClient] = []

    def start(assistant: Assistant, settings: Settings | None = None, **router_options: Any) -> TestClient:
        app = FastAPI()
        app.include_router(create_wechat_router(settings or wechat_settings(tmp_path), lambda: assistant, **router_options))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def real_assistant(tmp_path_factory: pytest.TempPathFactory, e5: Embedder) -> Assistant:
    """The real extractive assistant over the tiny corpus, indexed once for this module."""
    root = tmp_path_factory.mktemp("wechat")
    write_tiny_corpus(root / "corpus")
    settings = Settings.from_environ({}, data_dir=str(root / "data"), index_name=f"t{uuid.uuid4().hex[:10]}", threads=1)
    return build(settings, e5, root / "corpus")


def wait_until(condition: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# ---- server verification -----------------------------------------------------------------------

def test_server_verification_echoes_echostr_only_for_a_fresh_true_signature(serve: Callable[..., TestClient]) -> None:
    client = serve(Assistant(AnswererDouble()))
    ok = client.get("/wechat", params={**signed(), "echostr": "1234567890123"})
    assert ok.status_code == 200 and ok.text == "1234567890123" and ok.headers["content-type"].startswith("text/plain")

    forged = client.get("/wechat", params={**signed(), "signature": "0" * 40, "echostr": "x"})
    assert forged.status_code == 403 and forged.json()["error"] == "invalid_signature"
    wrong_token = int(time.time())
    other = {"signature": sign("other-token", str(wrong_token), "n"), "timestamp": str(wrong_token), "nonce": "n"}
    assert client.get("/wechat", params={**other, "echostr": "x"}).status_code == 403

    for skew in (-301, 400):  # a true signature outside the replay window
        stale = client.get("/wechat", params={**signed(str(int(time.time()) + skew)), "echostr": "x"})
        assert stale.status_code == 403 and stale.json() == {"error": "stale_timestamp", "message": stale.json()["message"]}

    missing = client.get("/wechat", params={"echostr": "x"})
    assert missing.status_code == 403 and set(missing.json()) == {"error", "message"}


def test_safe_mode_verification_accepts_plain_and_msg_signature_forms(tmp_path: Path, serve: Callable[..., TestClient]) -> None:
    client = serve(Assistant(AnswererDouble()), wechat_settings(tmp_path, wechat_aes_key=AES_KEY))
    assert client.get("/wechat", params={**signed(), "echostr": "plain-echo"}).text == "plain-echo"

    encrypted = PrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt("echo-42", APPID).decode()
    timestamp, nonce = str(int(time.time())), "n2"
    params = {"msg_signature": sign(TOKEN, timestamp, nonce, encrypted), "timestamp": timestamp, "nonce": nonce,
              "echostr": encrypted}
    assert client.get("/wechat", params=params).text == "echo-42"
    params["msg_signature"] = sign(TOKEN, timestamp, nonce, "something else")
    assert client.get("/wechat", params=params).status_code == 403


def test_wechat_is_closed_without_a_token(tmp_path: Path, serve: Callable[..., TestClient]) -> None:
    client = serve(Assistant(AnswererDouble()), Settings.from_environ({}, data_dir=str(tmp_path)))
    for response in (client.get("/wechat", params={**signed(), "echostr": "x"}), post(client, text_xml("你好", 1))):
        assert response.status_code == 404 and response.json()["error"] == "wechat_not_configured"


def test_bad_safe_mode_settings_fail_at_start_up(tmp_path: Path) -> None:
    assistant = Assistant(AnswererDouble())
    with pytest.raises(ConfigError, match="APPID"):
        create_wechat_router(wechat_settings(tmp_path, wechat_appid=None, wechat_aes_key=AES_KEY), lambda: assistant)
    with pytest.raises(ConfigError, match="EncodingAESKey"):
        create_wechat_router(wechat_settings(tmp_path, wechat_aes_key="too-short"), lambda: assistant)


# ---- answers from the real assistant -----------------------------------------------------------

def test_plaintext_question_gets_a_cited_answer(serve: Callable[..., TestClient], real_assistant: Assistant) -> None:
    client = serve(real_assistant)
    reply = ask(client, "补办身份证的工本费是多少钱", 1001)
    assert "40元" in reply and "[1]" in reply
    sources = reply.split("来源：", 1)[1]
    assert "[1] 《" in sources and "https://zwfw.shili.example/" in sources
    assert len(reply.encode("utf-8")) <= TEXT_LIMIT_BYTES


def test_follow_up_in_the_same_chat_keeps_the_matter(serve: Callable[..., TestClient], real_assistant: Assistant) -> None:
    client = serve(real_assistant)
    ask(client, "身份证丢了怎么补办", 1101, openid="oFollow")
    assert "居民户口簿" in ask(client, "那要带什么材料？", 1102, openid="oFollow")


def test_refusal_hands_off_to_12345(serve: Callable[..., TestClient], real_assistant: Assistant) -> None:
    reply = ask(serve(real_assistant), "明天天气怎么样", 1201)
    assert "12345" in reply and "来源" not in reply


def test_a_refusal_offers_a_report_and_反映_opens_a_routed_ticket(
        tmp_path: Path, serve: Callable[..., TestClient], real_assistant: Assistant, caplog: pytest.LogCaptureFixture) -> None:
    router = KeywordRouter.from_documents(load_paths([write_tiny_corpus(tmp_path / "corpus")]).documents)
    store = TicketStore(tmp_path / "tickets.sqlite3")
    client = serve(real_assistant, reporter=lambda q, c, conv: open_ticket(store, router, q, c, conv))
    phone = "13800000000"
    assert "请先发送您要咨询的问题" in ask(client, f"反映{phone}", 1250, openid="oReport")
    question = "买了个无人机，要去哪里登记"
    assert real_assistant.ask(question).refusal_reason == "no_evidence"
    refusal = ask(client, question, 1251, openid="oReport")
    assert "12345" in refusal and "反映+您的手机号" in refusal
    with caplog.at_level(logging.INFO):
        received = ask(client, f"反映 {phone}", 1252, openid="oReport")
    (ticket,) = store.find()
    assert f"工单号{ticket.id}" in received and f"「{ticket.department}」" in received
    assert ticket.question == question and ticket.contact == phone
    assert ticket.conversation_id.startswith("wechat:u:") and "oReport" not in ticket.conversation_id  # pseudonymous
    assert ticket.department == router.predict(question, 1)[0][0]
    assert phone not in caplog.text
    assert "请先发送您要咨询的问题" in ask(client, f"反映{phone}", 1253, openid="oSomeoneElse")  # not another's question
    assert "请先发送您要咨询的问题" in ask(client, f"反映{phone}", 1254, openid="oReport")  # one ticket per question
    assert len(store.find()) == 1
    chitchat = ask(client, "明天天气怎么样", 1255, openid="oReport")
    assert "12345" in chitchat and "反映" not in chitchat  # no ticket offered for chitchat


def test_a_failing_ticket_store_gets_an_apology_and_no_reporter_means_an_ordinary_question(
        serve: Callable[..., TestClient], real_assistant: Assistant) -> None:
    def broken(question: str, contact: str, conversation_id: str) -> Any:
        raise TicketStoreError("disk full")

    client = serve(real_assistant, reporter=broken)
    ask(client, "买了个无人机，要去哪里登记", 1261, openid="oBroken")
    assert "没能提交" in ask(client, "反映13800000000", 1262, openid="oBroken")
    plain = serve(real_assistant)  # no reporter wired: "反映…" is just a question, and no refusal invites it
    refusal = ask(plain, "买了个无人机，要去哪里登记", 1265, openid="oPlain")
    assert "12345" in refusal and "反映" not in refusal
    assert "工单号" not in ask(plain, "反映13800000000", 1263, openid="oPlain")
    assert "请先发送" not in ask(client, "反映问题去哪里", 1264, openid="oNew")  # a question, not a contact


def test_safe_mode_question_gets_an_encrypted_cited_answer(tmp_path: Path, serve: Callable[..., TestClient],
                                                           real_assistant: Assistant) -> None:
    client = serve(real_assistant, wechat_settings(tmp_path, wechat_aes_key=AES_KEY))
    response = post_safe(client, text_xml("补办身份证的工本费是多少钱", 1301))
    assert "40元" not in response.text and "<Encrypt>" in response.text
    reply = open_safe_reply(response)
    assert "40元" in reply and "来源" in reply


def test_safe_mode_rejects_another_appid_a_forged_msg_signature_and_plaintext(tmp_path: Path, serve: Callable[..., TestClient]) -> None:
    double = AnswererDouble()
    client = serve(Assistant(double), wechat_settings(tmp_path, wechat_aes_key=AES_KEY))
    other_app = post_safe(client, text_xml("补办身份证要多少钱", 1401), appid="wxffffffffffffffff")
    assert other_app.status_code == 403 and other_app.json()["error"] == "invalid_appid"

    timestamp, nonce = str(int(time.time())), "n3"
    sealed = xmltodict.parse(WeChatCrypto(TOKEN, AES_KEY, APPID).encrypt_message(text_xml("问", 1402), nonce, timestamp))["xml"]
    body = f"<xml><Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
    forged = post(client, body, {**signed(timestamp, nonce), "encrypt_type": "aes", "msg_signature": "f" * 40})
    assert forged.status_code == 403 and forged.json()["error"] == "invalid_signature"

    plaintext = post(client, text_xml("补办身份证要多少钱", 1403))
    assert plaintext.status_code == 400 and plaintext.json()["error"] == "encryption_required"
    assert double.calls == []
    assert "40元" in open_safe_reply(post_safe(client, text_xml("补办身份证要多少钱", 1404)))


# ---- retries and the time budget ---------------------------------------------------------------

def test_retries_of_one_msgid_are_answered_once_with_the_same_reply(serve: Callable[..., TestClient]) -> None:
    double = AnswererDouble()
    client = serve(Assistant(double))
    replies = [ask(client, "补办身份证要多少钱", 2001) for _ in range(3)]
    assert double.calls == ["补办身份证要多少钱"]
    assert replies[0] == replies[1] == replies[2] and "40元" in replies[0]


def test_concurrent_retries_share_one_answer(serve: Callable[..., TestClient]) -> None:
    double = AnswererDouble(delay=0.5)
    client = serve(Assistant(double), budget_seconds=4.0)
    start = threading.Barrier(3)
    replies: list[str] = []

    def retry() -> None:
        start.wait()
        replies.append(ask(client, "补办身份证要多少钱", 2101))

    threads = [threading.Thread(target=retry) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(replies) == 3 and len(set(replies)) == 1 and "40元" in replies[0]
    assert double.calls == ["补办身份证要多少钱"]


def test_slow_answer_gets_a_holding_reply_then_comes_with_the_next_message(serve: Callable[..., TestClient]) -> None:
    gate = threading.Event()
    double = AnswererDouble(gate=gate)
    client = serve(Assistant(double), budget_seconds=1.0)
    assert ask(client, "补办身份证要多少钱", 2201) == HOLDING
    assert ask(client, "好了吗", 2202) == STILL_HOLDING  # still computing: the message only asks for it
    gate.set()
    assert double.answered.wait(15)
    late = ask(client, "在吗", 2203)
    assert late.startswith("您刚才问：“补办身份证要多少钱”") and "40元" in late and "来源" in late
    assert double.calls == ["补办身份证要多少钱"]  # the pick-up messages were not asked
    assert "40元" in ask(client, "补办身份证要多少钱", 2201)  # a late retry of the first message gets the answer too
    ask(client, "失业保险金怎么领", 2204)  # delivered: the next message is a new question
    assert double.calls == ["补办身份证要多少钱", "失业保险金怎么领"]


def test_late_answer_is_pushed_through_the_customer_service_api(serve: Callable[..., TestClient]) -> None:
    gate, sender = threading.Event(), SenderDouble()
    double = AnswererDouble(gate=gate)
    client = serve(Assistant(double), budget_seconds=1.0, sender=sender)
    assert ask(client, "补办身份证要多少钱", 2301) == HOLDING
    gate.set()
    assert sender.called.wait(15)
    ((openid, text),) = sender.sent
    assert openid == OPENID and "40元" in text and text.startswith("您刚才问：“补办身份证要多少钱”")
    next_reply = ask(client, "失业保险金怎么领", 2302)  # pushed already: the next message is a new question
    assert not next_reply.startswith("您刚才问") and double.calls == ["补办身份证要多少钱", "失业保险金怎么领"]


def test_failed_push_leaves_the_answer_for_the_next_message(serve: Callable[..., TestClient],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="zhengwu.api.wechat")
    gate, sender = threading.Event(), SenderDouble(fail=True)
    double = AnswererDouble(gate=gate)
    client = serve(Assistant(double), budget_seconds=1.0, sender=sender)
    assert ask(client, "补办身份证要多少钱", 2401) == HOLDING
    gate.set()
    assert wait_until(lambda: any("push failed" in r.getMessage() for r in caplog.records))
    late = ask(client, "在吗", 2402)
    assert late.startswith("您刚才问") and "40元" in late and double.calls == ["补办身份证要多少钱"]


# ---- long answers ------------------------------------------------------------------------------

def long_answer(steps: int = 8) -> Answer:
    blocks, citations = [], []
    for n in range(1, steps + 1):
        text = f"第{n}步标记：" + "请携带居民身份证和户口簿到户政窗口办理，工作人员审核后受理。" * 18
        blocks.append(Block(f"步骤{n}", text, (n,)))
        citations.append(Citation(number=n, doc_id=f"guide-{n}", title=f"办事指南{n}", section="办理流程",
                                  effective_date="2024-01-01", source_url=f"https://zwfw.shili.example/guide/{n}",
                                  quote=text, kind="guide"))
    return Answer(question="", normalized_question="", blocks=tuple(blocks), citations=tuple(citations), mode="guide")


def test_long_answer_fits_2048_bytes_and_continues_with_1(serve: Callable[..., TestClient]) -> None:
    client = serve(Assistant(AnswererDouble(long_answer())))
    first = ask(client, "怎么办理", 3001)
    assert len(first.encode("utf-8")) <= TEXT_LIMIT_BYTES and MORE in first
    assert "第1步标记" in first and "[1] 《办事指南1》办理流程" in first and "https://zwfw.shili.example/guide/1" in first
    parts = [first]
    for n in range(3002, 3030):
        part = ask(client, "1", n)
        if part == NOTHING_MORE:
            break
        assert len(part.encode("utf-8")) <= TEXT_LIMIT_BYTES
        parts.append(part)
    assert len(parts) > 1 and parts[-1].endswith("部分，完）")
    where = [[i for i, part in enumerate(parts) if f"第{n}步标记" in part] for n in range(1, 9)]
    assert all(len(found) == 1 for found in where) and where == sorted(where)  # every step once, in order
    assert ask(client, "1", 3031) == NOTHING_MORE


def test_retry_of_a_1_does_not_skip_a_part(serve: Callable[..., TestClient]) -> None:
    client = serve(Assistant(AnswererDouble(long_answer())))
    ask(client, "怎么办理", 3101)
    second = ask(client, "1", 3102)
    assert ask(client, "1", 3102) == second  # WeChat's retry of the same "1"
    assert ask(client, "1", 3103) != second


def test_rendered_parts_never_exceed_the_limit() -> None:
    handoff = Handoff(message="抱歉，没有找到依据。", department="示例市公安局", phone="000-61234567")
    refusal = Answer(question="", normalized_question="", blocks=(), citations=(), mode="refusal", refused=True,
                     handoff=handoff)
    (text,) = render_answer(refusal)
    assert "12345" in text and "示例市公安局咨询电话：000-61234567" in text
    elsewhere = replace(refusal, handoff=Handoff(message="抱歉，没有找到关于“商标”的可靠依据。", department="国家知识产权局商标局"))
    (text,) = render_answer(elsewhere)  # a matter handled elsewhere: the department, no phone
    assert "12345" in text and "办理部门：国家知识产权局商标局" in text and "咨询电话" not in text
    one_huge_block = replace(long_answer(1), blocks=(Block("", "无换行的很长一段文字。" * 400, (1,)),))
    for answer in (long_answer(1), long_answer(5), one_huge_block, fee_answer("短" * 682), fee_answer("a" * 3000)):
        parts = render_answer(answer)
        assert all(len(part.encode("utf-8")) <= TEXT_LIMIT_BYTES for part in parts)
        assert len(parts) == 1 or MORE in parts[0]


def test_an_faq_answer_shows_the_question_it_answers() -> None:
    """"可以。" answers the FAQ's own question, which may not be the one asked: the reply names it."""
    faq = replace(fee_answer(), blocks=(Block("答复", "可以。", (1,), asked="身份证过期了，能在工作的城市换吗？"),))
    (text,) = render_answer(faq)
    assert text.startswith("【答复（对应问题：身份证过期了，能在工作的城市换吗？）】\n可以。[1]")
    (plain,) = render_answer(fee_answer())
    assert plain.startswith("【收费标准】\n")  # a guide section's heading alone


# ---- events and other message types ------------------------------------------------------------

def test_subscribe_gets_a_welcome_with_example_questions_and_other_events_success(serve: Callable[..., TestClient]) -> None:
    client = serve(Assistant(AnswererDouble()))
    welcome = content_of(post(client, other_xml("event", "<Event><![CDATA[subscribe]]></Event>")))
    assert welcome == WELCOME and 3 <= sum(line[:2] in {f"{n}." for n in range(1, 6)} for line in welcome.splitlines()) <= 5
    scanned = post(client, other_xml("event", "<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_7]]></EventKey>"))
    assert content_of(scanned) == WELCOME
    for event in ("unsubscribe", "CLICK", "VIEW"):
        response = post(client, other_xml("event", f"<Event><![CDATA[{event}]]></Event>"))
        assert response.status_code == 200 and response.text == "success"


def test_non_text_messages_get_a_polite_explanation(serve: Callable[..., TestClient]) -> None:
    double = AnswererDouble()
    client = serve(Assistant(double))
    for n, (kind, extra) in enumerate((
            ("image", "<PicUrl><![CDATA[http://x/y.jpg]]></PicUrl><MediaId><![CDATA[m]]></MediaId>"),
            ("voice", "<MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format>"),
            ("location", "<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale><Label><![CDATA[某地]]></Label>"),
            ("link", "<Title><![CDATA[t]]></Title><Description><![CDATA[d]]></Description><Url><![CDATA[http://x]]></Url>"),
            ("video", "<MediaId><![CDATA[m]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId>"))):
        reply = content_of(post(client, other_xml(kind, extra, msg_id=4000 + n)))
        assert reply == UNSUPPORTED and "文字" in reply and "办事" in reply, kind
    assert double.calls == []
    spoken = other_xml("voice", "<MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format>"
                                "<Recognition><![CDATA[补办身份证要多少钱]]></Recognition>", msg_id=4010)
    assert "40元" in content_of(post(client, spoken)) and double.calls == ["补办身份证要多少钱"]


def test_any_message_picks_up_a_late_answer(serve: Callable[..., TestClient]) -> None:
    gate = threading.Event()
    double = AnswererDouble(gate=gate)
    client = serve(Assistant(double), budget_seconds=1.0)
    assert ask(client, "补办身份证要多少钱", 4051) == HOLDING
    gate.set()
    assert double.answered.wait(15)
    sticker = other_xml("image", "<PicUrl><![CDATA[http://x/y.jpg]]></PicUrl><MediaId><![CDATA[m]]></MediaId>", msg_id=4052)
    late = content_of(post(client, sticker))
    assert late.startswith("您刚才问") and "40元" in late
    assert content_of(post(client, sticker.replace("4052", "4053"))) == UNSUPPORTED


def test_empty_and_too_long_questions_are_not_asked(serve: Callable[..., TestClient]) -> None:
    double = AnswererDouble()
    client = serve(Assistant(double))
    assert "请用文字" in ask(client, "   ", 4101)
    assert "精简到500字以内" in ask(client, "问" * 501, 4102)
    assert double.calls == []


def test_busy_bot_says_so_instead_of_queueing() -> None:
    gate = threading.Event()
    double = AnswererDouble(gate=gate)
    envelope = Envelope(TOKEN)
    bot = WeChatBot(envelope, lambda: Assistant(double), budget_seconds=0.1, max_in_flight=1)
    try:
        first = envelope.open(text_xml("问题一", 4201, openid="oA").encode(), signed())
        second = envelope.open(text_xml("问题二", 4202, openid="oB").encode(), signed())
        assert asyncio.run(bot.reply(first, time.monotonic())) == HOLDING
        assert asyncio.run(bot.reply(second, time.monotonic())) == BUSY
    finally:
        gate.set()
        bot.close()


def test_reply_text_cannot_break_out_of_the_xml(serve: Callable[..., TestClient]) -> None:
    gate = threading.Event()
    client = serve(Assistant(AnswererDouble(gate=gate)), budget_seconds=1.0)
    assert ask(client, "问]]><MsgType>news</MsgType>", 4301) == HOLDING
    gate.set()
    late = ask(client, "在吗", 4302)  # the header quotes the question
    assert "问]] ><MsgType>news</MsgType>" in late


# ---- hostile and broken requests ---------------------------------------------------------------

BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                  '<xml><Content>&lol3;</Content></xml>')
EXTERNAL_ENTITY = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                   f'<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>1</CreateTime>'
                   '<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>9</MsgId></xml>')


def test_hostile_and_broken_bodies_are_refused_and_the_bot_keeps_working(serve: Callable[..., TestClient]) -> None:
    double = AnswererDouble()
    client = serve(Assistant(double), max_body_bytes=8 * 1024)
    cases: list[tuple[str | bytes, int, str]] = [
        ("<xml><ToUserName>broken", 400, "invalid_xml"),
        ("not xml at all", 400, "invalid_xml"),
        (b"<xml>\xff\xfe</xml>", 400, "invalid_xml"),
        ("<message><MsgType>text</MsgType></message>", 400, "invalid_xml"),
        ("<xml><Content>no type</Content></xml>", 400, "invalid_message"),
        (BILLION_LAUGHS, 400, "forbidden_xml"),
        (EXTERNAL_ENTITY, 400, "forbidden_xml"),
        (text_xml("问" * 4000, 5001), 413, "payload_too_large"),
    ]
    for body, status, code in cases:
        response = post(client, body)
        assert (response.status_code, response.json()["error"]) == (status, code), body[:40]
        assert set(response.json()) == {"error", "message"}
    streamed = client.post("/wechat", params=signed(), content=iter([b"<xml>" + b"x" * 6000, b"x" * 6000 + b"</xml>"]))
    assert streamed.status_code == 413
    forged = client.post("/wechat", params={**signed(), "signature": "1" * 40}, content=text_xml("问", 5002).encode())
    assert forged.status_code == 403
    assert double.calls == []
    assert "40元" in ask(client, "补办身份证要多少钱", 5003)


def test_logs_mask_personal_data_and_never_hold_raw_bodies(serve: Callable[..., TestClient], caplog: pytest.LogCaptureFixture) -> None:
    client = serve(Assistant(AnswererDouble()))
    caplog.set_level(logging.INFO, logger="zhengwu.api.wechat")
    question = "我叫张三，身份证号110101199003071234丢了，手机13812345678，怎么补办"
    ask(client, question, 6001, openid="oSecretOpenid")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "wechat answered" in logged and "[身份证号已隐藏]" in logged
    for secret in ("110101199003071234", "13812345678", "张三", "oSecretOpenid", "<xml>"):
        assert secret not in logged


# ---- the stores and the customer-service sender ------------------------------------------------

def test_bounded_map_forgets_by_size_and_age() -> None:
    now = [0.0]
    store: BoundedMap[str, int] = BoundedMap(max_items=2, ttl_seconds=10, clock=lambda: now[0])
    for n, key in enumerate("abc"):
        store.put(key, n)
    assert store.get("a") is None and store.get("c") == 2 and len(store) == 2
    now[0] = 11
    assert store.get("c") is None and len(store) == 0


class _FakeWeChatAPI(http.server.BaseHTTPRequestHandler):
    """A loopback stand-in for api.weixin.qq.com: records custom-message posts."""

    posts: list[tuple[str, dict[str, Any]]] = []
    reply: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
        type(self).posts.append((self.path, body))
        data = json.dumps(type(self).reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_customer_service_sender_posts_through_wechatpy_and_translates_errors(tmp_path: Path) -> None:
    assert CustomerServiceSender.from_settings(wechat_settings(tmp_path)) is None
    with pytest.raises(ConfigError):
        CustomerServiceSender.from_settings(wechat_settings(tmp_path, wechat_appid=None, wechat_secret="s"))
    assert isinstance(CustomerServiceSender.from_settings(wechat_settings(tmp_path, wechat_secret="s")), CustomerServiceSender)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeWeChatAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = WeChatClient(APPID, "secret", access_token="token-from-cache")
        client.API_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/"
        sender = CustomerServiceSender(client)
        sender.send_text(OPENID, "补领居民身份证的工本费是40元。")
        ((path, body),) = _FakeWeChatAPI.posts
        assert path.startswith("/cgi-bin/message/custom/send?") and "access_token=token-from-cache" in path
        assert body == {"touser": OPENID, "msgtype": "text", "text": {"content": "补领居民身份证的工本费是40元。"}}
        _FakeWeChatAPI.reply = {"errcode": 45015, "errmsg": "response out of time limit"}
        with pytest.raises(WeChatDeliveryError, match="45015"):
            sender.send_text(OPENID, "迟到的答案")
    finally:
        server.shutdown()
        server.server_close()
