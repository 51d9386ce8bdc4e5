import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import opencc
import pytest

from assistant.answer import Answer, Block, Handoff, RewriteOptions
from assistant.answering import ExtractiveAnswerer, Thresholds
from assistant.embedders import Embedder
from assistant.errors import ConfigError, LoadError
from assistant.factcheck import check_facts, material_spans
from assistant.lexicon import load_dialect, load_glossary
from assistant.query import QueryNormalizer
from assistant.retrieval import HybridRetriever
from assistant.rewriter import PlainRewriter, PlainRules
from assistant.scope import ScopeChecker
from assistant.service import Assistant
from assistant.settings import Settings
from tests.conftest import index_corpus

ROOT = Path(__file__).resolve().parents[1]
PHONE = "示例市公安局户政咨询电话 000-6110 0001（示例数据）；或拨打12345政务服务便民热线。"
IDCARD_BLOCKS = (
    ("简要答复", "居民身份证丢失后补领，工本费为40元。补领时带上户口簿，到户政窗口现场照相、采集指纹即可，"
                 "公安机关自提交申领登记表之日起60日内发放。"),
    ("申请材料", "- 居民户口簿（在户籍地办理时提交；异地办理的无需提交）\n- 本人近期免冠证件照片（窗口可现场采集）\n"
                 "- 16周岁以下的，由监护人陪同并出示监护人居民身份证"),
    ("办理时限", "自提交《居民身份证申领登记表》之日起60日内发放；交通不便的地区可以适当延长，但延长不超过30日"
                 "（《中华人民共和国居民身份证法》第十二条）。在补领期间急需用证的，可以申请临时居民身份证。"),
    ("收费标准", "补领工本费40元。"),
    ("办理地点", "示例市各派出所户政窗口；示例市政务服务中心（示例大道100号）一楼公安综合窗口（可受理异地补领）。（示例数据）"),
    ("咨询电话", PHONE),
)


def make_answer(*blocks: tuple[str, str], handoff: Handoff | None = None, refused: bool = False) -> Answer:
    return Answer(question="问题", normalized_question="问题", mode="refusal" if refused else "guide", refused=refused,
                  blocks=tuple(Block(h, t, (n,)) for n, (h, t) in enumerate(blocks, start=1)), citations=(),
                  handoff=handoff)


def idcard_answer() -> Answer:
    return make_answer(*IDCARD_BLOCKS, handoff=Handoff(message="如需进一步确认，可拨打12345政务服务便民热线或咨询办理部门。",
                                                       department="示例市公安局户政部门", phone=PHONE))


def sentence_lengths(text: str) -> list[int]:
    return [len(s.strip()) for s in re.split(r"[。！？\n]", text) if s.strip()]


def mean(values: list[int]) -> float:
    return sum(values) / len(values)


@pytest.fixture(scope="module")
def rewriter() -> PlainRewriter:
    return PlainRewriter.load(ROOT / "corpus")


def plain_text(rewriter: PlainRewriter, *blocks: tuple[str, str], **options: object) -> str:
    rewrite = rewriter.rewrite(make_answer(*blocks), RewriteOptions(**options))  # type: ignore[arg-type]
    assert rewrite.facts_preserved, rewrite.notes
    return rewrite.text


# --- each transformation --------------------------------------------------------------------------

def test_a_glossary_term_becomes_everyday_wording_with_the_official_term_once_in_brackets(rewriter: PlainRewriter) -> None:
    text = plain_text(rewriter, ("答复", "新房交付后由开发企业代办房屋产权初始登记。房屋产权初始登记办好后会通知您。"))
    assert "给新房上户口（房屋产权初始登记）" in text
    assert text.count("房屋产权初始登记") == 1 and text.count("给新房上户口") == 2


def test_other_glossary_terms_stay_and_are_explained_once(rewriter: PlainRewriter) -> None:
    text = plain_text(rewriter, ("答复", "材料齐全的当场受理；受理后由窗口审核。"), ("说明", "窗口受理时一并审核。"))
    assert "受理（窗口收下你的申请）" in text and text.count("窗口收下你的申请") == 1
    assert text.count("检查把关") == 1  # 审核, explained the first time only, across blocks


def test_passive_bureaucratic_wording_becomes_direct_instructions(rewriter: PlainRewriter) -> None:
    text = plain_text(rewriter, ("受理条件", "申请人应当提交下列材料。材料齐全、符合法定形式的，予以受理；不符合的，不得办理。"))
    assert "您需要带上下列材料" in text and "会收下您的申请" in text and "不能办" in text
    assert "应当" not in text and "予以" not in text and "申请人" not in text


def test_long_sentences_are_split_and_sentences_get_shorter(rewriter: PlainRewriter) -> None:
    source = ("失业前用人单位和本人已经缴纳失业保险费满一年，非因本人意愿中断就业，已经进行失业登记并有求职要求的，"
              "可以申请领取失业保险金，领取期限自办理失业登记之日起计算，最长不超过二十四个月。")
    normal = plain_text(rewriter, ("受理条件", source))
    elderly = rewriter.rewrite(make_answer(("受理条件", source)), RewriteOptions(elderly=True)).blocks[-1].text
    assert len(sentence_lengths(normal)) > 1
    assert max(sentence_lengths(normal)) < len(source) and mean(sentence_lengths(normal)) < len(source)
    assert mean(sentence_lengths(elderly)) <= mean(sentence_lengths(normal))
    assert "二十四个月" in normal and "满一年" in normal  # the facts are still there, verbatim


def test_materials_become_a_checklist_with_every_name_verbatim(rewriter: PlainRewriter) -> None:
    source = IDCARD_BLOCKS[1][1]
    text = plain_text(rewriter, ("申请材料", source))
    lines = text.splitlines()
    assert lines[0].startswith("要带的东西") and all(line.startswith("☐ ") for line in lines[1:]) and len(lines) == 4
    for start, end in material_spans(source):
        assert source[start:end] in text
    assert "居民户口簿（户口簿就是户口本" in text  # a term inside a material name is explained after it


def test_time_limits_get_a_plain_duration_beside_them(rewriter: PlainRewriter) -> None:
    text = plain_text(rewriter, ("办理时限", "自受理之日起20个工作日内办结；延长不超过30日。每月15日前申报。"))
    assert "20个工作日内（按上班的日子算，大约一个月）" in text
    assert "30日（大约一个月）" in text
    assert "15日前（" not in text and "15日前申报" in text  # a day of the month is not a duration


# --- elderly mode -----------------------------------------------------------------------------------

def test_elderly_mode_puts_three_points_first_and_repeats_phone_and_address(rewriter: PlainRewriter) -> None:
    answer = idcard_answer()
    elderly = rewriter.rewrite(answer, RewriteOptions(elderly=True))
    normal = rewriter.rewrite(answer, RewriteOptions())
    assert elderly.facts_preserved and normal.facts_preserved
    lead, *body = elderly.blocks
    assert lead.heading == "先记住这几点" and [line[0] for line in lead.text.splitlines()] == ["①", "②", "③"]
    first, second, third = lead.text.splitlines()
    assert "40元" in first and "居民户口簿" in second and "60日" in third
    assert lead.citations == (1, 2, 3)
    assert [(b.heading, b.citations) for b in body] == [(b.heading, b.citations) for b in answer.blocks]
    assert "000-6110 0001" in elderly.closing and "示例市政务服务中心（示例大道100号）" in elderly.closing
    assert "12345" in elderly.closing and elderly.closing.endswith("（示例数据）") and normal.closing == ""
    assert elderly.text.endswith(elderly.closing)
    body_text = "\n".join(b.text for b in body)
    assert mean(sentence_lengths(body_text)) < mean(sentence_lengths(normal.text))


def test_the_closing_never_invents_a_phone_number_or_an_address(rewriter: PlainRewriter) -> None:
    faq = ("答复", "补领居民身份证的工本费是40元。")
    with_hotline = rewriter.rewrite(make_answer(faq, handoff=Handoff(message="如需进一步确认，可拨打12345。")),
                                    RewriteOptions(elderly=True))
    assert with_hotline.closing == "有不明白的，也可以拨打12345。"
    assert rewriter.rewrite(make_answer(faq), RewriteOptions(elderly=True)).closing == ""


def test_a_refusal_is_rewritten_and_keeps_its_hand_off_phone(rewriter: PlainRewriter) -> None:
    message = "抱歉，在现有的政策和办事指南资料里没有找到能回答这个问题的可靠依据。您可以拨打12345政务服务便民热线，或到政务服务中心窗口咨询。"
    refusal = make_answer(refused=True, handoff=Handoff(message=message, department="示例市公安局户政部门", phone=PHONE))
    rewrite = rewriter.rewrite(refusal, RewriteOptions(elderly=True, script="traditional"))
    assert rewrite.facts_preserved and len(rewrite.blocks) == 1 and rewrite.blocks[0].citations == ()
    assert "000-6110 0001" in rewrite.blocks[0].text and "辦事大廳（政務服務中心）" in rewrite.blocks[0].text
    assert "000-6110 0001" in rewrite.closing


# --- facts are sacred -------------------------------------------------------------------------------

def test_a_failed_fact_check_returns_the_original_blocks_and_says_which_fact(rewriter: PlainRewriter) -> None:
    broken = replace(PlainRules.load(), words=((re.compile("[\ue000-\uf8ff]"), ""),))  # a rule that drops masked facts
    careless = PlainRewriter(load_glossary(ROOT / "corpus" / "glossary.yaml"), [], broken)
    answer = make_answer(("收费标准", "补领工本费40元。"))
    rewrite = careless.rewrite(answer, RewriteOptions())
    assert rewrite.facts_preserved is False and rewrite.blocks == answer.blocks
    assert any("40元" in note for note in rewrite.notes)
    assert rewriter.rewrite(answer, RewriteOptions()).facts_preserved


def test_every_block_keeps_its_facts_heading_and_citations_in_every_mode(rewriter: PlainRewriter) -> None:
    answer = idcard_answer()
    back = {"traditional": opencc.OpenCC("t2s"), "cantonese": opencc.OpenCC("hk2s")}
    for script in ("simplified", "traditional", "cantonese"):
        for elderly in (False, True):
            rewrite = rewriter.rewrite(answer, RewriteOptions(elderly=elderly, script=script))  # type: ignore[arg-type]
            body = rewrite.blocks[1:] if elderly else rewrite.blocks
            assert rewrite.facts_preserved, (script, elderly, rewrite.notes)
            for original, rewritten in zip(answer.blocks, body, strict=True):
                assert (rewritten.heading, rewritten.citations) == (original.heading, original.citations)
                text = back[script].convert(rewritten.text) if script in back else rewritten.text
                assert check_facts(original.text, text, original.heading, {"18"}).passed, (script, original.heading)


# --- scripts ----------------------------------------------------------------------------------------

def test_traditional_round_trips_to_the_simplified_rewrite(rewriter: PlainRewriter) -> None:
    answer = idcard_answer()
    traditional = rewriter.rewrite(answer, RewriteOptions(script="traditional"))
    simplified = rewriter.rewrite(answer, RewriteOptions())
    assert "補領" in traditional.text and "補領" not in simplified.text
    assert opencc.OpenCC("t2s").convert(traditional.text) == simplified.text
    assert "000-6110 0001" in traditional.text and "40元" in traditional.text


def test_plain_off_changes_nothing_but_the_script(rewriter: PlainRewriter) -> None:
    answer = idcard_answer()
    assert rewriter.rewrite(answer, RewriteOptions(plain=False)).blocks == answer.blocks
    traditional = rewriter.rewrite(answer, RewriteOptions(plain=False, script="traditional"))
    assert [opencc.OpenCC("t2s").convert(b.text) for b in traditional.blocks] == [b.text for b in answer.blocks]


@pytest.mark.parametrize("source, expected", [
    ("补领居民身份证的工本费是40元。", "補領居民身份證嘅工本費係40元。"),
    ("身份证丢了怎么办？您可以到派出所补领，没有户口簿的，要先去办户口。",
     "身份證唔見咗點算？你可以到派出所補領，冇户口簿嘅，要先去辦户口。"),
    ("在户籍地办理的，不需要交照片，他们会现场采集。", "喺户籍地辦理嘅，唔使交照片，佢哋會現場採集。"),
])
def test_cantonese_rendering_of_known_answers(rewriter: PlainRewriter, source: str, expected: str) -> None:
    rewrite = rewriter.rewrite(make_answer(("答复", source)), RewriteOptions(plain=False, script="cantonese"))
    assert rewrite.facts_preserved and rewrite.blocks[0].text == expected


def test_the_faq_question_an_answer_carries_is_shown_in_the_script_asked_for(rewriter: PlainRewriter) -> None:
    faq = Answer(question="问题", normalized_question="问题", mode="faq", citations=(),
                 blocks=(Block("答复", "可以。异地办理的无需提交户口簿。", (1,), asked="身份证过期了，能在工作的城市换吗？"),))
    assert rewriter.rewrite(faq, RewriteOptions(script="traditional")).blocks[0].asked == "身份證過期了，能在工作的城市換嗎？"
    assert rewriter.rewrite(faq, RewriteOptions()).blocks[0].asked == "身份证过期了，能在工作的城市换吗？"


def test_cantonese_keeps_official_names_of_offices_documents_and_programmes(rewriter: PlainRewriter) -> None:
    source = ("请到派出所申请，最低生活保障和养老金按月发放，带上出生医学证明和不动产权证书；"
              "被解除劳动合同的可以申领失业保险金。")
    rewrite = rewriter.rewrite(make_answer(("答复", source)), RewriteOptions(plain=False, script="cantonese"))
    back = opencc.OpenCC("hk2s").convert(rewrite.text)
    for name in ("派出所", "最低生活保障", "养老金", "出生医学证明", "不动产权证书", "被解除劳动合同", "失业保险金"):
        assert name in back, (name, rewrite.text)
    for slang in ("差館", "綜援", "長俸", "出世紙", "屋契", "炒魷魚"):
        assert slang not in rewrite.text
    assert "嘅" in rewrite.text  # rendered in Cantonese all the same (的 → 嘅)


def test_cantonese_plain_answer_keeps_facts_and_material_names(rewriter: PlainRewriter) -> None:
    rewrite = rewriter.rewrite(idcard_answer(), RewriteOptions(script="cantonese"))
    text = rewrite.text
    assert rewrite.facts_preserved and "唔見咗" in text and "嘅" in text and "係" in text
    assert "000-6110 0001" in text and "示例大道100號" in text and "《居民身份證申領登記表》" in text
    assert "☐ 居民户口簿" in text  # the material name, verbatim but for the script


# --- rules and options are checked ------------------------------------------------------------------

def test_rules_and_options_are_validated(rewriter: PlainRewriter, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="房屋产权初始登记"):
        PlainRewriter([], [])
    bad = tmp_path / "plain.yaml"
    bad.write_text("limits: [", encoding="utf-8")
    with pytest.raises(LoadError, match="malformed YAML"):
        PlainRules.load(bad)
    digits = (ROOT / "assistant" / "data" / "plain.yaml").read_text(encoding="utf-8").replace("['办理', 办]", "['办理', 办2]")
    bad.write_text(digits, encoding="utf-8")
    with pytest.raises(LoadError, match="digits"):
        PlainRules.load(bad)
    with pytest.raises(ValueError, match="klingon"):
        rewriter.rewrite(idcard_answer(), RewriteOptions(script="klingon"))  # type: ignore[arg-type]


# --- in the assistant, over the tiny corpus ---------------------------------------------------------

def build(settings: Settings, embedder: Embedder, corpus: Path) -> tuple[Assistant, HybridRetriever]:
    store = index_corpus(settings, embedder, corpus).store
    normalizer = QueryNormalizer(load_dialect(ROOT / "corpus" / "dialect.yaml"),
                                 load_glossary(ROOT / "corpus" / "glossary.yaml"))
    retriever = HybridRetriever(store, embedder, normalizer, settings.index_dir, settings.index_name)
    answerer = ExtractiveAnswerer(retriever, normalizer, ScopeChecker.load(), Thresholds())
    return Assistant(answerer, rewriter=PlainRewriter.load(ROOT / "corpus")), retriever


def test_the_rewriter_in_an_assistant_gives_plain_answers_with_their_facts(
        make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    assistant, _ = build(make_settings(), e5, tiny_corpus)
    answer = assistant.ask("补领身份证要带什么材料")
    assert answer.plain is not None and answer.plain.facts_preserved
    assert "- 居民户口簿" in answer.text and "☐ 居民户口簿" in answer.plain.text
    fee = assistant.ask("补办身份证的工本费是多少钱", options=RewriteOptions(elderly=True, script="traditional"))
    assert fee.plain is not None and fee.plain.facts_preserved and "40元" in fee.plain.text
    assert fee.plain.options.script == "traditional" and "補" in fee.plain.text


def test_dialect_questions_retrieve_the_same_documents_as_their_standard_twins(
        make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    assistant, retriever = build(make_settings(), e5, tiny_corpus)
    normalizer = assistant.answerer.normalizer  # type: ignore[attr-defined]
    for dialect, standard in (("身份证唔见咗点样补办", "身份证丢了怎样补办"),
                              ("补身份证要几多钱", "补身份证要多少钱"),
                              ("身份证整丢了咋整", "身份证丢了怎么办")):
        assert normalizer.normalize(dialect).dialects  # the lexicon recognised the dialect
        twins = [list(dict.fromkeys(p.doc_id for p in retriever.retrieve(normalizer.normalize(q), k=5)))[:2]
                 for q in (dialect, standard)]
        assert twins[0] == twins[1], (dialect, twins)
        assert twins[0][0] in {"guide-idcard-replace", "faq-idcard-lost-fee"}, (dialect, twins)
        answers = [assistant.ask(q) for q in (dialect, standard)]
        assert answers[0].cited_doc_ids == answers[1].cited_doc_ids and not answers[0].refused
