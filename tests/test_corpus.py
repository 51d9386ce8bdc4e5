"""The shipped corpus and the staff eval set, loaded through the real loaders and checked against
the schema in corpus/README.md and eval/questions.py."""

import re
from collections import Counter
from pathlib import Path

import pytest

from assistant.documents import Document
from assistant.errors import LoadError
from assistant.lexicon import DIALECTS, load_acts, load_dialect, load_elsewhere, load_glossary
from eval.questions import STYLES, load_questions
from indexer.loaders import load_paths
from indexer.splitter import ARTICLE, Splitter

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
GUIDE_SECTIONS = ["事项名称", "适用对象", "受理条件", "申请材料", "办理流程", "办理时限", "收费标准", "办理地点", "咨询电话", "设定依据"]
ELIGIBILITY_FIELDS = {"applicant_type", "industry", "size", "annual_revenue", "employees", "registration_place",
                      "years_registered", "age", "household", "employment_status", "education", "insured_months"}
OPS = {"eq", "ne", "in", "not_in", "gte", "lte", "gt", "lt"}


@pytest.fixture(scope="module")
def corpus() -> dict[str, Document]:
    result = load_paths([CORPUS], root=ROOT)
    assert [f"{p.path}: {p.reason}" for p in result.problems] == []  # `zhengwu index` skips nothing
    return {d.doc_id: d for d in result.documents}


def headings(doc: Document) -> list[str]:
    return [line[3:].strip() for line in doc.body.splitlines() if line.startswith("## ")]


def section_text(doc: Document, heading: str) -> str:
    return doc.body.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0].strip()


def has_target(doc: Document, section: str) -> bool:
    if not section:
        return True
    if section in headings(doc):
        return True
    return any(m and m.group(1) == section for m in (ARTICLE.match(line.strip()) for line in doc.body.splitlines()))


def test_counts_per_kind_meet_the_floor(corpus: dict[str, Document]) -> None:
    kinds = Counter(d.kind for d in corpus.values())
    assert kinds["guide"] >= 60 and kinds["faq"] >= 150 and kinds["bundle"] >= 6 and kinds["policy"] >= 18
    local = [d for d in corpus.values() if d.extra.get("doc_type") == "local_policy"]
    assert len(local) >= 3


def test_ids_match_file_names_and_kinds(corpus: dict[str, Document]) -> None:
    prefixes = {"guide": ("guide-",), "faq": ("faq-",), "bundle": ("bundle-",), "policy": ("law-", "policy-")}
    for doc in corpus.values():
        assert Path(doc.source_path).stem == doc.doc_id
        assert doc.doc_id.startswith(prefixes[doc.kind]), doc.doc_id


def test_every_guide_has_every_section_in_order(corpus: dict[str, Document]) -> None:
    for doc in (d for d in corpus.values() if d.kind == "guide"):
        assert headings(doc) == GUIDE_SECTIONS, doc.doc_id
        materials = section_text(doc, "申请材料").splitlines()
        assert any(line.startswith("- ") for line in materials), doc.doc_id
        steps = section_text(doc, "办理流程").splitlines()
        assert any(re.match(r"^1\. ", line) for line in steps), doc.doc_id
        assert "《" in section_text(doc, "设定依据"), doc.doc_id
        assert all(section_text(doc, h) for h in GUIDE_SECTIONS), doc.doc_id


def test_laws_are_split_into_articles(corpus: dict[str, Document]) -> None:
    laws = [d for d in corpus.values() if d.doc_id.startswith("law-")]
    assert len(laws) >= 15
    for law in laws:
        labels = [c.section for c in Splitter().split(law) if c.section.startswith("第")]
        assert len(labels) >= 5, law.doc_id
        assert law.source_url.startswith("https://flk.npc.gov.cn") and law.region == "全国" and not law.sample


def test_faq_citation_targets_exist(corpus: dict[str, Document]) -> None:
    for faq in (d for d in corpus.values() if d.kind == "faq"):
        assert faq.extra.get("question"), faq.doc_id
        targets = faq.extra.get("rests_on")
        assert isinstance(targets, list) and targets, faq.doc_id
        for target in targets:
            doc_id, _, section = target.partition("#")
            assert doc_id in corpus, f"{faq.doc_id} rests on missing {doc_id}"
            assert has_target(corpus[doc_id], section), f"{faq.doc_id} rests on missing section {target}"


def test_bundles_name_existing_guides_in_order(corpus: dict[str, Document]) -> None:
    bundles = [d for d in corpus.values() if d.kind == "bundle"]
    assert len(bundles) >= 6
    for bundle in bundles:
        steps = bundle.extra["steps"]
        assert bundle.extra.get("event") and len(steps) >= 3
        for step in steps:
            assert corpus[step["guide"]].kind == "guide", bundle.doc_id
            assert all(corpus[g].kind == "guide" for g in step.get("together_with") or []), bundle.doc_id


def test_local_policies_carry_structured_eligibility(corpus: dict[str, Document]) -> None:
    for doc in (d for d in corpus.values() if d.extra.get("doc_type") == "local_policy"):
        assert doc.sample and doc.region == "示例市" and doc.extra.get("benefit"), doc.doc_id
        for condition in doc.extra["eligibility"]:
            assert condition["field"] in ELIGIBILITY_FIELDS and condition["op"] in OPS, doc.doc_id
            assert condition["label"] and "value" in condition, doc.doc_id


def test_city_details_are_marked_as_sample_data(corpus: dict[str, Document]) -> None:
    phone = re.compile(r"\b0\d{2,3}-\d{3,4}\s?\d{4}\b")
    for doc in corpus.values():
        assert doc.sample == (doc.region == "示例市"), doc.doc_id
        if not doc.sample:
            assert "示例市" not in doc.body, f"{doc.doc_id} mentions 示例市 but is not sample data"
        for number in phone.findall(doc.body):
            assert number.startswith("000-"), f"{doc.doc_id}: {number} is not a fictional 000- number"


def test_glossary_and_dialect_lexicon(corpus: dict[str, Document]) -> None:
    glossary = load_glossary(CORPUS / "glossary.yaml")
    assert len(glossary) >= 200
    assert any(e.term == "房屋产权初始登记" and e.plain == "给新房上户口" for e in glossary)
    dialect = load_dialect(CORPUS / "dialect.yaml")
    assert len(dialect) >= 300
    per = Counter(e.dialect for e in dialect)
    assert set(per) == set(DIALECTS) and min(per.values()) >= 25


def test_matters_handled_elsewhere_name_a_department_and_are_not_the_corpus_s_own_titles(
        corpus: dict[str, Document]) -> None:
    """Each entry says who handles the matter; no name is a title of a shipped document (the
    corpus covering a matter would make its entry wrong, not merely unused)."""
    entries = load_elsewhere(CORPUS / "elsewhere.yaml")
    assert len(entries) >= 80 and all(entry.department for entry in entries)
    titles = {doc.title for doc in corpus.values()}
    assert not [name for entry in entries for name in entry.names if name in titles]


@pytest.mark.parametrize(("text", "problem"), [
    ("- matter: 公租房\n  names: 公租房\n  department: 住房保障部门\n", "names must be a list"),
    ("- matter: 公租房\n  names: [房]\n  department: 住房保障部门\n", "two or more characters"),
    ("- matter: 公租房\n  names: [公租房]\n", "lacks department"),
    ("- matter: 公租房\n  names: [公租房]\n  department: 甲\n- matter: 廉租房\n  names: [公租房]\n  department: 乙\n",
     "duplicate name"),
    ("- [公租房", "malformed YAML"),
])
def test_a_malformed_elsewhere_file_is_a_clear_load_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoadError, match=problem):
        load_elsewhere(path)


@pytest.mark.parametrize(("text", "problem"), [
    ("- act: 补发\n  asked: 补办\n  held: [补办]\n", "asked must be a list"),
    ("- act: 补发\n  asked: [补办]\n", "held must be a list"),
    ("- act: 补发\n  asked: [补]\n  held: [补办]\n", "two or more characters"),
    ("- act: 补发\n  asked: [补办]\n  held: [补办]\n  not_before: 手续\n", "not_before must be a list"),
    ("- act: 补发\n  asked: [补办]\n  held: [补办]\n- act: 补发\n  asked: [补领]\n  held: [补领]\n", "duplicate act"),
    ("- asked: [补办]\n  held: [补办]\n", "lacks act"),
])
def test_a_malformed_acts_file_is_a_clear_load_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "acts.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoadError, match=problem) as raised:
        load_acts(path)
    assert "acts.yaml" in str(raised.value)


def test_the_brief_s_jargon_example_names_the_document_it_is_answered_from(corpus: dict[str, Document]) -> None:
    """房屋产权初始登记 is in no document: its glossary entry names the new-house guide (《新建商品房不动产
    转移登记》), so the evidence check finds the term held there and the question is answered, not
    refused for 初始 (the word before 登记) missing from every source."""
    from assistant.matters import holds
    from assistant.service import create_normalizer

    normalizer = create_normalizer(CORPUS)
    guide = corpus["guide-real-estate-first-registration"]
    assert "房屋产权初始登记" not in guide.body
    assert holds(f"{guide.title} {guide.body}", "房屋产权初始登记", normalizer.aliases)


def test_eval_set_is_answerable_by_construction(corpus: dict[str, Document]) -> None:
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    assert len(questions) >= 250
    assert sum(q.must_refuse for q in questions) >= 40
    for q in questions:
        for doc_id in q.expected_docs:
            assert doc_id in corpus, f"{q.id}: unknown document {doc_id}"
        if q.expected_section:
            assert any(has_target(corpus[d], q.expected_section) for d in q.expected_docs), q.id
        texts = [corpus[d].title + "\n" + corpus[d].body for d in q.expected_docs]
        for fact in q.must_include:
            assert any(fact in text for text in texts), f"{q.id}: fact {fact!r} is in no expected document"


def test_eval_set_measures_robustness_to_phrasing() -> None:
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    styles = Counter(q.style for q in questions)
    assert set(styles) == set(STYLES)
    phrasings = Counter(q.need for q in questions if not q.must_refuse)
    assert sum(count >= 5 for count in phrasings.values()) >= 20
    assert sum(bool(q.history) for q in questions) >= 10
    for split in ("dev", "test"):
        half = load_questions(ROOT / "eval" / "questions.jsonl", split)
        assert half and any(q.must_refuse for q in half)
        needs = {q.need for q in half}
        assert not needs & {q.need for q in load_questions(ROOT / "eval" / "questions.jsonl", "test" if split == "dev" else "dev")}
