"""一件事一次办: checklists assembled from the real corpus bundles and guides, life-event recognition,
the bundle answer, and GET /v1/bundles."""

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import bundles as bundles_api
from api.app import create_app
from api.schemas import AskResponse
from assistant.bundles import Bundle, BundleGuide, BundleNotFoundError, BundleRules, assemble_bundle, to_answer
from assistant.documents import Document
from assistant.errors import ConfigError, LoadError
from assistant.settings import Settings
from indexer.loaders import load_paths
from tests.conftest import write

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="module")
def corpus() -> dict[str, Document]:
    return {d.doc_id: d for d in load_paths([CORPUS]).documents}


@pytest.fixture(scope="module")
def guide(corpus: dict[str, Document]) -> BundleGuide:
    return BundleGuide(corpus.values())


def materials_of(doc: Document) -> list[str]:
    section = doc.body.split("## 申请材料\n", 1)[1].split("\n## ", 1)[0]
    return [line[2:].strip() for line in section.splitlines() if line.startswith("- ")]


def test_every_corpus_bundle_keeps_its_order_and_cites_every_step(corpus: dict[str, Document], guide: BundleGuide) -> None:
    bundles = [d for d in corpus.values() if d.kind == "bundle"]
    assert len(bundles) == 7
    for doc in bundles:
        bundle = guide.get(doc.doc_id)
        assert [s.guide_id for s in bundle.steps] == [s["guide"] for s in doc.extra["steps"]], doc.doc_id
        assert [s.number for s in bundle.steps] == list(range(1, len(bundle.steps) + 1))
        assert bundle.warnings == () and bundle.event == doc.extra["event"]
        first = bundle.citations[0]
        assert (first.number, first.doc_id, first.section) == (1, doc.doc_id, "办理顺序") and first.quote
        assert [c.number for c in bundle.citations] == list(range(1, len(bundle.citations) + 1))
        for step in bundle.steps:
            source = corpus[step.guide_id]
            cited = bundle.citations[step.citation - 1]
            assert (cited.doc_id, cited.title, cited.section, cited.kind) == (step.guide_id, source.title, "申请材料", "guide")
            assert cited.effective_date == source.effective_date and cited.source_url == source.source_url
            assert step.title == source.title and step.materials == tuple(materials_of(source))
            assert all(line in cited.quote for line in step.materials)  # the citation holds what the step shows
        names = [m.name for m in bundle.materials]
        assert len(names) == len(set(names)), doc.doc_id  # every material once
        for step in bundle.steps:  # and every line a step needs is under some material, with that step
            for line in step.materials:
                assert any((step.number, line) in m.lines and step.number in m.needed_by for m in bundle.materials)


def test_newborn_materials_are_deduplicated_with_the_steps_that_need_them(guide: BundleGuide) -> None:
    bundle = guide.get("bundle-newborn")
    by_name = {m.name: m for m in bundle.materials}
    id_card = by_name["居民身份证"]
    assert id_card.needed_by == (1, 2, 3, 4, 5, 6)  # six guides ask for it; listed once
    assert len(id_card.lines) >= 6 and id_card.produced_by is None
    assert id_card.citations == tuple(bundle.steps[n - 1].citation for n in id_card.needed_by)
    certificate = by_name["出生医学证明"]  # produced by step 1 (`carries`), reused later
    assert certificate.produced_by == 1 and certificate.reused_by == (2, 3, 4, 5)
    assert 1 not in certificate.needed_by  # step 1's 《出生医学证明》首次签发登记表 is a form, not the certificate
    assert by_name["居民户口簿"].produced_by == 2 and by_name["居民户口簿"].reused_by == (3, 4)
    first = bundle.steps[0]
    assert first.carries[0].name == "出生医学证明" and first.carries[0].reused_by == (2, 3, 4, 5)


def test_together_with_becomes_visits(guide: BundleGuide) -> None:
    newborn = guide.get("bundle-newborn")
    assert newborn.groups == ((1, 5), (2, 3, 4))
    assert newborn.steps[1].together_with == (3, 4)
    assert guide.get("bundle-after-death").groups == ((1, 2), (3, 4))
    assert guide.get("bundle-company-opening").groups == ((1, 2, 3, 4, 5, 6),)
    assert guide.get("bundle-home-purchase").groups == ((2, 3, 4),)  # 抵押登记 with either transfer


def test_a_missing_guide_keeps_its_step_with_a_warning(corpus: dict[str, Document]) -> None:
    guides = {k: v for k, v in corpus.items() if k != "guide-newborn-hukou"}
    bundle = assemble_bundle(corpus["bundle-newborn"], guides)
    step = bundle.steps[1]
    assert step.guide_id == "guide-newborn-hukou" and step.materials == () and step.citation == 1
    assert any("guide-newborn-hukou" in w for w in bundle.warnings)
    assert [c.number for c in bundle.citations] == list(range(1, 7))  # five guides and the bundle
    assert bundle.steps[2].citation == 3 and bundle.citations[2].doc_id == "guide-medical-insurance-enrollment"


def test_a_bundle_with_malformed_steps_is_left_out(corpus: dict[str, Document]) -> None:
    doc = corpus["bundle-retirement"]
    broken = Document("bundle-broken", "坏的一件事", "bundle", doc.body, "bundles/bundle-broken.md",
                      extra={"event": "退休", "steps": [{"note": "没有写 guide"}]})
    with pytest.raises(LoadError, match="invalid bundle steps"):
        assemble_bundle(broken, corpus)
    shelf = BundleGuide([*corpus.values(), broken])
    assert "bundle-broken" not in [d.doc_id for d in shelf.documents()] and len(shelf.documents()) == 7


@pytest.mark.parametrize("question, bundle_id", [
    ("刚生了孩子要办什么", "bundle-newborn"),
    ("老婆刚生完娃要跑哪些部门", "bundle-newborn"),
    ("宝宝出生后需要办理哪些手续", "bundle-newborn"),
    ("家人去世了要办哪些手续", "bundle-after-death"),
    ("我爸昨天走了，后事怎么办", "bundle-after-death"),
    ("家里老人走了", "bundle-after-death"),
    ("退休了要办什么", "bundle-retirement"),
    ("我退休了", "bundle-retirement"),
    ("我们下个月结婚，需要办哪些事", "bundle-marriage"),
    ("准备开公司要办哪些手续", "bundle-company-opening"),
    ("买了套二手房要办什么手续", "bundle-home-purchase"),
    ("被裁员了怎么办", "bundle-unemployment"),
    ("刚扯了证，要办些什么，帮我列一下", "bundle-marriage"),  # asking for a list, or for the order
    ("家里添了个闺女，手续先办哪个后办哪个", "bundle-newborn"),
    ("我爸下个月就不上班了，该办的事给列个清单", "bundle-retirement"),
    ("单位把我辞了，要办的事有哪些", "bundle-unemployment"),
    ("想整个小公司，从哪一步开始办", "bundle-company-opening"),
    ("刚买了层楼，手续的顺序是什么", "bundle-home-purchase"),
    ("刚领了证，我户口还在老家，要办的事给我列全", "bundle-marriage"),  # a whole list asked for outright
    ("我母亲在外地住院时去世，医药费是自己垫付的。请问家属要办哪些事项？", "bundle-after-death"),  # a matter described, everything asked
    ("我们是二婚，打算领证，领完证都要办哪些事", "bundle-marriage"),
    ("看中了一套二手房，还要贷款，后面要办些什么", "bundle-home-purchase"),
    ("我父亲住院没抢救过来，后面还有啥要办的，帮我捋一捋", "bundle-after-death"),
    ("我配偶昨天夜里在医院走了，我也不知道先办什么后办什么", "bundle-after-death"),  # when and where between
    ("我老伴走了，火化、户口、社保这些手续都得怎么弄啊？", "bundle-after-death"),  # several of its matters
    ("我老伴走了，火化、户口这些手续怎么办？", "bundle-after-death"),  # two, in a list
])
def test_life_event_questions_are_recognised(guide: BundleGuide, question: str, bundle_id: str) -> None:
    match = guide.recognize(question)
    assert match is not None and match.bundle_id == bundle_id, question


@pytest.mark.parametrize("question", [
    "退休了养老金怎么领",  # one matter of the event, not all of them
    "新生儿落户要办什么手续",  # names one of the bundle's matters (落户)
    "生孩子后生育津贴怎么领",
    "退休年龄是多少",
    "结婚证丢了怎么办",
    "身份证没了要办什么",  # "没了" is not a death without a person
    "补领身份证要带什么材料",
    "生了孩子以后办社保卡的顺序是什么",  # one matter of the event, asked for its order
    "退休了公积金提取要列哪些材料清单",
    "刚生了孩子，社保卡要办哪些手续",  # 社保卡: a tag of one of its guides (社会保障卡申领与补换)
    "生了孩子，出生登记要办哪些",  # 出生: a word of a guide's title, though the event's too
    "开公司，公司登记要办哪些手续",
    "刚生了孩子，帮我列出出生医学证明需要的材料",  # a list of one matter's materials, not of everything
    "买了房，契税要交的单子在哪拿",
    "我老伴走了，户口这些手续怎么办？",  # one of its matters, however it is asked
    "我爸昨天出差走了，身份证要办什么",  # 走了 after a trip is no death
])
def test_questions_about_one_matter_are_not_bundle_questions(guide: BundleGuide, question: str) -> None:
    assert guide.recognize(question) is None


@pytest.mark.parametrize("question", [
    "已经申请劳动仲裁了，接下来要办什么",  # 仲裁了 is not 裁了
    "从部队退下来要办哪些手续",
    "整个企业注销的顺序是什么",  # 整个: the whole, not "set one up"
    "驾驶证考完领了证后要办什么",
    "办理结婚登记需要带哪些证件？还要户口簿吗？",  # 结婚登记: one matter; 带哪些证件: its materials
])
def test_words_that_only_look_like_a_life_event_are_not_one(guide: BundleGuide, question: str) -> None:
    assert guide.recognize(question) is None


def test_a_matter_of_the_event_is_named_unless_the_whole_list_is_asked_for(guide: BundleGuide) -> None:
    assert guide.names_matter("bundle-newborn", "新生儿医保登记怎么办")  # 医保: a tag of a step's guide
    assert not guide.names_matter("bundle-newborn", "新生儿要办哪些手续")  # the event's own words name no matter
    assert not guide.names_matter("bundle-newborn", "新生儿医保这些，该办的事都给我列全")  # the whole list asked for
    assert not guide.names_matter("bundle-not-there", "新生儿医保登记怎么办")


def test_a_bundle_answer_cites_every_block(guide: BundleGuide) -> None:
    answer = guide.answer("刚生了孩子要办什么")
    assert answer is not None and answer.mode == "bundle" and not answer.refused
    bundle = guide.get("bundle-newborn")
    assert answer.citations == bundle.citations
    for block in answer.blocks:
        assert block.citations and all(1 <= n <= len(answer.citations) for n in block.citations)
    headings = [b.heading for b in answer.blocks]
    assert headings[0].endswith("办理顺序") and "可以一起办" in headings
    assert [h for h in headings if h.startswith("第")] == [f"第{s.number}步：{s.title}" for s in bundle.steps]
    checklist = next(b.text for b in answer.blocks if b.heading.startswith("材料清单"))
    assert checklist.count("- 居民身份证（") == 1 and "第1步办完后取得" in checklist
    assert guide.answer("补领身份证要带什么材料") is None
    shown = AskResponse.of(answer, "a" * 32, 1.0)  # what /v1/ask will return once it is wired
    assert shown.mode == "bundle" and len(shown.citations) == len(bundle.citations)


def test_triggers_a_bundle_carries_in_its_front_matter_are_used(tmp_path: Path, corpus: dict[str, Document]) -> None:
    text = (CORPUS / "bundles" / "bundle-retirement.md").read_text(encoding="utf-8")
    write(tmp_path / "bundle-retirement.md", text.replace("event: 退休\n", "event: 退休\ntriggers: [告老还乡]\n"))
    docs = [d for d in corpus.values() if d.kind == "guide"] + load_paths([tmp_path / "bundle-retirement.md"]).documents
    match = BundleGuide(docs).recognize("告老还乡了要办什么")
    assert match is not None and match.bundle_id == "bundle-retirement"


def test_bad_rules_and_unknown_ids_are_errors(tmp_path: Path, guide: BundleGuide) -> None:
    with pytest.raises(BundleNotFoundError):
        guide.get("bundle-moon-landing")
    broken = write(tmp_path / "bundles.yaml", "events: {}\nasks: ['(unclosed']\nmaterials: []\n")
    with pytest.raises(ConfigError, match="bundle rules"):
        BundleRules.load(broken)
    with pytest.raises(ConfigError):
        BundleRules.load(tmp_path / "missing.yaml")


def test_to_answer_without_groups_has_no_visits_block(corpus: dict[str, Document]) -> None:
    doc = corpus["bundle-retirement"]
    steps = [dict(s, together_with=[]) for s in doc.extra["steps"]]
    lone = Document(doc.doc_id, doc.title, "bundle", doc.body, doc.source_path, extra={**doc.extra, "steps": steps})
    bundle: Bundle = assemble_bundle(lone, corpus)
    assert bundle.groups == ()
    assert "可以一起办" not in [b.heading for b in to_answer(bundle, "退休了").blocks]


# --- GET /v1/bundles ----------------------------------------------------------------------------

def bundles_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    app.state.bundles = BundleGuide.from_corpus(CORPUS)  # as create_app will set it
    app.include_router(bundles_api.router)
    return app


def test_bundles_api_lists_and_assembles(make_settings: Callable[..., Settings]) -> None:
    client = TestClient(bundles_app(make_settings()))
    listed = client.get("/v1/bundles")
    assert listed.status_code == 200
    ids = [b["id"] for b in listed.json()["bundles"]]
    assert len(ids) == 7 and "bundle-newborn" in ids
    body = client.get("/v1/bundles/bundle-newborn").json()
    assert [s["guide_id"] for s in body["steps"]][:2] == ["guide-birth-medical-certificate", "guide-newborn-hukou"]
    assert body["groups"] == [[1, 5], [2, 3, 4]]
    id_card = next(m for m in body["materials"] if m["name"] == "居民身份证")
    assert id_card["needed_by"] == [1, 2, 3, 4, 5, 6] and id_card["lines"][0]["step"] == 1
    assert all(s["citation"] <= len(body["citations"]) for s in body["steps"])
    assert body["citations"][1]["doc_id"] == "guide-birth-medical-certificate" and body["sample"] is True


def test_bundles_api_errors(make_settings: Callable[..., Settings]) -> None:
    client = TestClient(bundles_app(make_settings()))
    missing = client.get("/v1/bundles/bundle-moon-landing")
    assert missing.status_code == 404 and missing.json()["error"] == "bundle_not_found"
    invalid = client.get("/v1/bundles/Not_An_Id")
    assert invalid.status_code == 422 and invalid.json()["error"] == "validation_error"
