"""Query understanding before retrieval.

A question is normalised step by step, and the original is always kept for display:
1. width and compatibility forms folded (NFKC), Traditional → Simplified characters (OpenCC), typed
   pinyin back to characters ("shenfenzheng丢了" → "身份证丢了", assistant.pinyin) when a decoder is given;
2. dialect and colloquial expressions → standard Mandarin (corpus/dialect.yaml), longest first,
   then homophone typos back to the corpus's words ("社宝卡" → "社保卡", assistant.typos) when a
   repairer is given;
3. Chinese numerals before a unit → digits ("六十日" → "60日"), as the corpus writes them;
4. glossary terms expanded both ways: an official term adds its everyday wording and the other way
   round, so "给新房上户口" also searches for "房屋产权初始登记".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from assistant.lexicon import DialectEntry, GlossaryEntry
from assistant.pinyin import PinyinDecoder
from assistant.typos import HomophoneRepair

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
UNITS = {"十": 10, "百": 100, "千": 1000}
NUMBER_BEFORE_UNIT = re.compile(
    r"([零〇一二两三四五六七八九]*[十百千][零〇一二两三四五六七八九十百千]*)"
    r"(?=(个工作日|个月|工作日|周岁|万元|日|天|元|年|岁|分|周|小时))"
)  # only numerals with 十/百/千: "一次性" and "三个月" stay as written
MIN_EXPANSION_CHARS = 3
# Instructions pasted into a question are text, never commands: they are taken out of what is
# retrieved (the original question keeps them for display and logs).
BOOK_TITLE = re.compile(r"《([^《》]{2,30})》")
INSTRUCTION_CLAUSES = re.compile(
    r"(请)?(忽略|无视|忘掉|忘记|不要理会|不要管|别管|莫管)[^,.!?;，。！？；]{0,24}(要求|指令|指示|规则|设定|限制)[,.!?;:，。！？；：]?"
    r"|【\s*(?:系统|system|指令|assistant|管理员)\s*[:：][^】]*】"
    r"|[\[(（]\s*(?:系统|system|指令|assistant|管理员)\s*[:：][^\])）]*[\])）]"
    r"|你现在是[^,.!?;，。！？；]{0,24}[,.!?;，。！？；]?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Query:
    """A normalised question. `text` is what retrieval matches; `original` is what was asked."""

    original: str
    text: str
    expansions: tuple[str, ...] = ()
    dialects: tuple[str, ...] = ()
    traditional: bool = False
    replaced: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    removed_instructions: tuple[str, ...] = field(default=(), compare=False)
    # the lexicons' own names in `text`, longest first where they overlap: the standard side of the
    # dialect lexicon (回乡证 becomes 港澳居民来往内地通行证) and the glossary terms
    names: tuple[str, ...] = field(default=(), compare=False)

    @property
    def search_text(self) -> str:
        return " ".join((self.text, *self.expansions))


def chinese_number(text: str) -> int | None:
    """'六十' → 60, '二十' → 20, '一百二十' → 120, '三' → 3; None when not a plain number."""
    total, current = 0, 0
    for char in text:
        if char in DIGITS:
            current = current * 10 + DIGITS[char] if current and text[0] not in UNITS else DIGITS[char]
        elif char in UNITS:
            total += (current or 1) * UNITS[char]
            current = 0
        else:
            return None
    return total + current


class QueryNormalizer:
    """Normalises questions with the dialect lexicon and the glossary."""

    def __init__(self, dialect: list[DialectEntry], glossary: list[GlossaryEntry],
                 pinyin: PinyinDecoder | None = None, typos: HomophoneRepair | None = None) -> None:
        import opencc

        self.pinyin = pinyin
        self.typos = typos

        self._to_simplified = opencc.OpenCC("t2s")
        self._standard = {entry.expr: entry for entry in dialect}
        self._dialect_pattern = _alternation(self._standard)
        pairs: dict[str, str] = {}
        for entry in glossary:
            if len(entry.term) >= 2 and len(entry.plain) >= MIN_EXPANSION_CHARS:
                pairs.setdefault(entry.term, entry.plain)
                pairs.setdefault(entry.plain, entry.term)
        self._glossary = pairs
        self._glossary_pattern = _alternation(pairs)
        # the lexicons' own names (`Query.names`) and the other names they give each thing
        aliases: dict[str, set[str]] = {}
        for entry in glossary:
            aliases.setdefault(entry.term, set()).update({entry.plain, *BOOK_TITLE.findall(entry.explain)})
        for entry in dialect:
            aliases.setdefault(entry.standard, set()).add(entry.expr)
        self._aliases = {name: tuple(sorted(others - {name})) for name, others in aliases.items()}
        self._names_pattern = _alternation({name: name for name in aliases if len(name) >= 2})

    def normalize(self, question: str) -> Query:
        folded = unicodedata.normalize("NFKC", question).strip()
        converted = self._to_simplified.convert(folded)
        simplified, from_pinyin = self.pinyin.decode(converted) if self.pinyin else (converted, ())
        if from_pinyin:  # jieba's dictionary holds some traditional forms (丟): never let them through
            simplified = self._to_simplified.convert(simplified)
        removed = tuple(m.group(0) for m in INSTRUCTION_CLAUSES.finditer(simplified))
        if removed:
            simplified = INSTRUCTION_CLAUSES.sub("", simplified).strip(" ,，。")
        replaced: list[tuple[str, str]] = list(from_pinyin)
        dialects: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            expr = match.group(0)
            entry = self._standard[expr]
            if _already_standard(simplified, match.start(), match.end(), entry.standard, expr):
                return expr
            replaced.append((expr, entry.standard))
            if entry.dialect != "口语" and entry.dialect not in dialects:
                dialects.append(entry.dialect)
            return entry.standard

        text = self._dialect_pattern.sub(substitute, simplified) if self._dialect_pattern else simplified
        if self.typos is not None:
            text, repaired = self.typos.repair(text)
            replaced.extend(repaired)
        text = NUMBER_BEFORE_UNIT.sub(lambda m: _digits(m.group(1)), text)
        expansions: list[str] = []
        names = [m.group(0) for m in self._names_pattern.finditer(text)] if self._names_pattern else []
        if self._glossary_pattern:
            for match in self._glossary_pattern.finditer(text):
                other = self._glossary[match.group(0)]
                if other not in text and other not in expansions:
                    expansions.append(other)
        return Query(
            original=question,
            text=text,
            expansions=tuple(expansions),
            dialects=tuple(dialects),
            traditional=converted != folded,
            replaced=tuple(replaced),
            removed_instructions=removed,
            names=tuple(dict.fromkeys(names)),
        )

    def aliases(self, name: str) -> tuple[str, ...]:
        """The other names the lexicons give `name`: a glossary term's plain wording and the 《…》
        names in its explanation, the dialect words for a standard (准迁证: 《准予迁入证明》 …)."""
        return self._aliases.get(name, ())


def _alternation(keys: dict[str, object]) -> re.Pattern[str] | None:
    if not keys:
        return None
    return re.compile("|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)))


def _already_standard(text: str, start: int, end: int, standard: str, expr: str) -> bool:
    """True when the expression already sits inside its own standard form (报销 in 医疗费用报销)."""
    offset = standard.find(expr)
    if offset < 0:
        return False
    begin = start - offset
    return begin >= 0 and text[begin : begin + len(standard)] == standard


def _digits(numeral: str) -> str:
    value = chinese_number(numeral)
    return numeral if value is None else str(value)


def clean_text(text: str, keep_newlines: bool = False) -> str:
    """Drop control, format and surrogate characters; tabs (and newlines unless kept) become spaces."""
    text = text.replace("\r\n", "\n").replace("\t", " ")
    if not keep_newlines:
        text = text.replace("\n", " ").replace("\r", " ")
    kept = (ch for ch in text if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    return "".join(kept).strip()
