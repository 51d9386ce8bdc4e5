"""Typed pinyin in a question ("shenfenzheng丢了怎么补办", "ban huzhao要多少钱") back to Chinese
characters, so both the embedder and BM25 see words they know.

Vocabulary: the project's own words first (glossary terms and their plain wording, the standard
side of the dialect lexicon, split by jieba as well), then jieba's dictionary (words of 1–4
characters). Each word is keyed by its toneless pinyin (`pypinyin`, which reads polyphones in
context). A run of lower-case Latin letters (spaces allowed inside) is decoded by dynamic
programming over the keys, as a unigram language model: the segmentation with the highest product
of word probabilities wins (so fewer, longer words beat strings of particles; project words count
as very frequent). A run that does not decode completely (an English word, "app", "ETC") is left as
it was. The dictionary is read once, on the first question that holds Latin letters.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable

LATIN_RUN = re.compile(r"[a-z]+(?: +[a-z]+)*")
MAX_WORD_CHARS = 4
MIN_DICTIONARY_FREQ = 20  # jieba words rarer than this are not candidates
PROJECT_FREQ = 10**7  # project words beat the dictionary


class PinyinDecoder:
    """Toneless pinyin → the most likely Chinese words."""

    def __init__(self, project_words: Iterable[str] = ()) -> None:
        self._project_words = [w for w in dict.fromkeys(project_words) if _is_han(w)]
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
            decoded = self._decode_run(run.replace(" ", ""))
            if decoded is None:
                return run
            replaced.append((run, decoded))
            return decoded

        return LATIN_RUN.sub(substitute, text), tuple(replaced)

    def warm(self) -> None:
        """Read the dictionary now (a second or two) instead of on the first pinyin question."""
        self._vocabulary()

    def _decode_run(self, letters: str) -> str | None:
        if len(letters) < 2:
            return None
        keys = self._vocabulary()
        # best[i]: (score, words) for letters[:i]
        best: list[tuple[float, list[str]] | None] = [None] * (len(letters) + 1)
        best[0] = (0.0, [])
        for end in range(1, len(letters) + 1):
            for start in range(max(0, end - self._longest_key), end):
                previous = best[start]
                entry = keys.get(letters[start:end])
                if previous is None or entry is None:
                    continue
                word, log_p = entry
                score = previous[0] + log_p
                if best[end] is None or score > best[end][0]:  # type: ignore[index]
                    best[end] = (score, previous[1] + [word])
        final = best[len(letters)]
        return "".join(final[1]) if final else None

    def _vocabulary(self) -> dict[str, tuple[str, float]]:
        """toneless pinyin → (word, log unigram probability)."""
        if self._keys is None:
            with self._lock:
                if self._keys is None:
                    self._keys = self._build()
                    self._longest_key = max(map(len, self._keys), default=0)
        return self._keys

    def _build(self) -> dict[str, tuple[str, float]]:
        import jieba
        from pypinyin import lazy_pinyin

        from assistant.lexical import tokenize

        tokenize("")  # initialises jieba once, quietly
        keys: dict[str, tuple[str, float]] = {}
        total = math.log(jieba.dt.total)

        def offer(word: str, freq: float) -> None:
            key = "".join(lazy_pinyin(word))
            if not (key.isascii() and key.isalpha()):
                return
            log_p = math.log(freq) - total
            for spelling in {key, key.replace("lve", "lue").replace("nve", "nue")}:  # 略: people type lue
                current = keys.get(spelling)
                if current is None or log_p > current[1]:
                    keys[spelling] = (word, log_p)

        for word, freq in jieba.dt.FREQ.items():
            if freq >= MIN_DICTIONARY_FREQ and len(word) <= MAX_WORD_CHARS and _is_han(word):
                offer(word, freq)
        for phrase in self._project_words:
            for word in {phrase, *tokenize(phrase)}:
                if 2 <= len(word) <= 6 and _is_han(word):
                    offer(word, PROJECT_FREQ)
        return keys


def _is_han(word: str) -> bool:
    return bool(word) and all("\u4e00" <= char <= "\u9fff" for char in word)
