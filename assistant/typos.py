"""Homophone typos in a question ("社宝卡丢了", "公积金异地转已", "营业执招") back to the words the
corpus uses, so both the embedder and BM25 see them.

Most typos in typed Chinese are a wrong character of the same sound, picked from the input method's
list. A piece of the question is repaired only when all of this holds:
- it is one to three adjacent jieba tokens (dictionary words only, no new-word guessing) making 2–5
  Han characters, and a typo has broken it up: a single token that is no dictionary word, or a run
  of tokens with a one-character token in it that is no dictionary word as a whole;
- exactly one service word has the same toneless pinyin (`pypinyin`), the same length, and differs
  from it in one character (two for words of four or more).
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
                if len(group) < span or not _broken(group, piece, vocabulary.words):
                    continue
                word = vocabulary.sounds_like(piece)
                if word is not None:
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
        for word in sorted(words):
            by_sound.setdefault("".join(lazy_pinyin(word)), []).append(word)
        return _Vocabulary(words, {sound: tuple(found) for sound, found in by_sound.items()})


@dataclass(frozen=True)
class _Vocabulary:
    words: frozenset[str]
    by_sound: dict[str, tuple[str, ...]]

    def sounds_like(self, piece: str) -> str | None:
        """The one service word of the same sound and length, at most one character (two for
        four or more) away from `piece`."""
        from pypinyin import lazy_pinyin

        allowed = 1 if len(piece) <= 3 else 2
        found = [word for word in self.by_sound.get("".join(lazy_pinyin(piece)), ())
                 if len(word) == len(piece) and sum(a != b for a, b in zip(word, piece, strict=True)) <= allowed]
        return found[0] if len(found) == 1 else None


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
