"""Loaders for the external benchmark data (never copied into the repo; always given a path).

Splits follow one rule everywhere: `sha1(id) % 5 == 0` is the test split, the rest is dev.
Tuning uses dev only; reported figures come from test.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assistant.documents import Document
from assistant.errors import LoadError

BenchSplit = Literal["dev", "test", "all"]


@dataclass(frozen=True)
class BenchQuery:
    qid: str
    question: str
    relevant: frozenset[str]
    span: str = ""  # the answer span (NCP): scored as found when it lies inside a cited chunk


@dataclass(frozen=True)
class Benchmark:
    name: str
    documents: list[Document]
    queries: list[BenchQuery]

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha1()
        for doc in self.documents:
            digest.update(doc.doc_id.encode())
            digest.update(doc.content_hash.encode())
        return digest.hexdigest()[:16]


def in_split(key: str, split: BenchSplit) -> bool:
    if split == "all":
        return True
    is_test = int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 5 == 0
    return is_test if split == "test" else not is_test


def load_msgabench(path: Path, split: BenchSplit = "test") -> Benchmark:
    """MSGABench Q&A (`zhengwu_qa.jsonl`): the corpus is every official answer (questions are
    never indexed); a hit is the question's own answer or any identical answer."""
    rows = read_jsonl(path)
    by_answer: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_answer[row["answer"].strip()].add(row["id"])
    documents = [
        Document(doc_id=row["id"], title="", kind="faq", body=row["answer"].strip(), source_path=path.name,
                 department=str(row.get("department") or ""))
        for row in rows
    ]
    queries = [
        BenchQuery(row["id"], row["question"].strip(), frozenset(by_answer[row["answer"].strip()]))
        for row in rows
        if in_split(row["id"], split)
    ]
    return Benchmark("msgabench", documents, queries)


def load_ncp(folder: Path, split: BenchSplit = "test") -> Benchmark:
    """NCP policy QA: 599 documents (`corpus_subset_599docs.jsonl`) and 1,262 questions with the
    relevant document and the answer span (`eval_questions_on_subset.jsonl`)."""
    documents = [
        Document(doc_id=row["docid"], title="", kind="policy", body=row["text"], source_path="ncp")
        for row in read_jsonl(folder / "corpus_subset_599docs.jsonl")
    ]
    queries = [
        BenchQuery(row["qid"], row["question"], frozenset([row["relevant_docid"]]), span=row.get("answer", ""))
        for row in read_jsonl(folder / "eval_questions_on_subset.jsonl")
        if in_split(row["qid"], split)
    ]
    return Benchmark("ncp", documents, queries)


def load_query_file(path: Path) -> list[BenchQuery]:
    """Anyone's own questions: JSON lines `{"question": ..., "relevant_ids": [...]}`."""
    queries = []
    for number, row in enumerate(read_jsonl(path), start=1):
        question, relevant = row.get("question"), row.get("relevant_ids")
        if not isinstance(question, str) or not question.strip() or not isinstance(relevant, list) or not relevant:
            raise LoadError(f"{path}:{number}", "each line needs a non-empty 'question' and 'relevant_ids' list")
        queries.append(BenchQuery(str(row.get("id", number)), question.strip(), frozenset(map(str, relevant))))
    return queries


def read_jsonl(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LoadError(path, f"cannot read: {exc.strerror or exc}") from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise LoadError(f"{path}:{number}", f"not valid JSON ({exc.msg})") from exc
    return rows
