"""The data that flows from the loaders through the splitter into the index.

`Document` is one source document as loaded; `Chunk` is one piece of it, as embedded and stored,
with everything a citation needs in its metadata.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["guide", "policy", "faq", "bundle"]
KINDS: tuple[str, ...] = ("guide", "policy", "faq", "bundle")

# Metadata values Chroma can store: flat scalars only.
Scalar = str | int | float | bool
# between a document's similar questions in a chunk's metadata (one question is one line)
SIMILAR_SEPARATOR = "\n"


@dataclass(frozen=True)
class Document:
    """One source document: a 办事指南, a law or policy, an FAQ pair or a 一件事一次办 bundle."""

    doc_id: str
    title: str
    kind: Kind
    body: str
    source_path: str
    department: str = ""
    region: str = ""
    effective_date: str = ""
    expires: str = ""
    source_url: str = ""
    doc_number: str = ""
    sample: bool = False
    tags: tuple[str, ...] = ()
    # other ways a citizen asks for this document (相似问法: an FAQ's or a guide's), read beside its
    # title by the title order and the title checks (`Catalog.names`), and an FAQ's by BM25 too
    similar: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        """What the document is called: its title, then its similar questions (`Catalog.names` reads
        the same from an index's chunks)."""
        return (self.title, *self.similar)

    @property
    def content_hash(self) -> str:
        """Hash of everything that ends up in the index; a changed hash means re-embed."""
        content: dict[str, Any] = {
            "title": self.title,
            "kind": self.kind,
            "body": self.body,
            "meta": self.citation_metadata(),
            "extra": self.extra,
        }
        if self.similar:  # a document without them keeps the hash it had before they existed
            content["similar"] = list(self.similar)
        payload = json.dumps(
            content,
            ensure_ascii=False,
            sort_keys=True,
            default=str,
        )
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()

    def citation_metadata(self) -> dict[str, Scalar]:
        """Document-level metadata copied onto every chunk (flat, Chroma-storable)."""
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "kind": self.kind,
            "department": self.department,
            "region": self.region,
            "effective_date": self.effective_date,
            "expires": self.expires,
            "source_url": self.source_url,
            "doc_number": self.doc_number,
            "sample": self.sample,
            "tags": ",".join(self.tags),
            "source_path": self.source_path,
        }


@dataclass(frozen=True)
class Chunk:
    """One indexed piece of a document.

    `text` is what a person reads when the chunk is cited; `embed_text` is what the embedder and
    BM25 see (the document title and section prefixed, so a chunk is findable on its own).
    """

    chunk_id: str
    doc_id: str
    chunk_no: int
    section: str
    text: str
    embed_text: str
    metadata: dict[str, Scalar]

    @staticmethod
    def make_id(doc_id: str, chunk_no: int) -> str:
        return hashlib.sha1(f"{doc_id}\x1f{chunk_no}".encode("utf-8")).hexdigest()


def embed_text(title: str, kind: str, label: str, text: str) -> str:
    """What the embedder and BM25 see for a chunk: title (and section) first, then the text."""
    prefix = title if kind == "faq" or not label else f"{title}｜{label}"
    return f"{prefix}\n{text}" if prefix else text


def relative_source(path: Path, root: Path | None) -> str:
    """A stable, machine-independent name for where a document came from."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()
