"""政策计算器: which local support policies an applicant qualifies for, nearly qualifies for, or not.

Policies carry structured `eligibility` in their front matter (corpus/README.md): conditions on
the known `Profile` fields with the ops eq, ne, in, not_in, gte, lte, gt, lt, all of which must
hold. Each condition is evaluated to met, failed or unknown (the profile does not say), with its
label and the cited policy. A policy that is expired (or not yet in force) on `today` is never
listed as qualifying.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.answer import Citation
from assistant.documents import Document
from assistant.errors import LoadError
from assistant.lazy import Lazy
from indexer.loaders import load_paths

log = logging.getLogger("zhengwu.matcher")
Status = Literal["met", "failed", "unknown"]
Op = Literal["eq", "ne", "in", "not_in", "gte", "lte", "gt", "lt"]
NUMERIC_FIELDS = frozenset({"annual_revenue", "employees", "years_registered", "age", "insured_months"})
GATE_FIELDS = frozenset({"applicant_type"})  # failing one of these is never "nearly"
MAX_FAILED_FOR_NEARLY = 2
CONDITIONS_SECTIONS = ("申请条件", "支持对象")


class Profile(BaseModel):
    """What an applicant (a person or a company) tells the calculator; every field is optional."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)  # JSON types as declared

    applicant_type: Literal["person", "company"] | None = Field(None, description="person 个人 | company 企业")
    industry: str | None = Field(None, max_length=60, description="行业, e.g. 软件和信息技术服务业")
    size: Literal["micro", "small", "medium", "large"] | None = Field(None, description="企业规模: 微型/小型/中型/大型")
    annual_revenue: float | None = Field(None, ge=0, le=1e9, description="上年度营业收入（万元）")
    employees: int | None = Field(None, ge=0, le=10_000_000, description="从业人员数")
    registration_place: str | None = Field(None, max_length=60, description="登记注册地, e.g. 示例市")
    years_registered: float | None = Field(None, ge=0, le=500, description="登记注册年数")
    age: int | None = Field(None, ge=0, le=150, description="年龄（周岁）")
    household: Literal["local", "nonlocal"] | None = Field(None, description="本地户籍 local | 非本地 nonlocal")
    employment_status: Literal["employed", "unemployed", "self_employed", "retired", "student"] | None = None
    education: Literal["none", "primary", "junior_high", "senior_high", "vocational", "associate", "bachelor",
                       "master", "doctor"] | None = Field(None, description="最高学历")
    insured_months: int | None = Field(None, ge=0, le=1200, description="在本市连续缴纳社会保险月数")

    @field_validator("employees", "age", "insured_months", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        """2618.0 is the integer 2618 (as in JSON Schema); "30" stays a string and is refused."""
        return int(value) if isinstance(value, float) and value.is_integer() else value


PROFILE_FIELDS = frozenset(Profile.model_fields)


class Condition(BaseModel):
    """One eligibility condition as written in a policy's front matter."""

    field: str
    op: Op
    value: Any
    label: str = Field(min_length=1)

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value not in PROFILE_FIELDS:
            raise ValueError(f"unknown field {value!r} (known: {', '.join(sorted(PROFILE_FIELDS))})")
        return value

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"{self.field} {self.op} needs a list value, got {self.value!r}")
        if self.op in ("gte", "lte", "gt", "lt") and (
                self.field not in NUMERIC_FIELDS or isinstance(self.value, bool) or not isinstance(self.value, int | float)):
            raise ValueError(f"{self.field} {self.op} needs a numeric field and value, got {self.value!r}")
        return self


@dataclass(frozen=True)
class Policy:
    doc_id: str
    title: str
    department: str
    benefit: str
    effective_date: str
    expires: str
    source_url: str
    sample: bool
    conditions: tuple[Condition, ...]
    citation: Citation  # the section that lists the conditions


@dataclass(frozen=True)
class ConditionResult:
    field: str
    op: str
    value: Any
    label: str
    status: Status
    actual: Any  # the profile's value (None when unknown)


@dataclass(frozen=True)
class PolicyMatch:
    policy: Policy
    status: Literal["qualifies", "nearly", "not"]
    conditions: tuple[ConditionResult, ...]
    in_force: bool
    reason: str  # one line for a person: why this group

    @property
    def failed(self) -> tuple[ConditionResult, ...]:
        return tuple(c for c in self.conditions if c.status == "failed")

    @property
    def unknown(self) -> tuple[ConditionResult, ...]:
        return tuple(c for c in self.conditions if c.status == "unknown")


@dataclass(frozen=True)
class MatchResult:
    today: dt.date
    qualifies: tuple[PolicyMatch, ...]
    nearly: tuple[PolicyMatch, ...]
    not_qualified: tuple[PolicyMatch, ...]


def load_policies(documents: Iterable[Document]) -> list[Policy]:
    """The documents that carry `eligibility`, parsed; a malformed condition is a `LoadError`."""
    policies = []
    for doc in documents:
        raw = doc.extra.get("eligibility")
        if raw is None:
            continue
        try:
            if not isinstance(raw, list) or not raw:
                raise ValueError("eligibility must be a non-empty list of conditions")
            conditions = tuple(Condition.model_validate(item) for item in raw)
        except (ValidationError, ValueError) as exc:
            raise LoadError(doc.source_path or doc.doc_id, f"invalid eligibility: {exc}") from exc
        policies.append(Policy(doc.doc_id, doc.title, doc.department, str(doc.extra.get("benefit", "")),
                               doc.effective_date, doc.expires, doc.source_url, doc.sample, conditions,
                               _citation(doc)))
    return policies


def evaluate(condition: Condition, profile: Profile) -> ConditionResult:
    actual = getattr(profile, condition.field)
    if actual is None:
        status: Status = "unknown"
    else:
        status = "met" if _holds(condition.op, actual, condition.value) else "failed"
    return ConditionResult(condition.field, condition.op, condition.value, condition.label, status, actual)


def match_policies(profile: Profile, policies: Iterable[Policy | Document], today: dt.date | None = None) -> MatchResult:
    """Every policy in one of three groups: all conditions hold (and it is in force today); all but one
    or two hold, or some are unknown; the rest (including expired policies, whatever the profile)."""
    today = today or dt.date.today()
    given = list(policies)
    parsed = [p for p in given if isinstance(p, Policy)] + load_policies(p for p in given if isinstance(p, Document))
    groups: dict[str, list[PolicyMatch]] = {"qualifies": [], "nearly": [], "not": []}
    for policy in parsed:
        match = _match(profile, policy, today)
        groups[match.status].append(match)
    groups["nearly"].sort(key=lambda m: (len(m.failed), len(m.unknown), m.policy.doc_id))
    groups["not"].sort(key=lambda m: (not m.in_force, len(m.failed), m.policy.doc_id))
    groups["qualifies"].sort(key=lambda m: m.policy.doc_id)
    return MatchResult(today, tuple(groups["qualifies"]), tuple(groups["nearly"]), tuple(groups["not"]))


class PolicyCatalog:
    """The policies with eligibility among some documents, read and parsed on first use; a policy
    whose eligibility is malformed is left out, with a warning in the log."""

    def __init__(self, read: Callable[[], Iterable[Document]]) -> None:
        self._policies: Lazy[list[Policy]] = Lazy(lambda: [p for doc in read() for p in _parsed_or_skipped(doc)])

    @classmethod
    def from_corpus(cls, corpus_dir: Path) -> PolicyCatalog:
        return cls(lambda: load_paths([corpus_dir]).documents)

    def policies(self) -> list[Policy]:
        return self._policies.get()

    def refresh(self) -> None:
        """Read the documents again on next use (after a re-index)."""
        self._policies.refresh()

    def match(self, profile: Profile, today: dt.date | None = None) -> MatchResult:
        return match_policies(profile, self.policies(), today)


def _parsed_or_skipped(doc: Document) -> list[Policy]:
    try:
        return load_policies([doc])
    except LoadError as exc:
        log.warning("policy left out of the calculator: %s", exc)
        return []


def _match(profile: Profile, policy: Policy, today: dt.date) -> PolicyMatch:
    results = tuple(evaluate(c, profile) for c in policy.conditions)
    failed = [r for r in results if r.status == "failed"]
    unknown = [r for r in results if r.status == "unknown"]
    day = today.isoformat()
    if policy.expires and policy.expires < day:
        return PolicyMatch(policy, "not", results, False, f"该政策已于{policy.expires}到期，目前不能申请；是否延续请以主管部门最新公布为准。")
    if policy.effective_date and policy.effective_date > day:
        return PolicyMatch(policy, "not", results, False, f"该政策自{policy.effective_date}起施行，目前尚未生效。")
    if not failed and not unknown:
        return PolicyMatch(policy, "qualifies", results, True, "您填写的情况符合全部申请条件（提交材料时还会核验）。")
    if any(r.field in GATE_FIELDS for r in failed) or len(failed) > MAX_FAILED_FOR_NEARLY:
        return PolicyMatch(policy, "not", results, True, "不符合：" + "；".join(r.label for r in failed))
    parts = (["还差：" + "；".join(r.label for r in failed)] if failed else []) + (
        ["还需确认：" + "；".join(r.label for r in unknown)] if unknown else [])
    return PolicyMatch(policy, "nearly", results, True, "，".join(parts))


def _holds(op: str, actual: Any, value: Any) -> bool:
    if op in ("gte", "lte", "gt", "lt"):
        number = float(actual)
        return {"gte": number >= value, "lte": number <= value, "gt": number > value, "lt": number < value}[op]
    if op in ("in", "not_in"):
        inside = any(_same(actual, v) for v in value)
        return inside if op == "in" else not inside
    return _same(actual, value) if op == "eq" else not _same(actual, value)


def _same(actual: Any, value: Any) -> bool:
    if isinstance(actual, int | float) and not isinstance(value, str):
        return float(actual) == float(value)
    return str(actual).strip().lower() == str(value).strip().lower()


def _citation(doc: Document) -> Citation:
    section, quote = "", ""
    for heading in CONDITIONS_SECTIONS:
        parts = doc.body.split(f"## {heading}\n", 1)
        if len(parts) == 2:
            section, quote = heading, parts[1].split("\n## ", 1)[0].strip()
            break
    return Citation(number=1, doc_id=doc.doc_id, title=doc.title, section=section, effective_date=doc.effective_date,
                    source_url=doc.source_url, quote=quote, kind=doc.kind, sample=doc.sample, expires=doc.expires)
