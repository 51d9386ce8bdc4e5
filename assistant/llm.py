"""The optional LLM answerer: the extractive answer's passages, retold by a chat model, checked.

`LlmAnswerer` runs the extractive answerer first. A refusal is returned as it is: the model is
never asked without evidence. Otherwise the model gets the question and the cited passages as
numbered data, and must answer sentence by sentence, each sentence citing the passages it rests
on, or say `无法回答`. `check_citations` then checks every sentence against its cited passages;
any failure, a decline, an error or a timeout returns the extractive answer with `fallback_reason`
set. The endpoint's errors (openai, httpx, langchain) are translated here, once, into `LlmError`.

    ZhengwuError
    └── LlmError             the chat model failed or replied in a form that cannot be used
        └── LlmTimeoutError      no reply within the time limit
"""

from __future__ import annotations

import contextvars
import re
import threading
import unicodedata
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from importlib import resources

import httpx
from langchain_core.exceptions import LangChainException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import SecretStr, ValidationError

from assistant.answer import Answer, Block, Citation
from assistant.answering import ExtractiveAnswerer
from assistant.errors import ConfigError, LlmError, LlmTimeoutError, ZhengwuError
from assistant.query import INSTRUCTION_CLAUSES, chinese_number
from assistant.settings import Settings

SENTINEL = "无法回答"
NO_API_KEY = "EMPTY"  # local servers (vLLM, Ollama) take any key; never fall back to OPENAI_API_KEY
BACKOFF_ALLOWANCE = 1.0  # seconds per retry for the client's back-off, in the wall-clock limit
GRACE = 0.5  # seconds the wall clock waits beyond that, so the client's own timeout fires first
SUPPORT_FLOOR = 0.4  # share of a sentence's character bigrams that its cited passages must contain

MARKER = re.compile(r"[\[［【]\s*([0-9０-９]+(?:\s*[,，、]\s*[0-9０-９]+)*)\s*[\]］】]")
MARKERS_AFTER_END = re.compile(rf"([。！？!?]+)((?:\s*{MARKER.pattern})+)")
SENTENCE_END = re.compile(r"(?<=[。！？!?])|\n")
ENUMERATOR = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.、)）](?!\d)|[（(]\d{1,2}[)）])\s*")
THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)
CHINESE = re.compile(r"[\u4e00-\u9fff]")
CHINESE_RUN = re.compile(r"[\u4e00-\u9fff]+")
ARABIC = re.compile(r"\d+(?:\.\d+)?")
THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3}(?!\d))")
NUMERAL = "零〇一二两三四五六七八九十百千"
# In a sentence, only numerals with 十/百/千 before a unit count as numbers ("六十日", "第十二条"):
# "一次性" and "十分重要" stay words. In a passage every numeral run is read, so "满一年" supports "1年".
SENTENCE_NUMERAL = re.compile(
    rf"([零〇一二两三四五六七八九]*[十百千][{NUMERAL}]*)"
    r"(?=个工作日|个月|工作日|周岁|万元|元|日|天|年|岁|周|小时|条|款|项|章|节|个|次|倍|人|户|份|张)"
)
PASSAGE_NUMERAL = re.compile(rf"[{NUMERAL}]+")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a model's reply: its text without markers, and the passages it cites."""

    text: str
    citations: tuple[int, ...]


@dataclass(frozen=True)
class CitationCheck:
    sentences: tuple[Sentence, ...]
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return bool(self.sentences) and not self.problems


def load_prompt(name: str) -> str:
    """A prompt shipped as `assistant/prompts/<name>.txt`."""
    try:
        return resources.files("assistant").joinpath(f"prompts/{name}.txt").read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot load the prompt {name!r}: {exc}") from exc


def create_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model at `settings.llm_base_url`, or None when no endpoint is set. Connects to nothing."""
    if not settings.llm_base_url:
        return None
    if not settings.llm_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"ZHENGWU_LLM_BASE_URL must start with http:// or https://, got {settings.llm_base_url!r}")
    if not settings.llm_model:
        raise ConfigError("ZHENGWU_LLM_MODEL must be set when ZHENGWU_LLM_BASE_URL is")
    from langchain_openai import ChatOpenAI  # imported here: half a second nobody without an LLM should pay

    try:
        return ChatOpenAI(base_url=settings.llm_base_url, model=settings.llm_model,
                          api_key=settings.llm_api_key or SecretStr(NO_API_KEY), timeout=settings.llm_timeout,
                          max_retries=settings.llm_retries, temperature=0.0, use_responses_api=False)
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"cannot configure the LLM client: {exc}") from exc


def build_messages(prompt: str, question: str, citations: Sequence[Citation]) -> list[BaseMessage]:
    """The rules as the system message; the passages and the question, delimited as data, as the user's."""
    passages = "\n".join(
        f'<片段 编号="{c.number}" 标题="{_as_data(c.title)}" 章节="{_as_data(c.section)}" '
        f'施行日期="{_as_data(c.effective_date)}">\n{_as_data(c.quote)}\n</片段>'
        for c in citations
    )
    return [SystemMessage(content=prompt),
            HumanMessage(content=f"<资料>\n{passages}\n</资料>\n\n<问题>\n{_as_data(question)}\n</问题>")]


def is_declined(reply: str) -> bool:
    """True when the model said it cannot answer from the passages."""
    return re.sub(r"\W", "", THINKING.sub("", reply)).startswith(SENTINEL)


def check_citations(reply: str, citations: Sequence[Citation]) -> CitationCheck:
    """Split a reply into sentences and check each one against the passages it cites.

    A sentence passes when it has Chinese text, carries at least one marker, cites only given
    passages and no passage that carries instructions, echoes no instruction, has every number
    (amount, duration, date, phone, article) in one of its cited passages, and at least
    `SUPPORT_FLOOR` of its character bigrams in them, so that a claim from elsewhere does not pass.
    Passage text here means title, section, effective date and quote: what the model was shown."""
    passages = {c.number: " ".join((c.title, c.section, c.effective_date, c.quote)) for c in citations}
    sentences: list[Sentence] = []
    problems: list[str] = []
    text = MARKERS_AFTER_END.sub(r"\2\1", THINKING.sub("", reply))
    for piece in SENTENCE_END.split(text):
        numbers = tuple(dict.fromkeys(int(n) for m in MARKER.finditer(piece) for n in re.split(r"\D+", m.group(1))))
        plain = ENUMERATOR.sub("", MARKER.sub("", piece)).strip()
        if not numbers and not re.sub(r"\W", "", plain):
            continue  # blank line or stray punctuation
        sentences.append(Sentence(plain, numbers))
        problems.extend(f"sentence {len(sentences)} {p}" for p in _sentence_problems(plain, numbers, passages))
    if not sentences:
        problems.append("the reply is empty")
    return CitationCheck(tuple(sentences), tuple(problems))


class LlmAnswerer:
    """Retells the extractive answer's passages with a chat model; falls back to the extractive
    answer, saying why in `fallback_reason`, whenever the reply cannot be trusted or does not come."""

    def __init__(self, extractive: ExtractiveAnswerer, model: BaseChatModel, prompt: str,
                 timeout: float = 20.0, retries: int = 1) -> None:
        if timeout <= 0:
            raise ConfigError(f"timeout must be greater than 0, got {timeout}")
        if retries < 0:
            raise ConfigError(f"retries must be 0 or more, got {retries}")
        if not prompt.strip():
            raise ConfigError("prompt must not be empty")
        self.extractive = extractive
        self.model = model
        self.prompt = prompt
        self.timeout = timeout
        self.retries = retries

    @property
    def deadline(self) -> float:
        """Wall-clock seconds one answer may wait for the model, all attempts included."""
        return self.timeout * (self.retries + 1) + BACKOFF_ALLOWANCE * self.retries + GRACE

    def answer(self, question: str, history: tuple[str, ...] = ()) -> Answer:
        extractive = self.extractive.answer(question, history)
        if extractive.refused or not extractive.citations:
            return extractive  # never ask the model without evidence
        messages = build_messages(self.prompt, extractive.resolved_question or question, extractive.citations)
        try:
            reply = self.generate(messages)
        except LlmTimeoutError:
            return _fall_back(extractive, "llm_timeout")
        except LlmError:
            return _fall_back(extractive, "llm_error")
        if is_declined(reply):
            return _fall_back(extractive, "llm_declined")
        check = check_citations(reply, extractive.citations)
        if not check.passed:
            return _fall_back(extractive, "citation_check_failed: " + "; ".join(check.problems))
        blocks = tuple(Block(heading="", text=s.text, citations=s.citations) for s in check.sentences)
        return replace(extractive, blocks=blocks, mode="llm", generator="llm", fallback_reason="")

    def generate(self, messages: list[BaseMessage]) -> str:
        """The model's reply text within `deadline`. Raises `LlmTimeoutError` or `LlmError`."""
        return invoke(self.model, messages, self.deadline)


def invoke(model: BaseChatModel, messages: list[BaseMessage], deadline: float) -> str:
    """The model's reply text. The call runs in a daemon thread so that a server that never
    finishes cannot hold the caller past `deadline`; the client's own timeout and retries work
    inside that limit. Raises `LlmTimeoutError` or `LlmError`."""
    result: Future[BaseMessage] = Future()

    def call() -> None:
        try:
            result.set_result(model.invoke(messages))
        except Exception as exc:  # handed to the waiting thread, translated there
            result.set_exception(exc)

    context = contextvars.copy_context()  # langchain callbacks and tracing live in context variables
    threading.Thread(target=context.run, args=(call,), name="zhengwu-llm", daemon=True).start()
    try:
        message = result.result(timeout=deadline)
    except FutureTimeout as exc:
        raise LlmTimeoutError(f"no reply from the LLM within {deadline:g} s") from exc
    except Exception as exc:
        error = _translate(exc)
        if error is None:
            raise
        raise error from exc
    return message.text


def _translate(exc: Exception) -> LlmError | None:
    """The project error for an exception from the chat model; None for one that is not about it."""
    import openai  # loaded already whenever ChatOpenAI is in use

    transports = [httpx]
    try:
        import httpx2  # what openai>=3 is built on; its errors usually arrive wrapped in openai's

        transports.append(httpx2)
    except ImportError:
        pass
    if isinstance(exc, (openai.APITimeoutError, TimeoutError, *(t.TimeoutException for t in transports))):
        return LlmTimeoutError(f"the LLM timed out: {exc}")
    if isinstance(exc, (openai.OpenAIError, LangChainException, ValueError, TypeError, KeyError,
                        *(t.HTTPError for t in transports))):
        return LlmError(f"the LLM call failed: {type(exc).__name__}: {exc}")
    return None


def _fall_back(answer: Answer, reason: str) -> Answer:
    return replace(answer, generator="extractive", fallback_reason=reason)


def _sentence_problems(text: str, numbers: tuple[int, ...], passages: dict[int, str]) -> list[str]:
    if not CHINESE.search(text):
        return ["has no Chinese text"]
    if not numbers:
        return ["has no citation marker"]
    unknown = [n for n in numbers if n not in passages]
    if unknown:
        return [f"cites {unknown}, which are not given passages"]
    problems: list[str] = []
    if INSTRUCTION_CLAUSES.search(text):
        problems.append("repeats an instruction")
    carrying = [n for n in numbers if INSTRUCTION_CLAUSES.search(passages[n])]
    if carrying:
        problems.append(f"cites {carrying}, which carry instructions")
    support = " ".join(passages[n] for n in numbers)
    missing = sorted(_sentence_numbers(text) - _passage_numbers(support))
    if missing:
        problems.append(f"states {', '.join(missing)}, not in the cited passages")
    bigrams = _bigrams(text)
    if bigrams and len(bigrams & _bigrams(support)) / len(bigrams) < SUPPORT_FLOOR:
        problems.append("is not supported by the cited passages")
    return problems


def _sentence_numbers(text: str) -> set[str]:
    folded = THOUSANDS.sub("", unicodedata.normalize("NFKC", text))
    folded = SENTENCE_NUMERAL.sub(lambda m: str(chinese_number(m.group(1)) or m.group(1)), folded)
    return {_canonical(n) for n in ARABIC.findall(folded)}


def _passage_numbers(text: str) -> set[str]:
    folded = THOUSANDS.sub("", unicodedata.normalize("NFKC", text))
    numbers = {_canonical(n) for n in ARABIC.findall(folded)}
    numbers.update(str(v) for run in PASSAGE_NUMERAL.findall(folded) if (v := chinese_number(run)) is not None)
    return numbers


def _canonical(number: str) -> str:
    """'060' → '60', '40.50' → '40.5', '40.0' → '40': one spelling per value."""
    whole, _, fraction = number.partition(".")
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def _bigrams(text: str) -> set[str]:
    runs = CHINESE_RUN.findall(text)
    pairs = {run[i : i + 2] for run in runs for i in range(len(run) - 1)}
    return pairs or set("".join(runs))


def _as_data(text: str) -> str:
    """Passage and question text cannot open or close the delimiting tags."""
    return text.replace("<", "〈").replace(">", "〉").replace('"', "＂")
