"""What a question asks to be counted (a fee, a time, an age, a sum of money; since session 23 a
fine, a share or deductible, a validity, a head count and a number of times) and whether an
answer's text states one.

"办护照要多少钱" wants a fee: an answer whose text names no price and does not say it is free
(a passage of the 出境入境管理法 on who may hold a passport) does not answer it, however close it
reads. The same holds for "多久" without a number of days or months, "几岁" without an age and
"一个月给多少" without a sum. The answerer tries the next document instead, and refuses when that
states none either (`ExtractiveAnswerer`), naming the document it came closest to. A guide's own
section for the figure (收费标准: "按国家规定标准收取") states it whatever its words.

Chosen on the eval set's dev half (session 10): of the 90 answers from the right document to a
question asking one of these, every one states it; of the 74 such answers from another document
with the question's own documents held out (`python -m eval holdout --split dev`), 19 state none.
The question patterns were narrowed on MSGABench's dev questions and official answers (收费 of
"可否按根收费" asks how to bill; 占地面积多大 asks no age).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER = r"[0-9０-９一二两三四五六七八九十百千万零〇半]+"


@dataclass(frozen=True)
class Quantity:
    """One kind of quantity: how a question asks for it and how a text states it."""

    name: str  # what it is called in a refusal ("时间")
    asked: re.Pattern[str]
    stated: re.Pattern[str]
    sections: tuple[str, ...]  # guide sections that state it, whatever their words ("按国家规定标准收取")
    # a guide gives it no section of its own (a certificate's 有效期 is stated with its conditions or
    # its fee): the answer adds the section retrieval found in the document that states it
    anywhere: bool = False

    def is_asked(self, question: str) -> bool:
        return bool(self.asked.search(question))

    def is_stated(self, text: str) -> bool:
        """Whether `text` says it in words: a number with its unit, or 免费, 当场 …"""
        return bool(self.stated.search(text))


QUANTITIES = (
    Quantity("费用或金额",
             re.compile(r"多少钱|几多钱|好多钱|花多少|收费(吗|嘛|不|标准|多少|是多少)|(是否|要不要|会不会)收费|收不收|收唔收|要钱|要不要钱"
                        r"|免费(吗|嘛|不|的吗)|是不是免费|免不免费|工本费|手续费|登记费"),
             re.compile(NUMBER + r"(\.[0-9]+)?\s*(元|块)|免费|免收|免予|不收|无需缴|不需要交|不需缴|收费"),
             ("收费标准",)),
    Quantity("时间",
             re.compile(r"(?<!没)(?<!不)(?<!没过)多久|多长时间|多长|几天|多少天|几个月|几耐|几多日|几日|好久|时限|期限"),  # 刚结婚没多久: a while ago
             re.compile(NUMBER + r"\s*个?\s*(法定|自然)?(工作日|日|天|个月|月|年|周(?!岁)|星期|小时)|当场|即时|当天|当日|立即|即办|随到随办|实时|长期|终身|永久"),
             ("办理时限",)),
    Quantity("年龄", re.compile(r"多少岁|几岁|多少周岁|几多岁|多大(年纪|岁数|了|的|就|才|可以|能|要|得|必须)"), re.compile(NUMBER + r"\s*(周岁|岁)"), ()),
    Quantity("金额或比例",
             re.compile(r"(领|补|贴|给|发|贷|借|提|取|奖|励|拿)多少(?![年天岁月次个])|(一个|每个?)月多少|额度|能领几多|能贷几多|能借几多"),
             re.compile(NUMBER + r"(\.[0-9]+)?\s*(元|万|%|％|倍|个月)|百分之|比例|标准"),
             ("支持标准",)),
    # session 23, from a fresh batch's misses (an overdue inspection's fine asked of the inspection
    # guide, a reimbursement's share and deductible asked of the reimbursement guide, neither stated)
    Quantity("罚款", re.compile(r"罚多少|罚款|被罚|罚不罚|罚钱|罚几多|处罚"), re.compile(r"罚|滞纳金"), ()),
    # how long a certificate or a filing stays valid, not how long it takes ("临时备案办一次能管多久")
    Quantity("有效期",
             re.compile(r"(能|可以)(管|用|使用)(多久|多长时间|几年|几个月|多少年)|管(多久|几年)|有效期限?(是|为|有|係|系)?(多久|多长|几年|几多年|多少|怎么|如何)"
                        r"|有没有(有效期|期限)|有效期吗"
                        r"|多久(过期|失效)|几年(过期|失效)"),
             re.compile(r"有效(期|期限)?(为|是|内|至)?.{0,12}" + NUMBER + r"\s*(年|个月|月|天|日)|" + NUMBER
                        + r"\s*(周岁|岁|年|个月|月|天|日)(以)?(内|后)?(有效|过期|失效)|(长期|终身|永久)有效"),
             (), anywhere=True),
    Quantity("人数", re.compile(r"(最多|能|可以)+(雇|招|请|聘)用?(几个|多少|几名)"), re.compile(NUMBER + r"\s*(个|名)?\s*(人|员工|帮工|雇员)"), ()),
    # how many times a thing may be done ("年报公示后更正最多能改几次")
    Quantity("次数", re.compile(r"(最多|能|可以)+(改|修改|更正|提取|申请|办|领|考|补)+(几次|多少次)|有(没有)?次数限制|次数(有)?限制吗"),
             re.compile(NUMBER + r"\s*次|不限次|次数不限|不限制次数|没有次数限制"), ()),
    Quantity("比例",
             re.compile(r"多少比例|比例(是)?多少|几成|起付线|起付标准|封顶线|(能|可以)?(?<![申填上汇呈])报(销)?多少(?!钱)"),
             re.compile(NUMBER + r"(\.[0-9]+)?\s*(%|％|成)|百分之|起付|封顶"),
             ()),
)


def asked_quantities(question: str) -> tuple[Quantity, ...]:
    """The quantities `question` asks for."""
    return tuple(quantity for quantity in QUANTITIES if quantity.is_asked(question))


def unstated(question: str, blocks: list[tuple[str, str]]) -> tuple[Quantity, ...]:
    """The quantities `question` asks for that none of an answer's `blocks` (section, text) states:
    in its words, or by being the section that states it."""
    return tuple(quantity for quantity in asked_quantities(question)
                 if not any(section in quantity.sections or quantity.is_stated(text) for section, text in blocks))
