"""The benchmark commands run end to end on tiny inputs and print their JSON figures last."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.embedders import Embedder
from assistant.settings import Settings
from tests.conftest import index_corpus
from eval.__main__ import app
from eval.bench import score
from eval.datasets import BenchQuery, in_split, load_msgabench
from eval.bench import Ranking

runner = CliRunner()
QA = [
    ("q1", "身份证丢了怎么补办", "居民身份证丢失的，带户口簿到派出所户政窗口申请补领，工本费40元。"),
    ("q2", "失业金怎么领", "失业人员办理失业登记后，可以按月领取失业保险金。"),
    ("q3", "新车怎么上牌", "新车上牌需要到车管所办理机动车注册登记，带购车发票和交强险凭证。"),
    ("q4", "结婚登记要带什么", "结婚登记双方带居民身份证到婚姻登记机关办理。"),
    ("q5", "公积金租房能提取吗", "租房可以提取住房公积金，按月或按年提取。"),
]


def write_qa(path: Path) -> Path:
    path.write_text("".join(json.dumps({"id": i, "question": q, "answer": a, "department": "示例局"}, ensure_ascii=False) + "\n"
                            for i, q, a in QA), encoding="utf-8")
    return path


def test_bench_prints_every_system_and_json_last(tmp_path: Path) -> None:
    data = write_qa(tmp_path / "qa.jsonl")
    result = runner.invoke(app, ["bench", "msgabench", "--data", str(data), "--split", "all", "--systems", "bm25,use", "--json"],
                           env={"ZHENGWU_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["benchmark"] == "msgabench" and figures["n"] == 5 and set(figures["systems"]) == {"bm25", "use"}
    assert figures["systems"]["bm25"]["hit@5"] == 1.0  # five distinct questions over five answers
    assert 0.0 <= figures["systems"]["use"]["hit@1"] <= 1.0
    assert list((tmp_path / "data" / "bench-cache").glob("msgabench-*-use-*.npy"))  # cached for the next run


def test_bench_runs_our_pipeline_and_the_chatchat_hybrid_under_their_keys(tmp_path: Path) -> None:
    data = write_qa(tmp_path / "qa.jsonl")
    result = runner.invoke(app, ["bench", "msgabench", "--data", str(data), "--split", "all",
                                 "--systems", "chatchat,zhengwu", "--json"],
                           env={"ZHENGWU_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    systems = json.loads(result.output.strip().splitlines()[-1])["systems"]
    assert set(systems) == {"chatchat", "zhengwu"}
    assert systems["zhengwu"]["hit@1"] == 1.0  # five distinct questions over five answers


def test_ncp_bench_checks_the_answer_span_inside_the_best_chunks(tmp_path: Path) -> None:
    folder = tmp_path / "ncp"
    folder.mkdir()
    docs = {"d1": "为支持企业复工复产，对受疫情影响的中小微企业减免三个月房租。", "d2": "疫情期间社保费可以缓缴，缓缴期限最长六个月。"}
    (folder / "corpus_subset_599docs.jsonl").write_text(
        "".join(json.dumps({"docid": d, "text": t}, ensure_ascii=False) + "\n" for d, t in docs.items()), encoding="utf-8")
    (folder / "eval_questions_on_subset.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in [
        {"qid": "a", "question": "中小微企业房租减免几个月？", "relevant_docid": "d1", "answer": "减免三个月房租"},
        {"qid": "b", "question": "社保费缓缴最长多久？", "relevant_docid": "d2", "answer": "最长六个月"},
    ]), encoding="utf-8")
    result = runner.invoke(app, ["bench", "ncp", "--data", str(folder), "--split", "all", "--systems", "bm25,zhengwu",
                                 "--json"], env={"ZHENGWU_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    systems = json.loads(result.output.strip().splitlines()[-1])["systems"]
    assert systems["zhengwu"]["hit@1"] == 1.0 and systems["zhengwu"]["span@5"] == 1.0
    assert "span@5" in systems["bm25"]


def test_span_is_found_only_inside_the_ranked_chunks() -> None:
    queries = [BenchQuery("a", "问", frozenset({"d1"}), span="六个月"), BenchQuery("b", "问", frozenset({"d2"}), span="三个月")]
    rankings = [Ranking("a", ["d1"], ("缓缴期限最长六个月。",)), Ranking("b", ["d2"], ("别的内容",))]
    assert score(queries, rankings, spans=True)["span@5"] == 0.5


def test_bench_scores_a_query_file(tmp_path: Path) -> None:
    data = write_qa(tmp_path / "qa.jsonl")
    queries = tmp_path / "mine.jsonl"
    queries.write_text('{"question": "身份证丢失了怎么补领", "relevant_ids": ["q1"]}\n', encoding="utf-8")
    result = runner.invoke(app, ["bench", "msgabench", "--data", str(data), "--split", "all", "--queries", str(queries),
                                 "--systems", "bm25", "--json"], env={"ZHENGWU_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["systems"]["bm25"]["hit@1"] == 1.0


def test_bench_rejects_unknown_systems(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "msgabench", "--data", str(write_qa(tmp_path / "qa.jsonl")), "--systems", "gpt"])
    assert result.exit_code != 0 and "unknown system" in result.output


def test_throughput_reports_raw_and_indexer_rates(tmp_path: Path, tiny_corpus: Path) -> None:
    result = runner.invoke(app, ["throughput", "--data", str(tiny_corpus), "--json"],
                           env={"ZHENGWU_DATA_DIR": str(tmp_path / "data"), "ZHENGWU_EMBEDDER": "use"})
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["documents"] == 4 and figures["chunks"] == 15
    assert figures["raw_chunks_per_s"] > 0 and figures["index_chunks_per_s"] > 0
    # the rates are printed rounded to 0.01, so the ratio recomputed from them agrees to about 1e-3
    assert figures["ratio"] == pytest.approx(figures["index_chunks_per_s"] / figures["raw_chunks_per_s"], rel=2e-3)


def test_identical_answers_count_as_hits_and_splits_are_stable(tmp_path: Path) -> None:
    data = tmp_path / "qa.jsonl"
    data.write_text('{"id": "a", "question": "问一", "answer": "同一个答案"}\n{"id": "b", "question": "问二", "answer": "同一个答案"}\n',
                    encoding="utf-8")
    bench = load_msgabench(data, "all")
    assert bench.queries[0].relevant == frozenset({"a", "b"})
    assert score(bench.queries, [Ranking("a", ["b"]), Ranking("b", ["x", "a"])]) == {"hit@1": 0.5, "hit@5": 1.0, "mrr@10": 0.75}
    assert [in_split(k, "test") for k in ("msga-qa-0001", "msga-qa-0005")] == [in_split(k, "test") for k in ("msga-qa-0001", "msga-qa-0005")]
    assert all(in_split(k, "test") != in_split(k, "dev") for k in ("a", "b", "c"))
    assert BenchQuery("x", "q", frozenset()).relevant == frozenset()


def test_run_scores_the_eval_set_and_writes_the_report_folder(tmp_path: Path, tiny_corpus: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    for lexicon in ("dialect.yaml", "glossary.yaml"):
        (tiny_corpus / lexicon).write_text((root / "corpus" / lexicon).read_text(encoding="utf-8"), encoding="utf-8")
    rows = [
        {"id": "t-1", "need": "idcard", "question": "身份证丢了怎么补办", "style": "standard", "topic": "身份证",
         "expected_docs": ["guide-idcard-replace", "faq-idcard-lost-fee"], "must_include": ["户口簿"]},
        {"id": "t-2", "need": "idcard", "question": "身份证唔见咗点样补办", "style": "cantonese", "topic": "身份证",
         "expected_docs": ["guide-idcard-replace", "faq-idcard-lost-fee"], "must_include": ["户口簿"]},
        {"id": "t-3", "need": "stock", "question": "明天买哪只股票能涨", "style": "colloquial", "topic": "其他",
         "must_refuse": True},
    ]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    report = tmp_path / "report"
    result = runner.invoke(app, ["run", "--split", "all", "--questions", str(questions), "--report", str(report), "--json"],
                           env={"ZHENGWU_DATA_DIR": str(tmp_path / "data"), "ZHENGWU_CORPUS_DIR": str(tiny_corpus)})
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["n"] == 3 and figures["must_refuse"] == 1
    assert figures["top5"] == 1.0 and figures["refusal_accuracy"] == 1.0 and figures["false_refusal"] == 0.0
    assert set(figures["per_style"]) == {"standard", "cantonese"} and set(figures["per_topic"]) == {"身份证"}
    assert len((report / "results.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    markdown = (report / "report.md").read_text(encoding="utf-8")
    assert "## Per phrasing style" in markdown and "## Per topic" in markdown and "![per-style](per-style.png)" in markdown
    for plot in ("per-style.png", "latency.png"):
        assert (report / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plain_rewrites_every_answer_and_prints_its_figures_last(tmp_path: Path, tiny_corpus: Path, e5: Embedder) -> None:
    root = Path(__file__).resolve().parents[1]
    for lexicon in ("dialect.yaml", "glossary.yaml"):
        (tiny_corpus / lexicon).write_text((root / "corpus" / lexicon).read_text(encoding="utf-8"), encoding="utf-8")
    env = {"ZHENGWU_DATA_DIR": str(tmp_path / "data"), "ZHENGWU_CORPUS_DIR": str(tiny_corpus)}
    index_corpus(Settings.from_environ(env, threads=1), e5, tiny_corpus)
    rows = [
        {"id": "t-1", "need": "idcard", "question": "补领身份证要带什么材料", "style": "standard", "topic": "身份证",
         "expected_docs": ["guide-idcard-replace"], "must_include": ["户口簿"]},
        {"id": "t-2", "need": "idcard", "question": "身份证唔见咗点样补办", "style": "cantonese", "topic": "身份证",
         "expected_docs": ["guide-idcard-replace"], "must_include": ["户口簿"]},
        {"id": "t-3", "need": "stock", "question": "明天买哪只股票能涨", "style": "colloquial", "topic": "其他", "must_refuse": True},
    ]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for extra in ([], ["--elderly", "--script", "cantonese"]):
        result = runner.invoke(app, ["plain", "--split", "all", "--questions", str(questions), "--json", *extra], env=env)
        assert result.exit_code == 0, result.output
        figures = json.loads(result.output.strip().splitlines()[-1])
        assert set(figures) == {"n", "fact_preservation", "mean_sentence_chars_before", "mean_sentence_chars_after",
                                "jargon_unexplained_before", "jargon_unexplained_after"}
        assert figures["n"] == 3 and figures["fact_preservation"] == 1.0
        assert figures["mean_sentence_chars_before"] > 0 and figures["mean_sentence_chars_after"] > 0
        assert figures["jargon_unexplained_after"] < figures["jargon_unexplained_before"]
    assert runner.invoke(app, ["plain", "--script", "klingon"], env=env).exit_code != 0
