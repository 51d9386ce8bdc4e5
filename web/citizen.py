"""The citizen page (`/`): a question in everyday words, a cited answer back.

Answers come through `api.ask.answer_question`, so a page answer is registered for feedback and
counted in the metrics exactly like a /v1/ask answer; 👍/👎 go through `api.feedback.give_feedback`.
The `render_*` functions are the only place answers are formatted for the web: numbered citations
whose sources open to the quote, title, section, date and link; freshness warnings; the hand-off
box; the retold (plain, elderly, 繁體/粤语) version with the original a click away. The 一件事一次办
bundles are read from the corpus and the uploads (`BundleShelf`) and shown as checklists.
"""

from __future__ import annotations

import html
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from pydantic import ValidationError

from api.ask import answer_question, checked_question
from api.errors import ApiError
from api.feedback import give_feedback
from api.limits import RateLimiter
from api.metrics import Metrics
from api.schemas import AskRequest, AskResponse, FeedbackRequest
from assistant.errors import IndexNotFoundError, ZhengwuError
from assistant.feedback import FeedbackStore, RecentAnswers
from assistant.service import Assistant
from assistant.settings import Settings
from indexer.loaders import load_paths
from indexer.reindex import ReindexJob, default_sources
from web import chinese, client_of

log = logging.getLogger("zhengwu.web")

SCRIPTS = [("简体", "simplified"), ("繁體", "traditional"), ("粤语", "cantonese")]
# Example questions by life event, taken from the staff eval set (answerable ones).
LIFE_EVENTS: dict[str, list[str]] = {
    "生孩子": ["孩子出生后需要办理哪些手续？", "新生儿办理出生登记需要提交哪些材料？", "女职工生育享受多少天产假？"],
    "结婚": ["办理结婚登记需要带哪些材料？", "法定结婚年龄是多少岁？", "协议离婚的离婚冷静期是多长时间？"],
    "找工作": ["申领失业保险金需要满足哪些条件？", "高校毕业生毕业后没找到工作，可以办理失业登记吗？",
            "换城市工作后，住房公积金如何转移？"],
    "退休": ["实施渐进式延迟退休后，法定退休年龄是多少？", "退休后如何提取住房公积金？",
           "80周岁以上老年人的高龄津贴标准是多少？"],
    "开公司": ["公司设立登记的办理时限是多久？", "个体工商户登记需要提交哪些材料？", "新办企业领用发票需要什么材料？"],
    "买房": ["二手房转移登记的不动产登记费是多少？", "住房公积金个人住房贷款的最高额度是多少？",
           "新建商品房办理不动产权证书需要多长时间？"],
    "证件": ["居民身份证丢失了怎么补领？", "机动车驾驶证遗失后如何补领？", "办理普通护照的收费标准是多少？"],
}
PENDING = "正在查找相关的办事指南和政策原文……"
UNAVAILABLE = "系统暂时无法回答，请稍后再试，或拨打12345政务服务便民热线。"
SIMPLIFIED_ONLY = "（繁體和粤语显示需要改写服务，当前未启用，以下为简体原文。）"
WELCOME = ("您好！我是政务问答助手。请用日常的话提问，例如“身份证丢了怎么补办”。"
           "每条回答都注明出处，点开来源可以看到原文。")


CSS = """
.zw-sources { margin-top: .6em; border-top: 1px solid var(--border-color-primary); padding-top: .4em; }
.zw-sources-title { font-weight: 600; margin: .2em 0; }
.zw-source, .zw-original { margin: .3em 0; padding: .2em .5em; border-left: 3px solid var(--color-accent); }
.zw-source summary, .zw-original summary { cursor: pointer; }
.zw-quote { margin: .4em 0; padding: .3em .6em; background: var(--background-fill-secondary); }
.zw-meta { font-size: .9em; color: var(--body-text-color); }
.zw-sample { margin-left: .4em; padding: 0 .4em; border-radius: 4px; font-size: .8em;
             background: #fff3cd; color: #7a5b00; border: 1px solid #e0c36a; }
.zw-mark { color: var(--color-accent); font-weight: 600; }
.zw-warning { margin: .4em 0; padding: .3em .6em; background: #fff3cd; border: 1px solid #e0c36a; border-radius: 6px; }
.zw-handoff { padding: .6em .9em; border: 2px solid #c0392b; border-radius: 8px; background: #fdf2f0; }
.zw-handoff-title { font-weight: 700; color: #c0392b; }
.zw-hotline { font-size: 1.3em; color: #c0392b; }
.zw-elderly .message, .zw-elderly .message *, .zw-elderly textarea, .zw-elderly button {
    font-size: 22px !important; line-height: 1.7 !important; }
"""
KIND_NAMES = {"guide": "办事指南", "policy": "政策法规", "faq": "常见问答", "bundle": "一件事一次办"}


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def render_answer(response: AskResponse) -> str:
    """One answer as chat Markdown: the retold blocks (the original when none), citation numbers,
    warnings, the numbered sources, the original wording a click away, and who to call."""
    if response.refused:
        return render_handoff(response, refused=True)
    retold = response.plain
    blocks = retold.blocks if retold is not None else response.answer.blocks
    parts = [render_block(block.heading, block.text, block.citations) for block in blocks]
    if retold is not None and retold.closing:
        parts.append(escape(retold.closing))
    if retold is not None and not retold.facts_preserved:
        parts.append('<p class="zw-note">（白话版没有通过事实核对，以上为原文表述。）</p>')
    parts += [f'<div class="zw-warning">⚠ {escape(warning)}</div>' for warning in response.warnings]
    if response.citations:
        parts.append(render_sources(response))
    if retold is not None and retold.facts_preserved and retold.text != response.answer.text:
        parts.append(render_original(response))
    if response.handoff is not None:
        parts.append(render_handoff(response, refused=False))
    return "\n\n".join(part for part in parts if part)


def render_block(heading: str, text: str, citations: list[int]) -> str:
    marks = "".join(f'<sup class="zw-mark">[{number}]</sup>' for number in citations)
    title = f"**{escape(heading)}**\n" if heading else ""
    return f"{title}{escape(text)} {marks}".rstrip()


def render_sources(response: AskResponse) -> str:
    """Every citation as a `<details>` that opens to its quote, title, section, dates, kind and link."""
    items = []
    for citation in response.citations:
        sample = '<span class="zw-sample">示例数据</span>' if citation.sample else ""
        section = f" · {escape(citation.section)}" if citation.section else ""
        facts = [f"文件：《{escape(citation.title)}》"]
        if citation.section:
            facts.append(f"章节/条款：{escape(citation.section)}")
        facts.append(f"生效日期：{escape(citation.effective_date) or '未注明'}")
        if citation.expires:
            facts.append(f"有效期至：{escape(citation.expires)}")
        facts.append(f"类型：{KIND_NAMES.get(citation.kind, escape(citation.kind))}")
        link = (f'<a class="zw-link" href="{escape(citation.source_url)}" target="_blank" rel="noopener noreferrer">'
                f"查看原文出处</a>" if citation.source_url.startswith(("https://", "http://")) else "")
        items.append(
            f'<details class="zw-source" data-number="{citation.number}"><summary><span class="zw-cite-no">'
            f"[{citation.number}]</span> 《{escape(citation.title)}》{section} {sample}</summary>"
            f'<blockquote class="zw-quote">{escape(citation.quote).replace(chr(10), "<br>")}</blockquote>'
            f'<p class="zw-meta">{"<br>".join(facts)}</p><p>{link}</p></details>')
    return f'<div class="zw-sources"><p class="zw-sources-title">依据来源（点开查看原文）</p>{"".join(items)}</div>'


def render_original(response: AskResponse) -> str:
    body = "".join(f"<p><strong>{escape(block.heading)}</strong><br>{escape(block.text).replace(chr(10), '<br>')}</p>"
                   for block in response.answer.blocks)
    return f'<details class="zw-original"><summary>查看原文（改写前的原始表述）</summary>{body}</details>'


def render_handoff(response: AskResponse, refused: bool) -> str:
    """On a refusal, a box with the hotline and the department's phone; otherwise one contact line."""
    handoff = response.handoff
    hotline = handoff.hotline if handoff is not None else "12345"
    office = ""
    if handoff is not None and handoff.department:
        phone = f"：<strong>{escape(handoff.phone)}</strong>" if handoff.phone else ""
        office = f"{escape(handoff.department)}{phone}"
    if not refused:
        also = f"，或咨询{office}" if office else ""
        return f'<p class="zw-contact">如需进一步确认，请拨打 <strong>{escape(hotline)}</strong> 政务服务便民热线{also}。</p>'
    message = escape(handoff.message) if handoff is not None else "这个问题我没能从政务资料里找到可靠的答案。"
    lines = ['<p class="zw-handoff-title">☎ 这个问题请找人工咨询</p>', f"<p>{message}</p>",
             f'<p>政务服务便民热线：<strong class="zw-hotline">{escape(hotline)}</strong></p>']
    if office:
        lines.append(f'<p class="zw-office">办理部门　{office}</p>')
    return f'<div class="zw-handoff">{"".join(lines)}</div>'


@dataclass(frozen=True)
class BundleStep:
    number: int
    guide: str  # the doc id of the step's 办事指南
    title: str
    note: str


@dataclass(frozen=True)
class Bundle:
    """One 一件事一次办 bundle (a corpus document of kind `bundle`) as a checklist."""

    doc_id: str
    title: str
    event: str
    department: str
    sample: bool
    steps: tuple[BundleStep, ...]


def load_bundles(settings: Settings) -> list[Bundle]:
    """The bundles of the corpus and the staff uploads, their steps named by their guides' titles.
    Files the loaders reject are skipped here (the indexer reports them)."""
    documents = load_paths(default_sources(settings)).documents
    titles = {doc.doc_id: doc.title for doc in documents}
    bundles = []
    for doc in documents:
        if doc.kind != "bundle":
            continue
        raw = doc.extra.get("steps")
        steps = tuple(BundleStep(number, str(step.get("guide", "")), titles.get(str(step.get("guide", "")), ""),
                                 str(step.get("note", "")))
                      for number, step in enumerate(raw if isinstance(raw, list) else [], start=1)
                      if isinstance(step, dict))
        bundles.append(Bundle(doc.doc_id, doc.title, str(doc.extra.get("event") or "其他"), doc.department,
                              doc.sample, steps))
    return sorted(bundles, key=lambda bundle: bundle.doc_id)


class BundleShelf:
    """The bundles, read on first use and again after each re-index."""

    def __init__(self, settings: Settings, reindex_job: ReindexJob) -> None:
        self.settings = settings
        self.reindex_job = reindex_job
        self._lock = threading.Lock()
        self._bundles: dict[str, Bundle] | None = None
        self._read_after: float | None = None

    def all(self) -> list[Bundle]:
        finished = self.reindex_job.status().finished_at
        with self._lock:
            if self._bundles is None or finished != self._read_after:
                self._bundles = {bundle.doc_id: bundle for bundle in load_bundles(self.settings)}
                self._read_after = finished
            return list(self._bundles.values())

    def get(self, doc_id: str) -> Bundle | None:
        return next((bundle for bundle in self.all() if bundle.doc_id == doc_id), None)


@dataclass
class Turn:
    """One question and what was shown for it: an answer, or a notice (busy, too long, failed)."""

    question: str
    response: AskResponse | None = None
    notice: str = ""
    script: str = "simplified"  # the script asked for


@dataclass
class ChatSession:
    """One browser session's conversation; kept server-side in `gr.State`."""

    conversation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    turns: list[Turn] = field(default_factory=list)
    disliked: str = ""  # the answer id whose 👎 waits for its reason

    def messages(self) -> list[dict[str, str]]:
        """Chatbot messages: two per turn, so message `2n + 1` is the answer of turn `n`."""
        shown: list[dict[str, str]] = []
        for turn in self.turns:
            answer = render_answer(turn.response) if turn.response is not None else turn.notice
            if turn.response is not None and turn.response.plain is None and turn.script != "simplified":
                answer = f"{SIMPLIFIED_ONLY}\n\n{answer}"
            shown += [{"role": "user", "content": escape(turn.question)},
                      {"role": "assistant", "content": answer or PENDING}]
        return shown

    def answer_id_at(self, index: int) -> str:
        if index % 2 != 1 or not 0 <= index // 2 < len(self.turns):
            return ""
        response = self.turns[index // 2].response
        return response.answer_id if response is not None else ""


@dataclass(frozen=True)
class CitizenServices:
    """What the page uses from `app.state`."""

    settings: Settings
    assistant: Callable[[], Assistant]
    answers: RecentAnswers
    feedback: FeedbackStore
    metrics: Metrics
    limiter: RateLimiter
    bundles: BundleShelf


class CitizenPage:
    """The page's event handlers; `citizen_page()` lays the page out and wires them."""

    def __init__(self, services: CitizenServices) -> None:
        self.services = services

    # --- asking -----------------------------------------------------------------------------------

    def ask(self, question: str, session: ChatSession | None, plain: bool, elderly: bool, script: str,
            request: gr.Request) -> Iterator[tuple[Any, ...]]:
        """Yields (chat, question box, session, feedback note): first the question, then its answer."""
        session = session or ChatSession()
        try:
            body = AskRequest(question=question or "", conversation_id=session.conversation_id, plain=bool(plain),
                              elderly=bool(elderly), script=script)
        except ValidationError as exc:
            gr.Warning(chinese(exc.errors()[0]["msg"]))
            yield session.messages(), question, session, ""
            return
        turn = Turn(body.question, script=body.script)
        session.turns.append(turn)
        wait = self.services.limiter.hit(client_of(request))
        if wait:
            turn.notice = f"提问太频繁了，请{wait}秒后再试。"
            yield session.messages(), "", session, ""
            return
        try:
            checked_question(body, self.services.settings, request.request)
        except ApiError as exc:
            turn.notice = chinese(exc.message)
            yield session.messages(), "", session, ""
            return
        yield session.messages(), "", session, ""
        try:
            turn.response = answer_question(self.services.assistant(), self.services.answers, self.services.metrics,
                                            body, body.question)
        except IndexNotFoundError:
            turn.notice = "资料库还在准备中，暂时无法回答。请稍后再试，或拨打12345政务服务便民热线。"
        except ZhengwuError as exc:
            log.error("the web page could not answer: %s", exc)
            turn.notice = UNAVAILABLE
        except Exception as exc:  # noqa: BLE001 - the person must see an answer, never a page stuck waiting
            log.error("the web page could not answer", exc_info=exc)
            turn.notice = UNAVAILABLE
        yield session.messages(), "", session, ""

    def ask_example(self, sample: list[str] | str, session: ChatSession | None, plain: bool, elderly: bool,
                    script: str, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        question = sample[0] if isinstance(sample, list) else sample
        yield from self.ask(question, session, plain, elderly, script, request)

    def restart(self) -> tuple[Any, ...]:
        return [], "", ChatSession(), "", gr.Column(visible=False)

    # --- 👍/👎 -------------------------------------------------------------------------------------

    def rate(self, session: ChatSession | None, liked: gr.LikeData, request: gr.Request) -> tuple[Any, ...]:
        """👍 is recorded at once; 👎 opens the reason box (the reason is optional)."""
        session = session or ChatSession()
        index = liked.index if isinstance(liked.index, int) else liked.index[0]
        answer_id = session.answer_id_at(index)
        if not answer_id:
            return session, "这条消息不能评价。", gr.Column(visible=False)
        if liked.liked is False:
            session.disliked = answer_id
            return session, "", gr.Column(visible=True)
        if liked.liked is True:
            return session, self._record(answer_id, "up", "", request), gr.Column(visible=False)
        return session, "", gr.Column(visible=False)  # the rating was taken back

    def send_dislike(self, reason: str, session: ChatSession | None, request: gr.Request) -> tuple[Any, ...]:
        session = session or ChatSession()
        if not session.disliked:
            return session, "", "", gr.Column(visible=False)
        note = self._record(session.disliked, "down", reason or "", request)
        session.disliked = ""
        return session, note, "", gr.Column(visible=False)

    def _record(self, answer_id: str, rating: str, reason: str, request: gr.Request | None) -> str:
        if self.services.limiter.hit(client_of(request)):
            return "提交太频繁了，请稍后再试。"
        try:
            body = FeedbackRequest(answer_id=answer_id, rating=rating, reason=reason)
            give_feedback(body, None, self.services.answers, self.services.feedback, self.services.metrics)
        except ValidationError as exc:
            return chinese(exc.errors()[0]["msg"])
        except ApiError as exc:
            return chinese(exc.message)
        except ZhengwuError as exc:
            log.error("feedback from the web page was not stored: %s", exc)
            return "评价暂时无法保存，请稍后再试。"
        if rating == "up":
            return "感谢您的好评！"
        return "已收到您的意见，工作人员会在24小时内跟进处理。"

    # --- 一件事一次办 ------------------------------------------------------------------------------

    def show_bundle(self, doc_id: str | None) -> tuple[Any, ...]:
        bundle = self.services.bundles.get(doc_id or "")
        if bundle is None:
            return "请先在上面选择一件事。", gr.CheckboxGroup(choices=[], value=[], visible=False), gr.Button(visible=False)
        steps = [(f"第{step.number}步　" + "：".join(part for part in (step.title, step.note) if part), str(step.number))
                 for step in bundle.steps]
        return (bundle_intro(bundle), gr.CheckboxGroup(choices=steps, value=[], visible=True),
                gr.Button(f"问助手：{bundle_question(bundle)}", visible=True))

    def ask_bundle(self, doc_id: str | None, session: ChatSession | None, plain: bool, elderly: bool, script: str,
                   request: gr.Request) -> Iterator[tuple[Any, ...]]:
        bundle = self.services.bundles.get(doc_id or "")
        if bundle is None:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        for chat, box, kept, note in self.ask(bundle_question(bundle), session, plain, elderly, script, request):
            yield chat, box, kept, note, gr.Tabs(selected="chat")

    def bundle_choices(self) -> gr.Radio:
        return gr.Radio(choices=[(f"{b.event}｜{b.title}", b.doc_id) for b in self.services.bundles.all()], value=None)


def bundle_question(bundle: Bundle) -> str:
    return f"{bundle.title}要办哪些手续？"


def bundle_intro(bundle: Bundle) -> str:
    tag = "　`示例数据`" if bundle.sample else ""
    lines = [f"### {bundle.title}{tag}", f"人生大事：**{bundle.event}**　牵头部门：{bundle.department}",
             "按顺序办理，办完一步就勾上一步："]
    return "\n\n".join(lines)


def elderly_classes(elderly: bool) -> gr.Column:
    return gr.Column(elem_classes=["zw-chat", "zw-elderly"] if elderly else ["zw-chat"])


def citizen_page(services: CitizenServices) -> gr.Blocks:
    page = CitizenPage(services)
    with gr.Blocks(title="政务问答助手", analytics_enabled=False) as blocks:
        session = gr.State(None)
        gr.Markdown("# 政务问答助手\n用日常的话问办事、问政策。回答摘自办事指南和政策原文，每条都注明出处；"
                    "查询个人办件进度请拨打 **12345** 政务服务便民热线。", elem_id="zw-header")
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("咨询", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3, elem_classes=["zw-chat"], elem_id="zw-chat") as chat_column:
                        chat = gr.Chatbot(label="对话", height=None, min_height=420, max_height=1400,
                                          placeholder=WELCOME, feedback_options=("Like", "Dislike"),
                                          buttons=["copy"], latex_delimiters=[], elem_id="zw-chatbot")
                        with gr.Column(visible=False, elem_id="zw-dislike") as dislike_box:
                            reason = gr.Textbox(label="哪里不满意？（可选，请勿填写身份证号、电话等个人信息）",
                                                lines=2, max_length=2000, elem_id="zw-dislike-reason")
                            send_reason = gr.Button("提交意见", variant="secondary", elem_id="zw-dislike-send")
                        note = gr.Markdown("", elem_id="zw-feedback-note")
                        with gr.Row():
                            question = gr.Textbox(show_label=False, placeholder="请输入您的问题，例如：身份证丢了怎么补办",
                                                  scale=5, max_lines=4, elem_id="zw-question")
                            send = gr.Button("发送", variant="primary", scale=1, elem_id="zw-send")
                        restart = gr.Button("开始新的对话", size="sm", elem_id="zw-restart")
                    with gr.Column(scale=1, min_width=220, elem_id="zw-options"):
                        gr.Markdown("#### 显示方式")
                        plain = gr.Checkbox(True, label="白话解读（用大白话讲政策）", elem_id="zw-plain")
                        elderly = gr.Checkbox(False, label="长辈模式（大字、简短）", elem_id="zw-elderly")
                        script = gr.Radio(SCRIPTS, value="simplified", label="文字", elem_id="zw-script")
                        gr.Markdown("切换后对新的提问生效；每条回答下方都可以展开“查看原文”。")
                gr.Markdown("#### 常见问题（按人生大事）　点一下就能提问")
                examples = []
                with gr.Row(elem_id="zw-examples"):
                    for event, questions in LIFE_EVENTS.items():
                        examples.append(gr.Dataset(components=["textbox"], samples=[[q] for q in questions],
                                                   label=event, layout="table", min_width=200))
            with gr.Tab("一件事一次办", id="bundles"):
                gr.Markdown("几件相关的事一次申请、一次办好。选一件事，按步骤勾选办理进度，也可以直接问助手。")
                chosen = gr.Radio(choices=[], label="选择一件事", elem_id="zw-bundles")
                intro = gr.Markdown("请先在上面选择一件事。", elem_id="zw-bundle-intro")
                steps = gr.CheckboxGroup(choices=[], label="办理步骤", visible=False, elem_id="zw-bundle-steps")
                ask_it = gr.Button("问助手", visible=False, elem_id="zw-bundle-ask")

        private = {"api_visibility": "private"}  # the public API is /v1/ask, not the page's events
        options = [session, plain, elderly, script]
        answered = [chat, question, session, note]
        fresh = [chat, question, session, note, dislike_box]
        send.click(page.ask, [question, *options], answered, show_progress="minimal", **private)
        question.submit(page.ask, [question, *options], answered, show_progress="minimal", **private)
        for dataset in examples:
            dataset.click(page.ask_example, [dataset, *options], answered, show_progress="minimal", **private)
        restart.click(page.restart, None, fresh, **private)
        chat.clear(page.restart, None, fresh, **private)
        chat.like(page.rate, [session], [session, note, dislike_box], **private)
        send_reason.click(page.send_dislike, [reason, session], [session, note, reason, dislike_box], **private)
        elderly.change(elderly_classes, elderly, chat_column, **private)
        chosen.change(page.show_bundle, chosen, [intro, steps, ask_it], **private)
        ask_it.click(page.ask_bundle, [chosen, *options], [*answered, tabs], show_progress="minimal", **private)
        blocks.load(page.bundle_choices, None, chosen, **private)
    blocks.queue(default_concurrency_limit=4)
    return blocks
