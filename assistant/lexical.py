"""Lexical retrieval: BM25 (`bm25s`) over jieba tokens.

Texts are tokenised with jieba's search mode (words and their sub-words), lower-cased, with
punctuation and a handful of function words dropped; Latin letters and digits stay as tokens, so
"20元", "60日" and form numbers still match.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from pathlib import Path
from types import ModuleType

import bm25s
import numpy as np

from assistant.errors import StoreError

STOPWORDS = frozenset(
    "的 了 和 与 及 或 是 在 有 就 都 也 还 要 吗 呢 吧 啊 呀 么 嘛 我 你 您 他 她 它 我们 你们 他们 这 那 这个 那个 "
    "一个 请问 一下 怎么 如何 什么 可以 能 能否 是否 需要 应当 应该 哪些 哪里 多少 为什么 怎样 办".split()
)
TOKEN_OK = re.compile(r"[\w\u4e00-\u9fff]")
_jieba_lock = threading.Lock()
_jieba_ready = False


def _jieba() -> ModuleType:
    import jieba

    global _jieba_ready
    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_ready = True
    return jieba


def tokenize(text: str) -> list[str]:
    """jieba search-mode tokens, without punctuation and stopwords."""
    tokens = []
    for token in _jieba().lcut_for_search(text.lower()):
        token = token.strip()
        if token and token not in STOPWORDS and TOKEN_OK.search(token):
            tokens.append(token)
    return tokens


def tagged_words(text: str) -> list[tuple[str, str, bool]]:
    """jieba's precise-mode words in order, each with its part of speech and whether jieba's
    dictionary holds it (a word jieba guessed is often a typo or a dialect word); nothing dropped."""
    jieba = _jieba()
    import jieba.posseg

    return [(w.word, w.flag, jieba.dt.FREQ.get(w.word, 0) > 0) for w in jieba.posseg.lcut(text)]


def word_starts(text: str) -> set[int]:
    """Where the words of `text` begin, by jieba's dictionary alone (no guessed words: "办狗证" is
    办 / 狗 / 证, not the guessed 办狗 / 证要)."""
    starts, at = set(), 0
    for word in _jieba().lcut(text, HMM=False):
        starts.add(at)
        at += len(word)
    return starts


def everyday_rarity(word: str) -> float:
    """How rare `word` is in everyday Chinese: the negative log of its share of jieba's dictionary
    counts (a word jieba does not count is as rare as can be)."""
    counts = _jieba().dt
    return math.log(counts.total / (counts.FREQ.get(word, 0) + 1))


def sub_words(word: str) -> list[str]:
    """The shorter dictionary words jieba's search mode finds inside `word` (社会保险 of 社会保险费)."""
    return [part for part in _jieba().lcut_for_search(word) if len(part) >= 2 and part != word]


class LexicalIndex:
    """BM25 over a fixed list of chunk ids."""

    def __init__(self, ids: list[str], model: bm25s.BM25) -> None:
        self.ids = ids
        self._model = model
        self._vocab: dict[str, int] = dict(model.vocab_dict)

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> LexicalIndex:
        if len(ids) != len(texts):
            raise ValueError(f"ids and texts differ in length: {len(ids)} != {len(texts)}")
        return cls.from_tokens(ids, [tokenize(t) for t in texts])

    @classmethod
    def from_tokens(cls, ids: list[str], tokens: list[list[str]]) -> LexicalIndex:
        """The index over texts already `tokenize`d (one token list per id): for rebuilding it
        with one text changed without tokenising the rest again (`Catalog.withholding`)."""
        if len(ids) != len(tokens):
            raise ValueError(f"ids and token lists differ in length: {len(ids)} != {len(tokens)}")
        model = bm25s.BM25()
        # An empty text still needs a token so bm25s keeps the rows aligned with ids.
        model.index([list(t) or ["\u2205"] for t in tokens] or [["\u2205"]], show_progress=False)
        return cls(list(ids), model)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The `k` best chunk ids with their BM25 scores (only chunks that share a term)."""
        if k < 1:
            raise ValueError(f"k must be greater than 0, got {k}")
        token_ids = [self._vocab[t] for t in tokenize(query) if t in self._vocab]
        if not token_ids or not self.ids:
            return []
        scores = np.asarray(self._model.get_scores_from_ids(token_ids), dtype=np.float32)
        k = min(k, len(self.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._model.save(str(folder / "bm25"), show_progress=False)
        (folder / "bm25_ids.json").write_text(json.dumps(self.ids), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        try:
            ids = json.loads((folder / "bm25_ids.json").read_text(encoding="utf-8"))
            model = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot load the BM25 index in {folder}: {exc}") from exc
        return cls(ids, model)
