import pytest

from assistant.factcheck import check_facts, count_occurrences, extract_facts

GUIDE_TEXT = (
    "自提交《居民身份证申领登记表》之日起60日内发放；交通不便的地区可以适当延长，但延长不超过30日"
    "（《中华人民共和国居民身份证法》第十二条）。补领工本费40元。示例市政务服务中心（示例大道100号）一楼；"
    "咨询电话 000-6110 0001（示例数据），或拨打12345。详见 https://zwfw.shili.example/guide/idcard ，"
    "2025年1月1日起执行，缴存比例不低于5%，年满十六周岁的公民应当申领[1]。"
)
MATERIALS = """- 居民户口簿（在户籍地办理时提交；异地办理的无需提交）
- 本人近期免冠证件照片（窗口可现场采集）
- 16周岁以下的，由监护人陪同并出示监护人居民身份证"""


def kinds(text: str, heading: str = "") -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for fact in extract_facts(text, heading):
        found.setdefault(fact.kind, set()).add(fact.text)
    return found


def test_every_kind_of_fact_is_extracted() -> None:
    found = kinds(GUIDE_TEXT)
    assert found["title"] == {"《居民身份证申领登记表》", "《中华人民共和国居民身份证法》"}
    assert found["duration"] >= {"60日", "30日", "十六周岁"}
    assert found["article"] == {"第十二条"}
    assert found["amount"] == {"40元"}
    assert found["address"] == {"示例大道100号"}
    assert found["phone"] == {"000-6110 0001", "12345"}
    assert found["url"] == {"https://zwfw.shili.example/guide/idcard"}
    assert found["date"] == {"2025年1月1日"}
    assert found["percent"] == {"5%"}
    assert found["citation"] == {"[1]"}
    assert found["notice"] == {"示例数据"}


def test_material_names_are_facts_only_under_a_materials_heading() -> None:
    assert kinds(MATERIALS, "申请材料")["material"] == {"居民户口簿", "本人近期免冠证件照片", "16周岁以下的"}
    assert "material" not in kinds(MATERIALS, "办理流程")


def test_list_numbers_are_not_facts() -> None:
    facts = extract_facts("1. 到户政窗口申请；\n2. 缴纳工本费20元；\n10. 领取新证。")
    assert [f.text for f in facts] == ["20元"]


def test_a_faithful_rewrite_passes_and_a_plain_gloss_beside_a_fact_is_allowed() -> None:
    rewrite = GUIDE_TEXT.replace("60日内", "60日内（大约两个月）").replace("应当", "要")
    assert check_facts(GUIDE_TEXT, rewrite).passed
    assert check_facts("自受理之日起20个工作日内办结。", "从受理那天起20个工作日（大约一个月）内办完。").passed


def test_a_dropped_number_is_caught() -> None:
    result = check_facts(GUIDE_TEXT, GUIDE_TEXT.replace("但延长不超过30日", "但可以延长"))
    assert not result.passed and [f.text for f in result.missing] == ["30日"]


def test_an_altered_amount_is_caught() -> None:
    result = check_facts(GUIDE_TEXT, GUIDE_TEXT.replace("40元", "50元"))
    assert [f.text for f in result.missing] == ["40元"] and result.invented == ("50",)
    assert "40元" in result.describe()


def test_a_dropped_material_is_caught() -> None:
    dropped = "\n".join(line for line in MATERIALS.splitlines() if "户口簿" not in line)
    result = check_facts(MATERIALS, dropped, "申请材料")
    assert [f.text for f in result.missing] == ["居民户口簿"]
    renamed = MATERIALS.replace("居民户口簿", "户口本")
    assert [f.text for f in check_facts(MATERIALS, renamed, "申请材料").missing] == ["居民户口簿"]


@pytest.mark.parametrize("altered", ["000-6110 0002", "000-61100001", "000-6110-0001"])
def test_an_altered_phone_is_caught(altered: str) -> None:
    result = check_facts(GUIDE_TEXT, GUIDE_TEXT.replace("000-6110 0001", altered))
    assert [f.text for f in result.missing] == ["000-6110 0001"]


@pytest.mark.parametrize("original, altered", [
    ("《居民身份证申领登记表》", "《身份证申领登记表》"),
    ("第十二条", "第十一条"),
    ("https://zwfw.shili.example/guide/idcard", "https://zwfw.shili.example/guide/"),
    ("2025年1月1日", "2025年1月"),
    ("5%", "百分之五"),
    ("示例大道100号", "示例大道"),
    ("十六周岁", "16周岁"),  # a Chinese numeral counts only verbatim
    ("（示例数据）", ""),
    ("[1]", ""),
])
def test_every_kind_of_fact_must_stay_verbatim(original: str, altered: str) -> None:
    assert not check_facts(GUIDE_TEXT, GUIDE_TEXT.replace(original, altered)).passed


def test_numbers_match_whole_so_a_longer_number_does_not_hide_a_change() -> None:
    assert count_occurrences("60日", "160日和600日") == 0
    assert count_occurrences("60日", "60日内") == 1
    assert not check_facts("60日内发放", "600日内发放").passed
    assert not check_facts("六十日内发放", "一百六十日内发放").passed


def test_a_repeated_fact_must_keep_its_count() -> None:
    source = "到期换领工本费20元；首次申领工本费20元。"
    assert not check_facts(source, "到期换领工本费20元；首次申领免费。").passed


def test_an_invented_number_fails_unless_the_glossary_wording_carries_it() -> None:
    source = "未成年人由监护人陪同办理。"
    rewrite = "未成年人（不满18岁的孩子）由监护人陪同办理。"
    assert check_facts(source, rewrite).invented == ("18",)
    assert check_facts(source, rewrite, allowed_numbers={"18"}).passed
