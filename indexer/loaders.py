"""Load documents from files and folders.

`.md` files are corpus documents (YAML front matter) or law texts; `.jsonl` files hold service-guide,
Q&A or document records. Files named `README.md` or starting with `_` (folder indexes) are not
documents. A file that cannot be loaded is reported with its path and the reason, and skipped; the
rest of the run goes on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.documents import Document, relative_source
from assistant.errors import LoadError
from indexer.markdown import parse_markdown
from indexer.records import iter_records

DOCUMENT_SUFFIXES = (".md", ".jsonl")
MAX_MARKDOWN_BYTES = 2_000_000
MAX_JSONL_BYTES = 200_000_000


@dataclass
class LoadResult:
    """What a load produced: the documents, and one `LoadError` per skipped file or record."""

    documents: list[Document] = field(default_factory=list)
    problems: list[LoadError] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        self.documents.extend(other.documents)
        self.problems.extend(other.problems)


def load_paths(paths: Iterable[Path], root: Path | None = None) -> LoadResult:
    """Load every document under `paths` (files or folders). Duplicate ids are problems too:
    the first document with an id wins and later ones are reported."""
    result = LoadResult()
    for path in paths:
        if not path.exists():
            result.problems.append(LoadError(path, "no such file or folder"))
            continue
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if _is_document(p))
        for file in files:
            result.extend(load_file(file, root))
    return _drop_duplicates(result)


def load_file(path: Path, root: Path | None = None) -> LoadResult:
    """Load one file; never raises for bad content, reports it instead."""
    source = relative_source(path, root)
    result = LoadResult()
    try:
        text = _read_text(path)
        if path.suffix == ".jsonl":
            for item in iter_records(path, text, source):
                (result.problems if isinstance(item, LoadError) else result.documents).append(item)
        elif path.suffix == ".md":
            result.documents.append(parse_markdown(path, text, source))
        else:
            raise LoadError(path, f"unsupported file type {path.suffix!r} (expected .md or .jsonl)")
    except LoadError as exc:
        result.problems.append(exc)
    return result


def _is_document(path: Path) -> bool:
    return (
        path.is_file()
        and path.suffix in DOCUMENT_SUFFIXES
        and path.name != "README.md"
        and not path.name.startswith(("_", "."))
    )


def _read_text(path: Path) -> str:
    limit = MAX_JSONL_BYTES if path.suffix == ".jsonl" else MAX_MARKDOWN_BYTES
    try:
        size = path.stat().st_size
        if size == 0:
            raise LoadError(path, "the file is empty")
        if size > limit:
            raise LoadError(path, f"the file is too large ({size:,} bytes; the limit is {limit:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    if b"\x00" in data[:8192]:
        raise LoadError(path, "the file is binary, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(path, f"not UTF-8 text (bad byte at offset {exc.start})") from exc
    if not text.strip():
        raise LoadError(path, "the file holds only whitespace")
    return text


def _drop_duplicates(result: LoadResult) -> LoadResult:
    seen: dict[str, str] = {}
    unique: list[Document] = []
    for doc in result.documents:
        if doc.doc_id in seen:
            result.problems.append(
                LoadError(doc.source_path, f"duplicate id {doc.doc_id!r} (already used by {seen[doc.doc_id]})")
            )
            continue
        seen[doc.doc_id] = doc.source_path
        unique.append(doc)
    return LoadResult(unique, result.problems)
