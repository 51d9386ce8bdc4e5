"""JSON-lines sources, one record a line:

- Guangdong 政务服务网 service-guide records (`TASK_CODE`, `matter_name`, `DEPT_NAME`, …) become guides
  with the standard section headings;
- Q&A pairs `{id, question, answer, department}` (MSGABench) become FAQ documents;
- document records `{docid, text}` (NCP) become policy documents.

A malformed line is reported (path, line number, reason) and skipped; the other lines load.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.documents import Document
from assistant.errors import LoadError

EMPTY_VALUES = {"", "无", "None", "null", "[]"}


def iter_records(path: Path, text: str, source: str) -> Iterator[Document | LoadError]:
    """Yield one Document per good line and one LoadError per bad line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield LoadError(where, f"not valid JSON ({exc.msg})")
            continue
        except RecursionError:
            yield LoadError(where, "JSON nested too deeply")
            continue
        if not isinstance(record, dict):
            yield LoadError(where, "a record must be a JSON object")
            continue
        try:
            yield _to_document(record, source, number)
        except LoadError as exc:
            yield LoadError(where, exc.reason)


def _to_document(record: dict[str, Any], source: str, number: int) -> Document:
    if "TASK_CODE" in record or "matter_name" in record:
        return guide_from_gd_record(record, source, number)
    if "question" in record and "answer" in record:
        return faq_from_qa_record(record, source)
    if "docid" in record and "text" in record:
        return policy_from_doc_record(record, source)
    raise LoadError(source, "unknown record format (expected a service-guide, Q&A or document record)")


def guide_from_gd_record(record: dict[str, Any], source: str, number: int) -> Document:
    title = _text(record.get("matter_name")) or _text(record.get("TASK_NAME"))
    if not title:
        raise LoadError(source, "service-guide record without matter_name/TASK_NAME")
    code = _text(record.get("TASK_CODE")) or hashlib.sha1(f"{source}:{number}".encode()).hexdigest()[:16]
    limit = "；".join(
        part
        for part in (
            _labelled("法定办结时限", record.get("handle_time")),
            _labelled("承诺办结时限", record.get("handle_time_limit")),
        )
        if part
    )
    sections = [
        ("事项名称", title),
        ("适用对象", "、".join(_as_list(record.get("service_object_name")))),
        ("受理条件", _text(record.get("accept_standard"))),
        ("申请材料", "\n".join(f"- {item}" for item in _as_list(record.get("material_intro")))),
        ("办理时限", limit),
        ("办理地点", _text(record.get("handle_location")).removeprefix("办理地点：")),
        ("咨询电话", _text(record.get("consult_phone"))),
        ("监督投诉", _text(record.get("complain_phone"))),
    ]
    body = "\n\n".join(f"## {head}\n{value}" for head, value in sections if value)
    return Document(
        doc_id=f"gd-{code}",
        title=title,
        kind="guide",
        body=body,
        source_path=source,
        department=_text(record.get("DEPT_NAME")),
        region=_text(record.get("AREA_CODE_TEXT")),
        source_url=_text(record.get("URL")),
        extra={"matter_type": _text(record.get("matter_type"))},
    )


def faq_from_qa_record(record: dict[str, Any], source: str) -> Document:
    question, answer = _text(record.get("question")), _text(record.get("answer"))
    if not question or not answer:
        raise LoadError(source, "Q&A record with an empty question or answer")
    doc_id = _text(record.get("id")) or "qa-" + hashlib.sha1(question.encode()).hexdigest()[:12]
    return Document(
        doc_id=doc_id,
        title=question,
        kind="faq",
        body=answer,
        source_path=source,
        department=_text(record.get("department")),
        extra={"question": question},
    )


def policy_from_doc_record(record: dict[str, Any], source: str) -> Document:
    text = _text(record.get("text"))
    doc_id = _text(record.get("docid"))
    if not doc_id or not text:
        raise LoadError(source, "document record with an empty docid or text")
    title = text.split(" ", 1)[0][:60] if " " in text[:80] else text[:40]
    return Document(doc_id=doc_id, title=title, kind="policy", body=text, source_path=source)


def _text(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    return "" if text in EMPTY_VALUES else text


def _as_list(value: Any) -> list[str]:
    """Fields like "['自然人', '企业法人']" are Python list literals stored as strings."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if _text(v)]
    text = _text(value)
    if text.startswith("["):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return [text]
        if isinstance(parsed, list):
            return [str(v).strip() for v in parsed if _text(v)]
    return [text] if text else []


def _labelled(label: str, value: Any) -> str:
    text = _text(value)
    return f"{label}{text.replace('(', '（').replace(')', '）')}" if text else ""
