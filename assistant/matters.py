"""The matter a question names, and whether the sources an answer would rest on name it too.

People name what they ask about with a word before a service word: 育儿补贴, 收养登记, 高考报名,
烟草证, 残疾证. When none of the best sources holds that word, they are about something else,
however close they read (the corpus has 出生登记 and 婚姻登记 but nothing on 收养登记), and the
answer would be a guess: the answerer refuses. On the eval set's dev half (session 6, `python -m
eval run --split dev`) it took refusal accuracy from 0.824 to 0.956, false refusals unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from assistant.lexical import tagged_words

SERVICE_WORDS = ("补贴", "津贴", "补助", "登记", "许可证", "许可", "报名", "执照", "资格", "备案", "认定", "考试", "证明",
                 "上牌", "牌照", "证")
# Words that stand before a service word without naming a matter ("办证", "需要登记", "提前报名").
NOT_MATTERS = frozenset("办 办理 申请 申领 领取 去 来 要 想 能 会 可以 需要 应该 得 该 有 没有 还有 提前 重新 再 不能 不要 不用 "
                        "能不能 要不要 可不可以 是不是 "
                        "这个 那个 一个 相关 有关 个人 本人 自己".split())
# Parts of speech that never name a matter: pronouns (怎么, 哪里, 什么), adverbs, numerals,
# prepositions, conjunctions, particles, time and place words, direction words, idioms.
FUNCTION_TAGS = frozenset("r d df m mq q p c u uj ul uv uz ug y e o t tg f s l i z zg a ad an".split())
HAN = re.compile(r"[\u4e00-\u9fff]{2,}")


def named_matters(text: str) -> list[str]:
    """The words that name what `text` asks about: the word before a service word (育儿 of
    育儿补贴), or the first part of a word that ends in one (残疾 of 残疾证). Only dictionary words
    that can name a thing or an act: not 怎么 (结婚怎么登记), not a guessed word (a typo)."""
    found: list[str] = []
    tokens = tagged_words(text)
    for i, (token, _, _) in enumerate(tokens):
        for service in SERVICE_WORDS:
            if token == service and i > 0:
                name, tag, known = tokens[i - 1]
            elif token.endswith(service) and len(token) - len(service) >= 2:
                name, tag, known = token[: -len(service)], "n", True
            else:
                continue
            if (HAN.fullmatch(name) and known and tag not in FUNCTION_TAGS and name not in NOT_MATTERS
                    and not name.endswith(SERVICE_WORDS) and name not in found):  # 资格 of 资格认定 is no matter
                found.append(name)
            break
    return found


def unnamed(names: Iterable[str], sources: Iterable[str]) -> tuple[str, ...]:
    """The names no source text holds."""
    texts = list(sources)
    return tuple(name for name in names if not any(name in text for text in texts))
