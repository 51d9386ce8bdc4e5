"""Split documents along their own structure, then by size.

- guides, bundles and headed policies: one chunk per `##` section (the 申请材料 list is kept whole);
- laws and regulations: one chunk per 条, labelled with its chapter (章/节);
- FAQs: one chunk (question and answer together);
- anything else, and sections longer than `max_chars`: sentence-aligned windows with overlap.

Every chunk's metadata carries what a citation needs (doc id, title, section or article, dates,
url, kind, department, region) and the document's content hash for incremental indexing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.documents import SIMILAR_SEPARATOR, Chunk, Document, embed_text
from assistant.errors import ConfigError

ARTICLE = re.compile(r"^(第[一二三四五六七八九十百千零〇两\d]+条(?:之[一二三四五六七八九十]+)?)[\s　]*")
CHAPTER = re.compile(r"^(第[一二三四五六七八九十百千零〇两\d]+[章编])")
SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")
KEEP_WHOLE_SECTIONS = ("申请材料",)
WHOLE_LIMIT_FACTOR = 4  # a "kept whole" section is still split past this many times max_chars


@dataclass(frozen=True)
class Piece:
    """A structural unit before size splitting."""

    section: str
    text: str
    chapter: str = ""
    keep_whole: bool = False


class Splitter:
    """Turns a `Document` into `Chunk`s."""

    def __init__(self, max_chars: int = 480, overlap: int = 80) -> None:
        if max_chars < 50:
            raise ConfigError(f"max_chars must be at least 50, got {max_chars}")
        if not 0 <= overlap < max_chars // 2:
            raise ConfigError(f"overlap must be between 0 and max_chars/2 ({max_chars // 2}), got {overlap}")
        self.max_chars = max_chars
        self.overlap = overlap

    def split(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        base = doc.citation_metadata()
        digest = doc.content_hash
        for piece in self._pieces(doc):
            for text in self._by_size(piece):
                number = len(chunks)
                label = " ".join(part for part in (piece.chapter, piece.section) if part)
                chunks.append(
                    Chunk(
                        chunk_id=Chunk.make_id(doc.doc_id, number),
                        doc_id=doc.doc_id,
                        chunk_no=number,
                        section=piece.section,
                        text=text,
                        embed_text=embed_text(doc.title, doc.kind, label, text),
                        metadata={
                            **base,
                            "section": piece.section,
                            "chapter": piece.chapter,
                            "chunk_no": number,
                            "doc_hash": digest,
                            # an FAQ names the guide section or article it rests on
                            "rests_on": ",".join(str(t) for t in doc.extra.get("rests_on") or []),
                            "similar": SIMILAR_SEPARATOR.join(doc.similar),
                        },
                    )
                )
        return chunks

    def _pieces(self, doc: Document) -> list[Piece]:
        if doc.kind == "faq":
            return [Piece("问答", doc.body)]
        if doc.kind == "policy" and any(ARTICLE.match(line.strip()) for line in doc.body.splitlines()):
            return _articles(doc.body)
        if re.search(r"^##\s", doc.body, re.MULTILINE):
            return _sections(doc.body)
        return [Piece("正文", doc.body)]

    def _by_size(self, piece: Piece) -> list[str]:
        text = piece.text.strip()
        limit = self.max_chars * (WHOLE_LIMIT_FACTOR if piece.keep_whole else 1)
        if len(text) <= limit:
            return [text] if text else []
        return _windows(text, self.max_chars, self.overlap)


def _sections(body: str) -> list[Piece]:
    pieces: list[Piece] = []
    heading, lines = "概述", []
    for line in body.splitlines():
        if line.startswith("## "):
            pieces.append(Piece(heading, "\n".join(lines), keep_whole=heading in KEEP_WHOLE_SECTIONS))
            heading, lines = line[3:].strip(), []
        else:
            lines.append(line)
    pieces.append(Piece(heading, "\n".join(lines), keep_whole=heading in KEEP_WHOLE_SECTIONS))
    return [p for p in pieces if p.text.strip()]


def _articles(body: str) -> list[Piece]:
    pieces: list[Piece] = []
    chapter, section, label, lines = "", "", "", []

    def flush() -> None:
        if "\n".join(lines).strip():
            pieces.append(Piece(label or "序言", "\n".join(lines).strip(), " ".join(p for p in (chapter, section) if p)))

    for raw in body.splitlines():
        line = raw.strip()
        heading = line.lstrip("#").strip() if line.startswith("#") else ""
        if heading and CHAPTER.match(heading):
            flush()
            chapter, section, label, lines = heading, "", "", []
        elif heading and re.match(r"^第[一二三四五六七八九十百零〇\d]+节", heading):
            flush()
            section, label, lines = heading, "", []
        elif heading:
            flush()
            chapter, section, label, lines = heading, "", "", []
        elif match := ARTICLE.match(line):
            flush()
            label, lines = match.group(1), [line]
        else:
            lines.append(line)
    flush()
    return pieces


def _windows(text: str, max_chars: int, overlap: int) -> list[str]:
    """Sentence-aligned windows of at most `max_chars`, each starting with up to `overlap`
    characters of the previous window's closing sentences."""
    sentences = [s for s in SENTENCE_END.split(text) if s and s.strip()]
    units: list[str] = []
    for sentence in sentences:  # a sentence longer than a window is cut into parts
        step = max_chars - overlap
        units.extend(sentence[i : i + step] for i in range(0, len(sentence), step))
    windows: list[str] = []
    current: list[str] = []
    for unit in units:
        if current and len("".join(current)) + len(unit) > max_chars:
            windows.append("".join(current).strip())
            tail: list[str] = []
            for previous in reversed(current):
                if len("".join(tail)) + len(previous) > overlap:
                    break
                tail.insert(0, previous)
            current = tail
        current.append(unit)
    if current and "".join(current).strip():
        windows.append("".join(current).strip())
    return windows
