"""一件事一次办 on the citizen page: the corpus bundles (`assistant.bundles.BundleGuide`, the one the
API serves) as checklists, with the materials of all steps listed once, and a button that asks the
assistant about the whole event."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from assistant.bundles import Bundle, BundleGuide
from assistant.errors import ZhengwuError

log = logging.getLogger("zhengwu.web")
CHOOSE = "请先在上面选择一件事。"


class BundleShelf:
    """The bundle tab's handlers over the `BundleGuide`."""

    def __init__(self, guide: BundleGuide) -> None:
        self.guide = guide

    def choices(self) -> gr.Radio:
        try:
            documents = self.guide.documents()
        except ZhengwuError as exc:
            log.error("the bundles could not be read: %s", exc)
            documents = []
        return gr.Radio(choices=[(f"{d.extra.get('event') or '其他'}｜{d.title}", d.doc_id) for d in documents],
                        value=None)

    def find(self, bundle_id: str | None) -> Bundle | None:
        if not bundle_id:
            return None
        try:
            return self.guide.get(bundle_id)
        except ZhengwuError as exc:  # gone, or its documents cannot be read
            log.warning("bundle %s not shown: %s", bundle_id, exc)
            return None

    def show_bundle(self, bundle_id: str | None) -> tuple[Any, ...]:
        """(intro, the steps as a checklist, the ask button)."""
        bundle = self.find(bundle_id)
        if bundle is None:
            return CHOOSE, gr.CheckboxGroup(choices=[], value=[], visible=False), gr.Button(visible=False)
        steps = [(f"第{step.number}步　" + "：".join(part for part in (step.title, step.note) if part), str(step.number))
                 for step in bundle.steps]
        return (bundle_intro(bundle), gr.CheckboxGroup(choices=steps, value=[], visible=True),
                gr.Button(f"问助手：{bundle_question(bundle)}", visible=True))

    def question(self, bundle_id: str | None) -> str:
        bundle = self.find(bundle_id)
        return bundle_question(bundle) if bundle is not None else ""


def bundle_question(bundle: Bundle) -> str:
    return f"{bundle.title}要办哪些手续？"


def bundle_intro(bundle: Bundle) -> str:
    tag = "　`示例数据`" if bundle.sample else ""
    lines = [f"### {bundle.title}{tag}", f"人生大事：**{bundle.event or '其他'}**　牵头部门：{bundle.department}"]
    if bundle.materials:
        items = "\n".join(f"- {m.name}（第{'、'.join(map(str, m.needed_by))}步需要）" for m in bundle.materials)
        lines.append(f"**材料清单**（各步骤重复的材料只列一次）：\n{items}")
    lines += list(bundle.warnings)
    lines.append("按顺序办理，办完一步就勾上一步：")
    return "\n\n".join(lines)
