"""Homophone typos repaired to the corpus's words, and ordinary text left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.lexicon import load_glossary
from assistant.service import create_normalizer
from assistant.typos import HomophoneRepair, fuzzy_sound, text_words
from indexer.loaders import load_paths

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def repair() -> HomophoneRepair:
    glossary = load_glossary(ROOT / "corpus" / "glossary.yaml")
    titles = [doc.title for doc in load_paths([ROOT / "corpus"]).documents]
    return HomophoneRepair(lambda: [e.term for e in glossary] + [e.plain for e in glossary] + text_words(titles))


@pytest.mark.parametrize("question, typo, word", [
    ("社宝卡丢了怎么补办", "社宝卡", "社保卡"),
    ("公积金异地转已怎么办", "转已", "转移"),
    ("注册公司多久能拿到营业执招", "营业执招", "营业执照"),
    ("看病自己垫的钱回来报消要什么材料", "报消", "报销"),
    ("申请低宝要去哪里", "低宝", "低保"),
    ("残急证怎么办理", "残急证", "残疾证"),
    ("身份证丢了怎么不办", "不办", "补办"),
    # fuzzy pinyin: sheng for shen, as input methods allow, when no word sounds quite the same
    ("什么情况下能办临时生分证", "临时生分证", "临时身份证"),
])
def test_a_homophone_typo_becomes_the_corpus_word(repair: HomophoneRepair, question: str, typo: str, word: str) -> None:
    text, repaired = repair.repair(question)
    assert (typo, word) in repaired and word in text and typo not in text
    assert len(text) == len(question)  # one character for one character, nothing else touched


@pytest.mark.parametrize("question", [
    "补好的卡现在寄到哪了",  # 补好 is no typo of 不好: function words are never targets
    "要拿些啥东西去派出所",
    "工信部对疫情期间中小企业采取了什么措施",  # 部对 spans two words
    "什么是水库的防洪限制水位",
    "如何为调出职工办理停止缴存住房公积金",
    "北京丰台区的零见面审批何时开始",
    "离婚呢？",  # a follow-up: 离婚了 (l/n) sounds alike, but 呢 ends a question, never a word
    "个税汇算什么情况能不办？",  # after a modal verb 不 negates: no typo of 补办
    "这个手续可以不办吗",
])
def test_ordinary_text_is_left_alone(repair: HomophoneRepair, question: str) -> None:
    assert repair.repair(question) == (question, ())


def test_the_normaliser_repairs_after_the_dialect_step_and_records_it() -> None:
    query = create_normalizer(ROOT / "corpus").normalize("個稅會算啥時候辦")  # Traditional, typo and colloquial
    assert "汇算" in query.text and ("会算", "汇算") in query.replaced and query.original == "個稅會算啥時候辦"


def test_the_lexicons_standard_names_are_repair_targets_and_so_lexicon_names() -> None:
    """电动自行车 is in no corpus title, only in the dialect lexicon (电动车 → 电动自行车): its typo is
    repaired all the same, and the evidence check then sees the name (no document names it)."""
    query = create_normalizer(ROOT / "corpus").normalize("电动自形车上牌要带什么材料")
    assert ("自形车", "自行车") in query.replaced and "电动自行车" in query.names


def test_fuzzy_pinyin_makes_the_sounds_input_methods_confuse_one() -> None:
    assert fuzzy_sound(["sheng", "fen", "zheng"]) == fuzzy_sound(["shen", "fen", "zheng"]) == "senfenzen"
    assert fuzzy_sound(["liang"]) == fuzzy_sound(["nian"]) and fuzzy_sound(["huang"]) == fuzzy_sound(["huan"])
    assert fuzzy_sound(["bao"]) != fuzzy_sound(["pao"])  # b and p are no fuzzy pair


def test_a_word_of_the_same_sound_wins_over_one_of_the_same_fuzzy_sound() -> None:
    """设保卡 (she bao ka) sounds exactly like 社保卡 and fuzzily like 色保卡 (se bao ka) too: the
    exact one is taken; with only fuzzy matches, two are no repair."""
    assert HomophoneRepair(lambda: ["社保卡", "色保卡"]).repair("设保卡丢了") == ("社保卡丢了", (("设保卡", "社保卡"),))
    assert HomophoneRepair(lambda: ["色保卡", "瑟保卡"]).repair("设保卡丢了") == ("设保卡丢了", ())
    assert HomophoneRepair(lambda: ["色保卡"]).repair("设保卡丢了") == ("色保卡丢了", (("设保卡", "色保卡"),))


def test_two_characters_are_never_repaired_by_fuzzy_sound() -> None:
    """两限 sounds like 年限 under l/n and iang/ian, but two characters alike in fuzzy sound are
    too often two words (MSGABench's 两限房)."""
    assert HomophoneRepair(lambda: ["年限"]).repair("两限房怎么申请") == ("两限房怎么申请", ())
    assert HomophoneRepair(lambda: ["年限"]).repair("念限房怎么申请")[1] == (("念限", "年限"),)  # the same sound


def test_a_sentence_final_particle_is_never_part_of_a_repair() -> None:
    assert HomophoneRepair(lambda: ["离婚了"]).repair("离婚呢") == ("离婚呢", ())
    assert HomophoneRepair(lambda: ["离婚了"]).repair("离婚乐")[1] == (("离婚乐", "离婚了"),)  # 乐 is no particle


def test_a_fine_is_never_repaired_into_another_word() -> None:
    """"得罚多少钱" asks for a fine, no typo of a lexicon's 发多少钱; "要多少前" still is one of 要多少钱."""
    assert HomophoneRepair(lambda: ["发多少钱"]).repair("交警逮着得罚多少钱") == ("交警逮着得罚多少钱", ())
    assert HomophoneRepair(lambda: ["要多少钱"]).repair("临时身份证要多少前")[1] == (("要多少前", "要多少钱"),)
