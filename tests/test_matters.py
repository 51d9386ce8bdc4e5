"""The matter a question names and whether the sources name it (`assistant.matters`)."""

from __future__ import annotations

import pytest

from assistant.lexicon import ActEntry, ElsewhereEntry, load_acts
from assistant.matters import (acts_named, elsewhere_named, unheld_acts, holds, lexicon_things, named_matters, particular_things, unheld_elsewhere, unheld_things, unknown_things,
                               unmentioned, unnamed)


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
    ("收拾柜子发现证找不着了，要回老家补吗", []),  # handling the certificate, not naming one
    ("结婚需要提供证明吗", []),
    ("收养证怎么办", ["收养"]),  # a verb that names a matter still does
    ("那收养孩子的登记要带啥", ["收养"]),  # before 的: the act done to the thing names the matter
    ("孩子的登记要带啥", ["孩子"]),  # or the thing itself
    ("我的登记办好了吗", []),  # a pronoun
    ("商标注册要多少钱", ["商标"]),  # 注册 is a service word too (session 16: answered from the company FAQ before)
    ("公司注册要多久", ["公司"]),
    ("注册公司要带什么", []),  # the act before the thing: no word before 注册
    ("网店能否登记为个体工商户", []),  # asking whether, wanting, starting, not yet done: no matter
    ("我没工作了想去登记一下失业", []),
    ("上小学几月份开始报名", []),
    ("异地住院前未办理备案怎么办", []),
    ("迁户口能不能不回去出具证明", []),
    ("我们在广州登记结婚的，现在能在这里离婚吗", []),  # a place names where, not what
])
def test_the_word_before_a_service_word_names_the_matter(question: str, names: list[str]) -> None:
    assert named_matters(question) == names


def test_a_name_is_unnamed_only_when_no_source_holds_it() -> None:
    sources = ["出生登记：新生儿出生后一个月内申报", "婚姻登记：男女双方到婚姻登记处"]
    assert unnamed(["收养"], sources) == ("收养",)
    assert unnamed(["出生", "婚姻"], sources) == ()
    assert unnamed(["育儿"], []) == ("育儿",)


CORPUS = {  # a toy corpus of 40 documents: 护照 in one, 身份证 in 30, 孙女 and 高铁 in none
    **{f"idcard-{n}": "居民身份证补领，工本费40元" for n in range(30)},
    "passport": "普通护照申领，收费120元",
    "rent": "租房提取住房公积金，房租发票",
    **{f"other-{n}": "其他事项" for n in range(8)},
}


def naming(word: str) -> int:
    return sum(word in text for text in CORPUS.values())


@pytest.mark.parametrize("question, things", [
    ("办本护照要多少钱", ["护照"]),  # rare in speech, in one document of 40
    ("交房租能提公积金吗", ["房租"]),
    ("身份证丢了怎么补", []),  # in 30 of 40 documents: names no particular matter
    ("我孙女坐高铁要带身份证吗", []),  # 孙女, 高铁: the corpus never uses them, so they say nothing of the matter
    ("我儿子的护照", ["护照"]),  # 儿子 is common in everyday speech
    ("多长时间能办好护照", ["护照"]),  # 多长时间 asks, it does not name
])
def test_particular_things_are_rare_words_few_documents_name(question: str, things: list[str]) -> None:
    assert particular_things(question, naming, len(CORPUS)) == things


@pytest.mark.parametrize("question, things", [
    ("我刚办了营业执照，要刻公章", ["营业执照", "公章"]),  # 刚办 says when, not what (NOT_MATTERS)
    ("驾驶证损毁，申请补发还是换发", ["驾驶证"]),  # 补发 and 换发 are acts
    ("首次办证领取时间", []),  # 办证: an act on no particular thing
    ("冷静期也过了，一直拖着没去领证，会怎么样", []),  # 领证 too: getting whichever certificate is asked of
])
def test_acts_and_words_that_name_no_matter_are_no_particular_things(question: str, things: list[str]) -> None:
    # every word here named by one document of 40, so only what the word is decides
    assert particular_things(question, lambda word: 1, 40) == things


def test_a_thing_is_unmentioned_unless_a_source_holds_it_or_all_its_shorter_words() -> None:
    assert unmentioned(["护照"], [CORPUS["idcard-0"], CORPUS["rent"]]) == ("护照",)
    assert unmentioned(["护照"], [CORPUS["idcard-0"], CORPUS["passport"]]) == ()
    assert unmentioned(["社会保险费"], ["职工参加社会保险，按月缴纳保险费"]) == ()  # 社会, 保险, 保险费
    assert unmentioned(["社会保险费"], ["职工参加社会保险，按月缴纳费用"]) == ("社会保险费",)  # no 保险费
    assert unmentioned(["护照"], []) == ("护照",)


@pytest.mark.parametrize("names, things", [
    (["港澳居民来往内地通行证"], ["港澳居民来往内地通行证"]),  # 回乡证's standard name: in no document
    (["电动自行车", "机动车注册登记"], ["电动自行车"]),  # 登记 is an act, not a thing one holds
    (["申领普通护照"], []),  # less the act, 普通护照 is in a document
    (["补办老年人优待证"], ["老年人优待证"]),
    (["待遇资格认证"], []),  # 认证 is an act
    (["低保"], []),  # names no certificate, card or vehicle
    (["居民身份证"], []),  # in 30 documents
])
def test_a_lexicon_name_for_a_thing_no_document_names_is_unknown(names: list[str], things: list[str]) -> None:
    assert unknown_things(names, naming, len(CORPUS)) == things


def test_a_small_corpus_says_nothing_about_what_it_lacks() -> None:
    assert unknown_things(["电动自行车"], lambda word: 0, 19) == []


def test_a_thing_the_documents_name_by_another_of_its_names_is_known() -> None:
    def naming_move(word: str) -> int:
        return int(word == "准予迁入证明")

    aliases = {"准迁证": ("准予迁入证明", "新地方同意接收的条子")}
    assert unknown_things(["准迁证"], naming_move, 40, lambda name: aliases.get(name, ())) == []
    assert unknown_things(["准迁证"], naming_move, 40) == ["准迁证"]


def test_the_things_a_question_names_through_the_lexicons() -> None:
    assert lexicon_things(["补办机动车驾驶证", "看病", "开车", "待遇资格认证", "低保", "社会保障卡", "不动产权证书"]) == [
        ("补办机动车驾驶证", "机动车驾驶证"), ("社会保障卡", "社会保障卡"), ("不动产权证书", "不动产权证书")]


def test_a_certificate_named_as_a_证书_is_a_thing_a_driving_licence_text_does_not_hold() -> None:
    """"不动产权证书找不到了，补发怎么办" is not answered from the driving licence's replacement FAQ."""
    licence_faq = "驾照丢了必须回发证地补办吗？机动车驾驶证遗失的，可以向居住地车辆管理所申请补发。"
    assert unheld_things(["不动产权证书", "补发"], [licence_faq]) == ["不动产权证书"]
    assert unheld_things(["不动产权证书"], ["不动产权证书遗失的，权利人可以申请补发。"]) == []


def test_a_text_holds_a_thing_by_any_of_its_names() -> None:
    aliases = {"机动车驾驶证": ("驾照", "驾驶证")}
    idcard_faq = "身份证快到期了，可以提前多久去换？有效期满前三个月内可以申请换领。"
    licence_faq = "驾照到期换证要带什么？驾驶证有效期满前九十日内申请换证。"
    assert unheld_things(["机动车驾驶证"], [idcard_faq], lambda name: aliases.get(name, ())) == ["机动车驾驶证"]
    assert unheld_things(["机动车驾驶证"], [idcard_faq, licence_faq], lambda name: aliases.get(name, ())) == []
    assert unheld_things(["机动车驾驶证"], [licence_faq]) == ["机动车驾驶证"]  # without the lexicon's other names
    assert unheld_things(["低保", "看病"], [idcard_faq]) == []  # no things
    assert holds("须提交《准予迁入证明》", "准迁证", lambda name: ("准予迁入证明",)) and not holds("须提交迁移证", "准迁证")


HOUSING = ElsewhereEntry("公共租赁住房", ("公租房", "公共租赁住房", "租赁住房"), "住房保障部门")
EXAMS = ElsewhereEntry("中考与高中招生", ("中考",), "教育部门")
DOGS = ElsewhereEntry("养犬登记", ("狗证", "办狗证"), "公安机关")


@pytest.mark.parametrize(("question", "names"), [
    ("申请公租房要满足什么条件？", ["公租房"]),
    ("我住公共租赁住房，能提公积金吗", ["公共租赁住房"]),  # the longest of overlapping names
    ("孩子今年中考，报名啥时候开始？", ["中考"]),
    ("集中考试什么时候开始", []),  # 中考 inside 集中 / 考试 is no name
    ("高中考试难不难", []),
    ("办狗证要多少钱", ["办狗证"]),  # jieba's guessed 办狗 / 证要 does not hide it
    ("身份证丢了怎么补办", []),
])
def test_matters_handled_elsewhere_are_named_where_a_word_begins(question: str, names: list[str]) -> None:
    assert [name for name, _ in elsewhere_named(question, [HOUSING, EXAMS, DOGS])] == names


def test_a_matter_handled_elsewhere_is_held_only_by_its_very_name() -> None:
    said = elsewhere_named("申请公租房要什么条件", [HOUSING])
    assert unheld_elsewhere(said, ["租房提取住房公积金：租住商品住房的职工可以提取"]) == said
    assert unheld_elsewhere(said, ["……配租公租房或者发放租赁补贴"]) == []
    # another name of the entry in a text does not count: a text may name it in passing ...
    assert unheld_elsewhere(said, ["……配租公共租赁住房"]) == said
    # ... but in a source's title it is (a guide titled 公共租赁住房申请 is on the matter)
    assert unheld_elsewhere(said, ["……配租公共租赁住房"], ["公共租赁住房申请"]) == []


REISSUE = ActEntry("补发", ("补发", "补办", "补领"), ("补发", "补办", "补领", "遗失"), ("手续",))
RENEWAL = ActEntry("续期", ("续签", "续办", "延续"), ("续签", "续办", "延续", "换领"))
REMOVAL = ActEntry("移出", ("移出",), ("移出",))


@pytest.mark.parametrize(("question", "acts"), [
    ("出生医学证明丢了，补发去哪办", ["补发"]),
    ("身份证丢了怎么补办", ["补发"]),
    ("居住证到期了要续签吗", ["续期"]),
    ("港澳通行证续签注能在自助机上办吗", []),  # 续 / 签注: 续签 is no word of it
    ("临时救助能先发钱，事后补办手续吗", []),  # 补办手续 completes paperwork
    ("被列入经营异常名录了，怎么移出来", ["移出"]),  # a direction may follow
    ("第一次办护照要多少钱", []),
])
def test_acts_are_named_as_whole_words(question: str, acts: list[str]) -> None:
    assert [act.act for act in acts_named(question, [REISSUE, RENEWAL, REMOVAL])] == acts


def test_an_act_is_held_by_any_of_its_held_words() -> None:
    named = acts_named("出生医学证明丢了，补发去哪办", [REISSUE])
    assert unheld_acts(named, ["出生医学证明首次签发：新生儿出生后，由助产机构签发"]) == ["补发"]
    assert unheld_acts(named, ["首次签发……", "出生医学证明遗失的，可以申请补发"]) == []
    assert unheld_acts(named, ["居民身份证丢失的，应当申请补领"]) == []  # by another of its words
    assert unheld_acts([], ["首次签发"]) == []


def test_the_shipped_acts_load_and_name_the_variants_they_stand_for() -> None:
    acts = load_acts()
    assert {"补发", "续期", "加急"} <= {act.act for act in acts}
    assert all(set(act.asked) <= set(act.held) for act in acts)  # a document saying an asked word holds it
    assert [act.act for act in acts_named("护照能加急办吗", acts)] == ["加急"]
    assert [act.act for act in acts_named("公章弄丢了，补刻之前要不要登报？", acts)] == ["补发"]  # a seal is re-engraved
    assert [act.act for act in acts_named("工伤认定申请可以在网上提交吗？", acts)] == ["网上办理"]
    assert [act.act for act in acts_named("个税汇算手机上能办不？", acts)] == ["网上办理"]
    assert acts_named("光在网上开店，没门面能办个体户不？", acts) == []  # selling online is no way of applying
    online = next(act for act in acts if act.act == "网上办理")
    assert unheld_acts([online], ["到工伤认定窗口提交申请。"]) == ["网上办理"]
    assert unheld_acts([online], ["也可以领取电子证照。"]) == []
