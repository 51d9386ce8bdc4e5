"""The matter a question names and whether the sources name it (`assistant.matters`)."""

from __future__ import annotations

import pytest

from assistant.matters import named_matters, unnamed


@pytest.mark.parametrize("question, names", [
    ("国家发的婴幼儿育儿补贴在哪里申请？", ["育儿"]),  # the word before a service word
    ("收养登记需要什么条件", ["收养"]),
    ("高考报名一般在几月份", ["高考"]),
    ("残疾证怎么办", ["残疾"]),  # a word that ends in one
    ("办个体户执照要带啥", ["个体户"]),
    ("高龄津贴和育儿补贴各多少", ["高龄", "育儿"]),
    ("申请登记要去哪里", []),  # 申请 names no matter
    ("这个补贴怎么领", []),
    ("身份证丢了怎么办", ["身份"]),
    ("退休了要办什么", []),  # no service word: nothing named
    ("结婚怎么登记", []),  # a pronoun, not a matter
    ("在哪里报名", []),
    ("能不能给补贴", []),
    ("每月补贴多少", []),  # a time word
    ("烟操证去哪办", []),  # a word jieba only guessed (a typo): not taken for a matter
    ("低保资格认定要多久", ["低保"]),  # 资格 is a service word itself, not the matter
    ("医保异地就医登记备案", ["就医"]),  # not 登记 of 登记备案
])
def test_the_word_before_a_service_word_names_the_matter(question: str, names: list[str]) -> None:
    assert named_matters(question) == names


def test_a_name_is_unnamed_only_when_no_source_holds_it() -> None:
    sources = ["出生登记：新生儿出生后一个月内申报", "婚姻登记：男女双方到婚姻登记处"]
    assert unnamed(["收养"], sources) == ("收养",)
    assert unnamed(["出生", "婚姻"], sources) == ()
    assert unnamed(["育儿"], []) == ("育儿",)
