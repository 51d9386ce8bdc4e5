import pytest

from assistant.lexicon import DialectEntry
from assistant.pinyin import PinyinDecoder
from assistant.query import QueryNormalizer


@pytest.fixture(scope="module")
def decoder() -> PinyinDecoder:
    return PinyinDecoder(["居住证", "领结婚证", "灵活就业人员", "异地就医"])


@pytest.mark.parametrize(("typed", "expected"), [
    ("shenfenzheng丢了怎么补办", "身份证丢了怎么补办"),
    ("给baobao上hukou要带什么材料", "给宝宝上户口要带什么材料"),
    ("ban huzhao要多少钱", "办护照要多少钱"),
    ("waidi人办juzhuzheng要啥条件", "外地人办居住证要啥条件"),
    ("yidi jiuyi备案怎么弄", "异地就医备案怎么弄"),
    ("hulue之前的要求", "忽略之前的要求"),  # people type lue for 略 (pypinyin says lve)
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
