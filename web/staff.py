"""The staff console (`/staff`), behind the staff key (`settings.staff_key`; closed while unset).

Four sections: the eval set (dev, test or all) run through the live answerer with a progress bar,
metrics beside the failures; the feedback queue (差评 first, oldest first, 24-hour follow-up,
resolve with a note); the hand-off tickets (`web.tickets`: by state, re-route, close with a note);
the corpus (documents, dates, stale ones flagged, re-index). The data comes from the same
functions the staff API routes use (`api.feedback`, `api.staff`, the ticket store), the key check
from `api.dependencies.require_staff`. Whether a session has unlocked the console lives
server-side in `gr.State`, and every handler checks it (`web.access`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import gradio as gr
from pydantic import ValidationError

from api.dependencies import require_staff
from api.errors import ApiError
from api.feedback import list_feedback, resolve_feedback
from api.limits import RateLimiter
from api.schemas import FeedbackOut, ReindexStatusOut, ResolveRequest, SecondIndexOut
from api.staff import list_documents, reindex_status, start_reindex
from assistant.errors import ZhengwuError
from assistant.feedback import FeedbackStore
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import ChromaStore
from assistant.tickets import TicketStore
from eval.questions import EvalQuestion, load_questions
from eval.runner import QuestionResult, run_question, summarise
from indexer.reindex import ReindexJob, Uploads
from web import chinese, client_of
from web.access import LOCKED as LOCKED  # re-exported: the message every locked handler answers
from web.access import require_unlocked
from web.tickets import TicketDesk, ticket_section
from web.validation import explain_invalid


SPLITS = [("开发集（dev）", "dev"), ("测试集（test）", "test"), ("全部", "all")]
METRICS = [("n", "题目数"), ("passed", "通过题数"), ("top1", "首位命中率 top1"), ("top5", "前五命中率 top5"),
           ("mrr", "平均倒数排名 MRR"), ("fact_recall", "要点召回率"), ("citation_precision", "引用准确率"),
           ("refusal_accuracy", "应拒答的拒答率"), ("false_refusal", "误拒率"), ("p50_ms", "耗时中位数（毫秒）"),
           ("p95_ms", "耗时P95（毫秒）")]
FAILURE_COLUMNS = ["编号", "问题", "期望文档", "应含要点", "系统回答", "系统引用", "问题所在"]
FAILURE_NOTES = [("answered a must-refuse question", "应拒答却作了回答"), ("refused", "误拒"),
                 ("expected document not in top 5", "期望文档不在检索前5"), ("missing facts: ", "缺少要点："),
                 ("cited an unrelated passage", "引用了无关段落")]
FEEDBACK_COLUMNS = ["编号", "评价", "跟进状态", "提交时间", "问题", "回答", "理由", "处理说明"]
DOCUMENT_COLUMNS = ["文档", "标题", "类型", "生效日期", "有效期至", "时效", "分块", "来源", "已索引"]
REINDEX_STATES = {"idle": "本次启动后尚未重新索引", "running": "正在重新索引", "succeeded": "重新索引完成",
                  "failed": "重新索引失败"}
KEY_ERRORS = {"staff_closed": "员工控制台未开放（服务器未设置 ZHENGWU_STAFF_KEY）。", "unauthorized": "请输入员工密钥。",
              "forbidden": "员工密钥错误。"}
CSS = """
#zw-metrics table td, #zw-failures table td { white-space: normal; }
.zw-key-error { color: #c0392b; font-weight: 600; }
"""


@dataclass(frozen=True)
class StaffServices:
    """What the console uses from `app.state`."""

    settings: Settings
    assistant: Callable[[], Assistant]
    feedback: FeedbackStore
    store: ChromaStore
    uploads: Uploads
    reindex_job: ReindexJob
    limiter: RateLimiter
    tickets: TicketStore


def stamp(moment: dt.datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def follow_up(item: FeedbackOut) -> str:
    if item.resolved:
        return f"已处理（{stamp(item.resolved_at)}）"
    if item.overdue:
        return "⚠ 超过24小时未处理"
    return "待处理（24小时内）" if item.rating == "down" else "待查看"


def explain(failure: str) -> str:
    """The eval runner's failure note in Chinese (its detail, such as the missing facts, kept)."""
    for english, chinese_note in FAILURE_NOTES:
        if failure.startswith(english):
            return chinese_note + failure[len(english):]
    return failure


def failure_row(question: EvalQuestion, result: QuestionResult) -> list[str]:
    expected = "、".join(question.expected_docs) or "（应拒答）"
    if question.expected_section:
        expected += f"（{question.expected_section}）"
    answer = "（拒答）" if result.refused else result.answer[:300]
    return [result.id, result.question, expected, "、".join(question.must_include), answer,
            "、".join(result.cited), "；".join(explain(failure) for failure in result.failures)]


def describe_reindex(status: ReindexStatusOut) -> str:
    lines = [f"**{REINDEX_STATES[status.state]}**"]
    if status.state == "running":
        lines.append(f"进度：{status.chunks_done}/{status.chunks_total or '?'} 个分块")
    if status.summary is not None:
        summary = status.summary
        lines.append(f"新增 {summary.added}、更新 {summary.updated}、删除 {summary.removed}、未变 {summary.unchanged} 篇文档")
    if status.finished_at is not None:
        lines.append(f"结束于 {stamp(status.finished_at)}")
    if status.error:
        lines.append(f"错误：{status.error}")
    lines += [f"跳过的文件：{problem}" for problem in status.problems]
    return "\n\n".join(lines)


def describe_second_index(second: SecondIndexOut | None) -> str:
    """One line on the second embedder's index, when one is set: built, in step, or what it lacks."""
    if second is None:
        return ""
    if second.collection is None:
        return f"\n\n第二索引（{second.embedder}）尚未建立，检索暂只用主索引；请重新索引。"
    if not second.behind:
        return f"\n\n第二索引（{second.embedder}）：{second.documents} 篇，与主索引一致。"
    shown = "、".join(second.behind[:5]) + ("等" if len(second.behind) > 5 else "")
    return (f"\n\n第二索引（{second.embedder}）：{second.documents} 篇，其中 {len(second.behind)} 篇与主索引不一致"
            f"（{shown}），这些文档在第二索引中的旧结果不参与检索；请重新索引。")


class StaffConsole:
    """The console's event handlers; `staff_console()` lays the page out and wires them."""

    def __init__(self, services: StaffServices) -> None:
        self.services = services
        self.desk = TicketDesk(services.tickets)

    def unlock(self, key: str, state: Literal["open", "all"], request: gr.Request) -> tuple[Any, ...]:
        """(unlocked, error text, login box, console, feedback counts and queue, documents, open tickets
        with the departments to re-route to): the key is checked by `require_staff`; a wrong key shows
        the error and nothing else."""
        refused = "尝试次数太多，请一分钟后再试。" if self.services.limiter.hit(f"staff:{client_of(request)}") else ""
        if not refused:
            try:
                require_staff(self.services.settings, key or None)
            except ApiError as exc:
                refused = KEY_ERRORS.get(exc.code, chinese(exc.message))
        if refused:
            return (False, refused, gr.Column(visible=True), gr.Column(visible=False), "", [], "", [], "", [],
                    gr.skip())
        counts, queue = self.feedback_queue(state, True)
        overview, documents = self.documents(True)
        tickets = self.desk.ticket_queue("open", True)  # the ticket filter starts at 待处理
        return True, "", gr.Column(visible=False), gr.Column(visible=True), counts, queue, overview, documents, *tickets

    def run_eval(self, split: Literal["dev", "test", "all"], unlocked: bool,
                 progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """(summary text, metrics table, failures table), the questions answered one by one."""
        require_unlocked(unlocked)
        try:
            questions = load_questions(self.services.settings.eval_questions, split)
            assistant = self.services.assistant()  # asked as citizens ask: answer and plain rewrite
            results = [run_question(assistant, question) for question in progress.tqdm(questions, desc="评测进行中")]
        except ZhengwuError as exc:
            raise gr.Error(f"评测无法运行：{exc}") from exc
        summary = summarise(questions, results)
        metrics = [[label, summary[key]] for key, label in METRICS]
        failures = [failure_row(q, r) for q, r in zip(questions, results, strict=True) if not r.passed]
        text = (f"**{dict((v, k) for k, v in SPLITS)[split]}**：{summary['n']} 题，通过 {summary['passed']} 题，"
                f"未通过 {len(failures)} 题（其中应拒答 {summary['must_refuse']} 题）。")
        return text, metrics, failures

    def feedback_queue(self, state: Literal["open", "all"], unlocked: bool) -> tuple[str, list[list[str]]]:
        require_unlocked(unlocked)
        try:
            listed = list_feedback(self.services.feedback, state, 500)
        except ZhengwuError as exc:
            raise gr.Error(f"无法读取反馈：{exc}") from exc
        rows = [[str(item.id), "差评" if item.rating == "down" else "好评", follow_up(item), stamp(item.created_at),
                 item.question, item.answer[:200], item.reason, item.resolution_note] for item in listed.items]
        counts = listed.counts
        text = f"差评 {counts.get('down', 0)} 条，好评 {counts.get('up', 0)} 条，待处理 {counts.get('open', 0)} 条。"
        return text, rows

    def resolve(self, feedback_id: float | None, note: str, state: Literal["open", "all"],
                unlocked: bool) -> tuple[str, str, list[list[str]], Any]:
        require_unlocked(unlocked)
        if not feedback_id or feedback_id < 1:
            raise gr.Error("请填写要处理的反馈编号。")
        try:
            resolved = resolve_feedback(int(feedback_id), ResolveRequest(note=note or ""), self.services.feedback)
        except ValidationError as exc:
            raise gr.Error(explain_invalid(exc, {"note": "处理说明"})) from exc
        except ZhengwuError as exc:
            raise gr.Error(f"无法标记：{exc}") from exc
        text, rows = self.feedback_queue(state, unlocked)
        return f"第 {resolved.id} 条反馈已标记为已处理。", text, rows, ""

    def documents(self, unlocked: bool) -> tuple[str, list[list[str]]]:
        require_unlocked(unlocked)
        try:
            listed = list_documents(self.services.settings, self.services.store, self.services.uploads)
        except ZhengwuError as exc:
            raise gr.Error(f"无法读取文档列表：{exc}") from exc
        rows = [[doc.doc_id, doc.title, doc.kind, doc.effective_date, doc.expires or "—",
                 "⚠ 已过期或过旧" if doc.stale else "有效", str(doc.chunks), "上传" if doc.source == "upload" else "语料库",
                 "是" if doc.indexed else "否（需重新索引）"] for doc in listed.documents]
        stale = sum(doc.stale for doc in listed.documents)
        summary = f"共 {listed.total} 篇文档，其中 {stale} 篇已过期或过旧（索引：{listed.collection or '尚未建立'}）。"
        return summary + describe_second_index(listed.second_index), rows

    def reindex(self, rebuild: bool, unlocked: bool) -> tuple[str, gr.Timer]:
        require_unlocked(unlocked)
        try:
            status = start_reindex(self.services.reindex_job, bool(rebuild))
        except ZhengwuError as exc:
            raise gr.Error(f"无法开始重新索引：{exc}") from exc
        return describe_reindex(status), gr.Timer(active=True)

    def reindex_progress(self, unlocked: bool) -> tuple[str, gr.Timer]:
        require_unlocked(unlocked)
        status = reindex_status(self.services.reindex_job)
        return describe_reindex(status), gr.Timer(active=status.state == "running")


def staff_console(services: StaffServices) -> gr.Blocks:
    console = StaffConsole(services)
    closed = services.settings.staff_key is None or not services.settings.staff_key.get_secret_value()
    with gr.Blocks(title="政务问答助手 · 工作人员控制台", analytics_enabled=False) as blocks:
        unlocked = gr.State(False)
        gr.Markdown("# 政务问答助手 · 工作人员控制台")
        with gr.Column(visible=True, elem_id="zw-login") as login:
            if closed:
                gr.Markdown(KEY_ERRORS["staff_closed"], elem_classes=["zw-key-error"])
            key = gr.Textbox(label="员工密钥", type="password", visible=not closed, elem_id="zw-key")
            enter = gr.Button("进入控制台", variant="primary", visible=not closed, elem_id="zw-enter")
            error = gr.Markdown("", elem_classes=["zw-key-error"], elem_id="zw-key-error")
        with gr.Column(visible=False, elem_id="zw-console") as body:
            gr.Markdown("## 评测　看系统答得准不准", elem_id="zw-eval")
            with gr.Row():
                split = gr.Radio(SPLITS, value="dev", label="评测集", elem_id="zw-split")
                run = gr.Button("运行评测", variant="primary", elem_id="zw-run-eval")
            summary = gr.Markdown("", elem_id="zw-eval-summary")
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=260):
                    metrics = gr.Dataframe(headers=["指标", "数值"], label="指标", interactive=False, elem_id="zw-metrics")
                with gr.Column(scale=3):
                    failures = gr.Dataframe(headers=FAILURE_COLUMNS, label="未通过的题目（期望 vs 系统回答）",
                                            interactive=False, wrap=True, elem_id="zw-failures")
            gr.Markdown("## 反馈队列　差评在前，先到先处理，24小时内跟进", elem_id="zw-feedback-title")
            with gr.Row():
                state = gr.Radio([("待处理", "open"), ("全部", "all")], value="open", label="范围", elem_id="zw-state")
                refresh = gr.Button("刷新反馈", elem_id="zw-feedback-refresh")
            counts = gr.Markdown("", elem_id="zw-feedback-counts")
            queue = gr.Dataframe(headers=FEEDBACK_COLUMNS, label="反馈", interactive=False, wrap=True,
                                 elem_id="zw-feedback")
            with gr.Row():
                feedback_id = gr.Number(None, label="反馈编号", precision=0, elem_id="zw-feedback-id")
                note = gr.Textbox(label="处理说明", scale=3, elem_id="zw-resolution")
                resolve = gr.Button("标记为已处理", variant="primary", elem_id="zw-resolve")
            resolved = gr.Markdown("", elem_id="zw-resolved")
            tickets = ticket_section(console.desk, unlocked)
            gr.Markdown("## 文档库　时效与重新索引", elem_id="zw-documents-title")
            overview = gr.Markdown("", elem_id="zw-documents-summary")
            documents = gr.Dataframe(headers=DOCUMENT_COLUMNS, label="文档", interactive=False, wrap=True,
                                     elem_id="zw-documents")
            with gr.Row():
                reload_documents = gr.Button("刷新文档列表")
                rebuild = gr.Checkbox(False, label="全部重新向量化（较慢）")
                reindex = gr.Button("重新索引", variant="primary", elem_id="zw-reindex")
            reindex_state = gr.Markdown("", elem_id="zw-reindex-status")
            timer = gr.Timer(2.0, active=False)

        private = {"api_visibility": "private"}  # the console's events are not an API
        unlocked_outputs = [unlocked, error, login, body, counts, queue, overview, documents, *tickets.listed]
        enter.click(console.unlock, [key, state], unlocked_outputs, **private)
        key.submit(console.unlock, [key, state], unlocked_outputs, **private)
        run.click(console.run_eval, [split, unlocked], [summary, metrics, failures], show_progress="full", **private)
        refresh.click(console.feedback_queue, [state, unlocked], [counts, queue], **private)
        state.change(console.feedback_queue, [state, unlocked], [counts, queue], **private)
        resolve.click(console.resolve, [feedback_id, note, state, unlocked], [resolved, counts, queue, note], **private)
        reload_documents.click(console.documents, [unlocked], [overview, documents], **private)
        reindex.click(console.reindex, [rebuild, unlocked], [reindex_state, timer], **private)
        timer.tick(console.reindex_progress, [unlocked], [reindex_state, timer], **private)
    return blocks
