"""Out-of-scope questions, recognised by rules kept as data (`assistant/data/scope.yaml`).

These are categories no document can answer safely (a person's own case, other cities' rules,
fabrication and forged documents, role-play and promised approvals, evading checks, prompt
extraction and jailbreaks, forecasts of unannounced policy, personal medical/legal/investment
advice, chitchat). Matching is done on the normalised question; a match means a refusal with a
hand-off, never an answer. Other cities are found by `assistant.places`, which tells a place
someone moves from or to from a place whose rules are asked about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from assistant.errors import ConfigError
from assistant.places import PlaceNames


@dataclass(frozen=True)
class ScopeRule:
    category: str
    reason: str
    patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class ScopeVerdict:
    category: str
    reason: str
    matched: str


class ScopeChecker:
    def __init__(self, rules: list[ScopeRule], places: PlaceNames | None = None) -> None:
        self.rules = rules
        self.places = places

    @classmethod
    def load(cls, path: Path | None = None, places: PlaceNames | None = None) -> ScopeChecker:
        """The rules from `path` (default: the shipped `data/scope.yaml`); with `places`, a question
        naming a place elsewhere is out of scope too (category other_city)."""
        try:
            text = path.read_text(encoding="utf-8") if path else (
                resources.files("assistant").joinpath("data/scope.yaml").read_text(encoding="utf-8"))
            raw = yaml.safe_load(text)
            rules = [
                ScopeRule(r["category"], r["reason"], tuple(re.compile(p, re.IGNORECASE) for p in r["patterns"]))
                for r in raw
            ]
        except (OSError, yaml.YAMLError, KeyError, TypeError, re.error) as exc:
            raise ConfigError(f"cannot load the scope rules: {exc}") from exc
        return cls(rules, places)

    def check(self, text: str) -> ScopeVerdict | None:
        for rule in self.rules:
            for pattern in rule.patterns:
                match = pattern.search(text)
                if match:
                    return ScopeVerdict(rule.category, rule.reason, match.group(0))
        place = self.places.find(text) if self.places else None
        other_city = next((rule for rule in self.rules if rule.category == "other_city"), None)
        if place and other_city:
            return ScopeVerdict(other_city.category, other_city.reason, place)
        return None
