"""Plain-language retelling by a chat model, under the same fact check as the rule rewriter.

`LlmRewriter` first runs the rule-based `PlainRewriter` (the fallback, and the only path for
elderly mode, 繁體 and 粤语). For plain Simplified retelling it then asks the model to retell each
block (prompt: `assistant/prompts/rewrite.txt`), and keeps the model's wording only when every
block passes `check_facts` against its original: every number, amount, date, phone, URL,
material and title unchanged, no number made up. Otherwise, or on an error or timeout, the rule
rewrite is returned with a note saying why.
"""

from __future__ import annotations

import re
from dataclasses import replace

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.answer import Answer, Block, Rewrite, RewriteOptions
from assistant.errors import ConfigError, LlmError
from assistant.factcheck import check_facts
from assistant.llm import invoke
from assistant.rewriter import PlainRewriter

NUMBERED = re.compile(r"^\s*\[(\d+)\]\s*", re.MULTILINE)


class LlmRewriter:
    def __init__(self, rules: PlainRewriter, model: BaseChatModel, prompt: str, deadline: float = 30.0) -> None:
        if deadline <= 0:
            raise ConfigError(f"deadline must be greater than 0, got {deadline}")
        if not prompt.strip():
            raise ConfigError("prompt must not be empty")
        self.rules, self.model, self.prompt, self.deadline = rules, model, prompt, deadline

    def rewrite(self, answer: Answer, options: RewriteOptions) -> Rewrite:
        base = self.rules.rewrite(answer, options)
        if (not options.plain or options.elderly or options.script != "simplified" or answer.refused
                or not answer.blocks):
            return base
        numbered = "\n".join(f"[{n}] {block.text}" for n, block in enumerate(answer.blocks, start=1))
        messages = [SystemMessage(self.prompt), HumanMessage(f"<原文>\n{numbered}\n</原文>")]
        try:
            reply = invoke(self.model, messages, self.deadline)
        except LlmError as exc:
            return _keep(base, f"llm rewrite not used: {exc}")
        texts = parse_blocks(reply, len(answer.blocks))
        if texts is None:
            return _keep(base, "llm rewrite not used: the reply does not hold one numbered part per block")
        for number, (block, text) in enumerate(zip(answer.blocks, texts, strict=True), start=1):
            check = check_facts(block.text, text, block.heading)
            if not check.passed:
                return _keep(base, f"llm rewrite not used: block {number}: {check.describe()}")
        blocks = tuple(Block(b.heading, text, b.citations, b.asked) for b, text in zip(answer.blocks, texts, strict=True))
        return Rewrite(blocks, options, True, base.closing, ("llm rewrite, fact check passed",))


def parse_blocks(reply: str, count: int) -> list[str] | None:
    """The reply's parts `[1] …`, `[2] …` in order, or None unless there is exactly one per block."""
    marks = list(NUMBERED.finditer(reply))
    if [int(m.group(1)) for m in marks] != list(range(1, count + 1)):
        return None
    ends = [m.start() for m in marks[1:]] + [len(reply)]
    parts = [reply[m.end():end].strip() for m, end in zip(marks, ends, strict=True)]
    return parts if all(parts) else None


def _keep(base: Rewrite, note: str) -> Rewrite:
    return replace(base, notes=base.notes + (note,))
