"""Typed pinyin in a question ("shenfenzheng丢了怎么补办", "ban huzhao要多少钱") back to Chinese
characters, so both the embedder and BM25 see words they know.

Vocabulary: jieba's dictionary (every word of 1–6 characters it counts), the project's own words
(glossary terms and their plain wording, the standard side of the dialect lexicon) and, when
given, the words of the service's own texts (`read_domain_words`: the corpus titles and bodies).
Each word is keyed by its toneless pinyin, read as `pypinyin.lazy_pinyin` reads it (`_Spelling`).
A run of lower-case Latin letters (spaces allowed inside) is decoded by dynamic programming over
the keys, as a unigram language model with a cost per word: the segmentation with the highest sum
of log word probabilities, less `WORD_COST` a word, wins (so fewer, longer words beat strings of
short ones); a word that spans a typed space pays `SPACE_COST` for each ("ta shi" is 他是, not 踏实;
"shen fen zheng" is still 身份证). A word's probability mixes jieba's counts with the service's
texts' (`DOMAIN_WEIGHT`: 办 and 本市 as a government text uses them, not as a novel does). A whole
project phrase counts as very frequent (`PROJECT_FREQ`); the words jieba splits out of a project
phrase count as their probability times `DOMAIN_BOOST` (准驾 and 驾车 of 准驾车型 must not beat
私家车 by being counted like 准驾车型). A run that does not decode completely (an English word,
"app", "ETC") is left as it was. The vocabulary is built once, on the first question that holds
Latin letters (2–3 s, about 50 MiB).

Measured with `python -m eval pinyin` (eval/README.md).
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable

LATIN_RUN = re.compile(r"[a-z]+(?: +[a-z]+)*")
MAX_WORD_CHARS = 6
PROJECT_FREQ = 10**7  # a whole project phrase beats the dictionary
DOMAIN_BOOST = 10  # a word of a project phrase: its probability × this
DOMAIN_WEIGHT = 0.5  # the service's own texts' share of the mixed unigram model
# DOMAIN_WEIGHT, WORD_COST (nats a word) and SPACE_COST (nats for each typed space a word spans) were
# chosen on the MSGABench dev questions of `python -m eval pinyin`; DOMAIN_BOOST was not swept
WORD_COST = 6.0
SPACE_COST = 8.0
# How people ask a service for something: counted as project phrases, since jieba's counts put
# 浜 above 帮 and 茶 above 查 ("bang wo cha yixia" is 帮我查一下, which the personal-case rule must see)
REQUEST_PHRASES = ("帮我", "给我", "替我", "帮忙", "查一下", "查查", "看一下", "问一下", "请问")


class PinyinDecoder:
    """Toneless pinyin → the most likely Chinese words."""

    def __init__(self, project_words: Iterable[str] = (),
                 read_domain_words: Callable[[], Iterable[str]] | None = None) -> None:
        """`project_words`: glossary and lexicon phrases; `read_domain_words`: called once, when the
        vocabulary is built, for the running words of the service's own texts (the corpus titles and
        bodies, repeats and all: they are counted)."""
        self._project_words = [w for w in dict.fromkeys([*project_words, *REQUEST_PHRASES]) if _is_han(w)]
        self._read_domain_words = read_domain_words
        self._keys: dict[str, tuple[str, float]] | None = None
        self._longest_key = 0
        self._lock = threading.Lock()

    def decode(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """`text` with decodable pinyin runs replaced; also the (pinyin, characters) pairs replaced."""
        if not re.search(r"[a-z]", text):
            return text, ()
        replaced: list[tuple[str, str]] = []

        def substitute(match: re.Match[str]) -> str:
            run = match.group(0)
            decoded = self._decode_run(run)
            if decoded is None:
                return run
            replaced.append((run, decoded))
            return decoded

        return LATIN_RUN.sub(substitute, text), tuple(replaced)

    def warm(self) -> None:
        """Read the dictionary now (a second or two) instead of on the first pinyin question."""
        self._vocabulary()

    def _decode_run(self, run: str) -> str | None:
        letters = run.replace(" ", "")
        if len(letters) < 2:
            return None
        keys = self._vocabulary()
        # crossed[i]: the typed spaces before letters[i - 1] (so inside a word letters[start:end]:
        # crossed[end] - crossed[start + 1])
        spaces = set(itertools.accumulate(len(part) for part in run.split()))  # letters before each space
        crossed = list(itertools.accumulate((i - 1 in spaces for i in range(1, len(letters) + 1)), initial=0))
        # best[i]: (score, start, word) of the best decoding of letters[:i] whose last word is
        # letters[start:i], read back from the end
        best: list[tuple[float, int, str] | None] = [None] * (len(letters) + 1)
        best[0] = (0.0, 0, "")
        for end in range(1, len(letters) + 1):
            for start in range(max(0, end - self._longest_key), end):
                previous = best[start]
                entry = keys.get(letters[start:end])
                if previous is None or entry is None:
                    continue
                word, log_p = entry
                # a typed space inside a word: the boundary it denies
                score = previous[0] + log_p - WORD_COST - SPACE_COST * (crossed[end] - crossed[start + 1])
                current = best[end]
                if current is None or score > current[0]:
                    best[end] = (score, start, word)
        if best[len(letters)] is None:
            return None
        words: list[str] = []
        end = len(letters)
        while end > 0:
            _, end, word = best[end]  # type: ignore[misc]
            words.append(word)
        return "".join(reversed(words))

    def _vocabulary(self) -> dict[str, tuple[str, float]]:
        """toneless pinyin → (word, log unigram probability)."""
        if self._keys is None:
            with self._lock:
                if self._keys is None:
                    keys = self._build()
                    self._longest_key = max(map(len, keys), default=0)
                    self._keys = keys  # last: a reader that skips the lock sees both or neither
        return self._keys

    def _build(self) -> dict[str, tuple[str, float]]:
        import jieba

        from assistant.lexical import tokenize

        tokenize("")  # initialises jieba once, quietly
        spell, counts, total = _Spelling(), jieba.dt.FREQ, jieba.dt.total
        domain = Counter(w for w in (self._read_domain_words() if self._read_domain_words else ())
                         if len(w) <= MAX_WORD_CHARS and _is_han(w))
        domain_total = max(sum(domain.values()), 1)
        weight = DOMAIN_WEIGHT if domain else 0.0
        keys: dict[str, tuple[str, float]] = {}

        def probability(word: str) -> float:
            return (1 - weight) * counts.get(word, 0) / total + weight * domain[word] / domain_total

        def offer(word: str, p: float) -> None:
            key = spell(word)
            if not (key.isascii() and key.isalpha()):
                return
            log_p = math.log(p)
            spellings = (key, key.replace("lve", "lue").replace("nve", "nue")) if "ve" in key else (key,)
            for spelling in spellings:  # 略: people type lue
                current = keys.get(spelling)
                if current is None or log_p > current[1]:
                    keys[spelling] = (word, log_p)

        for word, freq in counts.items():
            if freq > 0 and len(word) <= MAX_WORD_CHARS and _is_han(word):
                offer(word, probability(word))
        for word in domain:
            offer(word, probability(word))
        for phrase in self._project_words:
            if 2 <= len(phrase) <= MAX_WORD_CHARS:
                offer(phrase, PROJECT_FREQ / total)
            for word in tokenize(phrase):
                if word != phrase and 2 <= len(word) <= MAX_WORD_CHARS and _is_han(word):
                    offer(word, max(probability(word), 1 / total) * DOMAIN_BOOST)
        return keys


class _Spelling:
    """A word's toneless pinyin as `pypinyin.lazy_pinyin` reads it — the longest phrases of its
    phrase dictionary from the left, else each character's first reading — several times faster,
    as each phrase and character is converted once (jieba's 350k words in about a second)."""

    def __init__(self) -> None:
        from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

        self._phrases, self._chars = PHRASES_DICT, PINYIN_DICT
        self._longest = max(map(len, PHRASES_DICT), default=1)
        self._spelled: dict[str, str] = {}  # phrase or character → toneless pinyin

    def __call__(self, word: str) -> str:
        out: list[str] = []
        start = 0
        while start < len(word):
            for end in range(min(len(word), start + self._longest), start + 1, -1):
                if word[start:end] in self._phrases:
                    break
            else:
                end = start + 1
            out.append(self._spell(word[start:end]))
            start = end
        return "".join(out)

    def _spell(self, piece: str) -> str:
        spelled = self._spelled.get(piece)
        if spelled is None:
            if len(piece) > 1:
                syllables = [readings[0] for readings in self._phrases[piece]]
            else:
                readings = self._chars.get(ord(piece))
                syllables = [readings.split(",")[0]] if readings else []
            spelled = "".join(map(self._toneless, syllables)) if syllables else piece
            self._spelled[piece] = spelled
        return spelled

    def _toneless(self, syllable: str) -> str:
        toneless = self._spelled.get(syllable)  # syllables are Latin, so never a piece
        if toneless is None:
            from pypinyin import Style
            from pypinyin.style import convert

            toneless = self._spelled[syllable] = convert(syllable, Style.NORMAL, strict=True)
        return toneless


def _is_han(word: str) -> bool:
    return bool(word) and all("\u4e00" <= char <= "\u9fff" for char in word)
