"""The benchmark commands run end to end on tiny inputs and print their JSON figures last."""

import json
from pathlib import Path

import numpy as np
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
                                 "--systems", "chatchat,zhengwu,zhengwu-m3e", "--json"],
                           env={"ZHENGWU_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.output
    systems = json.loads(result.output.strip().splitlines()[-1])["systems"]
    assert set(systems) == {"chatchat", "zhengwu", "zhengwu-m3e"}
    assert systems["zhengwu"]["hit@1"] == 1.0  # five distinct questions over five answers
    assert systems["zhengwu-m3e"]["hit@1"] == 1.0  # with m3e-small's list fused in
    assert list((tmp_path / "data" / "bench-cache").glob("msgabench-*-st-*.npy"))  # m3e's chunk vectors were made


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
         "expected_docs": ["guide-idcard-replace", "faq-idcard-lost-fee"], "must_include": ["户口簿"],
         "expected_section": "申请材料"},
        {"id": "t-2", "need": "idcard", "question": "身份证唔见咗点样补办", "style": "cantonese", "topic": "身份证",
         "expected_docs": ["guide-idcard-replace", "faq-idcard-lost-fee"], "must_include": ["户口簿"],
         "expected_section": "第九十九条"},  # no such article: the answer cannot cite it
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
    # the expected section, judged on the two answered questions that name one
    assert figures["section_judged"] == 2 and figures["section_cited"] == 0.5
    assert len((report / "results.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    markdown = (report / "report.md").read_text(encoding="utf-8")
    assert "## Per phrasing style" in markdown and "## Per topic" in markdown and "![per-style](per-style.png)" in markdown
    for plot in ("per-style.png", "latency.png"):
        assert (report / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plain_rewrites_every_answer_and_prints_its_figures_last(tmp_path: Path, tiny_corpus: Path, e5: Embedder) -> None:
    env = _eval_env(tmp_path, tiny_corpus)
    index_corpus(Settings.from_environ(env, threads=1), e5, tiny_corpus)
    questions = env["ZHENGWU_EVAL_QUESTIONS"]
    for extra in ([], ["--elderly", "--script", "cantonese"]):
        result = runner.invoke(app, ["plain", "--split", "all", "--questions", questions, "--json", *extra], env=env)
        assert result.exit_code == 0, result.output
        figures = json.loads(result.output.strip().splitlines()[-1])
        assert set(figures) == {"n", "fact_preservation", "mean_sentence_chars_before", "mean_sentence_chars_after",
                                "jargon_unexplained_before", "jargon_unexplained_after"}
        assert figures["n"] == 3 and figures["fact_preservation"] == 1.0
        assert figures["mean_sentence_chars_before"] > 0 and figures["mean_sentence_chars_after"] > 0
        assert figures["jargon_unexplained_after"] < figures["jargon_unexplained_before"]
    assert runner.invoke(app, ["plain", "--script", "klingon"], env=env).exit_code != 0


def _eval_env(tmp_path: Path, tiny_corpus: Path) -> dict[str, str]:
    """A data dir, the tiny corpus (with the real lexicons) and a three-question eval set."""
    root = Path(__file__).resolve().parents[1]
    for lexicon in ("dialect.yaml", "glossary.yaml"):
        (tiny_corpus / lexicon).write_text((root / "corpus" / lexicon).read_text(encoding="utf-8"), encoding="utf-8")
    rows = [
        {"id": "t-1", "need": "idcard", "question": "身份证丢了怎么补办", "style": "standard", "topic": "身份证",
         "expected_docs": ["guide-idcard-replace"], "must_include": ["户口簿"]},
        {"id": "t-2", "need": "fee", "question": "补办身份证多少钱", "style": "colloquial", "topic": "身份证",
         "expected_docs": ["faq-idcard-lost-fee"], "must_include": ["40元"]},
        {"id": "t-3", "need": "stock", "question": "明天买哪只股票能涨", "style": "colloquial", "topic": "其他", "must_refuse": True},
    ]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return {"ZHENGWU_DATA_DIR": str(tmp_path / "data"), "ZHENGWU_CORPUS_DIR": str(tiny_corpus),
            "ZHENGWU_EVAL_QUESTIONS": str(questions)}


def test_latency_reports_answer_and_floor_at_each_size_with_their_ratio(tmp_path: Path, tiny_corpus: Path) -> None:
    env = _eval_env(tmp_path, tiny_corpus)
    result = runner.invoke(app, ["latency", "--chunks", "50", "--queries", "4", "--json"], env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["threads"] == 1 and figures["queries"] == 4 and figures["vectors"] == "noised"
    corpus, grown = figures["sizes"]
    assert (corpus["chunks"], corpus["synthetic"]) == (15, 0)  # the tiny corpus alone, then 50 synthetic chunks more
    assert (grown["chunks"], grown["synthetic"]) == (65, 50)
    for size in figures["sizes"]:
        for part in ("answer", "floor", "ask"):
            p50, p95, p99 = (size[part][f"p{q}_ms"] for q in (50, 95, 99))
            assert 0 < p50 <= p95 <= p99
        assert size["ask"]["p95_ms"] >= size["answer"]["p95_ms"]  # the rewrite comes on top of the answer
        assert size["ratio_p95"] == pytest.approx(size["answer"]["p95_ms"] / size["floor"]["p95_ms"], abs=1e-3)
    assert list((tmp_path / "data" / "bench-cache").glob("corpus-e5-*.npy"))  # corpus embeddings cached


def test_scale_reports_rss_per_size_and_draws_the_plot(tmp_path: Path, tiny_corpus: Path) -> None:
    env = _eval_env(tmp_path, tiny_corpus)
    plot = tmp_path / "scale.png"
    result = runner.invoke(app, ["scale", "--sizes", "10,200", "--queries", "3", "--plot", str(plot), "--json"], env=env)
    assert result.exit_code == 0, result.output
    small, large = json.loads(result.output.strip().splitlines()[-1])["sizes"]
    assert small["chunks"] == 10 and small["corpus_chunks"] + small["synthetic"] == 10 and small["corpus_chunks"] < 15
    assert (large["chunks"], large["corpus_chunks"], large["synthetic"]) == (200, 15, 185)
    for size in (small, large):
        assert size["rss_baseline_mb"] > 0 and size["rss_mb"] > 0
        assert size["rss_growth_mb"] == pytest.approx(size["rss_mb"] - size["rss_baseline_mb"], abs=0.15)
        assert 0 < size["p50_ms"] <= size["p95_ms"] <= size["p99_ms"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert runner.invoke(app, ["scale", "--sizes", "ten"], env=env).exit_code != 0


def test_synthetic_chunks_land_in_the_store_and_bm25_and_are_retrievable(tmp_path: Path, tiny_corpus: Path,
                                                                        e5: Embedder) -> None:
    from assistant.service import Assistant
    from assistant.store import ChromaStore
    from eval.scale import IndexGrower
    from indexer.loaders import load_paths

    settings = Settings.from_environ(_eval_env(tmp_path, tiny_corpus), threads=1)
    grower = IndexGrower(load_paths([tiny_corpus]).documents, e5, settings, seed=7)
    index = grower.grow(15 + 40, tmp_path / "grown")
    assert (index.chunks, index.corpus, index.synthetic, index.embedded) == (55, 15, 40, 0)  # nothing embedded for real
    retriever = Assistant.from_settings(index.settings).answerer.retriever  # type: ignore[attr-defined]
    catalog = retriever.live_catalog()
    synthetic = [c for c in catalog.chunks.values() if str(c.metadata["doc_id"]).startswith("synthetic-7-")]
    assert len(catalog.chunks) == len(catalog.lexical.ids) == 55 and len(synthetic) == 40
    store = ChromaStore.connect(index.settings)
    assert store.count(store.require_live(retriever.index_key)) == 55
    assert {c.metadata["sample"] for c in synthetic} == {True}
    for chunk in synthetic[::8]:  # asked with its title (a tiny corpus recombines into many equal texts)
        question = f"{chunk.metadata['title']} {chunk.text}"
        assert chunk.chunk_id in [p.chunk_id for p in retriever.retrieve(question, k=8)], question


def test_synthetic_texts_and_vectors_are_seeded_and_close_to_their_source(tmp_path: Path, tiny_corpus: Path,
                                                                         e5: Embedder) -> None:
    import numpy as np

    from eval.scale import NOISE, IndexGrower, noised
    from indexer.loaders import load_paths

    settings = Settings.from_environ(_eval_env(tmp_path, tiny_corpus), threads=1)
    grower = IndexGrower(load_paths([tiny_corpus]).documents, e5, settings, seed=3)
    documents, sources = grower.synthetic(10)
    assert [d.body for d in documents] == [d.body for d in grower.synthetic(10)[0]]  # same seed, same texts
    chunks = [c for d in documents for c in grower.splitter.split(d)]
    assert len(chunks) == len(sources) == 10 and len(documents) == 3  # 4 + 4 + 2 sections
    for chunk, source in zip(chunks, sources, strict=True):
        assert chunk.doc_id.startswith("synthetic-3-") and chunk.section == (grower.chunks[source].section or "正文")
        assert chunk.metadata["title"].startswith(str(grower.chunks[source].metadata["title"]))
    vectors = noised(grower.vectors[sources], NOISE, seed=3)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * grower.vectors[sources]).sum(axis=1)
    assert np.all(cosine < 0.999) and np.all(np.abs(cosine - 1 / np.sqrt(1 + NOISE**2)) < 0.03)
    assert np.array_equal(vectors, noised(grower.vectors[sources], NOISE, seed=3))


def test_preset_embedder_hands_out_preset_vectors_and_embeds_the_rest(e5: Embedder) -> None:
    import numpy as np

    from eval.scale import PresetEmbedder

    preset = np.eye(2, e5.dim, dtype=np.float32)
    embedder = PresetEmbedder(e5, ["甲", "乙"], preset)
    out = embedder.encode(["乙", "身份证补领", "甲"], is_query=False)
    assert np.array_equal(out[0], preset[1]) and np.array_equal(out[2], preset[0])
    assert np.allclose(out[1], e5.encode(["身份证补领"], is_query=False)[0], atol=1e-5) and embedder.embedded == 1
    assert np.allclose(embedder.encode(["甲"], is_query=True), e5.encode(["甲"], is_query=True), atol=1e-5)  # queries: real
    assert embedder.key == e5.key
    titled = PresetEmbedder(e5, ["甲"], preset[:1], ["乙"], preset[1:])  # and preset query texts (titles)
    out = titled.encode(["乙", "甲"], is_query=True)
    assert np.array_equal(out[0], preset[1]) and np.allclose(out[1], e5.encode(["甲"], is_query=True)[0], atol=1e-5)
    assert titled.embedded == 0


def test_run_scores_what_the_citizen_reads_and_the_bare_answerer_still_works(tmp_path: Path, tiny_corpus: Path,
                                                                           e5: Embedder) -> None:
    from assistant.service import Assistant
    from eval.questions import load_questions
    from eval.runner import run_question, shown_text

    env = _eval_env(tmp_path, tiny_corpus)
    settings = Settings.from_environ(env, threads=1)
    index_corpus(settings, e5, tiny_corpus)
    assistant = Assistant.from_settings(settings)
    questions = load_questions(Path(env["ZHENGWU_EVAL_QUESTIONS"]))
    asked = [run_question(assistant, q) for q in questions]
    assert all(r.rewritten for r in asked)  # through the rewriter
    plain = assistant.ask(questions[0].question)
    assert plain.plain is not None and shown_text(plain) == plain.plain.text != plain.text  # the plain words are scored
    assert asked[0].answer == plain.plain.text and asked[0].facts_found == 1
    assert asked[2].refused and asked[2].facts_found == 0 and asked[2].passed
    bare = [run_question(assistant.answerer, q) for q in questions]  # a bare answerer scores the answer alone
    assert not any(r.rewritten for r in bare) and bare[0].answer == assistant.answerer.answer(questions[0].question).text
    assert [r.retrieved for r in bare] == [r.retrieved for r in asked]


def test_thresholds_scores_each_choice_as_run_counts_refusals(tmp_path: Path, tiny_corpus: Path) -> None:
    env = _eval_env(tmp_path, tiny_corpus)
    questions = Path(env["ZHENGWU_EVAL_QUESTIONS"])
    drone = {"id": "t-4", "need": "drone", "question": "买了个无人机，要去哪里登记", "style": "colloquial",
             "topic": "其他", "must_refuse": True}  # out of the corpus: refused by the evidence check itself
    questions.write_text(questions.read_text(encoding="utf-8") + json.dumps(drone, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    swept = runner.invoke(app, ["thresholds", "--split", "all", "--top", "3", "--json"], env=env)
    assert swept.exit_code == 0, swept.output
    figures = json.loads(swept.output.strip().splitlines()[-1])
    ran = runner.invoke(app, ["run", "--split", "all", "--json"], env=env)
    assert ran.exit_code == 0, ran.output
    summary = json.loads(ran.output.strip().splitlines()[-1])
    assert figures["n"] == 4 and (figures["current"]["refusal_accuracy"], figures["current"]["false_refusal"]) == (
        summary["refusal_accuracy"], summary["false_refusal"]) == (1.0, 0.0)
    assert len(figures["best"]) == 3 and all(b["errors"] == 0 for b in figures["best"])


def test_the_sweep_puts_the_fewest_errors_first_and_then_the_smallest_change() -> None:
    from assistant.answering import Evidence, Thresholds
    from eval.evidence import Case, score, sweep

    cases = [Case(True, Evidence(0.878, 0.5)),  # out of scope, but close and wordy: needs a floor above 0.878
             Case(False, Evidence(0.90, 0.5)), Case(False, Evidence(0.886, 0.5)),  # answerable: floor ≤ 0.886
             Case(True, None, refused_before=True), Case(False, None)]  # decided before the check
    lowered = score(cases, Thresholds(dense_floor=0.87, dense_weak=0.895))
    assert (lowered.refusal_accuracy, lowered.false_refusal, lowered.errors) == (0.5, 0.0, 1)
    best = sweep(cases, Thresholds(dense_floor=0.87, dense_weak=0.895), floors=np.arange(0.87, 0.901, 0.005),
                 weaks=np.array([0.895]), coverages=np.array([0.34]))
    assert best[0].errors == 0 and best[0].thresholds.dense_floor == 0.88  # the nearest floor that does it
    assert [o.errors for o in best] == sorted(o.errors for o in best)
    assert all(o.thresholds.dense_floor <= 0.886 for o in best if o.errors == 0)


def test_the_guides_of_an_expected_bundles_steps_support_its_checklist() -> None:
    from assistant.bundles import BundleGuide
    from eval.questions import EvalQuestion
    from eval.runner import supporting_docs

    guide = BundleGuide.from_corpus(Path(__file__).resolve().parents[1] / "corpus")
    event = EvalQuestion("q-x-01", "x", "刚生了孩子要办什么", "standard", "生育", expected_docs=("bundle-newborn",))
    supporting = supporting_docs(event, guide)
    assert {"bundle-newborn", "guide-newborn-hukou", "guide-social-security-card"} <= supporting
    assert "guide-marriage-registration" not in supporting  # not one of its steps
    matter = EvalQuestion("q-y-01", "y", "社保卡丢了怎么补", "standard", "社保卡", expected_docs=("guide-social-security-card",))
    assert supporting_docs(matter, guide) == {"guide-social-security-card"}  # a guide has no steps
    assert supporting_docs(event, None) == {"bundle-newborn"}  # no bundle guide: the expected documents only


def test_a_section_is_cited_by_its_name_or_as_an_article_after_its_chapter() -> None:
    from eval.runner import is_section

    assert is_section("申请材料", "申请材料") and is_section("第二章 申领和发放 第七条", "第七条")
    assert not is_section("第二章 申领和发放 第十七条", "第七条") and not is_section("收费标准", "申请材料")


def test_a_fact_counts_as_the_document_states_it_or_as_the_plain_rewriter_retells_it() -> None:
    from assistant.rewriter import PlainRewriter
    from eval.runner import fact_forms

    rewriter = PlainRewriter.load(Path(__file__).resolve().parents[1] / "corpus")
    assert fact_forms("个人不缴纳", rewriter) == ("个人不缴纳", "个人不交")
    assert fact_forms("40元", rewriter) == ("40元",)  # nothing to retell
    assert fact_forms("个人不缴纳", None) == ("个人不缴纳",)  # no plain rewriter ran: the document's words only


def test_scope_counts_what_the_rules_refuse_in_external_texts(tmp_path: Path) -> None:
    messages = tmp_path / "messages.jsonl"
    messages.write_text("".join(json.dumps({"id": i, "message": m}, ensure_ascii=False) + "\n" for i, m in enumerate([
        "我最近老是失眠，吃什么药好", "明天天气怎么样", "身份证丢了怎么补办", "宿州市的低保标准是多少", "", 7])),
        encoding="utf-8")
    result = runner.invoke(app, ["scope", "--data", f"{messages}:message", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["texts"] == 4  # the empty text and the number are left out
    assert figures["per_category"] == {"advice": 1, "chitchat": 1} and figures["flagged"] == 2  # other cities not counted
    with_cities = json.loads(runner.invoke(app, ["scope", "--data", f"{messages}:message", "--other-city", "--json"])
                             .stdout.strip().splitlines()[-1])
    assert with_cities["per_category"]["other_city"] == 1
    rules = tmp_path / "scope.yaml"
    rules.write_text("- category: chitchat\n  reason: 不属于政务咨询。\n  patterns: ['身份证']\n", encoding="utf-8")
    other = json.loads(runner.invoke(app, ["scope", "--data", f"{messages}:message", "--rules", str(rules), "--json"])
                       .stdout.strip().splitlines()[-1])
    assert other["per_category"] == {"chitchat": 1}  # another rules file, the same texts
    bad = runner.invoke(app, ["scope", "--data", str(messages)])  # no field named
    assert bad.exit_code == 1 and "PATH:FIELD" in bad.output


def test_batches_counts_refusals_by_kind_false_refusals_and_the_expected_document(tmp_path: Path, tiny_corpus: Path) -> None:
    env = _eval_env(tmp_path, tiny_corpus)
    rows = [
        {"q": "身份证丢了怎么补办", "expect": "居民身份证补领", "kind": "answerable", "style": "standard"},
        {"q": "身份证丢了怎么补办", "expect": "失业保险金申领", "kind": "answerable", "style": "standard"},  # another document
        {"q": "明天买哪只股票能涨", "expect": "REFUSE", "kind": "offscope", "style": "colloquial"},
    ]
    batch = tmp_path / "tiny.jsonl"
    batch.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["batches", "--data", str(batch), "--json"], env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])["tiny"]
    assert (figures["must_refuse"], figures["refusals"], figures["refusals_by_kind"]) == (1, 1, {"offscope": [1, 1]})
    assert (figures["answerable"], figures["false_refusals"], figures["expected_cited"]) == (2, 0, 1)
    assert figures["missed"] == ["身份证丢了怎么补办"]
    batch.write_text('{"q": "身份证丢了怎么补办"}\n', encoding="utf-8")  # no "expect"
    broken = runner.invoke(app, ["batches", "--data", str(batch)], env=env)
    assert broken.exit_code == 1 and "tiny.jsonl:1" in broken.output


def test_the_shipped_fresh_batches_load_and_name_only_corpus_titles() -> None:
    from eval.batches import load_batch

    root = Path(__file__).resolve().parents[1]
    titles = {line.split(":", 1)[1].strip() for path in (root / "corpus").rglob("*.md")
              for line in path.read_text(encoding="utf-8").splitlines()[:4] if line.startswith("title:")}
    batches = sorted((root / "eval" / "fresh").glob("*.jsonl"))
    questions = [q for path in batches for q in load_batch(path)]
    assert len(batches) == 4 and len(questions) == 320
    assert {q.expect for q in questions if not q.must_refuse} <= titles
