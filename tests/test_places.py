"""Place names for the other-city scope rule: jieba's own dictionary, administrative suffixes only."""

from __future__ import annotations

import pytest

from assistant.places import PlaceNames
from assistant.scope import ScopeChecker


@pytest.fixture(scope="module")
def places() -> PlaceNames:
    return PlaceNames.load()


@pytest.mark.parametrize("question, place", [
    ("宿州市对拒绝接受隔离的如何处罚？", "宿州市"),
    ("海陵区民政局咨询电话是多少？", "海陵区"),
    ("湖北省城乡居民医保缴费延长到什么时候？", "湖北省"),
    ("江西对小微企业社保有什么减免？", "江西"),
    ("甘肃省在职转退休能延期办吗", "甘肃省"),
    ("温州的人才租房补贴怎么申请", "温州"),  # a city named without 市 (data/cities.txt)
    ("咱们义乌开网店有补贴吗", "义乌"),
])
def test_a_named_place_elsewhere_is_found(places: PlaceNames, question: str, place: str) -> None:
    assert places.find(question) == place


@pytest.mark.parametrize("question", [
    "去香港要办什么证件",  # travel permits: national guides answer these
    "示例市的低保标准是多少",  # the sample city of the corpus
    "在小区附近开超市要办什么执照",
    "户口从外地迁入本市要什么材料",
    "城区的社区服务中心在哪里",
    "异地就医怎么备案",
    "我是河南户口，在示例市怎么办居住证",  # where the person comes from: national rules apply
    "我在示例市送外卖，老家河南的，能在这边申请临时救助吗",  # 老家: where one is from
    "从江苏调到示例市工作，社保怎么转移",
    "异地就医，医保在浙江怎么报销",
    "广东话可以考驾照吗",
    "城东区的派出所在哪里",
    "开个白银首饰店要办什么执照",  # a city name that is also an ordinary word is left out
    "东方红小学入学要什么材料",
])
def test_generic_words_and_the_served_places_are_not_places_elsewhere(places: PlaceNames, question: str) -> None:
    assert places.find(question) is None


def test_scope_refuses_a_question_about_another_place_only_when_places_are_given(places: PlaceNames) -> None:
    question = "宿州市的失业金一个月领多少"
    verdict = ScopeChecker.load(places=places).check(question)
    assert verdict is not None and verdict.category == "other_city" and verdict.matched == "宿州市"
    assert "其他城市" in verdict.reason
    assert ScopeChecker.load().check(question) is None
    assert ScopeChecker.load(places=places).check("失业金一个月领多少") is None
