"""Department routing: the keyword and model routers, saving and loading the model, the fallback to
the corpus keyword router, label cleaning, and `python -m eval routing` on a tiny synthetic set."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.documents import Document
from assistant.routing import KeywordRouter, LazyRouter, ModelRouter, RouterError, load_router
from assistant.settings import Settings
from eval.__main__ import app
from eval.datasets import in_split
from eval.routing import MajorityRouter, clean_department, load_routing_data
from indexer.loaders import load_paths

ROOT = Path(__file__).resolve().parents[1]
TOPICS = {
    "交管局": ["驾驶证到期怎么换", "违章罚款在哪里交", "机动车年检要带什么", "驾照扣分怎么处理", "车牌号怎么选"],
    "住房公积金管理中心": ["公积金怎么提取", "公积金贷款额度多少", "租房能提取公积金吗", "公积金账户怎么转移", "公积金缴存比例是多少"],
    "医保局": ["医保报销比例是多少", "异地就医怎么备案", "医保卡丢了怎么补", "门诊费用能报销吗", "医保断缴了怎么办"],
}


def synthetic_rows(copies: int = 4) -> list[dict[str, str]]:
    rows = []
    for department, questions in TOPICS.items():
        for n in range(copies):
            for i, question in enumerate(questions):
                rows.append({"id": f"{department}-{n}-{i}", "question": f"{question}（{n}）", "answer": "略",
                             "department": department})
    rows += [{"id": "junk-1", "question": "随便问问", "answer": "略", "department": ""},
             {"id": "junk-2", "question": "还有一个", "answer": "略", "department": "  "},
             {"id": "variant-1", "question": "驾照过期了能开车吗", "answer": "略", "department": "北京市公安局公安交通管理局"},
             {"id": "rare-1", "question": "文物怎么保护", "answer": "略", "department": "文物局"}]
    return rows


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def fitted(kind: type) -> object:
    rows = [r for r in synthetic_rows() if r["department"] in TOPICS]
    return kind.fit([r["question"] for r in rows], [r["department"] for r in rows])


@pytest.mark.parametrize("kind", [KeywordRouter, ModelRouter])
def test_routers_rank_departments_best_first(kind: type) -> None:
    router = fitted(kind)
    for question, department in (("我的驾驶证快到期了", "交管局"), ("想提取公积金付房租", "住房公积金管理中心"),
                                 ("住院的医保报销怎么算", "医保局")):
        ranked = router.predict(question, k=3)
        assert ranked[0][0] == department, (question, ranked)
        assert len(ranked) == 3 and [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
        assert 0 < sum(s for _, s in ranked) <= 1.0001
    assert len(router.predict("驾驶证", k=1)) == 1
    with pytest.raises(ValueError, match="k must be greater than 0"):
        router.predict("驾驶证", k=0)


def test_the_keyword_router_falls_back_to_the_commonest_departments() -> None:
    router = KeywordRouter.fit(["驾驶证换证", "驾照扣分", "公积金提取"], ["交管局", "交管局", "住房公积金管理中心"])
    ranked = router.predict("今天天气怎么样", k=3)
    assert [d for d, _ in ranked] == ["交管局", "住房公积金管理中心"] and all(s < 0.1 for _, s in ranked)


def test_the_corpus_keyword_router_routes_obvious_questions() -> None:
    router = KeywordRouter.from_documents(load_paths([ROOT / "corpus"]).documents)
    for question, department in (("身份证丢了怎么补办", "示例市公安局户政部门"), ("公积金怎么提取", "示例市住房公积金管理中心"),
                                 ("驾驶证到期换证", "示例市公安局交通管理局车辆管理所"), ("结婚登记要带什么", "示例市民政局"),
                                 ("医保怎么报销", "示例市医疗保障局"), ("营业执照怎么办", "示例市市场监督管理局"),
                                 ("护照怎么办", "示例市公安局出入境管理部门")):
        assert router.predict(question)[0][0] == department, question
    assert all(not d.startswith("全国") for d in router.prior)  # laws' national bodies are not routed to


def test_a_saved_model_loads_and_predicts_the_same(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    model = fitted(ModelRouter)
    saved = model.save(settings.data_dir / "router", data="synthetic.jsonl")  # type: ignore[attr-defined]
    meta = json.loads((saved.parent / "model.json").read_text(encoding="utf-8"))
    assert meta["data"] == "synthetic.jsonl" and meta["n_train"] == 60 and "驾驶证到期怎么换" not in json.dumps(meta)
    loaded = load_router(settings)
    assert isinstance(loaded, ModelRouter)
    assert loaded.predict("公积金贷款") == model.predict("公积金贷款")  # type: ignore[attr-defined]
    lazy = LazyRouter(settings)
    assert lazy.name == "zhengwu" and lazy.predict("医保报销")[0][0] == "医保局"


def test_without_a_usable_model_the_corpus_keyword_router_is_used(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(corpus_dir=str(ROOT / "corpus"))
    assert isinstance(load_router(settings), KeywordRouter)  # a fresh clone: no model
    folder = settings.data_dir / "router"
    fitted(ModelRouter).save(folder)  # type: ignore[attr-defined]
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    (folder / "model.json").write_text(json.dumps({**meta, "sklearn": "0.1"}), encoding="utf-8")
    with pytest.raises(RouterError, match="scikit-learn 0.1"):
        ModelRouter.load(folder)
    assert isinstance(load_router(settings), KeywordRouter)
    (folder / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    (folder / "model.pkl").write_bytes(b"not a pickle")
    with pytest.raises(RouterError):
        ModelRouter.load(folder)
    router = load_router(settings)
    assert isinstance(router, KeywordRouter) and router.predict("公积金怎么提取")[0][0] == "示例市住房公积金管理中心"


def test_no_model_and_no_corpus_is_a_router_error(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(RouterError, match="no router"):
        load_router(make_settings(corpus_dir=str(tmp_path / "nothing")))


def test_fitting_needs_two_departments_and_matching_lengths() -> None:
    with pytest.raises(ValueError, match="two departments"):
        ModelRouter.fit(["a", "b"], ["x", "x"])
    with pytest.raises(ValueError, match="differ in length"):
        KeywordRouter.fit(["a"], ["x", "y"])


def test_department_labels_are_cleaned() -> None:
    assert clean_department("北京市公安局公安交通管理局") == "交管局"
    assert clean_department(" 首都之窗综合整理 ") == "首都之窗"
    assert clean_department("北京市医疗保障局、首都之窗") == "医保局"  # the department, not the portal
    assert clean_department("首都之窗") == "首都之窗"
    for junk in ("", "   ", None, "null", "-", "N/A", "123"):
        assert clean_department(junk) is None, junk
    assert MajorityRouter(["a", "b", "a"]).predict("任何问题", k=2) == [("a", 0.6667), ("b", 0.3333)]


def test_loading_drops_junk_merges_variants_and_rare_departments(tmp_path: Path) -> None:
    data = load_routing_data(write_rows(tmp_path / "qa.jsonl", synthetic_rows()))
    assert {r.department for r in data.rows} == set(TOPICS)
    assert data.dropped == {"no department": 2, "rare department (文物局)": 1}
    assert data.merged == {"北京市公安局公安交通管理局": 1}
    assert any(r.qid == "variant-1" and r.department == "交管局" for r in data.rows)


def test_the_routing_command_prints_a_table_and_the_json_last(tmp_path: Path) -> None:
    rows = synthetic_rows()
    assert any(in_split(r["id"], "test") for r in rows) and any(in_split(r["id"], "dev") for r in rows)
    data = write_rows(tmp_path / "qa.jsonl", rows)
    env = {"ZHENGWU_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(app, ["routing", "--data", str(data), "--json", "--threads", "1"], env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert set(figures) == {"n", "systems"} and set(figures["systems"]) == {"majority", "keyword", "zhengwu"}
    scored = [r for r in rows if r["department"].strip() and r["department"] != "文物局" and in_split(r["id"], "test")]
    assert figures["n"] == len(scored)
    for system in figures["systems"].values():
        assert set(system) == {"top1", "top3"} and 0 <= system["top1"] <= system["top3"] <= 1
    assert figures["systems"]["zhengwu"]["top1"] >= 0.9  # three departments with distinct words
    assert "majority" in result.output and not (tmp_path / "data" / "router").exists()  # saved only with --save
    saved = CliRunner().invoke(app, ["routing", "--data", str(data), "--save"], env=env)
    assert saved.exit_code == 0, saved.output
    assert (tmp_path / "data" / "router" / "model.pkl").exists()
    meta = json.loads((tmp_path / "data" / "router" / "model.json").read_text(encoding="utf-8"))
    assert meta["split"] == "dev" and meta["data"] == "qa.jsonl"


def test_the_routing_command_reports_unreadable_data(tmp_path: Path) -> None:
    bad = tmp_path / "qa.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["routing", "--data", str(bad)], env={"ZHENGWU_DATA_DIR": str(tmp_path / "d")})
    assert result.exit_code == 1


def test_the_lazy_router_reads_its_documents_again_after_a_refresh(make_settings: Callable[..., Settings]) -> None:
    documents = [Document(doc_id="guide-a", title="养犬登记", kind="guide", body="养犬登记 犬只", source_path="a.md",
                          department="示例市公安局")]
    reads: list[int] = []

    def read() -> list[Document]:
        reads.append(1)
        return list(documents)

    lazy = LazyRouter(make_settings(), read)  # no fitted model in this data dir: keywords from `read()`
    assert lazy.predict("养犬登记怎么办")[0][0] == "示例市公安局" and len(reads) == 1
    lazy.predict("犬只")
    assert len(reads) == 1  # read once, then kept
    documents.append(Document(doc_id="guide-b", title="公积金提取", kind="guide", body="公积金 提取", source_path="b.md",
                              department="示例市住房公积金管理中心"))
    lazy.refresh()
    assert lazy.predict("公积金提取要什么")[0][0] == "示例市住房公积金管理中心" and len(reads) == 2
