"""The learned ranker: its features, its fit, the bundled weights and the command that fits them."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from assistant.errors import ConfigError
from assistant.ranker import BUNDLED_RANKER, FEATURES, MISSING_RANK, Candidate, LearnedRanker, describe, expand, terms
from assistant.service import load_ranker
from assistant.settings import Settings
from eval.__main__ import app
from eval.datasets import in_split

QUESTION = "中小微企业房租减免几个月"
COVERING = Candidate("a", "对受疫情影响的中小微企业减免三个月房租。", dense=0.80, lexical=None)
UNRELATED = Candidate("b", "疫情期间社保费可以缓缴，缓缴期限最长六个月。", dense=0.82, lexical=3.0)
PARTLY = Candidate("c", "企业可以申请房租补贴。", dense=None, lexical=5.0)


def column(matrix: np.ndarray, name: str) -> np.ndarray:
    return matrix[:, FEATURES.index(name)]


def test_features_measure_how_much_of_the_question_a_candidate_covers() -> None:
    matrix = describe(QUESTION, [COVERING, UNRELATED, PARTLY])
    assert matrix.shape == (3, len(FEATURES)) and np.isfinite(matrix).all()
    bigrams = column(matrix, "bigram_cover")
    assert bigrams[0] > bigrams[2] > bigrams[1]
    assert column(matrix, "term_cover")[0] > column(matrix, "term_cover")[1]
    assert column(matrix, "bigram_gap")[0] == 0.0 and column(matrix, "bigram_gap")[1] < 0


def test_features_stay_finite_on_degenerate_candidates() -> None:
    cases = [
        ("", [COVERING]),
        ("？？！", [COVERING, UNRELATED]),
        (QUESTION, [Candidate("x", "", dense=0.5, lexical=None)]),
        (QUESTION, [Candidate("x", "同样", dense=0.5), Candidate("y", "同样", dense=0.5)]),  # no lexical side, equal scores
        (QUESTION, [Candidate("x", "只有词", lexical=2.0), Candidate("y", "只有词", lexical=2.0)]),  # no dense side
    ]
    for question, candidates in cases:
        matrix = describe(question, candidates)
        assert matrix.shape == (len(candidates), len(FEATURES)) and np.isfinite(matrix).all(), question


def test_latin_terms_count_whatever_their_case() -> None:
    matrix = describe("ETC卡怎么办理", [Candidate("x", "办理etc卡需要行驶证", dense=0.8), Candidate("y", "行驶证", dense=0.8)])
    assert column(matrix, "term_cover")[0] > column(matrix, "term_cover")[1]


def test_a_side_that_missed_a_candidate_gives_it_its_floor_and_the_missing_rank() -> None:
    matrix = describe(QUESTION, [COVERING, UNRELATED, PARTLY])
    assert column(matrix, "dense")[2] == 0.80  # the lowest cosine the dense side returned
    assert column(matrix, "dense_rank").tolist() == [0.5, 1.0, 1 / (1 + MISSING_RANK)]
    assert column(matrix, "lexical_rank").tolist() == [1 / (1 + MISSING_RANK), 0.5, 1.0]
    assert column(matrix, "lexical_share")[2] == pytest.approx(1.0) and column(matrix, "lexical_share")[0] == 0.0
    assert describe(QUESTION, []).shape == (0, len(FEATURES))


def test_the_bundled_ranker_was_fitted_on_dev_splits_and_puts_the_covering_chunk_first() -> None:
    ranker = LearnedRanker.load()
    assert all("dev split" in where for where in ranker.provenance["fitted_on"].values())
    ranked = ranker.rank(QUESTION, [UNRELATED, PARTLY, COVERING])
    assert [chunk_id for chunk_id, _ in ranked][0] == "a"  # though its cosine is lower and BM25 missed it
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)


def test_fitting_learns_which_feature_marks_the_answer() -> None:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(400, len(FEATURES)))
    labels = (features[:, FEATURES.index("char_cover")] > 0.5).astype(int)
    ranker = LearnedRanker.fit(features, labels, provenance={"fitted_on": {"synthetic": "dev split"}}, degree=1)
    strongest = FEATURES[int(np.argmax(np.abs(ranker.weights)))]
    assert strongest == "char_cover" and ranker.weights[FEATURES.index("char_cover")] > 0
    with pytest.raises(ValueError, match="both relevant and irrelevant"):
        LearnedRanker.fit(features, np.zeros(400, dtype=int))
    with pytest.raises(ValueError, match="one label per row"):
        LearnedRanker.fit(features[:, :3], labels)


def test_the_quadratic_ranker_learns_what_a_pair_of_features_says_together() -> None:
    rng = np.random.default_rng(11)
    features = rng.normal(size=(2000, len(FEATURES)))
    dense, cover = features[:, FEATURES.index("dense")], features[:, FEATURES.index("char_cover")]
    labels = (dense * cover > 0.3).astype(int)  # relevant when both are high or both are low: no line separates it
    linear = LearnedRanker.fit(features, labels, degree=1)
    quadratic = LearnedRanker.fit(features, labels, degree=2)
    assert quadratic.degree == 2 and len(quadratic.weights) == len(terms(2)) == len(FEATURES) * (len(FEATURES) + 3) // 2

    def accuracy(ranker: LearnedRanker) -> float:
        return float(((ranker.score(features) > 0.5) == labels).mean())

    assert accuracy(quadratic) > 0.9 > 0.75 > accuracy(linear)
    strongest = terms(2)[int(np.argmax(np.abs(quadratic.weights)))]
    assert strongest == "dense*char_cover"
    # beyond what the fit saw, a feature counts as the edge it saw (no runaway squares)
    assert quadratic.low == tuple(features.min(axis=0)) and quadratic.high == tuple(features.max(axis=0))
    squared = max(range(len(FEATURES)), key=lambda i: abs(quadratic.weights[terms(2).index(f"{FEATURES[i]}*{FEATURES[i]}")]))
    at_edge, beyond = features[:1].copy(), features[:1].copy()
    at_edge[0, squared] = quadratic.high[squared]
    beyond[0, squared] = quadratic.high[squared] + 3 * quadratic.scale[squared]
    assert quadratic.score(beyond)[0] == quadratic.score(at_edge)[0]
    standardised = (beyond - np.asarray(quadratic.center)) / np.asarray(quadratic.scale)
    unclipped = 1 / (1 + np.exp(-(expand(standardised, 2) @ np.asarray(quadratic.weights) + quadratic.intercept)))
    assert abs(unclipped[0] - quadratic.score(at_edge)[0]) > 1e-3  # the clip is what made them equal


def test_saved_weights_load_back_and_bad_files_are_config_errors(tmp_path: Path) -> None:
    ranker = LearnedRanker.load()
    ranker.save(tmp_path / "ranker.json")
    again = LearnedRanker.load(tmp_path / "ranker.json")
    assert again == ranker and ranker.degree == 2
    assert len(ranker.center) == len(ranker.scale) == len(ranker.low) == len(ranker.high) == len(FEATURES)
    features = describe(QUESTION, [COVERING, UNRELATED, PARTLY])
    assert again.score(features).tolist() == ranker.score(features).tolist()
    older = {"weights": dict(zip(FEATURES, [0.5] * len(FEATURES), strict=True)), "intercept": -1.0}  # linear, raw features
    (tmp_path / "older.json").write_text(json.dumps(older), encoding="utf-8")
    linear = LearnedRanker.load(tmp_path / "older.json")
    assert linear.degree == 1 and linear.center == linear.scale == linear.low == linear.high == ()
    assert linear.score(features) == pytest.approx(1 / (1 + np.exp(-(features.sum(axis=1) * 0.5 - 1.0))))
    broken = json.loads(BUNDLED_RANKER.read_text(encoding="utf-8"))
    del broken["weights"]["bigram_cover"]
    (tmp_path / "short.json").write_text(json.dumps(broken), encoding="utf-8")
    for name, text in (("short.json", None), ("junk.json", "{not json"), ("nan.json", None)):
        if text is not None:
            (tmp_path / name).write_text(text, encoding="utf-8")
        if name == "nan.json":
            payload = json.loads(BUNDLED_RANKER.read_text(encoding="utf-8"))
            payload["intercept"] = float("nan")
            (tmp_path / name).write_text(json.dumps(payload), encoding="utf-8")
        with pytest.raises(ConfigError):
            LearnedRanker.load(tmp_path / name)
    with pytest.raises(ConfigError):
        LearnedRanker.load(tmp_path / "missing.json")
    payload = json.loads(BUNDLED_RANKER.read_text(encoding="utf-8"))
    payload["weights"]["dense"] = True  # a boolean is not a weight
    (tmp_path / "bool.json").write_text(json.dumps(payload), encoding="utf-8")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    bundled = json.loads(BUNDLED_RANKER.read_text(encoding="utf-8"))
    without_bounds = {k: v for k, v in bundled.items() if k not in ("low", "high")}
    cases = {
        "degree3.json": ({"degree": 3}, "degree must be 1 or 2"),
        "degree-bool.json": ({"degree": True}, "degree must be 1 or 2"),
        "degree-float.json": ({"degree": 2.0}, "degree must be 1 or 2"),
        "degree1.json": ({"degree": 1}, "has unknown"),  # quadratic terms named, degree 1 said
        "center.json": ({"center": {"dense": 0.1}}, "center lacks"),
        "center-list.json": ({"center": [0.1] * len(FEATURES)}, "center must map names to numbers"),
        "scale.json": ({"scale": dict.fromkeys(FEATURES, 0.0)}, "scales must be positive"),
        "bounds.json": ({"low": dict.fromkeys(FEATURES, 1.0), "high": dict.fromkeys(FEATURES, 0.0)}, "must not exceed"),
        "huge.json": ({"intercept": 10 ** 400}, "cannot read the ranker"),  # too large for a float
    }
    for name, (change, message) in cases.items():
        (tmp_path / name).write_text(json.dumps(bundled | change), encoding="utf-8")
    (tmp_path / "unbounded.json").write_text(json.dumps(without_bounds), encoding="utf-8")
    cases["unbounded.json"] = ({}, "a quadratic one all")  # quadratic without its ranges: never clipped
    for name, (_, message) in cases.items():
        with pytest.raises(ConfigError, match=message):
            LearnedRanker.load(tmp_path / name)
    for name in ("bool.json", "deep.json"):
        with pytest.raises(ConfigError, match="cannot read the ranker"):
            LearnedRanker.load(tmp_path / name)
    with pytest.raises(ConfigError, match="degree must be 1 or 2"):
        LearnedRanker(tuple(ranker.weights[:len(FEATURES)]), 0.0, degree=True)  # type: ignore[arg-type]


def test_settings_choose_the_ranker_and_refuse_one_fitted_on_another_embedder(tmp_path: Path,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    assert load_ranker(Settings.from_environ({"ZHENGWU_FUSION": "rrf"})) is None
    bundled = load_ranker(Settings.from_environ({"ZHENGWU_RANKER_FILE": ""}))  # empty means unset: the bundled one
    assert bundled is not None and bundled.weights == LearnedRanker.load().weights and bundled.embedder == "e5"
    assert load_ranker(Settings.from_environ({"ZHENGWU_EMBEDDER": "use"})) is None
    assert "fitted on e5, not use" in caplog.text
    replace(bundled, provenance={"embedder": "use"}).save(tmp_path / "use.json")
    own = load_ranker(Settings.from_environ({"ZHENGWU_EMBEDDER": "use", "ZHENGWU_RANKER_FILE": str(tmp_path / "use.json")}))
    assert own is not None and own.embedder == "use"
    assert load_ranker(Settings.from_environ({"ZHENGWU_SECOND_EMBEDDER": "use"})) is None  # three lists: rank fusion
    assert "rank fusion of three lists" in caplog.text
    assert Settings.from_environ({"ZHENGWU_SECOND_EMBEDDER": ""}).second_embedder is None
    with pytest.raises(ConfigError, match="ZHENGWU_FUSION"):
        Settings.from_environ({"ZHENGWU_FUSION": "borda"})


MSGA = [
    ("身份证丢了怎么补办", "居民身份证丢失的，带户口簿到派出所户政窗口申请补领，工本费40元。"),
    ("失业金怎么领", "失业人员办理失业登记后，可以按月领取失业保险金。"),
    ("新车怎么上牌", "新车上牌需要到车管所办理机动车注册登记，带购车发票和交强险凭证。"),
    ("结婚登记要带什么", "结婚登记双方带居民身份证到婚姻登记机关办理。"),
    ("公积金租房能提取吗", "租房可以提取住房公积金，按月或按年提取。"),
    ("护照怎么办", "申请普通护照，到出入境管理窗口提交身份证并采集指纹。"),
    ("养狗要登记吗", "个人饲养犬只应当到畜牧兽医部门办理养犬登记并免疫。"),
    ("社保卡丢了怎么办", "社保卡丢失后先挂失，再到经办机构补办，补卡免费。"),
]
NCP_DOCS = {"d1": "为支持企业复工复产，对受疫情影响的中小微企业减免三个月房租。承租国有房产的个体工商户同样适用。",
            "d2": "疫情期间社保费可以缓缴，缓缴期限最长六个月。缓缴期间不收滞纳金。"}
NCP_QUESTIONS = [("中小微企业房租减免几个月", "d1", "减免三个月房租"), ("个体工商户能减房租吗", "d1", "个体工商户同样适用"),
                 ("社保费缓缴最长多久", "d2", "最长六个月"), ("缓缴社保有滞纳金吗", "d2", "不收滞纳金"),
                 ("复工复产房租有什么优惠", "d1", "减免三个月房租"), ("疫情期间社保能晚点交吗", "d2", "社保费可以缓缴")]


def write_benchmarks(tmp_path: Path) -> tuple[Path, Path]:
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps({"id": f"m{n}", "question": q, "answer": a}, ensure_ascii=False) + "\n"
                          for n, (q, a) in enumerate(MSGA)), encoding="utf-8")
    ncp = tmp_path / "ncp"
    ncp.mkdir()
    (ncp / "corpus_subset_599docs.jsonl").write_text(
        "".join(json.dumps({"docid": d, "text": t}, ensure_ascii=False) + "\n" for d, t in NCP_DOCS.items()), encoding="utf-8")
    (ncp / "eval_questions_on_subset.jsonl").write_text("".join(
        json.dumps({"qid": f"ncp-{n}", "question": q, "relevant_docid": d, "answer": a}, ensure_ascii=False) + "\n"
        for n, (q, d, a) in enumerate(NCP_QUESTIONS)), encoding="utf-8")
    return qa, ncp


def test_fit_ranker_reads_only_dev_questions_and_writes_weights_that_load(tmp_path: Path) -> None:
    qa, ncp = write_benchmarks(tmp_path)
    out = tmp_path / "ranker.json"
    result = CliRunner().invoke(app, ["fit-ranker", "--msgabench", str(qa), "--ncp", str(ncp), "--out", str(out), "--json"],
                                env={"ZHENGWU_DATA_DIR": str(tmp_path / "data"), "ZHENGWU_EMBEDDER": "use"})
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])["figures"]
    dev_msga = sum(in_split(f"m{n}", "dev") for n in range(len(MSGA)))
    dev_ncp = sum(in_split(f"ncp-{n}", "dev") for n in range(len(NCP_QUESTIONS)))
    assert dev_msga < len(MSGA) and dev_ncp < len(NCP_QUESTIONS)  # each file has test questions to leave out
    assert figures["msgabench"]["n"] == dev_msga and figures["ncp"]["n"] == dev_ncp  # the test split is never read
    assert set(figures["ncp"]) == {"n", "fusion", "linear", "quadratic"} and "span@5" in figures["ncp"]["quadratic"]
    ranker = LearnedRanker.load(out)
    assert ranker.degree == 2 and ranker.provenance["degree"] == 2  # the default written
    linear = CliRunner().invoke(app, ["fit-ranker", "--msgabench", str(qa), "--ncp", str(ncp), "--out",
                                      str(tmp_path / "linear.json"), "--degree", "1", "--json"],
                                env={"ZHENGWU_DATA_DIR": str(tmp_path / "data"), "ZHENGWU_EMBEDDER": "use"})
    assert linear.exit_code == 0, linear.output
    assert "linear (written)" in linear.output and LearnedRanker.load(tmp_path / "linear.json").degree == 1
    assert ranker.provenance["fitted_on"]["msgabench"] == f"dev split ({dev_msga} questions)"
    assert ranker.provenance["embedder"] == "use" and ranker.provenance["cross_validated"] == figures
