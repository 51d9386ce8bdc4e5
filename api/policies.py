"""`POST /v1/policies/match`: 政策计算器, a profile in, the policies it qualifies for, nearly qualifies
for (and what is missing), and the rest, each condition with its label and the cited policy."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.dependencies import PoliciesDep, RateLimited
from api.schemas import CitationOut, error_responses
from assistant.matcher import MatchResult, PolicyMatch, Profile

router = APIRouter(prefix="/v1", tags=["policies"])


class ConditionOut(BaseModel):
    field: str
    op: str
    value: Any
    label: str = Field(description="The condition as a person reads it.")
    status: Literal["met", "failed", "unknown"] = Field(description="unknown: the profile does not give this field.")
    actual: Any = Field(description="The profile's value (null when unknown).")


class PolicyMatchOut(BaseModel):
    policy_id: str
    title: str
    department: str
    benefit: str
    source_url: str
    effective_date: str
    expires: str
    in_force: bool = Field(description="False when the policy has expired or is not yet in force: it never qualifies.")
    sample: bool
    status: Literal["qualifies", "nearly", "not"]
    reason: str
    missing: list[str] = Field(description="Labels of the conditions the profile fails.")
    unknown: list[str] = Field(description="Fields the profile does not give that a condition needs.")
    conditions: list[ConditionOut]
    citation: CitationOut

    @classmethod
    def of(cls, match: PolicyMatch) -> PolicyMatchOut:
        policy = match.policy
        return cls(policy_id=policy.doc_id, title=policy.title, department=policy.department, benefit=policy.benefit,
                   source_url=policy.source_url, effective_date=policy.effective_date, expires=policy.expires,
                   in_force=match.in_force, sample=policy.sample, status=match.status, reason=match.reason,
                   missing=[c.label for c in match.failed], unknown=[c.field for c in match.unknown],
                   conditions=[ConditionOut(field=c.field, op=c.op, value=c.value, label=c.label, status=c.status,
                                            actual=c.actual) for c in match.conditions],
                   citation=CitationOut.of(policy.citation))


class MatchOut(BaseModel):
    today: dt.date
    qualifies: list[PolicyMatchOut]
    nearly: list[PolicyMatchOut] = Field(description="All but one or two conditions hold, or some are unknown.")
    not_: list[PolicyMatchOut] = Field(serialization_alias="not", description="The rest, expired policies included.")

    @classmethod
    def of(cls, result: MatchResult) -> MatchOut:
        return cls(today=result.today, qualifies=[PolicyMatchOut.of(m) for m in result.qualifies],
                   nearly=[PolicyMatchOut.of(m) for m in result.nearly],
                   not_=[PolicyMatchOut.of(m) for m in result.not_qualified])


@router.post("/policies/match", response_model=MatchOut, responses=error_responses(400, 413, 422, 429, 500))
def match_policies(profile: Profile, _limit: RateLimited, policies: PoliciesDep) -> MatchOut:
    """Which local support policies a person or company qualifies for (every field optional; unknown
    fields are named). Conditions are checked again when the application is made."""
    return MatchOut.of(policies.match(profile))
