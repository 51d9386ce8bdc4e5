"""The plain-language rewriter: an `Answer` retold in everyday words (买菜式语言), by rules.

Each block is rewritten with its facts (assistant.factcheck), office names and official terms
masked, so that no rule can touch them:
1. bureaucratic and passive phrases become direct instructions ("申请人应当提交" → "您需要带上");
2. glossary terms become everyday wording, the official term kept once in brackets for the window
   ("给新房上户口（房屋产权初始登记）"), or stay and are explained once ("受理（窗口收下你的申请）");
3. time limits get a plain duration beside them ("20个工作日（按上班的日子算，大约一个月）");
4. a 申请材料 list becomes a checklist (each material name verbatim); long sentences are split.
Elderly mode also splits shorter, puts the three most important points first and repeats the
phone number and address at the end (`Rewrite.closing`), taken from the answer only.

Scripts: Simplified; Traditional (OpenCC s2t); 粤语: colloquial wording through the inverted 粤语
entries of the dialect lexicon, then Hong Kong Traditional characters (OpenCC s2hk). Written
Cantonese is mostly published in Traditional characters (Hong Kong, Macau, Cantonese media), its
own characters (嘅 喺 冇 咗 佢哋) are the same in both scripts, and Guangdong readers of written
Cantonese commonly read Traditional text; 粤语 wording in Simplified characters would only skip s2hk.

After every rewrite the fact check compares each block, the whole answer, the lead points and the
closing with the original (Traditional and 粤语 converted back to Simplified first). If any fact
is lost or altered, the original blocks come back with `facts_preserved=False` and a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answer import Answer, Block, Rewrite, RewriteOptions
from assistant.errors import ConfigError
from assistant.factcheck import CN_DIGITS, LIST_MARKER, FactCheck, check_facts, extract_facts, is_materials, material_spans
from assistant.lexicon import DialectEntry, GlossaryEntry, load_dialect, load_glossary
from assistant.plainrules import PlainRules
from assistant.query import chinese_number
from assistant.settings import Settings

HOLE = 0xE000  # masked spans become private-use characters, one each
HOLES = re.compile("[\ue000-\uf8ff]")
RESERVED = re.compile("[\x01-\x03\ue000-\uf8ff]")  # the rewriter's own markers: a source holding them is left as is
MERGE = "\x01"  # after a bracket the rewriter added: merge it with a source bracket that follows
OPEN = "\x02"  # before a bracket the rewriter added: never merged into
NOTE = "\x03"  # before an explanation sentence ("户籍地就是老家户口那儿。"): never a lead point
OPENING, CLOSING = "（(“「", "）)”」"
SENTENCE_END = "。！？!?"
AFTER_TERM = set("，,。；;：:、！？!?）)”」\n（(的地得和与或及并等了时后前里中上下也都就还要可在由向到给把被从对为是")
CONDITIONS = re.compile(r"^(?:如果|如|若|凡|只要|只有|虽然|即使|无论|不论|因为|由于|为了|除)")
PREPOSITIONS = re.compile(r"^(?:在|从|自|按|根据|经|对|向|通过|拿着|凭|除)")
JOINED = re.compile(r"^(?:并|且|而|或|及|和|与|等|以|则|即|的|之|就|才|便)")
CN_COUNT = "零一二三四五六七八九十"
SCRIPTS = ("simplified", "traditional", "cantonese")
TITLES = re.compile("《[^《》]*》")
TRAILING_BRACKET = re.compile("[（(][^（）()]*[）)]$")


@dataclass
class _State:
    """What one answer's rewrite has done so far (terms are explained once per answer)."""

    explained: set[str] = field(default_factory=set)
    working_days_said: bool = False
    allowed: set[str] = field(default_factory=set)  # numbers carried by glossary wording
    notes: dict[str, None] = field(default_factory=dict)

    def note(self, text: str) -> None:
        self.notes.setdefault(text, None)


class _Masked:
    """Text with protected spans replaced by single private-use characters."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str]] = []  # (original text, kind)

    def hide(self, text: str, kind: str) -> str:
        self.spans.append((text, kind))
        return chr(HOLE + len(self.spans) - 1)

    def mask(self, text: str, spans: list[tuple[int, int, str]]) -> str:
        out, last = [], 0
        for start, end, kind in sorted(spans):
            if start >= last:
                out += [text[last:start], self.hide(text[start:end], kind)]
                last = end
        return "".join(out) + text[last:]

    def span(self, hole: str) -> tuple[str, str]:
        return self.spans[ord(hole) - HOLE]

    def restore(self, text: str) -> str:
        while HOLES.search(text):
            text = HOLES.sub(lambda m: self.span(m.group(0))[0], text)
        return text

    def length(self, text: str) -> int:
        return sum(len(self.span(c)[0]) if HOLES.match(c) else 1 for c in text if not c.isspace())


def source_blocks(answer: Answer) -> tuple[Block, ...]:
    """What gets rewritten: the answer's blocks, or for a refusal its hand-off (message and the
    department's phone), as one block."""
    if answer.blocks:
        return answer.blocks
    if answer.handoff is None:
        return ()
    handoff = answer.handoff
    text = handoff.message + (f"\n{handoff.phone}" if handoff.phone and handoff.phone not in handoff.message else "")
    return (Block(heading="人工服务", text=text, citations=()),)


class PlainRewriter:
    """Implements `assistant.service.Rewriter`: deterministic, rule-based, no model."""

    def __init__(self, glossary: list[GlossaryEntry], dialect: list[DialectEntry], rules: PlainRules | None = None) -> None:
        import opencc

        self.rules = rules or PlainRules.load()
        self.glossary = {entry.term: entry.plain for entry in glossary}
        unknown = sorted(set(self.rules.substitute) - set(self.glossary))
        if unknown:
            raise ConfigError(f"plain rules substitute terms that are not in the glossary: {', '.join(unknown)}")
        terms = [t for t in self.glossary if t not in self.rules.skip]
        self._terms = _alternation(terms)
        self._term_or_hole = re.compile(f"(?P<term>{self._terms.pattern})|(?P<hole>{HOLES.pattern})")
        cantonese: dict[str, str] = {}
        for entry in dialect:  # the first 粤语 expression for a standard word wins; glossary terms stay official
            if (entry.dialect == "粤语" and len(entry.standard) >= 2 and entry.expr not in self.rules.cantonese_skip
                    and entry.standard not in self.glossary):
                cantonese.setdefault(entry.standard, entry.expr)
        self._cantonese = cantonese
        self._cantonese_pattern = _alternation(list(cantonese))
        self._to_script = {"traditional": opencc.OpenCC("s2t"), "cantonese": opencc.OpenCC("s2hk")}
        self._from_script = {"traditional": opencc.OpenCC("t2s"), "cantonese": opencc.OpenCC("hk2s")}

    @classmethod
    def load(cls, corpus_dir: Path, rules_path: Path | None = None) -> PlainRewriter:
        return cls(load_glossary(corpus_dir / "glossary.yaml"), load_dialect(corpus_dir / "dialect.yaml"),
                   PlainRules.load(rules_path))

    @classmethod
    def from_settings(cls, settings: Settings) -> PlainRewriter:
        return cls.load(settings.corpus_dir)

    # --- the whole answer -----------------------------------------------------------------------

    def rewrite(self, answer: Answer, options: RewriteOptions) -> Rewrite:
        if options.script not in SCRIPTS:
            raise ValueError(f"script must be one of {', '.join(SCRIPTS)}, got {options.script!r}")
        source = source_blocks(answer)
        if any(RESERVED.search(block.text) for block in source):
            return Rewrite(source, options, True, notes=("not rewritten: the text holds the rewriter's own marks",))
        state = _State()
        noted = [self._plain(block, options, state) if options.plain else block.text for block in source]
        texts = [text.replace(NOTE, "") for text in noted]
        blocks = [Block(b.heading, self._script(text, b.heading, options.script), b.citations,
                        self._script(b.asked, "", options.script)) for b, text in zip(source, texts)]
        lead = self._lead(source, noted) if options.elderly and options.plain else None
        if lead is not None:
            blocks.insert(0, Block(self._script(lead.heading, "", options.script),
                                   self._script(lead.text, "", options.script), lead.citations))
            state.note(f"elderly: {lead.text.count(chr(10)) + 1} points first")
        closing = self._script(self._closing(answer, source), "", options.script) if options.elderly else ""
        failures = self._check(answer, source, blocks, lead is not None, closing, options, state)
        if any(failure.startswith("closing") for failure in failures):  # never say what the answer does not
            closing = ""
            state.note("closing dropped: " + "; ".join(f for f in failures if f.startswith("closing")))
            failures = [failure for failure in failures if not failure.startswith("closing")]
        if failures:
            return Rewrite(source, options, False, closing, ("fact check failed, the original answer is shown: "
                                                             + " | ".join(failures),))
        if options.script != "simplified":
            state.note(f"script: {options.script}")
        return Rewrite(tuple(blocks), options, True, closing, tuple(state.notes))

    def _check(self, answer: Answer, source: tuple[Block, ...], blocks: list[Block], has_lead: bool, closing: str,
               options: RewriteOptions, state: _State) -> list[str]:
        back = self._from_script.get(options.script)
        simplified = back.convert if back else (lambda text: text)
        failures = []
        body = blocks[1:] if has_lead else blocks
        for number, (original, rewritten) in enumerate(zip(source, body), start=1):
            result = check_facts(original.text, simplified(rewritten.text), original.heading, state.allowed)
            if not result.passed:
                failures.append(f"block {number} ({original.heading}): {result.describe()}")
        original_text = "\n".join(block.text for block in source)
        whole = check_facts(original_text, simplified("\n".join(b.text for b in blocks)), "", state.allowed)
        if not whole.passed:
            failures.append(f"answer: {whole.describe()}")
        handoff = [answer.handoff.phone, answer.handoff.hotline] if answer.handoff else []
        told = "\n".join([original_text, *handoff, *(simplified(b.text) for b in body)])
        for name, text in (("lead", blocks[0].text if has_lead else ""), ("closing", closing)):
            missing = check_facts(simplified(text), told).missing if text else ()
            if missing:  # everything the lead and the closing say comes from the answer
                failures.append(f"{name}: {FactCheck(missing).describe()} in the answer")
        return failures

    # --- one block ------------------------------------------------------------------------------

    def _plain(self, block: Block, options: RewriteOptions, state: _State) -> str:
        masked = _Masked()
        text = masked.mask(block.text, self._protected(block.text, block.heading))
        text = _apply(self.rules.phrases, text, state, "direct wording")
        text = self._glossary(text, masked, state)
        text = _apply(self.rules.words, text, state, "direct wording")
        text = self._durations(text, masked, state)
        if is_materials(block.heading):
            text = self._checklist(text, state)
        limit = self.rules.elderly_sentence_chars if options.elderly else self.rules.sentence_chars
        lines = text.split("\n")
        if options.elderly:
            lines = [_unwrap(line, masked) for line in lines]
        text = "\n".join(self._split_line(line, masked, limit) for line in lines)
        text = re.sub(f"）{MERGE}（", "；", text).replace(MERGE, "").replace(OPEN, "")
        return masked.restore(text)

    def _protected(self, text: str, heading: str) -> list[tuple[int, int, str]]:
        spans = [(fact.start, fact.end, fact.kind) for fact in extract_facts(text, heading)]
        extra = [(m.start(), m.end(), "name") for m in self.rules.names.finditer(text)] if self.rules.names else []
        for phrase in self.rules.keep:
            extra += [(m.start(), m.end(), "keep") for m in re.finditer(re.escape(phrase), text)]
        for start, end, kind in sorted(extra, key=lambda s: (s[0], -s[1])):
            if all(end <= s or start >= e for s, e, _ in spans):
                spans.append((start, end, kind))
        return spans

    def _glossary(self, text: str, masked: _Masked, state: _State) -> str:
        """Official terms: replaced with everyday wording (the term kept once in brackets), or kept
        and explained once. An explanation that would split a compound word or nest in brackets
        follows the sentence ("…到户政窗口提出申请。户政窗口就是办户口身份证的窗口。")."""
        out: list[str] = []
        pending: list[str] = []
        depth = 0

        def copy(gap: str) -> None:
            nonlocal depth
            for char in gap:
                if pending and depth == 0 and char == "\n":
                    out.append("。" + _explanations(pending))
                depth += (char in OPENING) - (char in CLOSING and depth > 0)
                out.append(char)
                if pending and depth == 0 and char in "。！？；;!?":
                    out.append(_explanations(pending))

        position = 0
        for match in self._term_or_hole.finditer(text):
            copy(text[position:match.start()])
            position = match.end()
            if match.group("term"):
                out.append(self._term(match.group("term"), text[position:position + 1], depth, masked, state, pending))
                continue
            out.append(match.group(0))
            original, kind = masked.span(match.group(0))
            if kind in ("name", "material"):
                words = TITLES.sub("", original)
                inside = [t for t in dict.fromkeys(self._terms.findall(words)) if t not in state.explained]
                state.explained.update(inside)
                state.allowed.update(n for t in inside for n in re.findall(r"\d+", self.glossary[t]))
                if inside and depth == 0:  # after the name: "居民户口簿（户口簿就是户口本）"
                    out.append(_bracket([self.glossary[t] if t == original else f"{masked.hide(t, 'term')}就是"
                                         f"{self.glossary[t]}" for t in inside]) + MERGE)
                pending.extend(f"{masked.hide(t, 'term')}就是{self.glossary[t]}" for t in inside if depth)
        copy(text[position:])
        text = "".join(out)
        if pending:
            ended = text.rstrip("".join(CLOSING))[-1:] in tuple(SENTENCE_END)
            text += ("" if ended else "。") + _explanations(pending)
        return text

    def _term(self, term: str, following: str, depth: int, masked: _Masked, state: _State, pending: list[str]) -> str:
        hole = masked.hide(term, "term")
        if term in self.rules.substitute and depth == 0:
            override, bracket = self.rules.substitute[term]
            plain = override or self.glossary[term]
            state.allowed.update(re.findall(r"\d+", plain))
            if term in state.explained:
                return plain
            state.explained.add(term)
            state.note(f"glossary: {term} → {plain}")
            return plain + (f"{OPEN}（{hole}）{MERGE}" if bracket and plain not in term else "")
        if term in state.explained:
            return hole
        state.explained.add(term)
        plain = self.glossary[term]
        state.allowed.update(re.findall(r"\d+", plain))
        state.note(f"glossary: {term} explained")
        if depth == 0 and (not following or following in AFTER_TERM or HOLES.match(following)):
            return f"{hole}{OPEN}（{plain}）{MERGE}"
        pending.append(f"{masked.hide(term, 'term')}就是{plain}")
        return hole

    def _durations(self, text: str, masked: _Masked, state: _State) -> str:
        def gloss(match: re.Match[str]) -> str:
            original, kind = masked.span(match.group(1))
            before = text[match.start() - 1] if match.start() else ""
            if kind != "duration" or (before and before in "月第每当次同"):
                return match.group(0)
            plain = self._plain_duration(original, state)
            if not plain:
                return match.group(0)
            state.note(f"duration: {original}（{plain}）")
            return f"{match.group(0)}{OPEN}（{plain}）{MERGE}"

        return re.sub(f"({HOLES.pattern})(以内|之内|内)?", gloss, text)

    def _plain_duration(self, duration: str, state: _State) -> str:
        match = re.fullmatch(f"(\\d+|[{CN_DIGITS}]+)(个工作日|工作日|自然日|个月|日|天)", duration)
        if not match:
            return ""
        number = int(match.group(1)) if match.group(1).isdigit() else chinese_number(match.group(1))
        if not number:
            return ""
        unit, parts = match.group(2), []
        if unit.endswith("工作日"):
            days = number * 7 / 5
            if not state.working_days_said:
                state.working_days_said = True
                parts.append(self.rules.working_days)
        elif unit == "个月":
            days = number * 30 if number >= 12 else 0
        else:
            days = number
        about = _about(days)
        return "，".join(parts + ([self.rules.about + about] if about else []))

    def _checklist(self, text: str, state: _State) -> str:
        lines = text.split("\n")
        items = 0
        for number, line in enumerate(lines):
            marker = LIST_MARKER.match(line)
            if marker and line[marker.end():].strip():
                lines[number] = self.rules.checklist_marker + line[marker.end():]
                items += 1
        if not items:
            return text
        state.note("materials as a checklist")
        return "\n".join([self.rules.checklist_intro, *lines])

    def _split_line(self, line: str, masked: _Masked, limit: int) -> str:
        marker = LIST_MARKER.match(line)
        prefix, body = (line[:marker.end()], line[marker.end():]) if marker else ("", line)
        sentences, current, depth = [], "", 0
        for char in body:
            depth += (char in OPENING) - (char in CLOSING and depth > 0)
            if depth == 0 and char in "；;":
                char = "。"
            current += char
            if depth == 0 and char in SENTENCE_END:
                sentences.append(current)
                current = ""
        sentences += [current] if current else []
        return prefix + "".join(piece for s in sentences for piece in self._split_commas(s, masked, limit))

    def _split_commas(self, sentence: str, masked: _Masked, limit: int) -> list[str]:
        if masked.length(sentence) <= limit:
            return [sentence]
        end = sentence[-1] if sentence[-1] in SENTENCE_END else ""
        clauses, current, depth = [], "", 0
        for char in sentence[: len(sentence) - len(end)]:
            depth += (char in OPENING) - (char in CLOSING and depth > 0)
            if depth == 0 and char in "，,":
                clauses.append(current)
                current = ""
            else:
                current += char
        clauses.append(current)
        out, current = [], clauses[0]
        shortest = self.rules.min_piece_chars
        for clause in clauses[1:]:
            if (masked.length(current) >= shortest and masked.length(clause) >= shortest
                    and masked.length(current) + masked.length(clause) >= limit
                    and _may_split(masked.restore(current), masked.restore(clause))):
                out.append(current + "。")
                current = clause
            else:
                current += "，" + clause
        return out + [current + end]

    # --- elderly mode ---------------------------------------------------------------------------

    def _lead(self, source: tuple[Block, ...], texts: list[str]) -> Block | None:
        """The most important points first: the first point of each leading block (the answerer
        orders blocks by what was asked), phone, address and legal basis left to the closing."""
        rules = self.rules.elderly
        wanted = [(b, t) for b, t in zip(source, texts)
                  if b.heading not in rules.skip_headings and not b.heading.startswith(rules.skip_prefixes)]
        points: dict[str, tuple[int, ...]] = {}
        for block, text in wanted[: rules.points]:
            points.setdefault(self._point(block, text), block.citations)
        for block, text in wanted:
            for sentence in [] if is_materials(block.heading) else _sentences(text)[1:]:
                if sentence.startswith(NOTE):
                    continue
                if len(points) < rules.points:
                    points.setdefault(sentence, block.citations)
        if len(wanted) < 2 or len(points) < 2:
            return None
        lines = [f"{marker}{point}".replace(NOTE, "") for marker, point in zip(rules.markers, points)]
        return Block(rules.lead_heading, "\n".join(lines), tuple(sorted({c for cs in points.values() for c in cs})))

    def _point(self, block: Block, text: str) -> str:
        label = self.rules.elderly.labels.get(block.heading, "")
        spans = material_spans(block.text) if is_materials(block.heading) else []
        names = [block.text[s:e] for s, e in spans  # materials, not the conditions some items start with
                 if not block.text[s:e].endswith("的") and block.text[e:e + 1] not in ("：", ":")]
        sentences = [sentence for sentence in _sentences(text) if not sentence.startswith(NOTE)]
        if block.heading in self.rules.elderly.prefer_facts:  # the sentence that says how long, how much
            sentences = sorted(sentences, key=lambda sentence: not extract_facts(sentence))
        if names:
            point = "、".join(names[:3]) + ("等。" if len(names) > 3 else "。")
        else:
            point = sentences[0] if sentences else text
        return f"{label}：{point}" if label else point

    def _closing(self, answer: Answer, source: tuple[Block, ...]) -> str:
        texts = sorted((b.text for b in source), key=lambda t: "电话" not in t)
        texts += [answer.handoff.phone] if answer.handoff and answer.handoff.phone else []
        phones: dict[str, None] = {}
        addresses: dict[str, None] = {}
        sample = False
        for text in texts:
            for fact in extract_facts(text):
                if fact.kind == "phone" and not re.fullmatch(r"123\d\d", fact.text) and len(phones) < 2:
                    phones.setdefault(fact.text, None)
                    sample = sample or "示例数据" in text
                elif fact.kind == "address" and len(addresses) < 2:
                    addresses.setdefault(_segment(text, fact.start, fact.end), None)
                    sample = sample or "示例数据" in text
        hotline = answer.handoff.hotline if answer.handoff else ""
        form = self.rules.elderly.closing
        parts = ([form["phone"].format("、".join(phones))] if phones else []) + (
            [form["address"].format("，或".join(addresses))] if addresses else []) + (
            [form["hotline"].format(hotline)] if hotline else [])
        if not parts:
            return ""
        return form["start"] + form["separator"].join(parts) + form["end"] + ("（示例数据）" if sample else "")

    # --- scripts --------------------------------------------------------------------------------

    def _script(self, text: str, heading: str, script: str) -> str:
        if script == "simplified" or not text:
            return text
        if script == "cantonese":
            text = self._to_cantonese(text, heading)
        return self._to_script[script].convert(text)

    def _to_cantonese(self, text: str, heading: str) -> str:
        masked = _Masked()
        spans = self._protected(text, heading)
        spans += [(m.start(), m.end(), "term") for m in self._terms.finditer(text)
                  if all(m.end() <= s or m.start() >= e for s, e, _ in spans)]
        masked_text = masked.mask(text, spans)
        masked_text = self._cantonese_pattern.sub(lambda m: self._cantonese[m.group(0)], masked_text)
        for pattern, replacement in self.rules.cantonese_words:
            masked_text = pattern.sub(replacement, masked_text)
        return masked.restore(masked_text)


def _alternation(keys: list[str]) -> re.Pattern[str]:
    if not keys:
        return re.compile("(?!)")
    return re.compile("|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)))


def _apply(rules: tuple[tuple[re.Pattern[str], str], ...], text: str, state: _State, note: str) -> str:
    for pattern, replacement in rules:
        text, count = pattern.subn(replacement, text)
        if count:
            state.note(note)
    return text


def _explanations(pending: list[str]) -> str:
    """The waiting explanations as sentences of their own ("户籍地就是老家户口那儿。"), emptied."""
    text = "".join(f"{NOTE}{explanation}。" for explanation in pending)
    pending.clear()
    return text


def _bracket(explanations: list[str]) -> str:
    """One added bracket for the waiting explanations (emptied)."""
    text = f"{OPEN}（" + "；".join(explanations) + "）"
    explanations.clear()
    return text


def _may_split(left: str, right: str) -> bool:
    """Whether a comma between two clauses may become a full stop: not after a condition
    ("…的，", "如果…，"), a time ("…内，") or a prepositional phrase ("从…起，", "通过…，"), not
    before a joined clause ("并…", "或…")."""
    left, right = LIST_MARKER.sub("", left).strip(), right.strip()
    while TRAILING_BRACKET.search(left):
        left = TRAILING_BRACKET.sub("", left)
    return bool(left and right and left[-1] not in "的时后前中外下上内起间：:" and not CONDITIONS.match(left)
                and not PREPOSITIONS.match(left) and not JOINED.match(right))


def _unwrap(line: str, masked: _Masked) -> str:
    """Elderly mode: a remark in brackets in the source ("居民户口簿（在户籍地办理时提交）") becomes
    a sentence of its own after its sentence. Brackets the rewriter added, brackets that open with
    a fact or a title, and remarks that carry the 示例数据 notice stay where they are."""
    out, moved, depth, index = [], [], 0, 0
    while index < len(line):
        char = line[index]
        if char == "（" and depth == 0 and not (index and line[index - 1] == OPEN):
            close = _matching(line, index)
            remark = line[index + 1:close] if close > 0 else ""
            plain = masked.restore(remark)
            if len(plain) >= 6 and not HOLES.match(remark) and "示例数据" not in plain:
                moved.append(remark.rstrip("。；;") + "。")
                index = close + 1
                continue
        depth += (char in OPENING) - (char in CLOSING and depth > 0)
        out.append(char)
        if moved and depth == 0 and char in SENTENCE_END + "；;":
            out += moved
            moved = []
        index += 1
    if moved:
        out += (["。"] if out and out[-1] not in SENTENCE_END + "；;：:" else []) + moved
    return "".join(out)


def _matching(text: str, start: int) -> int:
    """Where the bracket opened at `start` closes (-1 when it does not)."""
    depth = 0
    for index in range(start, len(text)):
        depth += (text[index] in OPENING) - (text[index] in CLOSING)
        if depth == 0:
            return index
    return -1


def _sentences(text: str) -> list[str]:
    """The sentences of a rewritten block, list markers and the checklist intro left out."""
    sentences = []
    for line in text.split("\n"):
        line = LIST_MARKER.sub("", line).strip()
        if not line or line.endswith("：") or line.endswith(":"):
            continue
        sentences += [s + (e or "") for s, e in re.findall(f"([^{SENTENCE_END}]+)([{SENTENCE_END}])?", line) if s.strip()]
    return sentences


def _segment(text: str, start: int, end: int) -> str:
    """The place an address belongs to: its clause, without a leading label or the sample notice."""
    left = max(text.rfind(c, 0, start) for c in "；;。\n") + 1
    rights = [i for i in (text.find(c, end) for c in "；;。\n") if i >= 0]
    segment = text[left: min(rights) if rights else len(text)].replace("（示例数据）", "")
    label = segment.rfind("：", 0, start - left)
    return segment[label + 1:].strip() if label >= 0 else segment.strip()


def _about(days: float) -> str:
    """A rough everyday length for a number of days: 一周半, 两个月, 一年半 …"""
    if days < 7:
        return ""
    if days < 25:
        return _count(round(days / 7 * 2) / 2, "周", "周半")
    months = round(days / 30 * 2) / 2
    if months >= 12 and months % 6 == 0:
        return _count(months / 12, "年", "年半")
    return "半年" if months == 6 else _count(months, "个月", "个半月")


def _count(value: float, unit: str, half_unit: str) -> str:
    whole = int(value)
    if not 1 <= whole < 20:
        return ""
    number = "两" if whole == 2 else CN_COUNT[whole] if whole <= 10 else "十" + CN_COUNT[whole - 10]
    return number + (half_unit if value - whole else unit)
