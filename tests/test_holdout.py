"""Leave one matter out (eval/holdout.py): the matter's family, the filter that holds it out of
retrieval, the answers without it, and the `python -m eval holdout` command, over the tiny corpus
plus a life-event bundle whose step is the unemployment guide."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.answering import ExtractiveAnswerer
from assistant.embedders import Embedder
from assistant.retrieval import Filters
from eval.__main__ import app
from eval.holdout import HeldOut, HeldOutRetriever, ask, family, held_out_answerer
from eval.questions import EvalQuestion
from tests.conftest import BUNDLE_JOBLESS, ROOT, product_answerer, write, write_tiny_corpus

runner = CliRunner()
IDCARD = frozenset({"guide-idcard-replace", "faq-idcard-lost-fee"})  # the guide and the FAQ resting on it
JOBLESS = frozenset({"guide-unemployment-benefit", "bundle-unemployment"})  # the guide and the bundle it is a step of


def write_corpus(root: Path) -> Path:
    """The tiny corpus, the unemployment bundle and the real lexicons."""
    corpus = write_tiny_corpus(root)
    write(corpus / "bundles" / "bundle-unemployment.md", BUNDLE_JOBLESS)
    for lexicon in ("dialect.yaml", "glossary.yaml"):
        (corpus / lexicon).write_text((ROOT / "corpus" / lexicon).read_text(encoding="utf-8"), encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def extractive(tmp_path_factory: pytest.TempPathFactory, e5: Embedder) -> ExtractiveAnswerer:
    """The product's extractive answerer over the indexed corpus."""
    root = tmp_path_factory.mktemp("holdout")
    return product_answerer(root, write_corpus(root / "corpus"), e5)


def test_the_family_holds_the_faqs_resting_on_a_guide_and_the_bundles_it_is_a_step_of(
        extractive: ExtractiveAnswerer) -> None:
    catalog = extractive.retriever.live_catalog()
    assert family(["guide-idcard-replace"], catalog, extractive.bundles) == IDCARD
    assert family(["guide-unemployment-benefit"], catalog, extractive.bundles) == JOBLESS
    assert family(["guide-unemployment-benefit"], catalog, None) == {"guide-unemployment-benefit"}  # no bundle guide
    assert family(["faq-idcard-lost-fee"], catalog, extractive.bundles) == IDCARD  # an FAQ's matter is its guide
    assert family(["bundle-unemployment"], catalog, extractive.bundles) == {"bundle-unemployment"}  # its steps stay
    assert family(["law-resident-id-card"], catalog, extractive.bundles) == {"law-resident-id-card"}


def test_the_filter_drops_the_held_out_documents_and_defers_to_the_other_filters() -> None:
    held_out = HeldOut(excluded=frozenset({"guide-idcard-replace"}))
    assert not held_out.accepts({"doc_id": "guide-idcard-replace", "region": "示例市"})
    assert held_out.accepts({"doc_id": "law-resident-id-card", "region": "全国"})
    local = HeldOut(region="示例市", excluded=frozenset({"guide-idcard-replace"}))
    assert local.accepts({"doc_id": "faq-idcard-lost-fee", "region": "示例市"})
    assert not local.accepts({"doc_id": "faq-idcard-lost-fee", "region": "另一市"})  # Filters' own rule


def test_the_held_out_retriever_never_finds_the_family_and_keeps_the_given_filters(
        extractive: ExtractiveAnswerer) -> None:
    question = "身份证丢了怎么补办"
    inner = extractive.retriever
    assert IDCARD <= {p.doc_id for p in inner.retrieve(question, k=20)}  # found with nothing held out
    retriever = HeldOutRetriever(inner, IDCARD)
    found = retriever.retrieve(question, k=20)
    assert found and not IDCARD & {p.doc_id for p in found}
    assert "law-resident-id-card" in {p.doc_id for p in found}
    laws = retriever.retrieve(question, k=20, filters=Filters(kinds=("policy", "guide")))
    assert {p.kind for p in laws} <= {"policy", "guide"} and not IDCARD & {p.doc_id for p in laws}
    also = retriever.search(question, k=20, filters=HeldOut(excluded=frozenset({"law-resident-id-card"})))
    assert not (IDCARD | {"law-resident-id-card"}) & {p.doc_id for p in also.passages}  # both held out
    held_catalog, full_catalog = retriever.live_catalog(), inner.live_catalog()
    assert held_catalog.collection == full_catalog.collection and not IDCARD & held_catalog.documents.keys()
    assert held_catalog.documents.keys() == full_catalog.documents.keys() - IDCARD  # as if the corpus lacked them


def test_with_its_matter_held_out_a_question_is_refused_or_answered_from_another_document(
        extractive: ExtractiveAnswerer) -> None:
    catalog = extractive.retriever.live_catalog()
    idcard = EvalQuestion("h-1", "idcard", "身份证丢了怎么补办", "standard", "身份证",
                          expected_docs=("guide-idcard-replace",))
    assert extractive.answer(idcard.question).cited_doc_ids == ("guide-idcard-replace",)
    case = ask(extractive, idcard, catalog)
    assert case.held_out == IDCARD and not case.full_refused
    # the law says a lost card is re-issued: answerable outside the family (the label noise)
    assert (case.refused, case.cited, case.cited_kind, case.leaked) == (False, ("law-resident-id-card",), "policy", False)
    jobless = EvalQuestion("h-2", "jobless", "失业保险金怎么申领", "colloquial", "失业",
                           expected_docs=("guide-unemployment-benefit",))
    assert extractive.answer(jobless.question).cited_doc_ids == ("guide-unemployment-benefit",)
    case = ask(extractive, jobless, catalog)
    assert (case.held_out, case.full_refused) == (JOBLESS, False)
    assert (case.refused, case.reason, case.cited, case.leaked) == (True, "no_evidence", (), False)
    # the fee is in the held-out guide only: the law retrieval comes to states none, so no answer
    answer = held_out_answerer(extractive, IDCARD).answer("补办身份证多少钱")
    assert answer.refused and "没有写明您问的费用或金额" in answer.handoff.message
    assert extractive.answer("补办身份证多少钱").cited_doc_ids[0] in IDCARD


def test_holdout_command_prints_the_figures_and_json_last(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    rows = [
        {"id": "h-1", "need": "idcard", "question": "身份证丢了怎么补办", "style": "standard", "topic": "身份证",
         "expected_docs": ["guide-idcard-replace"], "must_include": ["户口簿"]},
        {"id": "h-2", "need": "jobless", "question": "失业保险金怎么申领", "style": "colloquial", "topic": "失业",
         "expected_docs": ["guide-unemployment-benefit"]},
        {"id": "h-3", "need": "jobless-event", "question": "失业了要办哪些事", "style": "standard", "topic": "失业",
         "expected_docs": ["bundle-unemployment"]},  # a life event: not counted
        {"id": "h-4", "need": "stock", "question": "明天买哪只股票能涨", "style": "colloquial", "topic": "其他",
         "must_refuse": True},  # not counted
    ]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    env = {"ZHENGWU_DATA_DIR": str(tmp_path / "data"), "ZHENGWU_CORPUS_DIR": str(corpus)}
    result = runner.invoke(app, ["holdout", "--split", "all", "--questions", str(questions), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert "leave one matter out" in result.stdout
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert (figures["split"], figures["n"], figures["skipped_bundles"]) == ("all", 2, 1)
    assert (figures["held_out_refused"], figures["full_refused"], figures["held_out_refused_of_answered"]) == (0.5, 0.0, 0.5)
    assert (figures["held_out_refusals"], figures["full_refusals"], figures["leaks"]) == (1, 0, 0)
    assert figures["reasons"] == {"no_evidence": 1} and figures["answered_from"] == {"policy": 1}
    assert figures["per_style"] == {"colloquial": {"n": 1, "held_out_refused": 1.0, "full_refused": 0.0},
                                    "standard": {"n": 1, "held_out_refused": 0.0, "full_refused": 0.0}}
    assert runner.invoke(app, ["holdout", "--split", "half"], env=env).exit_code != 0
    missing = runner.invoke(app, ["holdout", "--questions", str(tmp_path / "none.jsonl")], env=env)
    assert missing.exit_code == 1 and "cannot read" in " ".join(missing.output.split())  # rich wraps long paths

