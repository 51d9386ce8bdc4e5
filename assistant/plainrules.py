"""The plain-language rewriter's rule data (`assistant/data/plain.yaml`), loaded and compiled once:
bureaucratic phrases → direct ones, glossary handling, office names, durations, the materials
checklist, elderly mode and the 粤语 wording. Replacements may not hold digits, so no rule can
change a number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import LoadError


@dataclass(frozen=True)
class ElderlyRules:
    lead_heading: str
    points: int
    markers: tuple[str, ...]
    skip_headings: frozenset[str]
    skip_prefixes: tuple[str, ...]
    labels: dict[str, str]
    closing: dict[str, str]
    prefer_facts: frozenset[str]


@dataclass(frozen=True)
class PlainRules:
    """The rule data (`assistant/data/plain.yaml`)."""

    sentence_chars: int
    elderly_sentence_chars: int
    min_piece_chars: int
    phrases: tuple[tuple[re.Pattern[str], str], ...]
    words: tuple[tuple[re.Pattern[str], str], ...]
    substitute: dict[str, tuple[str | None, bool]]  # term → (plain wording override, keep bracket)
    skip: frozenset[str]
    names: re.Pattern[str] | None
    keep: tuple[str, ...]
    checklist_intro: str
    checklist_marker: str
    about: str
    working_days: str
    elderly: ElderlyRules
    cantonese_skip: frozenset[str]
    cantonese_words: tuple[tuple[re.Pattern[str], str], ...]

    @classmethod
    def load(cls, path: Path | None = None) -> PlainRules:
        where = path or "assistant/data/plain.yaml"
        try:
            text = path.read_text(encoding="utf-8") if path else (
                resources.files("assistant").joinpath("data/plain.yaml").read_text(encoding="utf-8"))
            raw: dict[str, Any] = yaml.safe_load(text)
            limits, glossary, names, elderly = raw["limits"], raw["glossary"], raw["names"], raw["elderly"]
            substitute = {}
            for item in glossary["substitute"]:
                item = item if isinstance(item, dict) else {"term": item}
                substitute[str(item["term"])] = (item.get("plain"), bool(item.get("bracket", True)))
            return cls(
                sentence_chars=int(limits["sentence_chars"]), elderly_sentence_chars=int(limits["elderly_sentence_chars"]),
                min_piece_chars=int(limits["min_piece_chars"]),
                phrases=_patterns(raw["direct_phrases"]), words=_patterns(raw["direct_words"]),
                substitute=substitute, skip=frozenset(glossary.get("skip") or ()),
                names=_names(names["prefixes"], names["suffixes"]), keep=tuple(raw.get("keep") or ()),
                checklist_intro=str(raw["materials"]["intro"]), checklist_marker=str(raw["materials"]["marker"]),
                about=str(raw["durations"]["about"]), working_days=str(raw["durations"]["working_days"]),
                elderly=ElderlyRules(str(elderly["lead_heading"]), int(elderly["points"]), tuple(elderly["markers"]),
                                     frozenset(elderly["skip_headings"]), tuple(elderly["skip_prefixes"]),
                                     dict(elderly["labels"]), dict(elderly["closing"]),
                                     frozenset(elderly.get("prefer_facts") or ())),
                cantonese_skip=frozenset(raw["cantonese"]["skip"]), cantonese_words=_patterns(raw["cantonese"]["words"]),
            )
        except OSError as exc:
            raise LoadError(where, f"cannot read: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise LoadError(where, f"malformed YAML: {str(exc).splitlines()[0]}") from exc
        except (KeyError, TypeError, ValueError, AttributeError, re.error) as exc:
            raise LoadError(where, f"bad rule data: {exc!r}") from exc


def _patterns(rows: list[list[str]]) -> tuple[tuple[re.Pattern[str], str], ...]:
    compiled = []
    for pattern, replacement in rows:
        if re.search(r"\d", str(replacement).replace("\\1", "").replace("\\2", "")):
            raise ValueError(f"a replacement may not hold digits: {replacement!r}")
        compiled.append((re.compile(str(pattern)), str(replacement)))
    return tuple(compiled)


def _names(prefixes: list[str], suffixes: list[str]) -> re.Pattern[str] | None:
    if not prefixes or not suffixes:
        return None
    ends = "|".join(re.escape(s) for s in sorted(suffixes, key=len, reverse=True))
    starts = "|".join(re.escape(p) for p in prefixes)
    return re.compile(f"(?:{starts})(?:[\\u4e00-\\u9fff]{{0,12}}?(?:{ends}))+")
