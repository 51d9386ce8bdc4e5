"""End-to-end tests of the citizen page and the staff console in a real headless Chromium.

The real app (`create_app` + `mount_web`) runs under uvicorn on a loopback port, with the real
assistant (hybrid retriever, extractive answerer, plain-language rewriter) over the tiny corpus,
an expired guide, a bundle and three policies with eligibility, built once for the module; tickets
are routed by the corpus keyword router. Run with `ZHENGWU_SCREENSHOTS=1` to write
docs/screenshot-citizen.png, docs/screenshot-staff.png, docs/screenshot-matcher.png and
docs/screenshot-ticket.png.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from pydantic import ValidationError

from api.app import create_app
from api.limits import RateLimiter
from api.schemas import AskResponse
from api.tickets import TicketRequest
from assistant.answer import Answer, Block, Citation
from assistant.embedders import Embedder
from assistant.feedback import FeedbackStore
from assistant.matcher import PolicyCatalog, Profile
from assistant.privacy import MOBILE_MASK
from assistant.rewriter import PlainRewriter
from assistant.routing import KeywordRouter
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import ChromaStore
from assistant.tickets import TicketStore
from indexer.reindex import ReindexJob, Uploads
from tests.conftest import BUNDLE_JOBLESS, DOG_GUIDE, FAQ_FEE, GUIDE_IDCARD, GUIDE_UNEMPLOYMENT, LAW_ID_CARD, ROOT, free_port, write
from tests.test_answering import build
from web.answers import render_answer
from web.chat import ChatSession, Offer, Turn
from web.citizen import LIFE_EVENTS
from web.mount import PageMount, mount_web
from web.policies import COMPANY_FIELDS, FIELD_NAMES, PERSON_FIELDS, PolicyCalculator
from web.staff import StaffConsole, StaffServices
from web.tickets import TicketDesk, TicketOffer
from web.validation import explain_invalid

CHROMIUM = Path("/usr/bin/chromium")
STAFF_KEY = "web-staff-key-7"
BOT = "#zw-chatbot .message-row.bot-row"
PENDING = "正在查找"
PHONE = "13812345678"


# Three policies with eligibility: for a small 示例市 company of 150 people (founding year not
# given) the first qualifies, the second nearly (too many people; years not given), the third not.
POLICY_RND = """
---
id: policy-web-rnd-reward
title: 示例市小微企业研发奖励
kind: policy
doc_type: local_policy
department: 示例市科学技术局
region: 示例市
effective_date: 2025-01-01
source_url: https://zwfw.shili.example/policy/policy-web-rnd-reward
sample: true
benefit: 按上年度研发费用的10%给予奖励（示例数据）
eligibility:
  - {field: applicant_type, op: eq, value: company, label: 申请主体为企业}
  - {field: size, op: in, value: [micro, small], label: 属于小型或微型企业}
  - {field: registration_place, op: eq, value: 示例市, label: 在示例市登记注册}
---

## 申请条件
在示例市登记注册的小型、微型企业。

## 奖励标准
按上年度研发费用的10%给予奖励。
"""

POLICY_HIRING = """
---
id: policy-web-hiring-subsidy
title: 示例市企业吸纳就业补贴
kind: policy
doc_type: local_policy
department: 示例市就业服务中心
region: 示例市
effective_date: 2025-01-01
source_url: https://zwfw.shili.example/policy/policy-web-hiring-subsidy
sample: true
benefit: 每吸纳1人就业补贴1000元（示例数据）
eligibility:
  - {field: applicant_type, op: eq, value: company, label: 申请主体为企业}
  - {field: employees, op: lte, value: 100, label: 从业人员不超过100人}
  - {field: years_registered, op: gte, value: 1, label: 登记注册满1年}
---

## 申请条件
从业人员不超过100人，登记注册满1年的企业。
"""

POLICY_TALENT = """
---
id: policy-web-talent-rent
title: 示例市青年人才租房补贴
kind: policy
doc_type: local_policy
department: 示例市住房和城乡建设局
region: 示例市
effective_date: 2025-01-01
source_url: https://zwfw.shili.example/policy/policy-web-talent-rent
sample: true
benefit: 每月补贴800元（示例数据）
eligibility:
  - {field: applicant_type, op: eq, value: person, label: 申请人为个人}
  - {field: age, op: lte, value: 35, label: 年龄在35周岁以下}
---

## 申请条件
年龄在35周岁以下的青年人才。
"""

EVAL_QUESTIONS = """\
{"id": "w-fee", "need": "idcard-fee", "question": "补办身份证的工本费是多少钱", "style": "standard", "topic": "身份证", "expected_docs": ["guide-idcard-replace", "faq-idcard-lost-fee"], "expected_section": "收费标准", "must_include": ["40元"], "history": [], "must_refuse": false}
{"id": "w-materials", "need": "idcard-materials", "question": "补领身份证要带什么材料", "style": "colloquial", "topic": "身份证", "expected_docs": ["guide-idcard-replace"], "expected_section": "申请材料", "must_include": ["居民户口簿", "结婚证"], "history": [], "must_refuse": false}
{"id": "w-weather", "need": "weather", "question": "明天天气怎么样", "style": "standard", "topic": "闲聊", "expected_docs": [], "must_include": [], "history": [], "must_refuse": true}
"""


@dataclass(frozen=True)
class Site:
    url: str
    app: FastAPI


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, e5: Embedder) -> Iterator[Site]:
    """The real app with both pages, served by uvicorn in a background thread."""
    root = tmp_path_factory.mktemp("web")
    corpus = root / "corpus"
    for name, text in (("guides/guide-idcard-replace.md", GUIDE_IDCARD),
                       ("guides/guide-unemployment-benefit.md", GUIDE_UNEMPLOYMENT),
                       ("guides/guide-dog-registration.md", DOG_GUIDE),
                       ("policies/law-resident-id-card.md", LAW_ID_CARD),
                       ("faqs/faq-idcard-lost-fee.md", FAQ_FEE), ("bundles/bundle-unemployment.md", BUNDLE_JOBLESS),
                       ("policies/policy-web-rnd-reward.md", POLICY_RND),
                       ("policies/policy-web-hiring-subsidy.md", POLICY_HIRING),
                       ("policies/policy-web-talent-rent.md", POLICY_TALENT)):
        write(corpus / name, text)
    questions = write(root / "questions.jsonl", EVAL_QUESTIONS)
    settings = Settings.from_environ({}, data_dir=str(root / "data"), corpus_dir=str(corpus), threads=1,
                                     index_name=f"w{uuid.uuid4().hex[:10]}", staff_key=STAFF_KEY,
                                     eval_questions=str(questions))
    answerer = build(settings, e5, corpus).answerer
    assistant = Assistant(answerer, rewriter=PlainRewriter.load(ROOT / "corpus"))
    app = mount_web(create_app(settings, assistant))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="web-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (the Makefile installs it: "
                    "apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Page]:
    """A fresh browser context (its own Gradio session) and page, in Chinese."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(60_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: docs/ when ZHENGWU_SCREENSHOTS=1, else a temporary folder."""
    if os.environ.get("ZHENGWU_SCREENSHOTS") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        return ROOT / "docs"
    return tmp_path_factory.mktemp("screenshots")


def open_citizen(page: Page, site: Site) -> None:
    page.goto(site.url + "/")
    page.wait_for_selector("#zw-question textarea")


def ask(page: Page, question: str) -> Locator:
    """Type and send a question; the bot message once its answer (not the wait notice) shows."""
    before = page.locator(BOT).count()
    page.fill("#zw-question textarea", question)
    page.click("#zw-send")
    return answered(page, before)


def answered(page: Page, before: int) -> Locator:
    """The newest bot message, once there are more than `before` and it holds an answer."""
    page.wait_for_function(
        "([selector, count, pending]) => { const rows = document.querySelectorAll(selector);"
        " return rows.length > count && !rows[rows.length - 1].innerText.includes(pending); }",
        arg=[BOT, before, PENDING])
    return page.locator(BOT).last


def open_staff(page: Page, site: Site) -> None:
    page.goto(site.url + "/staff/")
    page.fill("#zw-key input", STAFF_KEY)
    page.click("#zw-enter")
    page.wait_for_selector("#zw-console", state="visible")


@pytest.mark.slow
def test_a_question_gets_a_cited_answer_whose_sources_open(site: Site, tab: Page, shots: Path) -> None:
    open_citizen(tab, site)
    answer = ask(tab, "补办身份证的工本费是多少钱")
    assert "40元" in answer.inner_text()
    marks = answer.locator(".zw-mark").all_inner_texts()
    sources = answer.locator("details.zw-source")
    assert marks and sources.count() == len(set(marks))  # every number shown has its source
    assert sources.first.locator("summary").inner_text().startswith("[1]")
    for n in range(sources.count()):  # the 示例数据 tag follows the documents' `sample` flag
        summary = sources.nth(n).locator("summary").inner_text()
        assert ("示例数据" in summary) == ("《居民身份证补领》" in summary), summary
    quote = sources.first.locator(".zw-quote")
    assert not quote.is_visible()
    sources.first.locator("summary").click()
    assert sources.first.get_attribute("open") is not None and quote.is_visible()
    assert "40元" in quote.inner_text()
    meta = sources.first.locator(".zw-meta").inner_text()
    assert "文件：《" in meta and "生效日期：2012-01-01" in meta
    assert sources.first.locator("a.zw-link").get_attribute("href") == \
        "https://zwfw.shili.example/guide/guide-idcard-replace"
    assert "12345" in answer.locator(".zw-contact").inner_text()
    tab.wait_for_timeout(300)
    tab.screenshot(path=str(shots / "screenshot-citizen.png"), full_page=True)
    assert (shots / "screenshot-citizen.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_a_follow_up_question_stays_in_the_conversation(site: Site, tab: Page) -> None:
    open_citizen(tab, site)
    ask(tab, "身份证丢了怎么补办")
    follow = ask(tab, "那要带什么材料？")
    assert "居民户口簿" in follow.inner_text()
    assert any("申请材料" in s for s in follow.locator("details.zw-source summary").all_inner_texts())
    before = site.app.state.feedback.counts()["up"]
    tab.locator("#zw-chatbot button[aria-label=赞]").last.click()
    tab.wait_for_function("document.querySelector('#zw-feedback-note').innerText.includes('感谢您的好评')")
    assert site.app.state.feedback.counts()["up"] == before + 1
    assert not tab.is_visible("#zw-dislike")  # no reason is asked for a 👍


@pytest.mark.slow
def test_a_refusal_offers_a_ticket_that_staff_find_masked_and_close(site: Site, tab: Page, shots: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store: TicketStore = site.app.state.tickets
    before = len(store.find("all"))
    open_citizen(tab, site)
    answer = ask(tab, "买了个无人机，要去哪里登记")
    handoff = answer.locator(".zw-handoff")
    assert handoff.is_visible() and "12345" in handoff.locator(".zw-hotline").inner_text()
    assert answer.locator("details.zw-source").count() == 0
    tab.wait_for_selector("#zw-ticket", state="visible")
    assert "转人工办理" in tab.inner_text("#zw-ticket-heading")
    assert tab.input_value("#zw-ticket-question textarea") == "买了个无人机，要去哪里登记"  # the turn's question
    tab.click("#zw-ticket-send")  # no contact: refused, the form stays
    tab.wait_for_function("document.querySelector('#zw-ticket-note').innerText.includes('「联系方式」')")
    assert tab.is_visible("#zw-ticket") and len(store.find("all")) == before

    tab.fill("#zw-ticket-question textarea", "我的失业保险金申领一直没批下来")  # editable
    tab.fill("#zw-ticket-contact textarea", PHONE)
    tab.screenshot(path=str(shots / "screenshot-ticket.png"), full_page=True)
    tab.click("#zw-ticket-send")
    tab.wait_for_function("document.querySelector('#zw-ticket-note').innerText.includes('工单号')")
    tab.wait_for_selector("#zw-ticket", state="hidden")
    (ticket,) = [t for t in store.find("all") if "失业保险金申领一直没批下来" in t.question]
    assert ticket.contact == PHONE and ticket.department == "示例市人力资源和社会保障局" and ticket.conversation_id
    assert f"已转给「示例市人力资源和社会保障局」，工单号 {ticket.id}，" in tab.inner_text("#zw-ticket-note")

    staff = tab.context.new_page()
    open_staff(staff, site)
    row = staff.locator("#zw-tickets div[role=row]", has_text="失业保险金申领一直没批下来")
    row.wait_for()
    text = row.inner_text()
    assert "待处理" in text and "示例市人力资源和社会保障局 " in text  # the department and the top-3 with scores
    assert MOBILE_MASK in text and PHONE not in text and PHONE not in staff.content()
    staff.fill("#zw-ticket-id input", str(ticket.id))
    staff.locator("#zw-ticket-move label", has_text="已办结").click()
    staff.fill("#zw-ticket-resolution textarea", "已电话联系，材料已补齐")
    staff.click("#zw-ticket-update")
    staff.wait_for_function("document.querySelector('#zw-ticket-done').innerText.includes('已办结')")
    assert staff.locator("#zw-tickets div[role=row]", has_text="失业保险金申领一直没批下来").count() == 0  # 待处理 only
    staff.locator("#zw-ticket-state label", has_text="全部").click()
    closed = staff.locator("#zw-tickets div[role=row]", has_text="失业保险金申领一直没批下来")
    closed.wait_for()
    assert "已办结" in closed.inner_text() and "已电话联系，材料已补齐" in closed.inner_text()
    assert store.get(ticket.id).state == "closed" and store.get(ticket.id).note == "已电话联系，材料已补齐"
    staff.click("#zw-ticket-reveal")  # for the call-back, on purpose
    staff.wait_for_function(f"document.querySelector('#zw-ticket-done').innerText.includes('{PHONE}')")
    assert PHONE not in caplog.text  # neither the page, the ticket store nor the reveal logged the contact


@pytest.mark.slow
def test_elderly_mode_enlarges_the_type(site: Site, tab: Page) -> None:
    open_citizen(tab, site)
    answer = ask(tab, "补领身份证要多少钱")
    size = "e => parseFloat(getComputedStyle(e).fontSize)"
    before = answer.locator(".message-content p").first.evaluate(size)
    assert "zw-elderly" not in (tab.get_attribute("#zw-chat", "class") or "")
    tab.check("#zw-elderly input")
    tab.wait_for_selector("#zw-chat.zw-elderly")
    after = answer.locator(".message-content p").first.evaluate(size)
    assert after >= 20 and after > before * 1.2
    tab.uncheck("#zw-elderly input")
    tab.wait_for_selector("#zw-chat:not(.zw-elderly)")


@pytest.mark.slow
def test_traditional_script_applies_to_the_next_answer(site: Site, tab: Page) -> None:
    open_citizen(tab, site)
    tab.locator("#zw-script label", has_text="繁體").click()
    answer = ask(tab, "补办身份证的工本费是多少钱")
    assert "身份證" in answer.locator(".message-content p").first.inner_text()
    assert "40元" in answer.inner_text()


@pytest.mark.slow
def test_a_dislike_with_its_reason_reaches_the_staff_queue(site: Site, tab: Page) -> None:
    open_citizen(tab, site)
    ask(tab, "补领身份证要带什么材料")
    tab.locator("#zw-chatbot button[aria-label=踩]").last.click()
    tab.wait_for_selector("#zw-ticket", state="visible")  # a 👎 also offers a ticket about that question
    assert "提交反映" in tab.inner_text("#zw-ticket-heading")
    assert tab.input_value("#zw-ticket-question textarea") == "补领身份证要带什么材料"
    tab.fill("#zw-dislike-reason textarea", "没说在哪个窗口办，我的电话13812345678")
    tab.click("#zw-dislike-send")
    tab.wait_for_function("document.querySelector('#zw-feedback-note').innerText.includes('24小时')")
    stored = [f for f in site.app.state.feedback.find("all") if "没说在哪个窗口办" in f.reason]
    assert len(stored) == 1 and stored[0].rating == "down" and "13812345678" not in stored[0].reason

    staff = tab.context.new_page()
    staff.goto(site.url + "/staff/")
    staff.fill("#zw-key input", "not-the-key")
    staff.click("#zw-enter")
    staff.wait_for_function("document.querySelector('#zw-key-error').innerText.includes('员工密钥错误')")
    assert not staff.is_visible("#zw-console") and "没说在哪个窗口办" not in staff.content()

    staff.fill("#zw-key input", STAFF_KEY)
    staff.click("#zw-enter")
    staff.wait_for_selector("#zw-console", state="visible")
    row = staff.locator("#zw-feedback div[role=row]", has_text="没说在哪个窗口办")
    row.wait_for()
    text = row.inner_text()
    assert "差评" in text and "待处理" in text and "13812345678" not in text
    staff.fill("#zw-feedback-id input", str(stored[0].id))
    staff.fill("#zw-resolution textarea", "已在回答中补充窗口地址")
    staff.click("#zw-resolve")
    staff.wait_for_function("document.querySelector('#zw-resolved').innerText.includes('已标记为已处理')")
    assert staff.locator("#zw-feedback div[role=row]", has_text="没说在哪个窗口办").count() == 0  # the open queue
    staff.locator("#zw-state label", has_text="全部").click()
    resolved = staff.locator("#zw-feedback div[role=row]", has_text="没说在哪个窗口办")
    resolved.wait_for()
    assert "已处理" in resolved.inner_text() and "已在回答中补充窗口地址" in resolved.inner_text()
    assert site.app.state.feedback.get(stored[0].id).resolved


@pytest.mark.slow
def test_the_staff_console_runs_the_eval_and_shows_the_metrics(site: Site, tab: Page, shots: Path) -> None:
    with httpx.Client(base_url=site.url) as client:  # one fresh 差评 through the API, for the queue
        asked = client.post("/v1/ask", json={"question": "失业保险金怎么申领"}).json()
        given = client.post("/v1/feedback", json={"answer_id": asked["answer_id"], "rating": "down",
                                                  "reason": "希望写明办理地点"})
        assert given.status_code == 201
        ticket = client.post("/v1/tickets", json={"question": "公积金提取申请被退回了，该找哪个部门", "contact": "13912345678"})
        assert ticket.status_code == 201
    open_staff(tab, site)
    tab.locator("#zw-split label", has_text="全部").click()
    tab.click("#zw-run-eval")
    tab.wait_for_function("document.querySelector('#zw-eval-summary').innerText.includes('题')")
    assert "3 题" in tab.inner_text("#zw-eval-summary")
    rows = tab.locator("#zw-metrics div[role=row]")
    metrics = {cells[0].strip(): cells[1].strip() for cells in
               (rows.nth(n).locator("[role=gridcell]").all_inner_texts() for n in range(rows.count()))}
    assert metrics["题目数"] == "3" and metrics["应拒答的拒答率"] == "1"
    assert float(metrics["要点召回率"]) < 1  # 结婚证 is not in the answer
    failed = tab.locator("#zw-failures div[role=row]", has_text="w-materials")
    assert "缺少要点" in failed.inner_text() and "guide-idcard-replace" in failed.inner_text()
    assert tab.locator("#zw-failures div[role=row]", has_text="w-weather").count() == 0
    tab.locator("#zw-feedback div[role=row]", has_text="希望写明办理地点").wait_for()
    opened = tab.locator("#zw-tickets div[role=row]", has_text="公积金提取申请被退回了")
    opened.wait_for()  # listed (待处理) on unlocking, the contact masked
    assert "待处理" in opened.inner_text() and MOBILE_MASK in opened.inner_text()
    tab.wait_for_timeout(1000)
    tab.screenshot(path=str(shots / "screenshot-staff.png"), full_page=True)
    assert (shots / "screenshot-staff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_the_corpus_view_flags_stale_documents_and_reindexes(site: Site, tab: Page) -> None:
    open_staff(tab, site)
    dog = tab.locator("#zw-documents div[role=row]", has_text="guide-dog-registration")
    dog.wait_for()
    assert "已过期或过旧" in dog.inner_text() and "2020-12-31" in dog.inner_text()
    assert "有效" in tab.locator("#zw-documents div[role=row]", has_text="faq-idcard-lost-fee").inner_text()
    assert "1 篇已过期或过旧" in tab.inner_text("#zw-documents-summary")
    tab.click("#zw-reindex")
    tab.wait_for_function("document.querySelector('#zw-reindex-status').innerText.includes('重新索引完成')",
                          timeout=120_000)
    assert "未变 9 篇" in tab.inner_text("#zw-reindex-status")


@pytest.mark.slow
def test_the_bundles_tab_is_a_checklist_that_asks_the_assistant(site: Site, tab: Page) -> None:
    open_citizen(tab, site)
    tab.get_by_role("tab", name="一件事一次办").click()
    tab.locator("#zw-bundles label", has_text="失业一件事").click()
    tab.wait_for_selector("#zw-bundle-steps", state="visible")
    assert "第1步　失业保险金申领" in tab.inner_text("#zw-bundle-steps")
    tab.click("#zw-bundle-ask")
    answer = answered(tab, 0)
    assert tab.get_by_role("tab", name="咨询").get_attribute("aria-selected") == "true"
    assert tab.locator("#zw-chatbot .message-row.user-row").last.inner_text() == "失业一件事要办哪些手续？"
    assert answer.locator("details.zw-source").count() >= 1


@pytest.mark.slow
def test_the_policy_calculator_shows_what_a_company_qualifies_for(site: Site, tab: Page, shots: Path) -> None:
    open_citizen(tab, site)
    tab.get_by_role("tab", name="政策计算器").click()
    tab.fill("#zw-company-employees textarea", "-5")
    tab.click("#zw-company-match")
    tab.wait_for_function("document.querySelector('#zw-company-result').innerText.includes('从业人员数')")
    assert "「从业人员数」不能小于0" in tab.inner_text("#zw-company-result")  # the Profile's rule, in Chinese

    tab.click("#zw-company-size input")
    tab.get_by_role("option", name="小型企业").click()
    tab.fill("#zw-company-place textarea", "示例市")
    tab.fill("#zw-company-employees textarea", "150")
    tab.click("#zw-company-match")
    tab.wait_for_selector("#zw-company-result .zw-group-qualifies")
    qualifies = tab.locator("#zw-company-result .zw-group-qualifies .zw-policy")
    assert qualifies.count() == 1
    text = qualifies.inner_text()
    assert "示例市小微企业研发奖励" in text and "示例数据" in text and "研发费用的10%" in text
    assert "主管部门：示例市科学技术局" in text and "✓ 属于小型或微型企业" in text
    nearly = tab.locator("#zw-company-result .zw-group-nearly .zw-policy")
    assert nearly.count() == 1
    assert "示例市企业吸纳就业补贴" in nearly.inner_text()
    assert "还差：从业人员不超过100人" in nearly.inner_text() and "需要您补充：登记注册年数" in nearly.inner_text()
    assert "补充填写 登记注册年数" in tab.inner_text("#zw-company-result")
    refused = tab.locator("#zw-company-result .zw-group-not_qualified .zw-policy")
    assert refused.count() == 1 and "不符合：申请人为个人" in refused.inner_text()
    source = qualifies.locator("details.zw-source")
    source.locator("summary").click()
    assert "在示例市登记注册的小型、微型企业" in source.locator(".zw-quote").inner_text()
    assert "生效日期：2025-01-01" in source.locator(".zw-meta").inner_text()
    assert source.locator("a.zw-link").get_attribute("href") == \
        "https://zwfw.shili.example/policy/policy-web-rnd-reward"
    tab.wait_for_timeout(300)
    tab.screenshot(path=str(shots / "screenshot-matcher.png"), full_page=True)
    assert (shots / "screenshot-matcher.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    tab.get_by_role("tab", name="个人").click()
    tab.fill("#zw-person-age textarea", "三十")
    tab.click("#zw-person-match")
    tab.wait_for_function("document.querySelector('#zw-person-result').innerText.includes('年龄')")
    assert "「年龄」应填写整数" in tab.inner_text("#zw-person-result")
    tab.fill("#zw-person-age textarea", "30")
    tab.click("#zw-person-match")
    tab.wait_for_selector("#zw-person-result .zw-group-qualifies")
    person = tab.locator("#zw-person-result .zw-group-qualifies .zw-policy")
    assert person.count() == 1 and "示例市青年人才租房补贴" in person.inner_text()


@pytest.mark.slow
def test_a_life_event_example_asks_its_question(site: Site, tab: Page) -> None:
    open_citizen(tab, site)
    tab.locator("#zw-examples").get_by_text("居民身份证丢失了怎么补领？").click()
    answer = answered(tab, 0)
    assert tab.locator("#zw-chatbot .message-row.user-row").last.inner_text() == "居民身份证丢失了怎么补领？"
    assert "居民身份证补领" in " ".join(answer.locator("details.zw-source summary").all_inner_texts())


def test_the_staff_console_stays_shut_without_a_staff_key(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()

    def no_assistant() -> Assistant:
        raise AssertionError("a shut console must not reach the assistant")

    console = StaffConsole(StaffServices(settings=settings, assistant=no_assistant,
                                         feedback=FeedbackStore.from_settings(settings),
                                         store=ChromaStore.connect(settings), uploads=Uploads.from_settings(settings),
                                         reindex_job=ReindexJob(settings), limiter=RateLimiter(60),
                                         tickets=TicketStore.from_settings(settings)))
    unlocked, error, *_ = console.unlock(STAFF_KEY, "open", None)  # type: ignore[arg-type]
    assert unlocked is False and "未开放" in error
    with pytest.raises(gr.Error):
        console.feedback_queue("open", False)
    for locked in (False, None, "yes"):
        with pytest.raises(gr.Error):
            console.desk.ticket_queue("all", locked)  # type: ignore[arg-type]
        with pytest.raises(gr.Error):
            console.desk.reveal_contact(1, locked)  # type: ignore[arg-type]


def test_mounting_keeps_the_api_routes_and_their_error_bodies(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(staff_key=STAFF_KEY))
    assert mount_web(mount_web(app)) is app  # mounted once
    assert sum(isinstance(route, PageMount) for route in app.router.routes) == 1
    client = TestClient(app)
    for path, status, code in (("/v1/nothing-here", 404, "not_found"), ("/nothing-here", 404, "not_found"),
                               ("/v1/ask", 405, "method_not_allowed"), ("/healthz", 503, None)):
        response = client.get(path)
        assert response.status_code == status, path
        assert code is None or response.json()["error"] == code, path
    assert client.get("/staff", follow_redirects=False).headers["location"] == "/staff/"
    for page in ("/", "/staff/"):
        response = client.get(page)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")


def test_answer_text_and_sources_are_escaped() -> None:
    answer = Answer(question="q", normalized_question="q", mode="guide", warnings=("<b>旧</b>",),
                    blocks=(Block("答复", "<script>x</script>", (1,), asked="<em>能换吗</em>"),),
                    citations=(Citation(1, "d", "<img src=x>", "s", "2020-01-01", "javascript:alert(1)", "<i>q</i>",
                                        "guide"),))
    shown = render_answer(AskResponse.of(answer, "a" * 32, 1.0))
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "<img" not in shown and "<i>" not in shown and "<b>" not in shown and "<em>" not in shown
    assert "**答复（对应问题：&lt;em&gt;能换吗&lt;/em&gt;）**" in shown  # the FAQ's own question beside its answer
    assert "javascript:" not in shown  # only http(s) links are shown
    session = ChatSession(turns=[Turn("q", AskResponse.of(answer, "a" * 32, 1.0), script="traditional")])
    assert session.messages()[1]["content"].startswith("（繁體和粤语显示需要改写服务")  # no rewriter: said so
    assert session.answer_id_at(1) == "a" * 32 and session.answer_id_at(0) == "" and session.turn_at(3) is None


def test_the_example_questions_come_from_the_eval_set() -> None:
    """The life-event examples are answerable questions the eval set scores."""
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    answerable = {row["question"] for row in map(json.loads, filter(None, lines)) if not row["must_refuse"]}
    examples = [question for questions in LIFE_EVENTS.values() for question in questions]
    assert {"生孩子", "结婚", "找工作", "退休", "开公司", "买房"} <= set(LIFE_EVENTS)
    assert [q for q in examples if q not in answerable] == []


def test_every_profile_field_is_on_a_form_with_a_chinese_name() -> None:
    fields = set(Profile.model_fields)
    assert set(FIELD_NAMES) == fields
    assert set(COMPANY_FIELDS) | set(PERSON_FIELDS) | {"applicant_type"} == fields


def test_the_calculator_escapes_policy_text_and_names_what_to_fill_in(tmp_path: Path) -> None:
    write(tmp_path / "policies" / "p.md", POLICY_HIRING.replace("title: 示例市企业吸纳就业补贴", "title: <b>补贴</b>"))
    calculator = PolicyCalculator(PolicyCatalog.from_corpus(tmp_path), RateLimiter(1))
    shown = calculator.match("company", {"employees": "５０", "industry": " "}, None)
    assert "<b>" not in shown and "&lt;b&gt;补贴&lt;/b&gt;" in shown
    assert "差一点 1 项" in shown and "需要您补充：登记注册年数" in shown and "✓ 从业人员不超过100人" in shown
    assert "查询太频繁" in calculator.match("company", {}, None)  # one per minute: the second waits


def test_invalid_input_is_explained_in_chinese() -> None:
    def explained(model: type, labels: dict[str, str], **values: object) -> str:
        with pytest.raises(ValidationError) as caught:
            model.model_validate(values)  # type: ignore[attr-defined]
        return explain_invalid(caught.value, labels)

    assert explained(Profile, FIELD_NAMES, employees=-1) == "「从业人员数」不能小于0。"
    assert explained(Profile, FIELD_NAMES, size="huge") == "「企业规模」请从选项中选择。"
    assert explained(Profile, FIELD_NAMES, age=30.5) == "「年龄」应填写整数。"
    labels = {"contact": "联系方式", "question": "要反映的问题"}
    assert explained(TicketRequest, labels, question="社保", contact="ab") == "「联系方式」至少要有3个字。"
    assert explained(TicketRequest, labels, question="\u200b ", contact=PHONE).startswith("问题不能为空")


def test_a_ticket_from_the_page_counts_against_the_asking_rate_limit(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    store = TicketStore.from_settings(settings)
    router = KeywordRouter.fit(["失业保险金申领", "身份证补领"], ["示例市人力资源和社会保障局", "示例市公安局"])
    limiter = RateLimiter(2)
    offer = TicketOffer(settings, store, router, limiter)
    request = SimpleNamespace(client=SimpleNamespace(host="10.1.2.3"))
    session = ChatSession(offer=Offer("refused", "失业保险金申领不了"))
    assert limiter.hit("10.1.2.3") == 0  # one question asked
    form, note, *_ = offer.submit("失业保险金申领不了", "ab", session, request)  # type: ignore[arg-type]
    assert "「联系方式」" in note and store.find("all") == []  # refused before it counts
    form, note, contact, session = offer.submit("失业保险金申领不了", PHONE, session, request)  # type: ignore[arg-type]
    (ticket,) = store.find("all")
    assert note == f"✅ 已转给「示例市人力资源和社会保障局」，工单号 {ticket.id}，工作人员会按您留的联系方式回复。"
    assert ticket.contact == PHONE and ticket.conversation_id == session.conversation_id and session.offer is None
    assert contact == "" and offer.show_form(session)[0].visible is False
    _, note, *_ = offer.submit("身份证补领", PHONE, session, request)  # type: ignore[arg-type]
    assert "提交太频繁" in note and len(store.find("all")) == 1  # the same limiter as asking


def test_staff_move_a_ticket_on_and_re_route_it(make_settings: Callable[..., Settings]) -> None:
    store = TicketStore.from_settings(make_settings())
    ticket = store.create("失业保险金申领不了", PHONE, [("示例市人力资源和社会保障局", 0.9), ("示例市公安局", 0.1)])
    desk = TicketDesk(store)
    done, counts, rows, departments, note = desk.update_ticket(ticket.id, "in_progress", "转公安核实身份",
                                                               "示例市公安局", "all", True)
    moved = store.get(ticket.id)
    assert (moved.state, moved.department, moved.note) == ("in_progress", "示例市公安局", "转公安核实身份")
    assert "处理中" in done and "示例市公安局" in done and note == ""
    assert rows == [[str(ticket.id), rows[0][1], "失业保险金申领不了", "示例市公安局",
                     "示例市人力资源和社会保障局 0.90；示例市公安局 0.10", MOBILE_MASK, "处理中", "转公安核实身份"]]
    assert "处理中 1 件" in counts and departments.choices == [("示例市人力资源和社会保障局", "示例市人力资源和社会保障局"),
                                                          ("示例市公安局", "示例市公安局")]
    with pytest.raises(gr.Error, match="没有第 99 号工单"):
        desk.update_ticket(99, "closed", "", None, "all", True)
    with pytest.raises(gr.Error, match="请填写工单号"):
        desk.update_ticket(None, "closed", "", None, "all", True)
    with pytest.raises(gr.Error, match="处理说明"):
        desk.update_ticket(ticket.id, "closed", "长" * 2001, None, "all", True)
