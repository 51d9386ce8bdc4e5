import pytest

from assistant.privacy import BANK_CARD_MASK, EMAIL_MASK, ID_CARD_MASK, MOBILE_MASK, NAME_MASK, mask_pii


@pytest.mark.parametrize(("text", "secret", "mask"), [
    ("身份证号11010519491231002X丢了", "11010519491231002X", ID_CARD_MASK),
    ("身份证号11010519491231002x", "11010519491231002x", ID_CARD_MASK),
    ("老身份证110105491231002", "110105491231002", ID_CARD_MASK),
    ("手机13812345678", "13812345678", MOBILE_MASK),
    ("电话 +86 138-1234-5678 找我", "138-1234-5678", MOBILE_MASK),
    ("卡号6222021234567890123", "6222021234567890123", BANK_CARD_MASK),
    ("卡号 6222 0212 3456 7890", "6222 0212 3456 7890", BANK_CARD_MASK),
    ("邮箱 zhang.san@example.com", "zhang.san@example.com", EMAIL_MASK),
    ("我叫张三，想问社保", "张三", NAME_MASK),
    ("姓名：李小明", "李小明", NAME_MASK),
])
def test_personal_identifiers_are_masked(text: str, secret: str, mask: str) -> None:
    masked = mask_pii(text)
    assert secret not in masked and mask in masked


@pytest.mark.parametrize("text", [
    "咨询电话000-6123 4567，或拨打12345",
    "自受理之日起20个工作日内办结，工本费40元",
    "依据《居民身份证法》第十一条，2024年1月1日起施行",
    "本人携带身份证原件到窗口办理",
])
def test_public_facts_are_left_alone(text: str) -> None:
    assert mask_pii(text) == text
