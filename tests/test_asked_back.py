"""Similar questions asked back (eval/asked_back.py): a catalog withholding one similar question, a
retriever reading that catalog, and the `python -m eval asked-back` command, over the tiny corpus
(with the real lexicons) whose ID card guide and fee FAQ carry similar questions."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.answering import ExtractiveAnswerer
from assistant.catalog import Catalog
from assistant.embedders import Embedder
from assistant.store import StoredChunk
from eval.__main__ import app
from eval.asked_back import STYLES, anchor, ask_back, styles_of, summarise
from eval.questions import split_of
from tests.conftest import product_answerer
from tests.test_holdout import write_corpus

runner = CliRunner()
GUIDE = "guide-idcard-replace"
OWN = "身份证掉了，上哪儿再弄一张？"  # on the guide's matter
CASE = "帮我查一下我的身份证办到哪一步了"  # one's own case: refused (personal_case)
ADVICE = "明天买哪只股票能涨"  # out of scope: refused (advice)
OTHER = "失业保险金怎么申领"  # put on the wrong guide: answered from another matter
SIMILAR = [OWN, CASE, ADVICE, OTHER]
FAQ = "faq-idcard-lost-fee"
FAQ_OWN = "补个身份证得花几个钱"  # the FAQ's one similar question: answered from its matter


def write_similar_corpus(root: Path) -> Path:
    corpus = write_corpus(root)
    guide = corpus / "guides" / f"{GUIDE}.md"
    similar = json.dumps(SIMILAR, ensure_ascii=False)
    guide.write_text(guide.read_text("utf-8").replace("tags: [", f"similar: {similar}\ntags: [", 1), "utf-8")
    faq = corpus / "faqs" / f"{FAQ}.md"
    faq.write_text(faq.read_text("utf-8").replace("kind: faq\n", f'kind: faq\nsimilar: ["{FAQ_OWN}"]\n', 1), "utf-8")
    return corpus


@pytest.fixture(scope="module")
def extractive(tmp_path_factory: pytest.TempPathFactory, e5: Embedder) -> ExtractiveAnswerer:
    root = tmp_path_factory.mktemp("asked-back")
    return product_answerer(root, write_similar_corpus(root / "corpus"), e5)


def test_a_catalog_withholding_a_similar_question_drops_it_from_that_document_only() -> None:
    def chunk(doc_id: str, title: str, similar: str, rests_on: str = "") -> StoredChunk:
        return StoredChunk(f"{doc_id}#0", "……", {"doc_id": doc_id, "title": title, "kind": "guide",
                                                 "similar": similar, "rests_on": rests_on})

    catalog = Catalog.build("c", [chunk("guide-a", "甲事项", "甲咋办\n乙咋办"),
                                  chunk("faq-a", "甲多少钱", "乙咋办", rests_on="guide-a#收费标准")])
    withheld = catalog.withholding("guide-a", "乙咋办")
    assert withheld.names("guide-a") == ["甲事项", "甲咋办"]
    assert withheld.names("faq-a") == ["甲多少钱", "乙咋办"]  # another document's own stays
    assert withheld.family_names("guide-a") == ["甲多少钱", "乙咋办", "甲事项", "甲咋办"]
    assert catalog.names("guide-a") == ["甲事项", "甲咋办", "乙咋办"]  # the catalog itself is unchanged
    for doc_id, name in (("guide-a", "甲事项"), ("guide-a", "丙咋办"), ("guide-b", "甲咋办")):
        with pytest.raises(ValueError, match="is not a similar question"):  # never the title; no slip goes unseen
            catalog.withholding(doc_id, name)


def test_withholding_an_faqs_similar_question_re_indexes_its_bm25_text_without_it() -> None:
    def chunk(doc_id: str, kind: str, title: str, similar: str) -> StoredChunk:
        return StoredChunk(f"{doc_id}#0", "工本费四十元", {"doc_id": doc_id, "title": title, "kind": kind,
                                                     "similar": similar})

    chunks = [chunk("guide-a", "guide", "甲事项", "甲咋办\n乙证明怎么开"), chunk("faq-a", "faq", "甲多少钱", "丙证明怎么开\n丁咋办")]
    catalog = Catalog.build("c", chunks)
    assert [found for found, _ in catalog.lexical.search("丙证明", 5)] == ["faq-a#0"]  # an FAQ's are in its BM25 text
    withheld = catalog.withholding("faq-a", "丙证明怎么开")
    assert withheld.lexical.search("丙证明", 5) == []
    assert withheld.names("faq-a") == ["甲多少钱", "丁咋办"]
    assert withheld.chunks["faq-a#0"].metadata["similar"] == "丁咋办"
    rebuilt = Catalog.build("c", [chunks[0], chunk("faq-a", "faq", "甲多少钱", "丁咋办")])
    for query in ("丁咋办", "工本费", "甲事项 多少钱"):  # the same scores as an index built without it
        found, expected = withheld.lexical.search(query, 5), rebuilt.lexical.search(query, 5)
        assert found and [c for c, _ in found] == [c for c, _ in expected]
        assert [score for _, score in found] == pytest.approx([score for _, score in expected])
    assert [found for found, _ in catalog.lexical.search("丙证明", 5)] == ["faq-a#0"]  # the catalog is unchanged
    assert catalog.chunks["faq-a#0"].metadata["similar"] == "丙证明怎么开\n丁咋办"
    assert catalog.withholding("guide-a", "乙证明怎么开").lexical is catalog.lexical  # a guide's are not BM25 text


def test_an_faqs_questions_go_with_the_first_guide_it_rests_on() -> None:
    def chunk(doc_id: str, kind: str, rests_on: str = "") -> StoredChunk:
        return StoredChunk(f"{doc_id}#0", "……", {"doc_id": doc_id, "kind": kind, "rests_on": rests_on})

    catalog = Catalog.build("c", [chunk("law-a", "policy"), chunk("guide-b", "guide"),
                                  chunk("faq-x", "faq", "law-a#第一条,guide-b#收费标准"), chunk("faq-y", "faq", "law-a#第二条"),
                                  chunk("faq-z", "faq", "guide-gone#收费标准")])
    assert anchor(catalog, "faq-x") == "guide-b"  # a law first, its guide after
    assert anchor(catalog, "faq-y") == "law-a"  # only a law
    assert anchor(catalog, "faq-z") == "faq-z"  # nothing the catalog holds
    assert anchor(catalog, "guide-b") == "guide-b"


def test_a_retriever_over_the_withholding_catalog_reads_it_and_the_question_reads_farther(
        extractive: ExtractiveAnswerer) -> None:
    retriever = extractive.retriever
    live = retriever.live_catalog()
    assert OWN in live.names(GUIDE)
    withheld = retriever.with_catalog(live.withholding(GUIDE, OWN))
    query = extractive.normalizer.normalize(OWN)
    full, without = retriever.search(query), withheld.search(query)
    assert without.catalog is not None and full.catalog is not None
    assert OWN not in without.catalog.names(GUIDE) and OWN in retriever.live_catalog().names(GUIDE)
    assert [p.chunk_id for p in without.passages] and without.vector == full.vector
    near = extractive._title_closeness(full, GUIDE)
    far = extractive._title_closeness(without, GUIDE)
    assert near is not None and far is not None and near > far + 0.01  # it no longer reads as its own name


def test_each_similar_question_is_asked_once_and_refusals_and_other_matters_are_counted(
        extractive: ExtractiveAnswerer) -> None:
    cases = ask_back(extractive)
    assert [(c.doc_id, c.question) for c in cases] == [*((GUIDE, q) for q in SIMILAR), (FAQ, FAQ_OWN)]  # guides first
    assert [c.kind for c in cases] == ["guide"] * 4 + ["faq"]
    faq = cases[-1]
    assert not faq.refused and faq.on_matter and faq.rank == 0 and faq.style == ""  # one similar question: no style
    assert [c.question for c in ask_back(extractive, kinds=("faq",))] == [FAQ_OWN]
    with pytest.raises(ValueError, match="kinds must be"):
        ask_back(extractive, kinds=("law",))
    catalog = extractive.retriever.live_catalog()
    assert anchor(catalog, FAQ) == GUIDE and anchor(catalog, GUIDE) == GUIDE  # an FAQ goes with its guide
    half = split_of(GUIDE)
    assert len(ask_back(extractive, split=half)) == 5
    assert ask_back(extractive, split="dev" if half == "test" else "test") == []
    cases = cases[:4]
    by_question = {c.question: c for c in cases}
    assert not by_question[OWN].refused and by_question[OWN].on_matter
    assert (by_question[CASE].refused, by_question[CASE].reason) == (True, "personal_case")
    assert (by_question[ADVICE].refused, by_question[ADVICE].reason) == (True, "advice")
    other = by_question[OTHER]
    assert not other.refused and not other.on_matter and other.cited[0] == "guide-unemployment-benefit"
    # four similar questions: styled by their place (standard, colloquial, elderly, search box)
    assert [c.style for c in cases] == ["standard", "colloquial", "elderly", "search"]
    assert by_question[OWN].rank == 0 and by_question[CASE].rank == 0  # retrieval finds the ID card's matter
    assert by_question[OTHER].rank == 2  # the unemployment guide and its checklist come first
    summary = summarise(cases)
    assert (summary["n"], summary["documents"], summary["refusals"], summary["off_matter"]) == (4, 1, 2, 1)
    assert (summary["refused"], summary["on_matter"]) == (0.5, 0.25)
    assert summary["per_style"]["colloquial"] == {"n": 1, "refused": 1.0, "top1": 1.0, "top5": 1.0}
    assert summary["per_style"]["search"] == {"n": 1, "refused": 0.0, "top1": 0.0, "top5": 1.0}
    assert (summary["top1"], summary["top5"]) == (0.5, 1.0)  # the advice question ranks it third too
    assert len(ask_back(extractive, limit=2)) == 2
    assert styles_of(4) == STYLES and styles_of(3) == ("", "", "") and styles_of(0) == ()  # by place only for four


def test_asked_back_command_prints_the_figures_and_json_last(tmp_path: Path) -> None:
    corpus = write_similar_corpus(tmp_path / "corpus")
    env = {"ZHENGWU_DATA_DIR": str(tmp_path / "data"), "ZHENGWU_CORPUS_DIR": str(corpus)}
    result = runner.invoke(app, ["asked-back", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert "similar questions asked back" in result.stdout and f"refused: {CASE}" in result.stdout
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert (figures["n"], figures["documents"], figures["refusals"], figures["off_matter"]) == (5, 2, 2, 1)
    assert (figures["split"], figures["kind"]) == ("all", "all")
    assert figures["per_kind"]["faq"] == {"n": 1, "refused": 0.0, "top1": 1.0, "top5": 1.0}
    assert figures["per_kind"]["guide"]["n"] == 4 and figures["per_style"]["unknown"]["n"] == 1
    assert figures["reasons"] == {"personal_case": 1, "advice": 1}
    off = {"doc_id": GUIDE, "question": OTHER, "cited": ["guide-unemployment-benefit"]}
    assert figures["off_matter_questions"] == [off]
    assert runner.invoke(app, ["asked-back", "--limit", "0"], env=env).exit_code != 0
    only = runner.invoke(app, ["asked-back", "--kind", "faq", "--json"], env=env)
    assert only.exit_code == 0, only.output
    assert json.loads(only.stdout.strip().splitlines()[-1])["n"] == 1
    assert runner.invoke(app, ["asked-back", "--kind", "law"], env=env).exit_code != 0
    assert runner.invoke(app, ["asked-back", "--split", "train"], env=env).exit_code != 0


def test_a_retriever_takes_only_a_catalog_of_the_live_generation(extractive: ExtractiveAnswerer) -> None:
    live = extractive.retriever.live_catalog()
    other = Catalog.build("another-generation", list(live.chunks.values()))
    with pytest.raises(ValueError, match="the live index is"):
        extractive.retriever.with_catalog(other)
