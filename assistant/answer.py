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
    """One piece of guidance (a heading such as 申请材料, its text, and the citations behind it)."""

    heading: str
    text: str
    citations: tuple[int, ...]


@dataclass(frozen=True)
class Handoff:
    """Where a person can get a human answer."""

    message: str
    hotline: str = "12345"
    department: str = ""
    phone: str = ""


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

    @property
    def text(self) -> str:
        """Plain text of all blocks (no citation markers): what fact checks read."""
        return "\n".join(block.text for block in self.blocks)

    @property
    def cited_doc_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.doc_id for c in self.citations))
