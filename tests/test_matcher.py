"""政策计算器: the real corpus policies matched against profiles (qualify / nearly / not), expiry,
unknown fields, malformed eligibility, and POST /v1/policies/match."""

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api import policies as policies_api
from api.app import create_app
from assistant.errors import LoadError
from assistant.matcher import MatchResult, PolicyCatalog, Profile, load_policies, match_policies
from assistant.settings import Settings
from indexer.loaders import load_paths
from tests.conftest import write

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "corpus" / "policies"
TODAY = dt.date(2026, 3, 1)  # the startup rent subsidy expired on 2025-12-31
COMPANY = Profile(applicant_type="company", size="small", registration_place="示例市", employees=50,
                  annual_revenue=3000, industry="软件和信息技术服务业")
GRADUATE = Profile(applicant_type="person", age=28, education="master", employment_status="employed",
                   insured_months=6, registration_place="示例市", years_registered=1, household="nonlocal")

POLICY = """
---
id: policy-test-ops
title: 测试政策
kind: policy
doc_type: local_policy
department: 示例市测试局
region: 示例市
effective_date: 2025-01-01
source_url: https://zwfw.shili.example/policy/policy-test-ops
sample: true
benefit: 测试补贴
eligibility:
  - {field: household, op: ne, value: nonlocal, label: 本地户籍}
  - {field: industry, op: not_in, value: [房地产业], label: 不属于房地产业}
  - {field: years_registered, op: gt, value: 1, label: 登记注册满1年}
  - {field: employees, op: lt, value: 10, label: 从业人员少于10人}
  - {field: size, op: in, value: [micro], label: 微型企业}
---
## 申请条件
见上。
"""


@pytest.fixture(scope="module")
def policies() -> list:
    return load_policies(load_paths([POLICIES]).documents)


def ids(matches: tuple) -> list[str]:
    return [m.policy.doc_id for m in matches]


def group_of(result: MatchResult, doc_id: str) -> str:
    for name in ("qualifies", "nearly", "not_qualified"):
        if doc_id in ids(getattr(result, name)):
            return name
    raise AssertionError(f"{doc_id} is in no group")


def test_only_local_policies_with_eligibility_are_loaded(policies: list) -> None:
    assert sorted(p.doc_id for p in policies) == ["policy-sme-employment-subsidy", "policy-startup-rent-subsidy",
                                                  "policy-talent-housing-subsidy", "policy-tech-sme-rnd-reward"]
    rnd = next(p for p in policies if p.doc_id == "policy-tech-sme-rnd-reward")
    assert rnd.citation.section == "申请条件" and "销售收入不超过2亿元" in rnd.citation.quote
    assert rnd.benefit and rnd.expires == "2027-12-31" and rnd.source_url.startswith("https://")


def test_a_small_company_qualifies_for_the_company_policies(policies: list) -> None:
    result = match_policies(COMPANY, policies, today=TODAY)
    assert ids(result.qualifies) == ["policy-sme-employment-subsidy", "policy-tech-sme-rnd-reward"]
    assert set(ids(result.not_qualified)) == {"policy-talent-housing-subsidy", "policy-startup-rent-subsidy"}
    for match in result.qualifies:
        assert match.in_force and all(c.status == "met" for c in match.conditions)
        assert [c.label for c in match.conditions] == [c.label for c in match.policy.conditions]
    talent = next(m for m in result.not_qualified if m.policy.doc_id == "policy-talent-housing-subsidy")
    assert [c.label for c in talent.failed] == ["申请人为个人"]  # the applicant type is a gate, never "nearly"


def test_nearly_names_the_missing_conditions(policies: list) -> None:
    short = GRADUATE.model_copy(update={"insured_months": 2})
    result = match_policies(short, policies, today=TODAY)
    (near,) = [m for m in result.nearly if m.policy.doc_id == "policy-talent-housing-subsidy"]
    assert [c.label for c in near.failed] == ["在示例市连续缴纳社会保险满3个月"] and near.unknown == ()
    assert "还差：在示例市连续缴纳社会保险满3个月" in near.reason
    big = COMPANY.model_copy(update={"employees": 600, "annual_revenue": 30000})  # two conditions fail
    rnd = next(m for m in match_policies(big, policies, today=TODAY).nearly if m.policy.doc_id == "policy-tech-sme-rnd-reward")
    assert [c.field for c in rnd.failed] == ["employees", "annual_revenue"]
    huge = big.model_copy(update={"size": "large"})  # three fail: not
    assert group_of(match_policies(huge, policies, today=TODAY), "policy-tech-sme-rnd-reward") == "not_qualified"
    food = COMPANY.model_copy(update={"industry": "住宿和餐饮业"})  # not_in fails
    near_food = next(m for m in match_policies(food, policies, today=TODAY).nearly)
    assert near_food.policy.doc_id == "policy-tech-sme-rnd-reward" and near_food.failed[0].field == "industry"


def test_unknown_fields_are_reported_not_guessed(policies: list) -> None:
    partial = Profile(applicant_type="person", age=30, education="bachelor")
    result = match_policies(partial, policies, today=TODAY)
    talent = next(m for m in result.nearly if m.policy.doc_id == "policy-talent-housing-subsidy")
    assert [c.field for c in talent.unknown] == ["employment_status", "insured_months"]
    assert talent.failed == () and "还需确认" in talent.reason
    assert all(c.actual is None for c in talent.unknown)
    everything_unknown = match_policies(Profile(), policies, today=TODAY)
    assert everything_unknown.qualifies == ()
    assert all(not m.failed for m in everything_unknown.nearly)


def test_an_expired_policy_never_qualifies(policies: list) -> None:
    founder = Profile(applicant_type="person", age=30, registration_place="示例市", years_registered=1, insured_months=6)
    before = match_policies(founder, policies, today=dt.date(2025, 6, 1))
    assert "policy-startup-rent-subsidy" in ids(before.qualifies)
    after = match_policies(founder, policies, today=TODAY)
    rent = next(m for m in after.not_qualified if m.policy.doc_id == "policy-startup-rent-subsidy")
    assert not rent.in_force and "2025-12-31" in rent.reason and "到期" in rent.reason
    assert all(c.status == "met" for c in rent.conditions)  # it would have: still not listed as qualifying
    early = match_policies(GRADUATE, policies, today=dt.date(2025, 6, 1))  # talent housing starts 2025-07-01
    assert group_of(early, "policy-talent-housing-subsidy") == "not_qualified"
    assert group_of(match_policies(GRADUATE, policies, today=TODAY), "policy-talent-housing-subsidy") == "qualifies"


def test_every_op_is_evaluated(tmp_path: Path) -> None:
    docs = load_paths([write(tmp_path / "policy-test-ops.md", POLICY)]).documents
    fits = Profile(household="local", industry="制造业", years_registered=2, employees=5, size="micro")
    assert ids(match_policies(fits, docs, today=TODAY).qualifies) == ["policy-test-ops"]
    for change, field in ((dict(household="nonlocal"), "household"), (dict(industry="房地产业"), "industry"),
                          (dict(years_registered=1), "years_registered"), (dict(employees=10), "employees"),
                          (dict(size="small"), "size")):
        (near,) = match_policies(fits.model_copy(update=change), docs, today=TODAY).nearly
        assert [c.field for c in near.failed] == [field], change


@pytest.mark.parametrize("condition, problem", [
    ("{field: height, op: gte, value: 170, label: 身高}", "unknown field"),
    ("{field: industry, op: gte, value: 3, label: 行业}", "numeric"),
    ("{field: size, op: in, value: micro, label: 规模}", "list"),
    ("{field: age, op: about, value: 30, label: 年龄}", "op"),
])
def test_malformed_eligibility_is_a_load_error(tmp_path: Path, condition: str, problem: str) -> None:
    text = POLICY.split("eligibility:")[0] + f"eligibility:\n  - {condition}\n---\n## 申请条件\n见上。\n"
    docs = load_paths([write(tmp_path / "policy-test-ops.md", text)]).documents
    with pytest.raises(LoadError, match=problem):
        load_policies(docs)


def test_the_catalog_leaves_malformed_policies_out(tmp_path: Path) -> None:
    write(tmp_path / "policy-test-ops.md", POLICY)
    broken = POLICY.replace("policy-test-ops", "policy-broken").replace("field: size", "field: height")
    write(tmp_path / "policy-broken.md", broken)
    catalog = PolicyCatalog.from_corpus(tmp_path)
    assert [p.doc_id for p in catalog.policies()] == ["policy-test-ops"]
    assert ids(catalog.match(Profile(), today=TODAY).nearly) == ["policy-test-ops"]


def test_profiles_are_validated() -> None:
    for bad in ({"age": -1}, {"applicant_type": "alien"}, {"employees": "many"}, {"age": "30"}, {"salary": 1},
                {"size": "huge"}, {"age": 3.5}, {"age": True}):
        with pytest.raises(ValidationError):
            Profile.model_validate(bad)
    assert Profile.model_validate({"annual_revenue": 100}).annual_revenue == 100.0
    assert Profile.model_validate({"employees": 12.0}).employees == 12  # a whole number, as JSON Schema allows


# --- POST /v1/policies/match --------------------------------------------------------------------

def policies_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    app.state.policies = PolicyCatalog.from_corpus(ROOT / "corpus")  # as create_app will set it
    app.include_router(policies_api.router)
    return app


def test_match_endpoint_returns_three_groups_with_cited_conditions(make_settings: Callable[..., Settings]) -> None:
    client = TestClient(policies_app(make_settings()))
    response = client.post("/v1/policies/match", json={"applicant_type": "company", "size": "small",
                                                       "registration_place": "示例市", "employees": 400})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"today", "qualifies", "nearly", "not"}
    sme = next(m for m in body["nearly"] + body["qualifies"] if m["policy_id"] == "policy-sme-employment-subsidy")
    assert sme["status"] == "nearly" and sme["missing"] == ["从业人员不超过300人"]
    assert sme["citation"]["doc_id"] == "policy-sme-employment-subsidy" and sme["citation"]["section"] == "申请条件"
    employees = next(c for c in sme["conditions"] if c["field"] == "employees")
    assert employees == {"field": "employees", "op": "lte", "value": 300, "label": "从业人员不超过300人",
                         "status": "failed", "actual": 400}
    rnd = next(m for m in body["nearly"] if m["policy_id"] == "policy-tech-sme-rnd-reward")
    assert rnd["unknown"] == ["annual_revenue", "industry"]
    rent = next(m for m in body["not"] if m["policy_id"] == "policy-startup-rent-subsidy")
    assert rent["in_force"] is False  # the machine's today is after 2025-12-31


def test_match_endpoint_rejects_bad_profiles_with_422(make_settings: Callable[..., Settings]) -> None:
    client = TestClient(policies_app(make_settings()))
    for bad in ({"age": -3}, {"applicant_type": "alien"}, {"age": "thirty"}, {"favourite_colour": "red"}, [1, 2]):
        response = client.post("/v1/policies/match", json=bad)
        assert response.status_code == 422 and response.json()["error"] == "validation_error", bad
