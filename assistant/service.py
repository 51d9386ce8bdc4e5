"""The one place that wires the steps together. The CLI, the API, the WeChat bot and the web page
are thin faces over `Assistant`."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from assistant.answer import Answer, Rewrite, RewriteOptions
from assistant.answering import ExtractiveAnswerer, Thresholds
from assistant.bundles import BundleGuide
from assistant.embedders import Embedders
from assistant.lazy import Lazy
from assistant.lexicon import load_acts, load_dialect, load_elsewhere, load_glossary
from assistant.llm import LlmAnswerer, create_chat_model, load_prompt
from assistant.llm_rewriter import LlmRewriter
from assistant.pinyin import PinyinDecoder
from assistant.query import QueryNormalizer
from assistant.fusion import DEFAULT_WEIGHTS
from assistant.ranker import BUNDLED_RANKER, LearnedRanker
from assistant.ranker import warm as warm_ranker
from assistant.retrieval import HybridRetriever
from assistant.rewriter import PlainRewriter
from assistant.places import PlaceNames
from assistant.scope import ScopeChecker
from assistant.settings import Settings
from assistant.store import ChromaStore
from assistant.titles import TitleVectors
from assistant.typos import HomophoneRepair, text_words
from indexer.loaders import load_paths

log = logging.getLogger("zhengwu.service")


def load_ranker(settings: Settings) -> LearnedRanker | None:
    """The learned ranker the settings ask for: None with `fusion=rrf`, and None (rank fusion, with a
    warning) when its weights were fitted on another embedder's cosines or a second embedder adds a
    list it never saw. Loads jieba's IDF table in the background."""
    if settings.fusion != "learned":
        return None
    if settings.second_embedder:
        log.warning("a second embedder (%s) is set: rank fusion of three lists instead of the learned ranker, "
                    "which scores one dense side", settings.second_embedder)
        return None
    ranker = LearnedRanker.load(settings.ranker_file or BUNDLED_RANKER)
    if ranker.embedder != settings.embedder:
        log.warning("the learned ranker was fitted on %s, not %s: using rank fusion "
                    "(fit one with `python -m eval fit-ranker`)", ranker.embedder, settings.embedder)
        return None
    threading.Thread(target=warm_ranker, name="ranker-warm", daemon=True).start()
    return ranker


def create_normalizer(corpus_dir: Path) -> QueryNormalizer:
    """The query normaliser over the corpus lexicons, with a pinyin decoder and a homophone-typo
    repairer that build their vocabularies in the background (so the first question does not wait)."""
    dialect, glossary = load_dialect(corpus_dir / "dialect.yaml"), load_glossary(corpus_dir / "glossary.yaml")
    terms = [e.term for e in glossary] + [e.plain for e in glossary]
    documents = Lazy(lambda: load_paths([corpus_dir]).documents)  # read once, by whichever builder is first
    pinyin = PinyinDecoder(terms + [e.standard for e in dialect],
                           lambda: text_words(f"{d.title}\n{d.body}" for d in documents.get()))
    names = [e.standard for e in dialect if len(e.standard) >= 3]  # 电动自行车, 港澳居民来往内地通行证 …
    typos = HomophoneRepair(lambda: terms + names + text_words([*names, *(d.title for d in documents.get())]))
    # Both builders import pypinyin, one by `pypinyin.constants`, the other by the package: pypinyin's
    # package and constants import each other, and two threads importing them for the first time at
    # once can see a half-initialised module (ImportError in a warm thread, seen in a fresh clone's
    # `zhengwu ask`). Imported whole here first (about 0.15 s), before any thread starts.
    import pypinyin  # noqa: F401
    for warm, name in ((pinyin.warm, "pinyin-warm"), (typos.warm, "typos-warm")):
        threading.Thread(target=warm, name=name, daemon=True).start()
    return QueryNormalizer(dialect, glossary, pinyin, typos)


class Conversations:
    """Recent user turns per conversation id, in memory, bounded in size and age."""

    def __init__(self, max_conversations: int = 10_000, ttl_seconds: float = 3600, max_turns: int = 6) -> None:
        self._turns: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_conversations, self.ttl_seconds, self.max_turns = max_conversations, ttl_seconds, max_turns

    def history(self, conversation_id: str) -> tuple[str, ...]:
        with self._lock:
            entry = self._turns.get(conversation_id)
            if entry is None or time.monotonic() - entry[0] > self.ttl_seconds:
                return ()
            return tuple(entry[1])

    def forget(self, conversation_id: str) -> None:
        with self._lock:
            self._turns.pop(conversation_id, None)

    def remember(self, conversation_id: str, question: str) -> None:
        with self._lock:
            _, turns = self._turns.pop(conversation_id, (0.0, []))
            turns = (turns + [question])[-self.max_turns :]
            self._turns[conversation_id] = (time.monotonic(), turns)
            while len(self._turns) > self.max_conversations:
                self._turns.popitem(last=False)


class Answerer(Protocol):
    def answer(self, question: str, history: tuple[str, ...] = ()) -> Answer: ...


class Rewriter(Protocol):
    def rewrite(self, answer: Answer, options: RewriteOptions) -> Rewrite: ...


class Assistant:
    """Question in, cited answer (or an honest refusal with a hand-off) out, retold in plain words
    when a rewriter is wired in."""

    def __init__(self, answerer: Answerer, rewriter: Rewriter | None = None,
                 conversations: Conversations | None = None) -> None:
        self.answerer = answerer
        self.rewriter = rewriter
        self.conversations = conversations or Conversations()

    @classmethod
    def from_settings(cls, settings: Settings, bundles: BundleGuide | None = None,
                      embedders: Embedders | None = None) -> Assistant:
        """The product assistant; `bundles` shares the app's life-event bundles (read from the corpus
        when not given), `embedders` the process's loaded models (loaded here when not given)."""
        normalizer = create_normalizer(settings.corpus_dir)
        bundles = bundles or BundleGuide.from_corpus(settings.corpus_dir)
        embedders = embedders or Embedders(settings.threads)
        second = embedders.get(settings.second_embedder) if settings.second_embedder else None
        embedder = embedders.get(settings.embedder)
        query_titles = TitleVectors(embedder, as_queries=True)
        retriever = HybridRetriever(ChromaStore.connect(settings), embedder, normalizer, settings.index_dir,
                                    settings.index_name, DEFAULT_WEIGHTS, load_ranker(settings), second,
                                    events=bundles, titles=query_titles)
        scope = ScopeChecker.load(places=PlaceNames.load())
        elsewhere = settings.corpus_dir / "elsewhere.yaml"
        extractive = ExtractiveAnswerer(retriever, normalizer, scope, Thresholds(), bundles=bundles,
                                        titles=TitleVectors(embedder), query_titles=query_titles,
                                        elsewhere=load_elsewhere(elsewhere) if elsewhere.exists() else (),
                                        acts=load_acts())
        rules = PlainRewriter.from_settings(settings)
        model = create_chat_model(settings)
        if model is None:
            return cls(extractive, rewriter=rules)
        answerer = LlmAnswerer(extractive, model, load_prompt("answer"), settings.llm_timeout, settings.llm_retries)
        return cls(answerer, rewriter=LlmRewriter(rules, model, load_prompt("rewrite"), answerer.deadline))

    def ask(self, question: str, conversation_id: str | None = None,
            options: RewriteOptions | None = None) -> Answer:
        conversation_id = conversation_id or uuid.uuid4().hex
        history = self.conversations.history(conversation_id)
        answer = self.answerer.answer(question, history)
        if not answer.refused:
            self.conversations.remember(conversation_id, answer.resolved_question or question)
        answer = replace(answer, conversation_id=conversation_id)
        if self.rewriter is not None:
            answer = replace(answer, plain=self.rewriter.rewrite(answer, options or RewriteOptions()))
        return answer
