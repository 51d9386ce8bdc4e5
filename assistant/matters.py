"""The matter a question names, and whether the sources an answer would rest on name it too.

People name what they ask about with a word before a service word: 育儿补贴, 收养登记, 高考报名,
烟草证, 残疾证. When none of the best sources holds that word, they are about something else,
however close they read (the corpus has 出生登记 and 婚姻登记 but nothing on 收养登记), and the
answer would be a guess: the answerer refuses. On the eval set's dev half (session 6, `python -m
eval run --split dev`) it took refusal accuracy from 0.824 to 0.956, false refusals unchanged.

People also name the thing itself: 护照, 驾驶证, 房租. When the corpus knows the thing (some of its
documents, but few, name it) and none of the best sources does, the sources are on a neighbouring
matter (the ID card's fee for a passport question) and the answer would mislead: the answerer
refuses too (`particular_things`). Words common in everyday speech (儿子, 时候, 老家) and words the
corpus never uses (孙女, 高铁) tell nothing about the matter and are passed over — unless the
project's own lexicons name the thing (`unknown_things`): 回乡证 is 港澳居民来往内地通行证 in the
dialect lexicon, 无犯罪记录证明 a glossary term, and a certificate, card or vehicle the lexicons
name that no document names is one the corpus cannot answer on, however close its neighbour reads
(往来港澳通行证 for 回乡证, 机动车 for 电动自行车). And a document that names such a thing by none
of its names is not the one to answer from (`unheld_things`: 驾照 is not in the ID card's renewal
FAQ).

And some matters the corpus does not cover at all are listed with the department that handles
them (`corpus/elsewhere.yaml`: 公租房, 商标, 中考 …): a question naming one that none of the best
sources names is on a matter handled elsewhere (`elsewhere_named`, `unheld_elsewhere`), however
close a neighbour reads (租房提取住房公积金 for 公租房), and the refusal names that department.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from assistant.lexical import everyday_rarity, sub_words, tagged_words, word_starts
from assistant.lexicon import ActEntry, ElsewhereEntry

SERVICE_WORDS = ("补贴", "津贴", "补助", "登记", "注册", "许可证", "许可", "报名", "执照", "资格", "备案", "认定", "考试", "证明",
                 "上牌", "牌照", "证")
# Words that stand before a service word without naming a matter ("办证", "需要登记", "提前报名").
NOT_MATTERS = frozenset("办 办理 申请 申领 领取 去 来 要 想 能 会 可以 需要 应该 得 该 有 没有 还有 提前 重新 再 不能 不要 不用 "
                        "能不能 要不要 可不可以 是不是 "
                        # asking whether, wanting, starting, not yet or just having done it ("能否登记",
                        # "想去登记", "开始报名", "未办理备案", "出具证明"; session 17, `eval asked-back`)
                        "能否 可否 是否 能够 想去 想要 打算 准备 开始 出具 未办理 没办 刚办 已经 "
                        "这个 那个 一个 相关 有关 个人 本人 自己 "
                        # handling a document, not naming one ("发现证找不着了", "需要提供证明")
                        "发现 找到 找不到 找不着 看到 拿到 收到 提供 出示 开具 拿 开 交 带 补 换 查".split())
# Parts of speech that never name a matter: pronouns (怎么, 哪里, 什么), adverbs, numerals,
# prepositions, conjunctions, particles, time and place words, direction words, idioms.
FUNCTION_TAGS = frozenset("r d df m mq q p c u uj ul uv uz ug y e o t tg f s l i z zg a ad an".split())
HAN = re.compile(r"[\u4e00-\u9fff]{2,}")
THING_TAGS = frozenset({"n", "nz"})  # nouns and proper nouns
# a place names where a matter is done, not the matter ("在广州登记结婚的" asks of marriage registration;
# other cities are `assistant.places`' to tell; session 23, a fresh batch's 粤语 question)
PLACE_TAG = "ns"
RARE_IN_SPEECH = 12.0  # `everyday_rarity` at least this: 护照 12.4, 医药费 13.6; 老家 11.4, 儿子 8.8
FEW_DOCUMENTS = 0.05  # a word in at most this share of the corpus's documents names a particular matter
QUESTION_WORDS = ("多", "几", "什么", "哪")  # 多长时间, 几时: asking, not naming
# what a lexicon name ends with when it names a thing one holds, drives or has (not an act: 认证, 登记);
# 证书 since session 22 (不动产权证书 asked of the driving licence's replacement FAQ)
THING_ENDINGS = ("证", "证书", "证明", "卡", "车", "病", "执照", "牌照")
ACT_WORDS = re.compile(r"^(申领|领取|考取|办理|申请|补办|补领|补发|换领|换发|出具|办|领)")  # 申领往来港澳通行证: the thing is 往来港澳通行证
MIN_DOCUMENTS = 20  # a smaller corpus says nothing about what it lacks
DIRECTIONS = "来去"  # what may end a word after an act (移出来)


def named_matters(text: str) -> list[str]:
    """The words that name what `text` asks about: the word before a service word (育儿 of
    育儿补贴; across 的, the act done to a thing, 收养 of 收养孩子的登记, or the thing), or the first
    part of a word that ends in one (残疾 of 残疾证). Only dictionary words that can name a thing or
    an act: not 怎么 (结婚怎么登记), not a guessed word (a typo)."""
    found: list[str] = []
    tokens = tagged_words(text)
    for i, (token, _, _) in enumerate(tokens):
        for service in SERVICE_WORDS:
            if token == service and i > 1 and tokens[i - 1][0] == "的":
                # "收养孩子的登记": the act before the thing names the matter; "孩子的登记": the thing
                act = i > 2 and tokens[i - 3][1].startswith("v") and tokens[i - 2][1].startswith("n")
                name, tag, known = tokens[i - 3] if act else tokens[i - 2]
            elif token == service and i > 0:
                name, tag, known = tokens[i - 1]
            elif token.endswith(service) and len(token) - len(service) >= 2:
                name, tag, known = token[: -len(service)], "n", True
            else:
                continue
            if (HAN.fullmatch(name) and known and tag not in FUNCTION_TAGS and tag != PLACE_TAG and name not in NOT_MATTERS
                    and not name.endswith(SERVICE_WORDS) and name not in found):  # 资格 of 资格认定 is no matter
                found.append(name)
            break
    return found


def unnamed(names: Iterable[str], sources: Iterable[str]) -> tuple[str, ...]:
    """The names no source text holds."""
    texts = list(sources)
    return tuple(name for name in names if not any(name in text for text in texts))


def particular_things(text: str, documents_naming: Callable[[str], int], documents: int) -> list[str]:
    """The nouns of `text` that name a particular thing the corpus knows: rare in everyday speech
    (`RARE_IN_SPEECH`) and named by at least one but at most `FEW_DOCUMENTS` of the corpus's
    `documents` documents (`documents_naming(word)` counts them; a corpus of fewer than 20 documents
    has no such word, and the check never refuses). Chosen on the eval set's dev half
    with every answerable question also asked with its own documents held out (`python -m eval
    holdout`, session 7): held-out refusals 15 → 37 of 222; `python -m eval run --split dev`
    unchanged once the reimbursement and marriage documents were tagged 医药费 and 领证 (3 and 1
    false refusals before). Words that name no matter (`NOT_MATTERS`: 刚办) and acts (`ACT_WORDS`:
    换发, and 办证, an act on no particular thing) are no things either, though jieba tags them
    nouns (session 18, `eval asked-back --split dev`: 32 -> 30 of 712 refused; `eval run --split
    dev` and `eval holdout --split dev` unchanged)."""
    found: list[str] = []
    for word, tag, known in tagged_words(text):
        if (known and tag in THING_TAGS and HAN.fullmatch(word) and not word.startswith(QUESTION_WORDS)
                and word not in NOT_MATTERS and len(ACT_WORDS.sub("", word)) >= 2
                and word not in found and everyday_rarity(word) >= RARE_IN_SPEECH
                and 1 <= documents_naming(word) <= FEW_DOCUMENTS * documents):
            found.append(word)
    return found


def unmentioned(words: Iterable[str], sources: Iterable[str]) -> tuple[str, ...]:
    """The words no source text holds, whole or as all of their shorter words (社会保险费 is held by
    a text with 社会, 保险 and 保险费)."""
    texts = list(sources)

    def held(word: str, text: str) -> bool:
        parts = sub_words(word)
        return word in text or bool(parts) and all(part in text for part in parts)

    return tuple(word for word in words if not any(held(word, text) for text in texts))


def lexicon_things(names: Iterable[str]) -> list[tuple[str, str]]:
    """The things among the lexicons' `names` in a question (`Query.names`), each as (name, thing):
    a name ending in `THING_ENDINGS` (not 认证), less a leading act (申领, 补办 …), of three or more
    characters (看病 and 开车 end alike and are no things)."""
    found: list[tuple[str, str]] = []
    for name in names:
        thing = ACT_WORDS.sub("", name)
        if (len(thing) >= 3 and thing.endswith(THING_ENDINGS) and not thing.endswith("认证")
                and thing not in (t for _, t in found)):
            found.append((name, thing))
    return found


def unknown_things(names: Iterable[str], documents_naming: Callable[[str], int], documents: int,
                   aliases: Callable[[str], Iterable[str]] = lambda name: ()) -> list[str]:
    """The things among the lexicons' `names` in a question (`lexicon_things`) that no document of
    the corpus names, by that name or by any of its `aliases` (准迁证 is 《准予迁入证明》 in the
    documents). Never with fewer than `MIN_DOCUMENTS` documents."""
    if documents < MIN_DOCUMENTS:
        return []
    return [thing for name, thing in lexicon_things(names)
            if documents_naming(thing) == 0
            and not any(len(alias) >= 2 and documents_naming(alias) for alias in aliases(name))]


def holds(text: str, name: str, aliases: Callable[[str], Iterable[str]] = lambda name: ()) -> bool:
    """Whether `text` holds the lexicon name `name`, by it or by another of its names (`aliases`:
    a text saying 准予迁入证明 holds 准迁证)."""
    return any(len(other) >= 2 and other in text for other in (name, *aliases(name)))


def unheld_things(names: Iterable[str], texts: Iterable[str],
                  aliases: Callable[[str], Iterable[str]] = lambda name: ()) -> list[str]:
    """The things among the lexicons' `names` in a question (`lexicon_things`) that none of `texts`
    holds by any of their names: 机动车驾驶证 (驾照, 驾驶证) in texts on the 居民身份证."""
    things = lexicon_things(names)
    if not things:
        return []
    held = list(texts)
    return [thing for name, thing in things if not any(thing in text or holds(text, name, aliases) for text in held)]


def elsewhere_named(text: str, entries: Iterable[ElsewhereEntry]) -> list[tuple[str, ElsewhereEntry]]:
    """The names of matters handled elsewhere (`corpus/elsewhere.yaml`) that `text` says, each as
    (name, entry): where a word of `text` begins (`word_starts`: 中考 is not in 集中考试), the
    longest where two overlap (公共租赁住房, not 租赁住房)."""
    said = sorted(((name, entry) for entry in entries for name in entry.names if name in text),
                  key=lambda pair: -len(pair[0]))
    if not said:
        return []
    starts = word_starts(text)
    taken: list[tuple[int, int]] = []
    found: list[tuple[str, ElsewhereEntry]] = []
    for name, entry in said:
        for match in re.finditer(re.escape(name), text):
            span = match.span()
            if span[0] in starts and not any(span[0] < end and start < span[1] for start, end in taken):
                taken.append(span)
                if (name, entry) not in found:
                    found.append((name, entry))
    return found


def unheld_elsewhere(named: Iterable[tuple[str, ElsewhereEntry]], sources: Iterable[str],
                     titles: Iterable[str] = ()) -> list[tuple[str, ElsewhereEntry]]:
    """Those of `named` (`elsewhere_named`) that no source text holds by that very name, and no
    source's `titles` (its matter's names) by any name of the entry. A title names what a document
    is on (a guide titled 养犬登记 is on the matter of 养犬证); a text may name things in passing (a
    law listing kinds of housing aid), so there only the name asked counts."""
    texts, named_titles = list(sources), list(titles)
    return [(name, entry) for name, entry in named
            if not any(name in text for text in texts)
            and not any(other in title for other in entry.names for title in named_titles)]


def acts_named(text: str, acts: Iterable[ActEntry]) -> list[ActEntry]:
    """The acts (`assistant/data/acts.yaml`) `text` names by one of their `asked` words, a whole word
    or words of it (`word_starts`: 续签 is not in 续签注, which is 续 / 签注; a direction may follow,
    移出来), not followed by one of the act's `not_before` words (补办审批手续 completes paperwork,
    it replaces nothing)."""
    said = [act for act in acts if any(word in text for word in act.asked)]
    if not said:  # most questions: no segmentation needed
        return []
    starts = word_starts(text) | {len(text)}

    def names(act: ActEntry) -> bool:
        return any(match.start() in starts and (match.end() in starts or text[match.end()] in DIRECTIONS)
                   and not any(text.startswith(other, match.end()) for other in act.not_before)
                   for word in act.asked for match in re.finditer(re.escape(word), text))

    return [act for act in said if names(act)]


def unheld_acts(named: Iterable[ActEntry], sources: Iterable[str]) -> list[str]:
    """The acts among `named` that no source text holds by any of their `held` words: 补发 asked of a
    guide on first issuance, which says nothing of 补发, 补领 or 遗失."""
    texts = list(sources)
    return [act.act for act in named if not any(word in text for word in act.held for text in texts)]
