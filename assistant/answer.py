"""What the assistant returns: an `Answer` made of `Block`s, each citing numbered `Citation`s.

Citations are data (document, section or article, date, link, quoted span), never formatted
strings; the faces (CLI, API, WeChat, web page) decide how to show them. "No evidence" is a normal
`Answer` with `refused=True` and a `Handoff` to a human channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["faq", "guide", "policy", "bundle", "refusal", "llm"]


@dataclass(frozen=True)
class Citation:
    number: int
    doc_id: str
    title: str
    section: str
    effective_date: str
    source_url: str
    quote: str
    kind: str
    sample: bool = False
    expires: str = ""
    chunk_id: str = ""


@dataclass(frozen=True)
class Block:
    """One piece of guidance (a heading such as 申请材料, its text, and the citations behind it).
    `asked`: for an FAQ's answer, the FAQ's own question — what its text answers, shown beside it so
    that a reader sees what its 可以 or 不能 says yes or no to, when the question asked was another."""

    heading: str
    text: str
    citations: tuple[int, ...]
    asked: str = ""


@dataclass(frozen=True)
class Handoff:
    """Where a person can get a human answer."""

    message: str
    hotline: str = "12345"
    department: str = ""
    phone: str = ""


Script = Literal["simplified", "traditional", "cantonese"]


@dataclass(frozen=True)
class RewriteOptions:
    """How the person wants the answer told: plain words (default), elderly mode, which script."""

    plain: bool = True
    elderly: bool = False
    script: Script = "simplified"


@dataclass(frozen=True)
class Rewrite:
    """The answer retold for a person: the same blocks, headings and citations in plainer words.

    `facts_preserved` is False when the fact check rejected the rewrite; `blocks` are then the
    original ones, unchanged."""

    blocks: tuple[Block, ...]
    options: RewriteOptions
    facts_preserved: bool
    closing: str = ""  # elderly mode: phone number and address repeated at the end
    notes: tuple[str, ...] = ()  # transformations applied, or why the rewrite was dropped

    @property
    def text(self) -> str:
        return "\n".join([block.text for block in self.blocks] + ([self.closing] if self.closing else []))


@dataclass(frozen=True)
class Answer:
    question: str
    normalized_question: str
    blocks: tuple[Block, ...]
    citations: tuple[Citation, ...]
    mode: Mode
    refused: bool = False
    refusal_reason: str = ""
    handoff: Handoff | None = None
    warnings: tuple[str, ...] = ()
    conversation_id: str = ""
    resolved_question: str = ""  # the question after follow-up resolution, as retrieved
    plain: Rewrite | None = None  # the plain-language version, when a rewriter ran
    generator: Literal["extractive", "llm"] = "extractive"
    fallback_reason: str = ""  # set when an LLM was configured but the extractive answer was used

    @property
    def text(self) -> str:
        """Plain text of all blocks (no citation markers): what fact checks read."""
        return "\n".join(block.text for block in self.blocks)

    @property
    def cited_doc_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.doc_id for c in self.citations))
