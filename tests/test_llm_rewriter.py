"""The LLM rewriter keeps the model's wording only when every fact survives (fake chat models)."""

from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.answer import Answer, Block, Citation, Handoff, RewriteOptions
from assistant.llm import load_prompt
from assistant.llm_rewriter import LlmRewriter, parse_blocks
from assistant.rewriter import PlainRewriter

ROOT = Path(__file__).resolve().parents[1]
FEE = Block("收费标准", "申请人应当缴纳居民身份证工本费40元。", (1,))
TIME = Block("办理时限", "自受理之日起60日内办结。", (1,))


@pytest.fixture(scope="module")
def rules() -> PlainRewriter:
    return PlainRewriter.load(ROOT / "corpus")


def answer(*blocks: Block, refused: bool = False) -> Answer:
    citation = Citation(1, "guide-idcard-replace", "居民身份证补领", "收费标准", "2012-01-01",
                        "https://zwfw.shili.example/guide/guide-idcard-replace", FEE.text, "guide")
    return Answer("补办身份证多少钱", "补办身份证多少钱", blocks, (citation,) if blocks else (),
                  "refusal" if refused else "guide", refused=refused,
                  handoff=Handoff("请拨打12345") if refused else None)


def fake(*replies: str, sleep: float | None = None) -> FakeListChatModel:
    """A test double standing in for the remote chat model: canned replies, in order."""
    return FakeListChatModel(responses=list(replies) or ["unused"], sleep=sleep)


def test_a_reply_that_keeps_every_fact_is_used(rules: PlainRewriter) -> None:
    model = fake("[1] 补办身份证，您要交40元工本费。\n[2] 从窗口收下您申请那天算起，60日内办好。")
    rewrite = LlmRewriter(rules, model, load_prompt("rewrite")).rewrite(answer(FEE, TIME), RewriteOptions())
    assert rewrite.facts_preserved and rewrite.notes == ("llm rewrite, fact check passed",)
    assert [b.text for b in rewrite.blocks] == ["补办身份证，您要交40元工本费。", "从窗口收下您申请那天算起，60日内办好。"]
    assert [(b.heading, b.citations) for b in rewrite.blocks] == [("收费标准", (1,)), ("办理时限", (1,))]
    faq = Block("答复", FEE.text, (1,), asked="补办身份证要交钱吗？")  # the FAQ's own question stays beside its answer
    told = LlmRewriter(rules, fake("[1] 补办身份证，您要交40元工本费。"), load_prompt("rewrite")).rewrite(answer(faq), RewriteOptions())
    assert told.facts_preserved and told.blocks[0].asked == "补办身份证要交钱吗？"


@pytest.mark.parametrize(("reply", "why"), [
    ("[1] 补办身份证，您要交50元工本费。\n[2] 60日内办好。", "40元"),  # an amount changed
    ("[1] 补办身份证要交工本费。\n[2] 60日内办好。", "40元"),  # an amount dropped
    ("[1] 您要交40元工本费。\n[2] 大约2个月，60日内办好。", "2"),  # a number made up
    ("[1] 您要交40元工本费。", "one numbered part per block"),  # a block missing
    ("好的，下面是改写：您要交40元，60日内办好。", "one numbered part per block"),
])
def test_a_reply_that_loses_a_fact_falls_back_to_the_rule_rewrite(rules: PlainRewriter, reply: str, why: str) -> None:
    source = answer(FEE, TIME)
    rewrite = LlmRewriter(rules, fake(reply), load_prompt("rewrite")).rewrite(source, RewriteOptions())
    expected = rules.rewrite(source, RewriteOptions())
    assert (rewrite.blocks, rewrite.facts_preserved, rewrite.closing) == (expected.blocks, True, expected.closing)
    assert rewrite.notes[-1].startswith("llm rewrite not used") and why in rewrite.notes[-1]
    assert "40元" in rewrite.text and "60日" in rewrite.text


@pytest.mark.parametrize("options", [RewriteOptions(elderly=True), RewriteOptions(script="traditional"),
                                     RewriteOptions(script="cantonese"), RewriteOptions(plain=False)])
def test_other_modes_stay_rule_based_and_never_call_the_model(rules: PlainRewriter, options: RewriteOptions) -> None:
    model = fake("[1] 您要交40元。\n[2] 60日内办好。")
    rewrite = LlmRewriter(rules, model, load_prompt("rewrite")).rewrite(answer(FEE, TIME), options)
    assert model.i == 0 and rewrite == rules.rewrite(answer(FEE, TIME), options)


def test_a_refusal_never_calls_the_model(rules: PlainRewriter) -> None:
    model = fake("[1] 随便说点什么。")
    LlmRewriter(rules, model, load_prompt("rewrite")).rewrite(answer(refused=True), RewriteOptions())
    assert model.i == 0


def test_a_slow_model_is_given_up_on(rules: PlainRewriter) -> None:
    model = fake("[1] 您要交40元工本费。\n[2] 60日内办好。", sleep=2.0)
    rewrite = LlmRewriter(rules, model, load_prompt("rewrite"), deadline=0.2).rewrite(answer(FEE, TIME), RewriteOptions())
    assert rewrite.facts_preserved and "llm rewrite not used" in rewrite.notes[-1] and "within" in rewrite.notes[-1]


def test_parse_blocks_needs_exactly_one_part_per_block_in_order() -> None:
    assert parse_blocks("[1] 甲\n[2] 乙", 2) == ["甲", "乙"]
    assert parse_blocks("[2] 乙\n[1] 甲", 2) is None
    assert parse_blocks("[1] 甲\n[2]", 2) is None
    assert parse_blocks("甲乙", 1) is None
