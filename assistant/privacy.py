"""Masking personal data (ID-card, mobile and bank-card numbers, e-mail addresses, self-given names)
before anything is logged or stored.

`mask_pii` is applied at every place text leaves the request: feedback and tickets before they
are stored, questions before they are logged. Sample service phones (`000-6xxx xxxx`) and the
12345 hotline are not personal and stay as they are.
"""

from __future__ import annotations

import re

# 18-digit resident ID (last character may be X) and the old 15-digit form; not inside longer digit runs.
_ID_CARD = re.compile(r"(?<![0-9])(?:[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
                      r"|[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})(?![0-9Xx])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9])")
_BANK_CARD = re.compile(r"(?<![0-9])(?:\d[ -]?){15,18}\d(?![0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# "我叫张三" / "姓名：李四" / "本人王小明": two to four Han characters after a self-introduction.
_NAME = re.compile(r"(我叫|我的名字是|我的名字叫|姓名[:：]?|名字[:：]|本人是|联系人[:：]?)\s*([\u4e00-\u9fff]{2,4}?)"
                   r"(?=[，,。.；;、\s]|的|$|身份证|手机|电话|联系)")

ID_CARD_MASK = "[身份证号已隐藏]"
MOBILE_MASK = "[手机号已隐藏]"
BANK_CARD_MASK = "[银行卡号已隐藏]"
EMAIL_MASK = "[邮箱已隐藏]"
NAME_MASK = "[姓名已隐藏]"


def mask_pii(text: str) -> str:
    """Return `text` with personal identifiers replaced by bracketed placeholders."""
    text = _ID_CARD.sub(ID_CARD_MASK, text)
    text = _MOBILE.sub(MOBILE_MASK, text)
    text = _BANK_CARD.sub(BANK_CARD_MASK, text)
    text = _EMAIL.sub(EMAIL_MASK, text)
    return _NAME.sub(lambda m: m.group(1) + NAME_MASK, text)
