"""What the WeChat bot says: answers rendered as text that fits WeChat's 2,048-byte limit, split
into parts read one by one with "回复1看全文", and the fixed texts (welcome, holding, help).

Everything here is pure: an `Answer` in, strings out.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.schemas import BlockOut
from assistant.answer import Answer, Block, Citation
from assistant.tickets import HANDOFF_REASONS

TEXT_LIMIT_BYTES = 2048  # WeChat rejects passive text replies longer than this (UTF-8 bytes)
LINKED_SOURCES = 2  # sources numbered up to this show their link; later ones title and section only
MORE = "回复1看全文"

WELCOME = ("您好，欢迎关注政务问答助手！我根据政策文件和办事指南回答办事、政策方面的问题，并注明出处。"
           "您可以直接发送文字问题，例如：\n"
           "1. 身份证丢了怎么补办？\n"
           "2. 失业保险金怎么申领？\n"
           "3. 新生儿落户要带什么材料？\n"
           "4. 租房怎么提取住房公积金？")
UNSUPPORTED = ("抱歉，我目前只能看懂文字消息。请用文字发送您想咨询的办事或政策问题，例如“社保卡丢了怎么补办？”，"
               "我会根据政策文件和办事指南回答并注明出处。")
HOLDING = "正在为您查询，请稍候回复任意内容获取答案。"
STILL_HOLDING = "仍在为您查询，请稍候再回复任意内容获取答案。"
NOTHING_MORE = "没有待续的内容了。请直接发送您想咨询的办事或政策问题。"
EMPTY_QUESTION = "请用文字发送您想咨询的办事或政策问题，例如“身份证丢了怎么补办？”。"
BUSY = "咨询的人较多，请稍后再发送您的问题。急需办理可拨打12345政务服务便民热线。"
FAILED = "抱歉，系统暂时无法回答，请稍后再试，或拨打12345政务服务便民热线咨询。"

_SUFFIX_ROOM = 64  # bytes kept free in every part for "……（第2/3部分）回复1看全文"


REPORT_HINT = "如需人工跟进，请回复“反映+您的手机号”（如：反映13800000000），我们会把问题转给相关部门。"
REPORT_NOTHING = "请先发送您要咨询的问题；如果没能解决，再回复“反映+您的手机号”，我们会转给相关部门跟进。"
REPORT_FAILED = "抱歉，反映暂时没能提交，请稍后再试，或拨打12345政务服务便民热线。"
REPORT_FILING = "您的反映正在提交，工作人员会按您留的联系方式回复。"


def report_received(department: str, ticket_id: int) -> str:
    return (f"已收到您的反映，已转给「{department}」，工单号{ticket_id}。工作人员会按您留的联系方式回复，请留意。"
            if department else f"已收到您的反映，工单号{ticket_id}。工作人员会按您留的联系方式回复，请留意。")


def too_long(max_chars: int) -> str:
    return f"您的问题有点长，请精简到{max_chars}字以内再发送，只写要办的事和想知道的内容即可。"


def earlier_question(question: str) -> str:
    """The header of a late answer picked up by a later message."""
    shown = question if len(question) <= 30 else question[:30] + "…"
    return f"您刚才问：“{shown}”\n"


@dataclass(frozen=True)
class _Unit:
    text: str
    citations: tuple[int, ...] = ()


def render_answer(answer: Answer, limit: int = TEXT_LIMIT_BYTES, *, report_hint: bool = True) -> tuple[str, ...]:
    """The answer as one or more texts of at most `limit` UTF-8 bytes each: the key steps first,
    each part followed by the sources it cites; parts after the first are read with "1". A refusal
    that warrants a hand-off invites "反映+手机号" when `report_hint` (tickets can be filed)."""
    if limit < 512:
        raise ValueError(f"limit must be at least 512 bytes, got {limit}")
    units = _units(answer, report_hint)
    room = limit - _SUFFIX_ROOM
    fitted = [piece for unit in units for piece in _fit(unit, answer.citations, room)]
    parts: list[list[_Unit]] = []
    for unit in fitted:
        if parts and _size(_assemble(parts[-1] + [unit], answer.citations)) <= room:
            parts[-1].append(unit)
        else:
            parts.append([unit])
    texts = [_assemble(part, answer.citations) for part in parts]
    if len(texts) > 1:
        total = len(texts)
        texts = [text + (f"\n……（第{i}/{total}部分）{MORE}" if i == 1 else
                         f"\n……（第{i}/{total}部分）回复1继续" if i < total else f"\n（第{i}/{total}部分，完）")
                 for i, text in enumerate(texts, start=1)]
    return tuple(_clip(text, limit) for text in texts)


def _units(answer: Answer, report_hint: bool) -> list[_Unit]:
    if answer.refused:
        handoff = answer.handoff
        text = handoff.message if handoff else "抱歉，没有找到可靠依据。可拨打12345政务服务便民热线咨询。"
        if handoff and "12345" not in text:
            text += f"\n可拨打{handoff.hotline}政务服务便民热线咨询。"
        if handoff and handoff.department and handoff.phone:
            text += f"\n{handoff.department}咨询电话：{handoff.phone}"
        elif handoff and handoff.department:  # a matter handled elsewhere: who handles it, no phone
            text += f"\n办理部门：{handoff.department}"
        if report_hint and answer.refusal_reason in HANDOFF_REASONS:
            text += f"\n{REPORT_HINT}"
        return [_Unit(text)]
    blocks: tuple[Block, ...] = answer.plain.blocks if answer.plain is not None else answer.blocks
    units = [_Unit(_block_text(block), block.citations) for block in blocks if block.text.strip()]
    if answer.plain is not None and answer.plain.closing:
        units.append(_Unit(answer.plain.closing))
    units.extend(_Unit(f"提示：{warning}") for warning in answer.warnings)
    if answer.handoff is not None and answer.handoff.department and answer.handoff.phone:
        units.append(_Unit(f"如需确认：{answer.handoff.department} {answer.handoff.phone}，或拨打{answer.handoff.hotline}。"))
    return units or [_Unit(FAILED)]


def _block_text(block: Block) -> str:
    marks = "".join(f"[{n}]" for n in block.citations)
    body = block.text.strip() + marks
    title = BlockOut.of(block).title
    return f"【{title}】\n{body}" if title else body


def _assemble(units: list[_Unit], citations: tuple[Citation, ...]) -> str:
    text = "\n".join(unit.text for unit in units)
    numbers = sorted({n for unit in units for n in unit.citations if 1 <= n <= len(citations)})
    if not numbers:
        return text
    return text + "\n\n来源：\n" + "\n".join(_source_line(citations[n - 1], n) for n in numbers)


def _source_line(citation: Citation, number: int) -> str:
    label = _shorten(f"《{citation.title}》{citation.section}", 60)
    if citation.sample:
        label += "（示例资料）"
    if number <= LINKED_SOURCES and citation.source_url:
        label += " " + _shorten(citation.source_url, 200)
    return f"[{number}] {label}"


def _fit(unit: _Unit, citations: tuple[Citation, ...], room: int) -> list[_Unit]:
    """Cut a unit too long for one part into pieces (at line ends when possible), each keeping its
    citations."""
    if _size(_assemble([unit], citations)) <= room:
        return [unit]
    budget = max(room - _size(_assemble([_Unit("", unit.citations)], citations)), room // 4)
    pieces: list[str] = []
    current = ""
    for line in unit.text.split("\n"):
        for chunk in _cut(line, budget):
            candidate = f"{current}\n{chunk}" if current else chunk
            if _size(candidate) <= budget:
                current = candidate
            else:
                pieces.append(current)
                current = chunk
    if current:
        pieces.append(current)
    return [_Unit(piece, unit.citations) for piece in pieces if piece]


def _cut(text: str, budget: int) -> list[str]:
    """Split `text` into pieces of at most `budget` UTF-8 bytes, never inside a character."""
    pieces, current, used = [], [], 0
    for char in text:
        size = len(char.encode("utf-8"))
        if used + size > budget:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += size
    pieces.append("".join(current))
    return pieces


def _shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _clip(text: str, limit: int) -> str:
    """Last guard: never hand WeChat more than `limit` bytes."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))
