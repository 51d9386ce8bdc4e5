"""Answers as the citizen page shows them: the only place an answer is formatted for the web.

`render_answer` gives the chat HTML of one `/v1/ask`-shaped answer: the retold (plain, elderly,
繁體/粤语) blocks with their citation numbers, freshness warnings, the numbered sources that open to
the quote, title, section, date and link (`render_source`, also used by the policy calculator), the
original wording a click away, and the hand-off box with the hotline and the department's phone.
Every text from the corpus or the person is escaped here.
"""

from __future__ import annotations

import html

from api.schemas import AskResponse, CitationOut

KIND_NAMES = {"guide": "办事指南", "policy": "政策法规", "faq": "常见问答", "bundle": "一件事一次办"}
CSS = """
.zw-sources { margin-top: .6em; border-top: 1px solid var(--border-color-primary); padding-top: .4em; }
.zw-sources-title { font-weight: 600; margin: .2em 0; }
.zw-source, .zw-original { margin: .3em 0; padding: .2em .5em; border-left: 3px solid var(--color-accent); }
.zw-source summary, .zw-original summary { cursor: pointer; }
.zw-quote { margin: .4em 0; padding: .3em .6em; background: var(--background-fill-secondary); }
.zw-meta { font-size: .9em; color: var(--body-text-color); }
.zw-sample { margin-left: .4em; padding: 0 .4em; border-radius: 4px; font-size: .8em;
             background: #fff3cd; color: #7a5b00; border: 1px solid #e0c36a; }
.zw-mark { color: var(--color-accent); font-weight: 600; }
.zw-warning { margin: .4em 0; padding: .3em .6em; background: #fff3cd; border: 1px solid #e0c36a; border-radius: 6px; }
.zw-handoff { padding: .6em .9em; border: 2px solid #c0392b; border-radius: 8px; background: #fdf2f0; }
.zw-handoff-title { font-weight: 700; color: #c0392b; }
.zw-hotline { font-size: 1.3em; color: #c0392b; }
"""


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def render_answer(response: AskResponse) -> str:
    """One answer as chat Markdown: the retold blocks (the original when none), citation numbers,
    warnings, the numbered sources, the original wording a click away, and who to call."""
    if response.refused:
        return render_handoff(response, refused=True)
    retold = response.plain
    blocks = retold.blocks if retold is not None else response.answer.blocks
    parts = [render_block(block.title, block.text, block.citations) for block in blocks]
    if retold is not None and retold.closing:
        parts.append(escape(retold.closing))
    if retold is not None and not retold.facts_preserved:
        parts.append('<p class="zw-note">（白话版没有通过事实核对，以上为原文表述。）</p>')
    parts += [f'<div class="zw-warning">⚠ {escape(warning)}</div>' for warning in response.warnings]
    if response.citations:
        parts.append(render_sources(response.citations))
    if retold is not None and retold.facts_preserved and retold.text != response.answer.text:
        parts.append(render_original(response))
    if response.handoff is not None:
        parts.append(render_handoff(response, refused=False))
    return "\n\n".join(part for part in parts if part)


def render_block(heading: str, text: str, citations: list[int]) -> str:
    marks = "".join(f'<sup class="zw-mark">[{number}]</sup>' for number in citations)
    title = f"**{escape(heading)}**\n" if heading else ""
    return f"{title}{escape(text)} {marks}".rstrip()


def render_sources(citations: list[CitationOut]) -> str:
    items = "".join(render_source(citation, f"[{citation.number}]") for citation in citations)
    return f'<div class="zw-sources"><p class="zw-sources-title">依据来源（点开查看原文）</p>{items}</div>'


def render_source(citation: CitationOut, mark: str) -> str:
    """One citation as a `<details>` that opens to its quote, title, section, dates, kind and link;
    `mark` leads its summary ("[1]", "依据")."""
    sample = '<span class="zw-sample">示例数据</span>' if citation.sample else ""
    section = f" · {escape(citation.section)}" if citation.section else ""
    facts = [f"文件：《{escape(citation.title)}》"]
    if citation.section:
        facts.append(f"章节/条款：{escape(citation.section)}")
    facts.append(f"生效日期：{escape(citation.effective_date) or '未注明'}")
    if citation.expires:
        facts.append(f"有效期至：{escape(citation.expires)}")
    facts.append(f"类型：{KIND_NAMES.get(citation.kind, escape(citation.kind))}")
    link = (f'<a class="zw-link" href="{escape(citation.source_url)}" target="_blank" rel="noopener noreferrer">'
            f"查看原文出处</a>" if citation.source_url.startswith(("https://", "http://")) else "")
    return (f'<details class="zw-source" data-number="{citation.number}"><summary><span class="zw-cite-no">'
            f"{escape(mark)}</span> 《{escape(citation.title)}》{section} {sample}</summary>"
            f'<blockquote class="zw-quote">{escape(citation.quote).replace(chr(10), "<br>")}</blockquote>'
            f'<p class="zw-meta">{"<br>".join(facts)}</p><p>{link}</p></details>')


def render_original(response: AskResponse) -> str:
    body = "".join(f"<p><strong>{escape(block.title)}</strong><br>{escape(block.text).replace(chr(10), '<br>')}</p>"
                   for block in response.answer.blocks)
    return f'<details class="zw-original"><summary>查看原文（改写前的原始表述）</summary>{body}</details>'


def render_handoff(response: AskResponse, refused: bool) -> str:
    """On a refusal, a box with the hotline and the department's phone; otherwise one contact line."""
    handoff = response.handoff
    hotline = handoff.hotline if handoff is not None else "12345"
    office = ""
    if handoff is not None and handoff.department:
        phone = f"：<strong>{escape(handoff.phone)}</strong>" if handoff.phone else ""
        office = f"{escape(handoff.department)}{phone}"
    if not refused:
        also = f"，或咨询{office}" if office else ""
        return f'<p class="zw-contact">如需进一步确认，请拨打 <strong>{escape(hotline)}</strong> 政务服务便民热线{also}。</p>'
    message = escape(handoff.message) if handoff is not None else "这个问题我没能从政务资料里找到可靠的答案。"
    lines = ['<p class="zw-handoff-title">☎ 这个问题请找人工咨询</p>', f"<p>{message}</p>",
             f'<p>政务服务便民热线：<strong class="zw-hotline">{escape(hotline)}</strong></p>']
    if office:
        lines.append(f'<p class="zw-office">办理部门　{office}</p>')
    return f'<div class="zw-handoff">{"".join(lines)}</div>'
