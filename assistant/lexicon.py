"""The glossary (bureaucratic term → everyday wording), the dialect lexicon (dialect or
colloquial expression → standard Mandarin) and the matters handled elsewhere (matters the corpus
does not cover → the department that handles them), loaded from `corpus/glossary.yaml`,
`corpus/dialect.yaml` and `corpus/elsewhere.yaml`; and the acts that make a variant of a matter
(补发, 加急 …), shipped as `assistant/data/acts.yaml`."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from assistant.errors import LoadError

DIALECTS = ("粤语", "东北话", "川渝话", "吴语", "闽南语", "口语")


@dataclass(frozen=True)
class GlossaryEntry:
    term: str
    plain: str
    explain: str


@dataclass(frozen=True)
class DialectEntry:
    expr: str
    standard: str
    dialect: str


def load_glossary(path: Path) -> list[GlossaryEntry]:
    rows = _load_rows(path, ("term", "plain", "explain"))
    entries = [GlossaryEntry(r["term"], r["plain"], r["explain"]) for r in rows]
    _check_unique(path, [e.term for e in entries], "term")
    return entries


def load_dialect(path: Path) -> list[DialectEntry]:
    rows = _load_rows(path, ("expr", "standard", "dialect"))
    entries = [DialectEntry(r["expr"], r["standard"], r["dialect"]) for r in rows]
    for entry in entries:
        if entry.dialect not in DIALECTS:
            raise LoadError(path, f"{entry.expr!r}: dialect must be one of {', '.join(DIALECTS)}, got {entry.dialect!r}")
    _check_unique(path, [e.expr for e in entries], "expr")
    return entries


@dataclass(frozen=True)
class ElsewhereEntry:
    """A matter the corpus does not cover (公共租赁住房), the names people call it by (公租房,
    廉租房 …) and the department that handles it."""

    matter: str
    names: tuple[str, ...]
    department: str


def load_elsewhere(path: Path) -> list[ElsewhereEntry]:
    data = _load_data(path)
    rows = _rows(path, data, ("matter", "names", "department"))
    entries: list[ElsewhereEntry] = []
    for number, (row, raw) in enumerate(zip(rows, data), start=1):
        names = raw["names"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and len(n.strip()) >= 2 for n in names):
            raise LoadError(path, f"entry {number} ({row['matter']}): names must be a list of words of two or more characters")
        entries.append(ElsewhereEntry(row["matter"], tuple(n.strip() for n in names), row["department"]))
    _check_unique(path, [name for entry in entries for name in entry.names], "name")
    return entries


@dataclass(frozen=True)
class ActEntry:
    """An act that makes a variant of a matter (补发 of a lost certificate), the words a question
    names it by (`asked`: 补办, 补领 …) and the words a document covering it holds (`held`: those,
    and 遗失, 丢失 …)."""

    act: str
    asked: tuple[str, ...]
    held: tuple[str, ...]
    not_before: tuple[str, ...] = ()  # words after an asked word that make it another act (补办手续)


def load_acts(path: Path | None = None) -> list[ActEntry]:
    """The acts from `path`, by default the shipped `assistant/data/acts.yaml`."""
    path = path or Path(str(resources.files("assistant").joinpath("data/acts.yaml")))
    data = _load_data(path)
    rows = _rows(path, data, ("act",))
    entries: list[ActEntry] = []
    for number, (row, raw) in enumerate(zip(rows, data), start=1):
        words = {field: raw.get(field) for field in ("asked", "held")}
        for field, value in words.items():
            if not isinstance(value, list) or not value or not all(isinstance(w, str) and len(w.strip()) >= 2 for w in value):
                raise LoadError(path, f"entry {number} ({row['act']}): {field} must be a list of words of two or more characters")
        not_before = raw.get("not_before") or []
        if not isinstance(not_before, list) or not all(isinstance(w, str) and w.strip() for w in not_before):
            raise LoadError(path, f"entry {number} ({row['act']}): not_before must be a list of words")
        asked = tuple(w.strip() for w in words["asked"])  # a document saying an asked word holds the act
        held = tuple(dict.fromkeys((*asked, *(w.strip() for w in words["held"]))))
        entries.append(ActEntry(row["act"], asked, held, tuple(w.strip() for w in not_before)))
    _check_unique(path, [entry.act for entry in entries], "act")
    return entries


def _load_data(path: Path) -> list[dict[str, object]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LoadError(path, f"cannot read: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LoadError(path, f"malformed YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, list):
        raise LoadError(path, "expected a YAML list of entries")
    for number, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise LoadError(path, f"entry {number} is not a mapping")
    return data


def _load_rows(path: Path, fields: tuple[str, ...]) -> list[dict[str, str]]:
    return _rows(path, _load_data(path), fields)


def _rows(path: Path, data: list[dict[str, object]], fields: tuple[str, ...]) -> list[dict[str, str]]:
    rows = []
    for number, row in enumerate(data, start=1):
        missing = [f for f in fields if not str(row.get(f) or "").strip()]
        if missing:
            raise LoadError(path, f"entry {number} lacks {', '.join(missing)}")
        rows.append({f: str(row[f]).strip() for f in fields})
    return rows


def _check_unique(path: Path, keys: list[str], field: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise LoadError(path, f"duplicate {field} {key!r}")
        seen.add(key)
