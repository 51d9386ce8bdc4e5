"""一件事一次办: a life event's matters as one ordered, cited checklist.

`assemble_bundle(bundle_doc, guides)` turns a corpus bundle (front matter `event` and ordered
`steps`) and the guides its steps name into a `Bundle`: the steps in order, which steps can be done
at one visit (`together_with`), every material listed once with the steps that need it (from each
guide's `## 申请材料`), the documents a step produces (`carries`) with the later steps that reuse
them, and a citation per step. `BundleGuide` holds the corpus bundles, recognises life-event
questions ("刚生了孩子要办什么") with the rules in `assistant/data/bundles.yaml`, and turns a bundle
into an `Answer` of mode "bundle".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from assistant.answer import Answer, Block, Citation, Handoff
from assistant.documents import Document
from assistant.errors import BundleNotFoundError, ConfigError, LoadError
from assistant.lazy import Lazy
from assistant.lexical import tokenize
from indexer.loaders import load_paths

log = logging.getLogger("zhengwu.bundles")
MATERIALS_SECTION = "申请材料"
ORDER_SECTION = "办理顺序"
BRACKETS = re.compile(r"[（(][^）)]*[）)]")
PUNCTUATION = re.compile(r"[\s，,。.！!？?；;：:、…~～\"'“”‘’]+")
CLAUSE_END = re.compile(r"[，,。.！!？?；;：:\n]+")  # not 、: a list (火化、户口) stays in its clause


@dataclass(frozen=True)
class Carried:
    """A document a step produces, and the later steps whose materials name it."""

    name: str
    reused_by: tuple[int, ...]


@dataclass(frozen=True)
class BundleStep:
    number: int  # 1-based, in the bundle's order
    guide_id: str
    title: str
    note: str
    together_with: tuple[int, ...]  # steps that can be done at the same visit
    materials: tuple[str, ...]  # the guide's 申请材料 lines, as written
    carries: tuple[Carried, ...]
    citation: int  # number in `Bundle.citations`


@dataclass(frozen=True)
class Material:
    """One material, listed once for the whole bundle."""

    name: str
    needed_by: tuple[int, ...]  # step numbers
    lines: tuple[tuple[int, str], ...]  # (step, the guide's own wording)
    produced_by: int | None  # the step that produces it (`carries`), if any
    reused_by: tuple[int, ...]  # steps after `produced_by` that need it
    citations: tuple[int, ...]


@dataclass(frozen=True)
class Bundle:
    bundle_id: str
    title: str
    event: str
    department: str
    effective_date: str
    expires: str
    source_url: str
    sample: bool
    steps: tuple[BundleStep, ...]
    groups: tuple[tuple[int, ...], ...]  # steps that can be done together, first step first
    materials: tuple[Material, ...]
    citations: tuple[Citation, ...]  # 1: the bundle's 办理顺序; then one per step guide
    warnings: tuple[str, ...] = ()


class MaterialName(BaseModel):
    name: str
    patterns: list[str]


class StepSpec(BaseModel):
    """One entry of a bundle's `steps` front matter (corpus/README.md)."""

    guide: str
    note: str = ""
    together_with: list[str] = []
    carries: list[str] = []


class BundleRules(BaseModel):
    """`assistant/data/bundles.yaml`: event triggers, "asks for everything" cues, material names."""

    events: dict[str, list[str]]
    asks: list[str]
    lists: list[str] = []
    generic: list[str] = []
    materials: list[MaterialName]

    @classmethod
    def load(cls, path: Path | None = None) -> BundleRules:
        try:
            text = path.read_text(encoding="utf-8") if path else (
                resources.files("assistant").joinpath("data/bundles.yaml").read_text(encoding="utf-8"))
            rules = cls.model_validate(yaml.safe_load(text))
            for pattern in [*rules.asks, *rules.lists, *(p for ps in rules.events.values() for p in ps),
                            *(p for m in rules.materials for p in m.patterns)]:
                re.compile(pattern)
        except (OSError, yaml.YAMLError, ValidationError, re.error) as exc:
            raise ConfigError(f"cannot load the bundle rules: {exc}") from exc
        return rules


def assemble_bundle(bundle_doc: Document, guides: Mapping[str, Document],
                    rules: BundleRules | None = None) -> Bundle:
    """The checklist of one bundle; a step whose guide is missing is kept, with a warning."""
    rules = rules or BundleRules.load()
    names = [(m.name, re.compile("|".join(f"(?:{p})" for p in m.patterns))) for m in rules.materials]
    specs = bundle_steps(bundle_doc)
    number_of = {spec.guide: n for n, spec in enumerate(specs, start=1)}
    citations = [_citation(1, bundle_doc, ORDER_SECTION)]
    warnings: list[str] = []
    steps: list[BundleStep] = []
    needs: dict[str, list[tuple[int, str]]] = {}  # material key -> (step, line)
    shown: dict[str, str] = {}  # material key -> how it is named
    for number, spec in enumerate(specs, start=1):
        guide = guides.get(spec.guide)
        cited = 1
        if guide is None:
            warnings.append(f"第{number}步的办事指南 {spec.guide} 不在资料库中，请向牵头部门确认。")
        else:
            cited = len(citations) + 1
            citations.append(_citation(cited, guide, MATERIALS_SECTION))
        lines = _list_items(_section(guide.body, MATERIALS_SECTION)) if guide else []
        for line in lines:
            for key, name in _material_names(line, names):
                needs.setdefault(key, []).append((number, line))
                shown.setdefault(key, name)
        together = tuple(sorted(number_of[g] for g in spec.together_with if g in number_of))
        steps.append(BundleStep(number, spec.guide, guide.title if guide else spec.guide, spec.note, together,
                                tuple(lines), (), cited))
    produced = _produced(specs, names)
    steps = [_with_carries(step, specs[step.number - 1], names, needs) for step in steps]
    materials = [_material(shown[key], lines, produced.get(key), steps) for key, lines in needs.items()]
    materials.sort(key=lambda m: m.needed_by[0])  # stable: a step's materials stay in the guide's order
    return Bundle(bundle_doc.doc_id, bundle_doc.title, str(bundle_doc.extra.get("event", "")), bundle_doc.department,
                  bundle_doc.effective_date, bundle_doc.expires, bundle_doc.source_url, bundle_doc.sample,
                  tuple(steps), _groups(steps), tuple(materials), tuple(citations), tuple(warnings))


@dataclass(frozen=True)
class EventMatch:
    bundle_id: str
    event: str
    matched: str  # the words that named the event


@dataclass(frozen=True)
class _Shelf:
    """What a `BundleGuide` reads from its documents, once."""

    guides: dict[str, Document]
    bundles: dict[str, Document]
    triggers: dict[str, re.Pattern[str]]
    matter_terms: dict[str, list[set[str]]]  # per bundle, the words of each step's matter


class BundleGuide:
    """The corpus bundles with their guides: list, assemble, recognise, answer. The documents are
    read on first use (so an app starts without reading the corpus)."""

    def __init__(self, documents: Iterable[Document] | Callable[[], Iterable[Document]],
                 rules: BundleRules | None = None) -> None:
        self.rules = rules or BundleRules.load()
        self._asks = re.compile("|".join(f"(?:{p})" for p in self.rules.asks))
        self._lists = re.compile("|".join(f"(?:{p})" for p in self.rules.lists)) if self.rules.lists else None
        given = None if callable(documents) else list(documents)
        self._read: Callable[[], Iterable[Document]] = documents if given is None else (lambda: given)  # type: ignore[assignment]
        self._shelf: Lazy[_Shelf] = Lazy(self._stock)

    @classmethod
    def from_corpus(cls, corpus_dir: Path) -> BundleGuide:
        return cls(lambda: load_paths([corpus_dir]).documents)

    @property
    def shelf(self) -> _Shelf:
        return self._shelf.get()

    def refresh(self) -> None:
        """Read the documents again on next use (after a re-index)."""
        self._shelf.refresh()

    def _stock(self) -> _Shelf:
        docs = list(self._read())
        guides = {d.doc_id: d for d in docs if d.kind == "guide"}
        bundles = {d.doc_id: d for d in docs if d.kind == "bundle" and _valid(d)}
        triggers = {i: re.compile("|".join(f"(?:{p})" for p in self._trigger_patterns(d))) for i, d in bundles.items()}
        events = set(tokenize(" ".join(f"{d.extra.get('event', '')} {d.title.replace('一件事', '')}" for d in bundles.values())))
        terms = {i: self._terms(d, guides, events) for i, d in bundles.items()}
        return _Shelf(guides, bundles, triggers, terms)

    def documents(self) -> list[Document]:
        return sorted(self.shelf.bundles.values(), key=lambda d: d.doc_id)

    def get(self, bundle_id: str) -> Bundle:
        doc = self.shelf.bundles.get(bundle_id)
        if doc is None:
            raise BundleNotFoundError(f"no bundle with id {bundle_id!r}")
        return assemble_bundle(doc, self.shelf.guides, self.rules)

    def step_guides(self, bundle_id: str) -> frozenset[str]:
        """The guides a bundle's steps are done with (none for an unknown bundle)."""
        doc = self.shelf.bundles.get(bundle_id)
        return frozenset(step.guide for step in bundle_steps(doc)) if doc is not None else frozenset()

    def recognize(self, question: str) -> EventMatch | None:
        """The bundle a question about a whole life event names: an event word and either a request
        for everything ("要办什么", "哪些手续") or nothing else ("退休了"), and none of the bundle's
        particular matters in what it asks ("新生儿落户要办什么" is about 落户; "母亲去世了，医药费
        是垫付的。请问要办哪些事项" describes a matter but asks for everything)."""
        text = PUNCTUATION.sub("", question)
        shelf = self.shelf
        best: tuple[int, int, str, str] | None = None
        for bundle_id, pattern in shelf.triggers.items():
            for found in pattern.finditer(text):
                if found.group(0) and (best is None or (len(found.group(0)), -found.start()) > best[:2]):
                    best = (len(found.group(0)), -found.start(), bundle_id, found.group(0))
        if best is None:
            return None
        _, _, bundle_id, matched = best
        rest = shelf.triggers[bundle_id].sub(" ", text)
        lists = self._lists.search(rest) if self._lists else None
        asks = self._asks.search(rest) or lists
        bare = re.fullmatch(r"(我|我们|我家|家里|刚|刚刚|已经|要|快|马上|准备|打算|想|想要)*[了啦呀啊吗呢]*", rest.replace(" ", ""))
        if asks is None and bare is None:
            return None
        asking = [c for c in CLAUSE_END.split(question)
                  if c.strip() and self._asks.search(shelf.triggers[bundle_id].sub(" ", PUNCTUATION.sub("", c)))]
        if lists is None and self._matters_in(bundle_id, " ".join(asking) or text) == 1:
            return None  # one of its matters; several ("火化、户口、社保这些手续") ask for the checklist
        return EventMatch(bundle_id, str(shelf.bundles[bundle_id].extra.get("event", "")), matched)

    def names_matter(self, bundle_id: str, text: str) -> bool:
        """Whether `text` names one of the bundle's particular matters besides the event itself
        ("新生儿医保登记怎么办" names 医保) without asking outright for the whole list."""
        if bundle_id not in self.shelf.bundles or (self._lists and self._lists.search(text)):
            return False
        return self._matters_in(bundle_id, PUNCTUATION.sub(" ", text)) > 0

    def _matters_in(self, bundle_id: str, text: str) -> int:
        """How many of the bundle's matters `text` names, without the event's words and the asking
        words: 0, 1 (every matter word it holds belongs to one step) or 2 (no one step holds them all)."""
        shelf = self.shelf
        rest = self._asks.sub(" ", shelf.triggers[bundle_id].sub(" ", text))
        steps = shelf.matter_terms[bundle_id]
        named = (set(tokenize(rest)) - set(self.rules.generic)) & set().union(*steps)
        if not named:
            return 0
        return 1 if any(named <= terms for terms in steps) else 2

    def answer(self, question: str, normalized_question: str = "") -> Answer | None:
        """A bundle answer when the question is about a life event, else None (answer it normally)."""
        match = self.recognize(normalized_question or question)
        return None if match is None else self.checklist(match.bundle_id, question, normalized_question)

    def checklist(self, bundle_id: str, question: str, normalized_question: str = "") -> Answer | None:
        """The bundle's checklist as the answer to `question` (None for an unknown bundle)."""
        if bundle_id not in self.shelf.bundles:
            return None
        return to_answer(self.get(bundle_id), question, normalized_question or question)

    def _trigger_patterns(self, doc: Document) -> list[str]:
        own = [str(doc.extra.get("event", "")), doc.title.replace("一件事", "")]
        extra = [str(t) for t in doc.extra.get("triggers") or []]  # a bundle may carry its own `triggers:`
        # the event's own word names a matter when 登记 or 证 follows (结婚登记, 退休证)
        return [re.escape(w) + "(?!登记|证)" for w in own if len(w) >= 2] + extra + self.rules.events.get(doc.doc_id, [])

    def _terms(self, doc: Document, guides: dict[str, Document], events: set[str]) -> list[set[str]]:
        """The words of each of the bundle's matters: the words of its step's guide's title, and the
        guide's tags whole (社保卡 beside 社会保障卡; a tag's parts, like 外地 of 外地户口, say nothing of
        the matter) unless a tag names a life event (生孩子, 开公司: the guides are tagged with their
        events)."""
        steps = [guides[s.guide] for s in bundle_steps(doc) if s.guide in guides]
        return [({t for t in tokenize(g.title) if len(t) >= 2}
                 | {tag for tag in g.tags if len(tag) >= 2 and tag not in events}) - set(self.rules.generic)
                for g in steps]


def to_answer(bundle: Bundle, question: str, normalized_question: str = "") -> Answer:
    """The bundle as a cited `Answer` (mode "bundle"): order, visits, deduplicated materials, steps."""
    order = "\n".join(f"{s.number}. {s.title}：{s.note}" for s in bundle.steps)
    blocks = [Block(f"{bundle.title}：办理顺序", order, (1,))]
    if bundle.groups:
        visits = "\n".join("可以一起办：" + "、".join(f"第{n}步{bundle.steps[n - 1].title}" for n in group)
                           for group in bundle.groups)
        blocks.append(Block("可以一起办", visits, (1,)))
    lines = [f"- {m.name}（第{'、'.join(map(str, m.needed_by))}步需要" + (
        f"；第{m.produced_by}步办完后取得，第{'、'.join(map(str, m.reused_by))}步直接复用" if m.reused_by else "") + "）"
        for m in bundle.materials]
    cited = tuple(sorted({c for m in bundle.materials for c in m.citations}))
    blocks.append(Block("材料清单（已合并重复材料）", "\n".join(lines), cited))
    for step in bundle.steps:
        text = step.note + ("\n" + "\n".join(f"- {line}" for line in step.materials) if step.materials else "")
        blocks.append(Block(f"第{step.number}步：{step.title}", text, (step.citation,)))
    return Answer(question=question, normalized_question=normalized_question or question, blocks=tuple(blocks),
                  citations=bundle.citations, mode="bundle", warnings=bundle.warnings,
                  handoff=Handoff(message="如需进一步确认，可拨打12345政务服务便民热线或咨询牵头部门。",
                                  department=bundle.department))


def _section(body: str, heading: str) -> str:
    parts = re.split(rf"^## {re.escape(heading)}[ \t]*$", body, maxsplit=1, flags=re.MULTILINE)
    return "" if len(parts) < 2 else re.split(r"^## ", parts[1], maxsplit=1, flags=re.MULTILINE)[0].strip()


def _list_items(text: str) -> list[str]:
    return [line[2:].strip() for line in text.splitlines() if line.startswith(("- ", "* ")) and line[2:].strip()]


def bundle_steps(bundle_doc: Document) -> list[StepSpec]:
    """A bundle's `steps`, checked; a bundle without valid steps is a `LoadError`."""
    raw = bundle_doc.extra.get("steps")
    try:
        if not isinstance(raw, list) or not raw:
            raise ValueError("`steps` must be a non-empty list")
        return [StepSpec.model_validate(step) for step in raw]
    except (ValidationError, ValueError) as exc:
        raise LoadError(bundle_doc.source_path or bundle_doc.doc_id, f"invalid bundle steps: {exc}") from exc


def _material_names(line: str, names: list[tuple[str, re.Pattern[str]]]) -> list[tuple[str, str]]:
    """(key, name) of every canonical material a line names; a line naming none is its own
    material, keyed by its wording without punctuation."""
    found = [(name, name) for name, pattern in names if pattern.search(line)]
    return found or [(PUNCTUATION.sub("", line), line)]


def _produced(specs: list[StepSpec], names: list[tuple[str, re.Pattern[str]]]) -> dict[str, int]:
    """Material key → the first step that carries (produces) it."""
    produced: dict[str, int] = {}
    for number, spec in enumerate(specs, start=1):
        for carried in spec.carries:
            for key in _carried_keys(carried, names):
                produced.setdefault(key, number)
    return produced


def _carried_keys(carried: str, names: list[tuple[str, re.Pattern[str]]]) -> list[str]:
    base = BRACKETS.sub("", carried).strip() or carried  # 居民户口簿（新生儿户口页） is a 居民户口簿
    return [name for name, pattern in names if pattern.search(base)] or [PUNCTUATION.sub("", base)]


def _with_carries(step: BundleStep, spec: StepSpec, names: list[tuple[str, re.Pattern[str]]],
                  needs: dict[str, list[tuple[int, str]]]) -> BundleStep:
    carried = []
    for item in spec.carries:
        later = {n for key in _carried_keys(item, names) for n, _ in needs.get(key, []) if n > step.number}
        carried.append(Carried(item, tuple(sorted(later))))
    return BundleStep(step.number, step.guide_id, step.title, step.note, step.together_with, step.materials,
                      tuple(carried), step.citation)


def _material(name: str, lines: list[tuple[int, str]], produced_by: int | None, steps: list[BundleStep]) -> Material:
    needed = tuple(sorted({n for n, _ in lines}))
    reused = tuple(n for n in needed if produced_by is not None and n > produced_by)
    cites = tuple(sorted({steps[n - 1].citation for n in needed}))
    return Material(name, needed, tuple(lines), produced_by, reused, cites)


def _groups(steps: list[BundleStep]) -> tuple[tuple[int, ...], ...]:
    """Each step with the steps it can be done with; groups inside a larger one are dropped."""
    candidates = {tuple(sorted({s.number, *s.together_with})) for s in steps if s.together_with}
    kept = [g for g in candidates if not any(set(g) < set(other) for other in candidates)]
    return tuple(sorted(kept))


def _valid(doc: Document) -> bool:
    try:
        bundle_steps(doc)
    except LoadError as exc:
        log.warning("bundle left out: %s", exc)
        return False
    return True


def _citation(number: int, doc: Document, section: str) -> Citation:
    return Citation(number=number, doc_id=doc.doc_id, title=doc.title, section=section,
                    effective_date=doc.effective_date, source_url=doc.source_url, quote=_section(doc.body, section),
                    kind=doc.kind, sample=doc.sample, expires=doc.expires)
