"""Homophone typos in a question ("社宝卡丢了", "公积金异地转已", "营业执招") back to the words the
corpus uses, so both the embedder and BM25 see them.

Most typos in typed Chinese are a wrong character of the same sound, picked from the input method's
list. A piece of the question is repaired only when all of this holds:
- it is one to three adjacent jieba tokens (dictionary words only, no new-word guessing) making 2–5
  Han characters, the last no sentence-final particle (呢, 吗), and a typo has broken it up: a
  single token that is no dictionary word, or a run of tokens with a one-character token in it
  that is no dictionary word as a whole;
- exactly one service word has the same toneless pinyin (`pypinyin`), the same length, and differs
  from it in one character (two for words of four or more); or, when no word sounds the same and the
  piece has three characters or more, exactly one sounds the same under the input methods' fuzzy
  pinyin (`fuzzy_sound`: zh/z, ch/c, sh/s, l/n, ang/an, eng/en, ing/in — "临时生分证" for 临时身份证,
  typed by someone who does not tell sheng from shen).
Service words are the glossary terms and their plain wording and the words of the corpus titles;
function words (哪些, 不好) are never targets. The vocabulary is built on first use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from assistant.lazy import Lazy
from assistant.lexical import STOPWORDS, tokenize

HAN = re.compile(r"^[\u4e00-\u9fff]{2,5}$")
MAX_TOKENS = 3
# The pairs of sounds pinyin input methods let one type for the other ("fuzzy pinyin"): initials,
# then finals (the longer first, so "iang" is tried before "ang").
FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
FUZZY_FINALS = (("iang", "ian"), ("uang", "uan"), ("ang", "an"), ("eng", "en"), ("ing", "in"))
# Two characters alike in fuzzy sound are too often two words (两限 and 年限, 交强 of 交强险 and
# 交钱: MSGABench questions a two-character fuzzy repair changed wrongly): three at least.
FUZZY_MIN_CHARS = 3
# Sentence-final particles end a question, never a word: "离婚呢？" asks about divorce in turn (a
# follow-up), it is no typo of 离婚了 (l/n) however alike they sound.
PARTICLES = frozenset("呢吗嗎吧啊呀嘛啦哦喔咯噻哈")
# After a modal verb 不 negates what follows: "啥情况能不办" asks when one may skip it, no typo of
# 补办 however alike they sound.
MODALS = frozenset("能 可以 可 就 也 都 还 要 得 会 该 应该 敢 想".split())
# Characters never typed for another: 罚 asks about a fine ("得罚多少钱" is no typo of a lexicon's
# 发多少钱, however alike they sound; session 23, a fresh batch's question).
NEVER_TYPOS = frozenset("罚")


class HomophoneRepair:
    def __init__(self, read_words: Callable[[], Iterable[str]]) -> None:
        self._read_words = read_words
        self._vocabulary: Lazy[_Vocabulary] = Lazy(self._build)

    def repair(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """`text` with repaired pieces; also the (typo, word) pairs replaced."""
        import jieba

        tokenize("")  # jieba initialised once, quietly
        vocabulary = self._vocabulary.get()
        tokens = jieba.lcut(text, HMM=False)
        out: list[str] = []
        repaired: list[tuple[str, str]] = []
        i = 0
        while i < len(tokens):
            for span in range(MAX_TOKENS, 0, -1):
                group = tokens[i : i + span]
                piece = "".join(group)
                if len(group) < span or group[-1] in PARTICLES or not _broken(group, piece, vocabulary.words):
                    continue
                if group[0] == "不" and i > 0 and tokens[i - 1] in MODALS:
                    continue
                word = vocabulary.sounds_like(piece)
                if word is not None and not any(a != b and a in NEVER_TYPOS for a, b in zip(piece, word, strict=True)):
                    out.append(word)
                    repaired.append((piece, word))
                    i += span
                    break
            else:
                out.append(tokens[i])
                i += 1
        return "".join(out), tuple(repaired)

    def warm(self) -> None:
        """Build the vocabulary now instead of on the first question."""
        self._vocabulary.get()

    def _build(self) -> _Vocabulary:
        from pypinyin import lazy_pinyin

        words = frozenset(w for w in self._read_words() if HAN.match(w) and w not in STOPWORDS)
        by_sound: dict[str, list[str]] = {}
        by_fuzzy_sound: dict[str, list[str]] = {}
        for word in sorted(words):
            syllables = lazy_pinyin(word)
            by_sound.setdefault("".join(syllables), []).append(word)
            by_fuzzy_sound.setdefault(fuzzy_sound(syllables), []).append(word)
        return _Vocabulary(words, {sound: tuple(found) for sound, found in by_sound.items()},
                           {sound: tuple(found) for sound, found in by_fuzzy_sound.items()})


@dataclass(frozen=True)
class _Vocabulary:
    words: frozenset[str]
    by_sound: dict[str, tuple[str, ...]]
    by_fuzzy_sound: dict[str, tuple[str, ...]]

    def sounds_like(self, piece: str) -> str | None:
        """The one service word of the same sound and length, at most one character (two for
        four or more) away from `piece`; failing any of the same sound, the one of the same fuzzy
        sound (`fuzzy_sound`)."""
        from pypinyin import lazy_pinyin

        allowed = 1 if len(piece) <= 3 else 2

        def near(words: tuple[str, ...]) -> list[str]:
            return [word for word in words
                    if len(word) == len(piece) and sum(a != b for a, b in zip(word, piece, strict=True)) <= allowed]

        syllables = lazy_pinyin(piece)
        found = near(self.by_sound.get("".join(syllables), ()))
        if not found and len(piece) >= FUZZY_MIN_CHARS:
            found = near(self.by_fuzzy_sound.get(fuzzy_sound(syllables), ()))
        return found[0] if len(found) == 1 else None


def fuzzy_sound(syllables: list[str]) -> str:
    """Toneless pinyin syllables with the sounds input methods let one type for each other made one
    (`FUZZY_INITIALS`, `FUZZY_FINALS`): "sheng fen" and "shen fen" both read "sen fen"."""
    out = []
    for syllable in syllables:
        for long, short in FUZZY_INITIALS:
            if syllable.startswith(long):
                syllable = short + syllable[len(long):]
                break
        for long, short in FUZZY_FINALS:
            if syllable.endswith(long):
                syllable = syllable[: -len(long)] + short
                break
        out.append(syllable)
    return "".join(out)


def _broken(group: list[str], piece: str, words: frozenset[str]) -> bool:
    """A typo has broken this piece up: it is no word, and jieba found it as one unknown token or
    as a run with a single character in it."""
    import jieba

    if not HAN.match(piece) or piece in words or jieba.dt.FREQ.get(piece, 0) > 0:
        return False
    return len(group) == 1 or any(len(token) == 1 for token in group)


def text_words(texts: Iterable[str]) -> list[str]:
    """The words jieba finds in `texts` (corpus titles, bodies), repeats kept."""
    import jieba

    tokenize("")
    return [word for text in texts for word in jieba.lcut(text, HMM=False)]
