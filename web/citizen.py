"""The citizen page (`/`): a question in everyday words, a cited answer back; 一件事一次办; 政策计算器.

The page lays out and wires the parts, each in its own module: the conversation (`web.chat`) with
answers formatted by `web.answers`, the hand-off ticket form offered after a refusal or a 👎
(`web.tickets`), the bundles as checklists (`web.bundles`) and the policy calculator
(`web.policies`). The services come from `app.state` (`web.mount`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from api.limits import RateLimiter
from api.metrics import Metrics
from assistant.bundles import BundleGuide
from assistant.feedback import FeedbackStore, RecentAnswers
from assistant.matcher import PolicyCatalog
from assistant.routing import Router
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.tickets import TicketStore
from web import answers, chat, policies, tickets
from web.bundles import BundleShelf
from web.chat import Chat, ChatSession
from web.policies import PolicyCalculator, policy_tab
from web.tickets import TicketOffer, ticket_form

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
WELCOME = ("您好！我是政务问答助手。请用日常的话提问，例如“身份证丢了怎么补办”。"
           "每条回答都注明出处，点开来源可以看到原文。")
CSS = answers.CSS + chat.CSS + policies.CSS + tickets.CSS


@dataclass(frozen=True)
class CitizenServices:
    """What the page uses from `app.state`."""

    settings: Settings
    assistant: Callable[[], Assistant]
    answers: RecentAnswers
    feedback: FeedbackStore
    metrics: Metrics
    limiter: RateLimiter
    bundles: BundleGuide
    policies: PolicyCatalog
    tickets: TicketStore
    router: Router


def elderly_classes(elderly: bool) -> gr.Column:
    return gr.Column(elem_classes=["zw-chat", "zw-elderly"] if elderly else ["zw-chat"])


def citizen_page(services: CitizenServices) -> gr.Blocks:
    talk = Chat(services.settings, services.assistant, services.answers, services.feedback, services.metrics,
                services.limiter)
    offer = TicketOffer(services.settings, services.tickets, services.router, services.limiter)
    shelf = BundleShelf(services.bundles)

    def ask_bundle(bundle_id: str | None, session: ChatSession | None, plain: bool, elderly: bool, script: str,
                   request: gr.Request) -> Iterator[tuple[Any, ...]]:
        question = shelf.question(bundle_id)
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        for shown in talk.ask(question, session, plain, elderly, script, request):
            yield *shown, gr.Tabs(selected="chat")

    with gr.Blocks(title="政务问答助手", analytics_enabled=False) as blocks:
        session = gr.State(None)
        gr.Markdown("# 政务问答助手\n用日常的话问办事、问政策。回答摘自办事指南和政策原文，每条都注明出处；"
                    "查询个人办件进度请拨打 **12345** 政务服务便民热线。", elem_id="zw-header")
        with gr.Tabs(selected="chat") as tabs:
            with gr.Tab("咨询", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3, elem_classes=["zw-chat"], elem_id="zw-chat") as chat_column:
                        conversation = gr.Chatbot(label="对话", height=None, min_height=420, max_height=1400,
                                                  placeholder=WELCOME, feedback_options=("Like", "Dislike"),
                                                  buttons=["copy"], latex_delimiters=[], elem_id="zw-chatbot")
                        with gr.Column(visible=False, elem_id="zw-dislike") as dislike_box:
                            reason = gr.Textbox(label="哪里不满意？（可选，请勿填写身份证号、电话等个人信息）",
                                                lines=2, max_length=2000, elem_id="zw-dislike-reason")
                            send_reason = gr.Button("提交意见", variant="secondary", elem_id="zw-dislike-send")
                        note = gr.Markdown("", elem_id="zw-feedback-note")
                        form = ticket_form(offer, session)
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
            with gr.Tab("政策计算器", id="policies"):
                policy_tab(PolicyCalculator(services.policies, services.limiter))

        private = {"api_visibility": "private"}  # the public API is /v1/ask, not the page's events
        options = [session, plain, elderly, script]
        answered = [conversation, question, session, note]
        fresh = [conversation, question, session, note, dislike_box]
        asked = [send.click(talk.ask, [question, *options], answered, show_progress="minimal", **private),
                 question.submit(talk.ask, [question, *options], answered, show_progress="minimal", **private),
                 ask_it.click(ask_bundle, [chosen, *options], [*answered, tabs], show_progress="minimal", **private),
                 *(dataset.click(talk.ask_example, [dataset, *options], answered, show_progress="minimal", **private)
                   for dataset in examples)]
        asked.append(conversation.like(talk.rate, [session], [session, note, dislike_box], **private))
        for event in asked:  # a refusal or a 👎 offers the ticket form; another answer withdraws it
            event.then(offer.show_form, [session], form.shown, **private)
        for event in (restart.click(talk.restart, None, fresh, **private),
                      conversation.clear(talk.restart, None, fresh, **private)):
            event.then(offer.reset_form, None, [form.box, form.note], **private)
        send_reason.click(talk.send_dislike, [reason, session], [session, note, reason, dislike_box], **private)
        elderly.change(elderly_classes, elderly, chat_column, **private)
        chosen.change(shelf.show_bundle, chosen, [intro, steps, ask_it], **private)
        blocks.load(shelf.choices, None, chosen, **private)
    blocks.queue(default_concurrency_limit=4)
    return blocks
