"""The fact check: what a rewrite of an answer must keep word for word.

`extract_facts` finds the facts of a source text: URLs, citation markers [1], 《titles》, dates,
phone numbers, addresses, percentages, article numbers 第X条, amounts (元), durations (日, 个工作日,
个月, 周岁 …), other numbers (digits, or Chinese numerals of two characters or more), the
示例数据 notice, and the material names of a 申请材料 checklist. `check_facts` passes a rewrite
when every fact occurs in it unchanged, at least as often as in the source, and the rewrite holds
no number the source does not. A plain gloss in Chinese words may be added beside a fact
("20个工作日（大约一个月）"); a fact is never replaced, and "六十日" does not stand in for "60日".
Numbers match whole: "60日" is not found inside "160日" or "600日".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

FactKind = Literal["url", "citation", "title", "date", "phone", "address", "percent", "article", "amount",
                   "duration", "number", "notice", "material"]

CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_CN = f"[{CN_DIGITS}]"
_NUM = rf"(?:\d+(?:\.\d+)?|{_CN}+)"
TIME_UNITS = "个工作日|工作日|自然日|个月|个半月|周岁|小时|分钟|日|天|年|周|岁"
_FACTS = re.compile(
    "|".join((
        r"(?P<url>(?:https?://|www\.)[A-Za-z0-9._~:/?#@!$&'*+,;=%-]+|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})",
        r"(?P<citation>\[\d{1,3}\]|［\d{1,3}］|【\d{1,3}】)",
        r"(?P<title>《[^《》\n]{1,80}》)",
        r"(?P<date>\d{4}年\d{1,2}月(?:\d{1,2}日)?|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}月\d{1,2}日)",
        r"(?P<phone>(?<![\d-])(?:\d{3,4}-\d{3,4}[ -]?\d{4}|400-?\d{3}-?\d{4}|1[3-9]\d{9}|123\d\d)(?![\d-]))",
        r"(?P<address>[\u4e00-\u9fff]{1,8}?(?:大道|大街|路|街|巷|弄|胡同)\d+号(?:院|楼)?)",
        rf"(?P<percent>\d+(?:\.\d+)?%|百分之{_CN}+(?:点{_CN}+)?)",
        rf"(?P<article>第(?:\d+|{_CN}+)[条款项章节](?:第(?:\d+|{_CN}+)[款项])*)",
        rf"(?P<amount>{_NUM}(?:万|亿|千)?元)",
        rf"(?P<duration>{_NUM}(?:{TIME_UNITS}))",
        rf"(?P<number>\d+(?:\.\d+)?|{_CN}{{2,}})",
        r"(?P<notice>示例数据)",
    ))
)
LIST_MARKER = re.compile(r"^\s*(?:[-*•·☐□]|\d{1,2}[.、)）]|[（(]\d{1,2}[)）]|[①-⑳])\s*", re.MULTILINE)
MATERIAL_END = re.compile(r"[（(，,；;：:。]")
_DIGIT_RUN = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Fact:
    kind: FactKind
    text: str
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class FactCheck:
    """The verdict on one rewrite: which source facts it lost or changed, which numbers it made up."""

    missing: tuple[Fact, ...] = ()
    invented: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.missing and not self.invented

    def describe(self) -> str:
        parts = [f"{fact.kind} {fact.text!r} missing or altered" for fact in self.missing]
        parts += [f"number {number!r} not in the source" for number in self.invented]
        return "; ".join(parts)


def is_materials(heading: str) -> bool:
    """A block that lists what to bring (申请材料, 依据：申请材料, 所需材料 …)."""
    return "材料" in heading and "复用" not in heading


def extract_facts(text: str, heading: str = "") -> list[Fact]:
    """The facts of `text`, in order, without overlaps. List markers ("1. ", "- ") are not facts;
    under a materials heading every list item's name (up to its first bracket or comma) is one."""
    facts: list[Fact] = []
    covered: list[tuple[int, int]] = []
    if is_materials(heading):
        for start, end in material_spans(text):
            facts.append(Fact("material", text[start:end], start, end))
            covered.append((start, end))
    markers = {m.start(): m.end() for m in LIST_MARKER.finditer(text)}
    for match in _FACTS.finditer(text):
        start, end = match.span()
        if any(s <= start < e for s, e in markers.items()):
            continue
        kind = match.lastgroup or "number"
        if kind == "material" or any(s <= start < e or s < end <= e for s, e in covered):
            continue
        facts.append(Fact(kind, match.group(0), start, end))  # type: ignore[arg-type]
    return sorted(facts, key=lambda fact: fact.start)


def material_spans(text: str) -> list[tuple[int, int]]:
    """Where the material names of a checklist are: each list item up to its first bracket,
    comma, semicolon or colon."""
    spans = []
    offset = 0
    for line in text.splitlines(keepends=True):
        marker = LIST_MARKER.match(line)
        if marker and marker.end() < len(line.rstrip()):
            body = line[marker.end():].rstrip("\r\n")
            cut = MATERIAL_END.search(body)
            name = body[: cut.start()] if cut else body
            name = name.rstrip(" 。；;，,")
            if len(name) >= 2:
                start = offset + marker.end()
                spans.append((start, start + len(name)))
        offset += len(line)
    return spans


def check_facts(source: str, rewrite: str, heading: str = "", allowed_numbers: Collection[str] = ()) -> FactCheck:
    """Check that `rewrite` keeps every fact of `source` (both in Simplified characters).
    `allowed_numbers` are numbers the rewrite may add (ones a vetted glossary wording carries)."""
    facts = extract_facts(source, heading)
    wanted = Counter(fact.text for fact in facts)
    first = {fact.text: fact for fact in reversed(facts)}
    missing = [first[text] for text, count in wanted.items() if count_occurrences(text, rewrite) < count]
    known = set(_DIGIT_RUN.findall(source)) | set(allowed_numbers)
    invented = tuple(dict.fromkeys(n for n in _DIGIT_RUN.findall(rewrite) if n not in known))
    return FactCheck(tuple(missing), invented)


def count_occurrences(fact: str, text: str) -> int:
    """How often `fact` occurs in `text` as a whole: a number is not counted inside a longer one."""
    return len(_whole(fact).findall(text))


def _whole(fact: str) -> re.Pattern[str]:
    before = after = ""
    if fact[0].isdigit():
        before = r"(?<![\d.])"
    elif fact[0] in CN_DIGITS:
        before = f"(?<!{_CN})"
    if fact[-1].isdigit():
        after = r"(?!\.?\d)"
    elif fact[-1] in CN_DIGITS:
        after = f"(?!{_CN})"
    return re.compile(before + re.escape(fact) + after)
