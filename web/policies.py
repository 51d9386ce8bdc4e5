"""政策计算器 on the citizen page: a company tab and a person tab over `PolicyCatalog.match`.

Every field is optional and maps to one `Profile` field (the model validates; its errors are shown
in Chinese). Numbers are typed into text boxes, because Gradio's number box sends 0 for a box left
empty, and 0 employees is not "not given". The result has three groups — 符合 / 差一点 / 暂不符合 — and every policy shows its
benefit, department, the conditions it was checked on (met, missing, or not given, the last named by
the form's field names), and its source: the cited 申请条件 with title, dates, link and the 示例数据
tag. Matching counts against the same rate limit as asking.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

import gradio as gr
from pydantic import ValidationError

from api.limits import RateLimiter
from api.schemas import CitationOut
from assistant.errors import ZhengwuError
from assistant.matcher import NUMERIC_FIELDS, MatchResult, PolicyCatalog, PolicyMatch, Profile
from web import client_of
from web.answers import escape, render_source
from web.validation import explain_invalid

log = logging.getLogger("zhengwu.web")

FIELD_NAMES = {"applicant_type": "申请人类型", "industry": "所属行业", "size": "企业规模", "annual_revenue": "上年度营业收入",
               "employees": "从业人员数", "registration_place": "登记注册地", "years_registered": "登记注册年数",
               "age": "年龄", "household": "户籍", "employment_status": "就业状态", "education": "最高学历",
               "insured_months": "连续缴纳社保月数"}
SIZES = [("微型企业", "micro"), ("小型企业", "small"), ("中型企业", "medium"), ("大型企业", "large")]
HOUSEHOLDS = [("本市户籍", "local"), ("非本市户籍", "nonlocal")]
EMPLOYMENT = [("在职（与单位签订劳动合同）", "employed"), ("失业", "unemployed"), ("个体经营或自主创业", "self_employed"),
              ("已退休", "retired"), ("在校学生", "student")]
EDUCATION = [("未上学", "none"), ("小学", "primary"), ("初中", "junior_high"), ("高中", "senior_high"),
             ("中专、职高、技校", "vocational"), ("大专", "associate"), ("本科", "bachelor"), ("硕士研究生", "master"),
             ("博士研究生", "doctor")]
INDUSTRIES = ["软件和信息技术服务业", "科学研究和技术服务业", "制造业", "建筑业", "交通运输、仓储和邮政业", "批发和零售业",
              "住宿和餐饮业", "房地产业", "租赁和商务服务业", "娱乐业", "烟草制造业", "农、林、牧、渔业"]
COMPANY_FIELDS = ("industry", "size", "annual_revenue", "employees", "registration_place", "years_registered")
PERSON_FIELDS = ("age", "household", "employment_status", "education", "insured_months", "registration_place",
                 "years_registered")
GROUPS = (("qualifies", "符合", "您填写的情况符合全部条件"), ("nearly", "差一点", "还差一两个条件，或有条件需要您补充"),
          ("not_qualified", "暂不符合", "按您填写的情况暂不符合，或政策不在有效期内"))
MARKS = {"met": ("✓", "zw-met"), "failed": ("✗", "zw-failed"), "unknown": ("？", "zw-unknown")}
CSS = """
.zw-group { margin: .6em 0 1em; }
.zw-group h3 { margin: .2em 0 .4em; }
.zw-policy { margin: .4em 0; padding: .5em .8em; border: 1px solid var(--border-color-primary); border-radius: 8px; }
.zw-policy-title { font-weight: 700; }
.zw-conditions { margin: .3em 0; padding-left: 1.2em; }
.zw-met { color: #1e7e34; } .zw-failed { color: #c0392b; } .zw-unknown { color: #7a5b00; }
.zw-missing { font-weight: 600; }
"""


class PolicyCalculator:
    """The calculator's handlers: a profile from the form in, the three groups as HTML out."""

    def __init__(self, catalog: PolicyCatalog, limiter: RateLimiter) -> None:
        self.catalog = catalog
        self.limiter = limiter

    def match_company(self, industry: str | None, size: str | None, annual_revenue: str, employees: str,
                      registration_place: str | None, years_registered: str, request: gr.Request) -> str:
        values = dict(zip(COMPANY_FIELDS, (industry, size, annual_revenue, employees, registration_place,
                                           years_registered), strict=True))
        return self.match("company", values, request)

    def match_person(self, age: str, household: str | None, employment_status: str | None, education: str | None,
                     insured_months: str, registration_place: str | None, years_registered: str,
                     request: gr.Request) -> str:
        values = dict(zip(PERSON_FIELDS, (age, household, employment_status, education, insured_months,
                                          registration_place, years_registered), strict=True))
        return self.match("person", values, request)

    def match(self, applicant_type: str, values: dict[str, Any], request: gr.Request | None) -> str:
        given = {name: number(value) if name in NUMERIC_FIELDS else value for name, value in values.items()
                 if value is not None and str(value).strip()}
        try:
            profile = Profile.model_validate({"applicant_type": applicant_type, **given})
        except ValidationError as exc:
            message = explain_invalid(exc, FIELD_NAMES)
            return f'<div class="zw-warning">⚠ {escape(message)}请修改后再查询。</div>'
        wait = self.limiter.hit(client_of(request))
        if wait:
            return f'<div class="zw-warning">⚠ 查询太频繁了，请{wait}秒后再试。</div>'
        try:
            result = self.catalog.match(profile)
        except ZhengwuError as exc:
            log.error("the policy calculator could not match: %s", exc)
            return '<div class="zw-warning">⚠ 政策计算器暂时无法使用，请稍后再试，或拨打12345政务服务便民热线。</div>'
        return render_result(result)


def number(text: object) -> object:
    """A typed number as int or float ("1,000" and full-width digits too); anything else as given,
    for the `Profile` to refuse."""
    cleaned = unicodedata.normalize("NFKC", str(text)).strip().replace(",", "")
    if re.fullmatch(r"-?\d+", cleaned):
        return int(cleaned)
    if re.fullmatch(r"-?\d*\.\d+", cleaned):
        return float(cleaned)
    return text


def render_result(result: MatchResult) -> str:
    """The three groups, with the fields to fill in for a surer answer first."""
    wanted = sorted({c.field for m in result.nearly for c in m.unknown}, key=list(FIELD_NAMES).index)
    parts = [f'<p class="zw-match-summary">按您填写的情况（{result.today.isoformat()}）：符合 {len(result.qualifies)} 项，'
             f"差一点 {len(result.nearly)} 项，暂不符合 {len(result.not_qualified)} 项。"
             "结果仅供参考，以主管部门受理审核为准。</p>"]
    if wanted:
        parts.append(f'<p class="zw-missing">补充填写 {escape("、".join(FIELD_NAMES[f] for f in wanted))}，结果会更准确。</p>')
    for key, name, hint in GROUPS:
        matches: tuple[PolicyMatch, ...] = getattr(result, key)
        cards = "".join(render_policy(m) for m in matches) or "<p>暂无。</p>"
        parts.append(f'<section class="zw-group zw-group-{key}"><h3>{name}（{len(matches)}项）</h3>'
                     f'<p class="zw-meta">{hint}</p>{cards}</section>')
    return f'<div class="zw-match">{"".join(parts)}</div>'


def render_policy(match: PolicyMatch) -> str:
    policy = match.policy
    sample = '<span class="zw-sample">示例数据</span>' if policy.sample else ""
    lines = [f'<p class="zw-policy-title">{escape(policy.title)} {sample}</p>']
    if policy.benefit:
        lines.append(f"<p>扶持内容：{escape(policy.benefit)}</p>")
    lines.append(f"<p>主管部门：{escape(policy.department)}</p>")
    if match.status == "nearly":
        if match.failed:
            lines.append(f'<p class="zw-missing">还差：{escape("；".join(c.label for c in match.failed))}</p>')
        if match.unknown:
            fields = "、".join(dict.fromkeys(FIELD_NAMES.get(c.field, c.field) for c in match.unknown))
            lines.append(f'<p class="zw-missing">需要您补充：{escape(fields)}</p>')
    else:
        lines.append(f'<p class="zw-policy-reason">{escape(match.reason)}</p>')
    conditions = "".join(f'<li class="{MARKS[c.status][1]}">{MARKS[c.status][0]} {escape(c.label)}</li>'
                         for c in match.conditions)
    lines.append(f'<ul class="zw-conditions">{conditions}</ul>')
    lines.append(render_source(CitationOut.of(policy.citation), "依据"))
    return f'<div class="zw-policy" data-policy="{escape(policy.doc_id)}">{"".join(lines)}</div>'


def policy_tab(calculator: PolicyCalculator) -> None:
    """Lay out the calculator (inside a `gr.Tab`) and wire its two buttons."""
    gr.Markdown("填写您的情况，看看能申请哪些扶持政策。每一项都可以不填，没填的条件会在结果里列出来。")
    private = {"api_visibility": "private"}
    with gr.Tabs():
        with gr.Tab("企业", id="company"):
            with gr.Row():
                industry = gr.Dropdown(INDUSTRIES, value=None, label="所属行业", allow_custom_value=True,
                                       elem_id="zw-company-industry")
                size = gr.Dropdown(SIZES, value=None, label="企业规模", elem_id="zw-company-size")
                place = gr.Textbox(label="登记注册地", placeholder="例如：示例市", elem_id="zw-company-place")
            with gr.Row():
                revenue = gr.Textbox(label="上年度营业收入（万元）", elem_id="zw-company-revenue")
                employees = gr.Textbox(label="从业人员数（人）", elem_id="zw-company-employees")
                years = gr.Textbox(label="登记注册年数（年）", elem_id="zw-company-years")
            go_company = gr.Button("查询", variant="primary", elem_id="zw-company-match")
            company_result = gr.HTML("", elem_id="zw-company-result")
        with gr.Tab("个人", id="person"):
            with gr.Row():
                age = gr.Textbox(label="年龄（周岁）", elem_id="zw-person-age")
                household = gr.Dropdown(HOUSEHOLDS, value=None, label="户籍", elem_id="zw-person-household")
                employment = gr.Dropdown(EMPLOYMENT, value=None, label="就业状态", elem_id="zw-person-employment")
            with gr.Row():
                education = gr.Dropdown(EDUCATION, value=None, label="最高学历", elem_id="zw-person-education")
                insured = gr.Textbox(label="在本市连续缴纳社保（月）", elem_id="zw-person-insured")
            with gr.Accordion("自主创业的，请补充所办企业或个体工商户的情况", open=False):
                with gr.Row():
                    person_place = gr.Textbox(label="登记注册地", placeholder="例如：示例市", elem_id="zw-person-place")
                    person_years = gr.Textbox(label="登记注册年数（年）", elem_id="zw-person-years")
            go_person = gr.Button("查询", variant="primary", elem_id="zw-person-match")
            person_result = gr.HTML("", elem_id="zw-person-result")
    go_company.click(calculator.match_company, [industry, size, revenue, employees, place, years], company_result,
                     **private)
    go_person.click(calculator.match_person, [age, household, employment, education, insured, person_place,
                                              person_years], person_result, **private)
