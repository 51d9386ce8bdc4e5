import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.lexicon import DialectEntry
from assistant.pinyin import PinyinDecoder, _Spelling
from assistant.query import QueryNormalizer
from eval.datasets import in_split
from eval.pinyin import Figures, Questions, edit_distance, measure, read_questions, type_pinyin
from tests.conftest import ROOT

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def decoder() -> PinyinDecoder:
    return PinyinDecoder(["居住证", "领结婚证", "灵活就业人员", "异地就医"])


@pytest.fixture(scope="module")
def product_decoder() -> PinyinDecoder:
    """The decoder the product uses: built by create_normalizer over the shipped corpus's lexicons."""
    from assistant.service import create_normalizer

    decoder = create_normalizer(CORPUS).pinyin
    assert decoder is not None
    return decoder


@pytest.mark.parametrize(("typed", "expected"), [
    ("shenfenzheng丢了怎么补办", "身份证丢了怎么补办"),
    ("给baobao上hukou要带什么材料", "给宝宝上户口要带什么材料"),
    ("ban huzhao要多少钱", "办护照要多少钱"),
    ("waidi人办juzhuzheng要啥条件", "外地人办居住证要啥条件"),
    ("yidi jiuyi备案怎么弄", "异地就医备案怎么弄"),
    ("hulue之前的要求", "忽略之前的要求"),  # people type lue for 略 (pypinyin says lve)
    ("ta shi waidi ren", "他是外地人"),  # not 踏实: a typed space is a word boundary, as a rule
    ("shen fen zheng丢了", "身份证丢了"),  # … but not always
])
def test_typed_pinyin_becomes_characters(decoder: PinyinDecoder, typed: str, expected: str) -> None:
    text, replaced = decoder.decode(typed)
    assert text == expected
    assert replaced and all(pinyin.replace(" ", "").isalpha() for pinyin, _ in replaced)


def test_project_words_beat_the_dictionary(decoder: PinyinDecoder) -> None:
    assert decoder.decode("linghuo jiuye renyuan怎么交社保")[0] == "灵活就业人员怎么交社保"


@pytest.mark.parametrize("text", ["我的app打不开", "ETC怎么办", "pdf格式的申请表", "wifi密码", "a", "身份证丢了"])
def test_english_words_and_chinese_are_left_alone(decoder: PinyinDecoder, text: str) -> None:
    assert decoder.decode(text) == (text, ())


def test_normalizer_decodes_pinyin_before_the_dialect_lexicon(decoder: PinyinDecoder) -> None:
    normalizer = QueryNormalizer([DialectEntry("咋整", "怎么办", "东北话")], [], decoder)
    query = normalizer.normalize("shenfenzheng丢了咋整")
    assert query.text == "身份证丢了怎么办"
    assert query.original == "shenfenzheng丢了咋整"
    assert ("shenfenzheng", "身份证") in query.replaced


def test_normalizer_without_a_decoder_keeps_latin_letters() -> None:
    assert QueryNormalizer([], []).normalize("shenfenzheng丢了").text == "shenfenzheng丢了"


def test_the_words_of_a_project_phrase_do_not_count_as_the_phrase(product_decoder: PinyinDecoder) -> None:
    # 准驾车型 is a glossary term; its word 驾车 once counted like it, so 死 + 驾车 beat 私家车
    assert product_decoder.decode("五座的sijiache多久要nianjian一次")[0] == "五座的私家车多久要年检一次"
    assert product_decoder.decode("zhunjia chexing是什么")[0] == "准驾车型是什么"  # the whole phrase still wins


def test_a_word_rarer_than_its_homophone_comes_from_the_corpus_titles(product_decoder: PinyinDecoder) -> None:
    # 超市 (534) is rarer than 潮湿 (611) in jieba's counts; a corpus title (开小超市…) says otherwise
    assert product_decoder.decode("xiao chaoshi想卖xiangyan")[0] == "小超市想卖香烟"


def test_a_request_typed_in_pinyin_reads_as_a_request(decoder: PinyinDecoder) -> None:
    """jieba counts 浜 above 帮 and 茶 above 查: the request phrases count as project phrases, so the
    personal-case scope rule sees 帮我查一下."""
    from assistant.places import PlaceNames
    from assistant.scope import ScopeChecker

    text = decoder.decode("bang wo cha yixia我的shebao缴费jilu")[0]
    assert text == "帮我查一下我的社保缴费记录"
    verdict = ScopeChecker.load(places=PlaceNames.load()).check(text)
    assert verdict is not None and verdict.category == "personal_case"


@pytest.mark.parametrize("word", ["银行", "重庆", "长大", "绿色", "忽略", "一个", "行长", "音乐", "身份证", "朝阳区"])
def test_words_are_spelled_as_pypinyin_reads_them(word: str) -> None:
    from pypinyin import lazy_pinyin

    assert _Spelling()(word) == "".join(lazy_pinyin(word))


# `python -m eval pinyin`


def test_one_word_every_word_or_every_character_is_typed() -> None:
    question = "身份证丢了怎么补办"
    word = type_pinyin(question, "word")
    assert word is not None and (word.typed, word.chars) == ("shenfenzheng丢了怎么补办", 3)
    words = type_pinyin(question, "words")
    assert words is not None and (words.typed, words.chars) == ("shenfenzheng丢了zenmebuban", 7)
    every = type_pinyin(question, "all")
    assert every is not None and (every.typed, every.chars) == ("shenfenzhengdiulezenmebuban", 9)
    spaced = type_pinyin(question, "spaced")
    assert spaced is not None and (spaced.typed, spaced.chars) == ("shenfenzheng diu le zenme buban", 9)
    assert type_pinyin("我的身份证", "spaced").typed == "wo de shenfenzheng"
    assert type_pinyin("好", "word") is None


def test_decodings_are_scored_by_exact_match_and_characters() -> None:
    assert edit_distance("死驾车", "私家车") == 2 and edit_distance("abc", "abc") == 0 and edit_distance("", "ab") == 2
    typed = type_pinyin("私家车年检", "words")
    assert typed is not None
    figures = Figures()
    figures.add(typed, "死驾车年检", examples=1)
    figures.add(typed, "私家车 年检", examples=1)  # the spaces inside a run are dropped anyway
    figures.add(typed, "sijiache年检", examples=1)  # left undecoded: no character counted, never below 0
    assert figures.as_json() == {"n": 3, "exact": 0.3333, "char_accuracy": 0.5333, "undecoded": 0.3333, "typed_chars": 15}
    assert figures.wrong == [(typed.typed, "死驾车年检")]


def test_the_dev_split_is_read_when_rows_have_ids(tmp_path: Path) -> None:
    ids = [f"q-{n}" for n in range(40)]
    rows = [{"id": i, "question": f"第{n}个身份证丢了怎么补办"} for n, i in enumerate(ids)]
    rows += [{"id": "q-x", "question": "app打不开"}, {"id": "q-y", "question": 7}]  # Latin letters; no text
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    questions = read_questions(f"{data}:question", limit=100)
    dev = {r["question"] for r in rows[:40] if in_split(str(r["id"]), "dev")}
    assert questions.split == "dev" and set(questions.texts) == dev and 0 < len(dev) < 40
    assert read_questions(str(data), limit=100).texts == questions.texts  # the field is question by default
    assert read_questions(str(data), limit=3).texts == questions.texts[:3]
    no_ids = tmp_path / "plain.jsonl"
    no_ids.write_text(json.dumps({"text": "身份证丢了"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_questions(f"{no_ids}:text", limit=10) == Questions(f"{no_ids}:text", "all", ["身份证丢了"])


def test_measure_scores_every_variant_per_source(decoder: PinyinDecoder) -> None:
    source = Questions("inline:question", "dev", ["身份证丢了怎么补办", "外地人办居住证要啥条件"])
    report = measure(decoder, [source])
    word = report.overall["word"]
    assert (word.n, word.exact, word.undecoded) == (2, 2, 0)  # shenfenzheng, juzhuzheng
    assert set(report.per_source["inline:question"]) == {"word", "words", "all", "spaced"}
    figures = report.as_json()
    assert figures["overall"]["word"]["exact"] == 1.0 and figures["sources"][0]["questions"] == 2


def test_the_eval_command_prints_the_figures_as_json(tmp_path: Path) -> None:
    from eval.__main__ import app

    data = tmp_path / "qa.jsonl"
    data.write_text(json.dumps({"question": "身份证丢了怎么补办"}, ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["pinyin", "--data", str(data), "--json"], env={"ZHENGWU_CORPUS_DIR": str(CORPUS)})
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["sources"][0]["split"] == "all" and figures["overall"]["word"] == {
        "n": 1, "exact": 1.0, "char_accuracy": 1.0, "undecoded": 0.0, "typed_chars": 3}


def test_pypinyin_is_imported_whole_before_the_normaliser_s_warm_threads_start() -> None:
    """The pinyin decoder's and the typo repairer's warm threads import pypinyin by two ways in
    (`pypinyin.constants` and the package), which import each other: two threads doing it first at
    once can see a half-initialised module (an ImportError seen in a fresh clone's `zhengwu ask`).
    `create_normalizer` imports it in its own thread before starting them; checked in a fresh
    interpreter, where nothing has imported pypinyin yet."""
    script = """
import sys, threading
from pathlib import Path
assert "pypinyin" not in sys.modules
seen = []
start = threading.Thread.start
def recording(self):
    module = sys.modules.get("pypinyin")
    seen.append((self.name, module is not None and hasattr(module, "lazy_pinyin")))
    start(self)
threading.Thread.start = recording
from assistant.service import create_normalizer
create_normalizer(Path(sys.argv[1]))
print(sorted(pair for pair in seen if pair[0].endswith("-warm")))
"""
    done = subprocess.run([sys.executable, "-c", script, str(ROOT / "corpus")], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[('pinyin-warm', True), ('typos-warm', True)]"
