"""Markdown sources: the corpus format (YAML front matter, see corpus/README.md) and law texts in
the LawRefBook layout (`# title`, `<!-- INFO END -->`, `## 第一章 …`, `第一条 …`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from assistant.documents import Document
from assistant.errors import LoadError

FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
LAW_DATE_IN_NAME = re.compile(r"\((\d{4}-\d{2}-\d{2})\)")
NATIONAL_LAW_URL = "https://flk.npc.gov.cn/"
MAX_SIMILAR = 20  # similar questions a document may carry
SimilarQuestion = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=120,
                                                   pattern=r"^[^\r\n]+$")]


class FrontMatter(BaseModel):
    """The front matter every corpus document carries (schema: corpus/README.md)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=120)
    title: str = Field(min_length=1, max_length=300)
    kind: Literal["guide", "policy", "faq", "bundle"]
    department: str = Field(min_length=1)
    region: str = Field(min_length=1)
    effective_date: dt.date
    expires: dt.date | None = None
    source_url: str = Field(pattern=r"^https?://")
    doc_number: str = ""
    sample: bool
    tags: list[str] = Field(default_factory=list)
    similar: list[SimilarQuestion] = Field(default_factory=list, max_length=MAX_SIMILAR)

    @model_validator(mode="after")
    def _similar_on_one_matter(self) -> FrontMatter:
        """Similar questions ask for one matter: an FAQ's or a guide's (a law's or a checklist's
        title covers many, and the "same matter?" check does not read them)."""
        if self.similar and self.kind not in ("faq", "guide"):
            raise ValueError(f"similar questions belong to an faq or a guide, not a {self.kind}")
        return self


def parse_corpus_markdown(path: Path, text: str, source: str) -> Document:
    """A corpus document: YAML front matter, then the Markdown body."""
    match = FRONT_MATTER.match(text)
    if match is None:
        raise LoadError(path, "no YAML front matter (the file must start with a '---' line)")
    try:
        raw = yaml.load(match.group(1), Loader=_FrontMatterLoader)  # noqa: S506 - a SafeLoader without aliases
    except yaml.YAMLError as exc:
        raise LoadError(path, f"malformed YAML front matter: {_first_line(exc)}") from exc
    if not isinstance(raw, dict):
        raise LoadError(path, "front matter is not a mapping of fields")
    try:
        meta = FrontMatter.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'front matter'}: {e['msg']}" for e in exc.errors()
        )
        raise LoadError(path, f"invalid front matter: {problems}") from exc
    body = text[match.end():].strip()
    if not body:
        raise LoadError(path, "the document has no body after its front matter")
    extra = {key: value for key, value in (meta.model_extra or {}).items()}
    return Document(
        doc_id=meta.id,
        title=meta.title.strip(),
        kind=meta.kind,
        body=body,
        source_path=source,
        department=meta.department,
        region=meta.region,
        effective_date=meta.effective_date.isoformat(),
        expires=meta.expires.isoformat() if meta.expires else "",
        source_url=meta.source_url,
        doc_number=str(meta.doc_number or ""),
        sample=meta.sample,
        tags=tuple(str(tag) for tag in meta.tags),
        similar=tuple(dict.fromkeys(meta.similar)),
        extra=_plain(extra),
    )


def parse_law_markdown(path: Path, text: str, source: str) -> Document:
    """A law or regulation in the LawRefBook layout (no front matter)."""
    lines = text.splitlines()
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), "")
    if not title:
        raise LoadError(path, "neither YAML front matter nor a '# title' line")
    body = text.split("<!-- INFO END -->", 1)[1] if "<!-- INFO END -->" in text else text
    body = "\n".join(line for line in body.splitlines() if not line.startswith("# ")).strip()
    if not body:
        raise LoadError(path, "the law text is empty")
    date_match = LAW_DATE_IN_NAME.search(path.name)
    region = "北京" if "北京" in source else "上海" if "上海地方法规" in source else "全国"
    return Document(
        doc_id="law-" + hashlib.sha1(source.encode("utf-8")).hexdigest()[:12],
        title=title,
        kind="policy",
        body=body,
        source_path=source,
        department="",
        region=region,
        effective_date=date_match.group(1) if date_match else "",
        source_url=NATIONAL_LAW_URL,
        extra={"doc_type": "law"},
    )


def parse_markdown(path: Path, text: str, source: str) -> Document:
    """Front matter decides: corpus format if present, else a LawRefBook law."""
    if text.lstrip("\ufeff").startswith("---"):
        return parse_corpus_markdown(path, text.lstrip("\ufeff"), source)
    return parse_law_markdown(path, text, source)


def _plain(value: Any) -> Any:
    """YAML values made JSON-friendly (dates become ISO strings) for hashing and storage."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases: front matter never needs them, and a few hundred bytes
    of nested aliases (a "billion laughs") would otherwise expand to billions of values."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in front matter",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)
