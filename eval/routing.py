"""The routing benchmark: which department answers a citizen's question (MSGABench `department`).

Labels are cleaned first: empty or punctuation-only values are dropped, obvious variants of one
department are merged (`北京市公安局公安交通管理局` → `交管局`, `首都之窗综合整理` → `首都之窗`, …), and
departments with fewer than `MIN_EXAMPLES` questions in the whole file are dropped (too rare to
learn or to score). Routers are fitted on the dev split only and scored on the test split (the
`sha1(id) % 5` rule of eval.datasets): top-1 and top-3 accuracy for the majority class, the
keyword router and the product's model router.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant.errors import LoadError
from assistant.routing import KeywordRouter, ModelRouter, Prediction, Router
from eval.datasets import read_jsonl, in_split

MIN_EXAMPLES = 5
PORTAL = "首都之窗"  # the city portal: named beside the answering department in some labels
ALIASES = {
    "北京市公安局公安交通管理局": "交管局",
    "北京公安局公安交通管理局": "交管局",
    "首都之窗综合整理": PORTAL,
    "北京市人力资源和社会保障局": "人力资源社会保障局",
    "北京住房公积金管理中心": "住房公积金管理中心",
    "北京市住房公积金管理中心": "住房公积金管理中心",
    "北京市医疗保障局": "医保局",
    "北京市卫生和健康委员会": "卫生健康委",
    "北京市民政局": "民政局",
    "北京市经济和信息化局": "经济和信息化局",
}
JUNK = re.compile(r"^[\W\d_a-zA-Z]*$")  # no Han character at all: null, "-", "N/A", numbers
SYSTEMS = ("majority", "keyword", "zhengwu")


@dataclass(frozen=True)
class Labelled:
    qid: str
    question: str
    department: str


@dataclass
class RoutingData:
    rows: list[Labelled]
    dropped: Counter[str] = field(default_factory=Counter)  # why rows were left out
    merged: Counter[str] = field(default_factory=Counter)  # raw label -> rows renamed


@dataclass(frozen=True)
class RoutingReport:
    n: int  # test questions scored
    n_dev: int
    systems: dict[str, dict[str, float]]
    data: RoutingData
    saved: Path | None = None

    def as_json(self) -> dict[str, object]:
        return {"n": self.n, "systems": self.systems}


def clean_department(raw: object) -> str | None:
    """One name per department, or None for a label that names none."""
    text = re.sub(r"\s+", "", str(raw or ""))
    if not text or JUNK.match(text):
        return None
    parts = [p for p in re.split(r"[、，,/;；]", text) if p]
    text = next((p for p in parts if ALIASES.get(p, p) != PORTAL), parts[0])  # the department, not the portal
    return ALIASES.get(text, text)


def load_routing_data(path: Path, min_examples: int = MIN_EXAMPLES) -> RoutingData:
    rows, data = [], RoutingData([])
    for number, raw in enumerate(read_jsonl(path), start=1):
        question, qid = str(raw.get("question") or "").strip(), raw.get("id")
        if not qid:
            raise LoadError(f"{path}:{number}", "a row without an 'id'")
        department = clean_department(raw.get("department"))
        if not question or department is None:
            data.dropped["no question" if not question else "no department"] += 1
            continue
        if department != str(raw.get("department")).strip():
            data.merged[str(raw.get("department")).strip()] += 1
        rows.append(Labelled(str(qid), question, department))
    sizes = Counter(row.department for row in rows)
    for department, size in sizes.items():
        if size < min_examples:
            data.dropped[f"rare department ({department})"] += size
    data.rows = [row for row in rows if sizes[row.department] >= min_examples]
    return data


class MajorityRouter:
    """The most common departments of the training labels, whatever the question."""

    name = "majority"

    def __init__(self, labels: list[str]) -> None:
        if not labels:
            raise ValueError("the majority baseline needs at least one label")
        total = len(labels)
        self.ranked = [(d, round(n / total, 4)) for d, n in sorted(Counter(labels).items(), key=lambda i: (-i[1], i[0]))]

    def predict(self, question: str, k: int = 3) -> Prediction:
        return self.ranked[:k]


def top_k_accuracy(router: Router, rows: list[Labelled], k: int) -> float:
    hits = sum(row.department in [d for d, _ in router.predict(row.question, k)] for row in rows)
    return round(hits / len(rows), 4) if rows else 0.0


def run_routing(path: Path, save_to: Path | None = None) -> RoutingReport:
    """Fit every system on dev, score on test; with `save_to`, save the fitted model router there."""
    data = load_routing_data(path)
    dev = [row for row in data.rows if in_split(row.qid, "dev")]
    test = [row for row in data.rows if in_split(row.qid, "test")]
    if not dev or not test:
        raise LoadError(path, f"need questions in both splits, got {len(dev)} dev and {len(test)} test")
    texts, labels = [row.question for row in dev], [row.department for row in dev]
    model = ModelRouter.fit(texts, labels)
    routers: dict[str, Router] = {"majority": MajorityRouter(labels), "keyword": KeywordRouter.fit(texts, labels),
                                  "zhengwu": model}
    systems = {name: {"top1": top_k_accuracy(router, test, 1), "top3": top_k_accuracy(router, test, 3)}
               for name, router in routers.items()}
    saved = None
    if save_to is not None:
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        saved = model.save(save_to, data=path.name, data_sha1=digest, split="dev",
                           test_top1=systems["zhengwu"]["top1"], test_top3=systems["zhengwu"]["top3"])
    return RoutingReport(len(test), len(dev), systems, data, saved)


def print_routing(report: RoutingReport, console: Console | None = None) -> None:
    console = console or Console()
    departments = len({row.department for row in report.data.rows})
    table = Table(title=f"routing · {departments} departments · fit on dev ({report.n_dev}) · test ({report.n})")
    for column in ("system", "top-1", "top-3"):
        table.add_column(column, justify="right")
    for name in SYSTEMS:
        figures = report.systems[name]
        table.add_row(name, f"{figures['top1']:.3f}", f"{figures['top3']:.3f}")
    console.print(table)
    notes = [f"dropped {n}: {why}" for why, n in sorted(report.data.dropped.items())]
    notes += [f"merged {n}: {raw} → {clean_department(raw)}" for raw, n in sorted(report.data.merged.items())]
    if report.saved is not None:
        notes.append(f"saved the zhengwu router to {report.saved}")
    for note in notes:
        console.print(note)
