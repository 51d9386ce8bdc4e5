"""End-to-end tests of the citizen page and the staff console in a real headless Chromium.

The real app (`create_app` + `mount_web`) runs under uvicorn on a loopback port, with the real
assistant (hybrid retriever, extractive answerer, plain-language rewriter) over the tiny corpus,
an expired guide and a bundle, built once for the module. Run with `ZHENGWU_SCREENSHOTS=1` to write
docs/screenshot-citizen.png and docs/screenshot-staff.png.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Locator, Page, sync_playwright

from api.app import create_app
from api.limits import RateLimiter
from api.schemas import AskResponse
from assistant.answer import Answer, Block, Citation
from assistant.embedders import Embedder
from assistant.feedback import FeedbackStore
from assistant.rewriter import PlainRewriter
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import ChromaStore
from indexer.reindex import ReindexJob, Uploads
from tests.conftest import FAQ_FEE, GUIDE_IDCARD, GUIDE_UNEMPLOYMENT, LAW_ID_CARD, ROOT, free_port, write
from tests.test_answering import build
from web.citizen import LIFE_EVENTS, ChatSession, Turn, render_answer
from web.mount import PageMount, mount_web
from web.staff import StaffConsole, StaffServices

CHROMIUM = Path("/usr/bin/chromium")
STAFF_KEY = "web-staff-key-7"
BOT = "#zw-chatbot .message-row.bot-row"
PENDING = "正在查找"


DOG_GUIDE = """
---
id: guide-dog-registration
title: 养犬登记
kind: guide
department: 示例市公安局
region: 示例市
effective_date: 2020-01-01
expires: 2020-12-31
source_url: https://zwfw.shili.example/guide/guide-dog-registration
sample: true
---

## 事项名称
养犬登记

## 申请材料
- 犬只狂犬病免疫证明
- 养犬人居民身份证
"""

BUNDLE_JOBLESS = """
---
id: bundle-unemployment
title: 失业一件事
kind: bundle
event: 失业
department: 示例市人力资源和社会保障局
region: 示例市
effective_date: 2025-01-01
source_url: https://zwfw.shili.example/bundle/bundle-unemployment
sample: true
steps:
  - guide: guide-unemployment-benefit
    note: 失业前单位和本人缴纳失业保险费满一年的，申领失业保险金
    together_with: []
    carries: []
---

## 适用情形
非本人意愿中断就业后，申领失业保险金。

## 办理顺序
1. 失业保险金申领（guide-unemployment-benefit）：到社保经办机构申领。
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
                       ("faqs/faq-idcard-lost-fee.md", FAQ_FEE), ("bundles/bundle-unemployment.md", BUNDLE_JOBLESS)):
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
def test_a_refusal_shows_the_hand_off(site: Site, tab: Page) -> None:
    open_citizen(tab, site)
    answer = ask(tab, "明天天气怎么样")
    handoff = answer.locator(".zw-handoff")
    assert handoff.is_visible() and "12345" in handoff.locator(".zw-hotline").inner_text()
    assert answer.locator("details.zw-source").count() == 0


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
    assert "未变 6 篇" in tab.inner_text("#zw-reindex-status")


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
                                         reindex_job=ReindexJob(settings), limiter=RateLimiter(60)))
    unlocked, error, *_ = console.unlock(STAFF_KEY, "open", None)  # type: ignore[arg-type]
    assert unlocked is False and "未开放" in error
    with pytest.raises(gr.Error):
        console.feedback_queue("open", False)


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
                    blocks=(Block("答复", "<script>x</script>", (1,)),),
                    citations=(Citation(1, "d", "<img src=x>", "s", "2020-01-01", "javascript:alert(1)", "<i>q</i>",
                                        "guide"),))
    shown = render_answer(AskResponse.of(answer, "a" * 32, 1.0))
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "<img" not in shown and "<i>" not in shown and "<b>" not in shown
    assert "javascript:" not in shown  # only http(s) links are shown
    session = ChatSession(turns=[Turn("q", AskResponse.of(answer, "a" * 32, 1.0), script="traditional")])
    assert session.messages()[1]["content"].startswith("（繁體和粤语显示需要改写服务")  # no rewriter: said so
    assert session.answer_id_at(1) == "a" * 32 and session.answer_id_at(0) == ""


def test_the_example_questions_come_from_the_eval_set() -> None:
    """The life-event examples are answerable questions the eval set scores."""
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    answerable = {row["question"] for row in map(json.loads, filter(None, lines)) if not row["must_refuse"]}
    examples = [question for questions in LIFE_EVENTS.values() for question in questions]
    assert {"生孩子", "结婚", "找工作", "退休", "开公司", "买房"} <= set(LIFE_EVENTS)
    assert [q for q in examples if q not in answerable] == []
