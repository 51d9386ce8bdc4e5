"""The eval report folder the staff read: `results.jsonl` (one row per question), `report.md`
(figures, per style and per topic, failures side by side) and two plots (PNG, matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path

from eval.questions import EvalQuestion
from eval.runner import QuestionResult, as_row

SUMMARY_KEYS = ("top1", "top5", "mrr", "fact_recall", "citation_precision", "refusal_accuracy", "false_refusal",
                "section_cited", "section_first", "passed", "p50_ms", "p95_ms")


def write_report(folder: Path, split: str, questions: list[EvalQuestion], results: list[QuestionResult],
                 summary: dict) -> list[Path]:
    """Write the report folder; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = folder / "results.jsonl"
    rows.write_text("".join(json.dumps(as_row(r), ensure_ascii=False) + "\n" for r in results), encoding="utf-8")
    plots = [_plot_styles(folder / "per-style.png", summary), _plot_latency(folder / "latency.png", results)]
    markdown = folder / "report.md"
    markdown.write_text(_markdown(split, questions, results, summary, plots), encoding="utf-8")
    return [rows, markdown, *plots]


def _markdown(split: str, questions: list[EvalQuestion], results: list[QuestionResult], summary: dict,
              plots: list[Path]) -> str:
    lines = [f"# Eval report · split {split} · {summary['n']} questions ({summary['must_refuse']} must refuse)", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {key} | {summary[key]} |" for key in SUMMARY_KEYS]
    lines += ["", "## Per phrasing style (answerable questions)", "", "| style | n | top1 | top5 | fact recall |",
              "|---|---|---|---|---|"]
    lines += [f"| {style} | {f['n']} | {f['top1']} | {f['top5']} | {f['fact_recall']} |"
              for style, f in summary["per_style"].items()]
    lines += ["", "## Per topic (answerable questions)", "", "| topic | n | top5 | fact recall |", "|---|---|---|---|"]
    lines += [f"| {topic} | {f['n']} | {f['top5']} | {f['fact_recall']} |" for topic, f in summary["per_topic"].items()]
    lines += [""] + [f"![{plot.stem}]({plot.name})" for plot in plots]
    by_id = {q.id: q for q in questions}
    failures = [r for r in results if not r.passed]
    lines += ["", f"## Failures ({len(failures)})", "",
              "| question | expected | answered and cited | why |", "|---|---|---|---|"]
    for r in failures:
        q = by_id[r.id]
        expected = "refusal" if q.must_refuse else f"{', '.join(q.expected_docs)}; facts: {', '.join(q.must_include)}"
        answered = "refused" if r.refused else f"{_cell(r.answer, 120)}<br>cited: {', '.join(r.cited[:3])}"
        lines.append(f"| `{r.id}` ({r.style}) {_cell(r.question, 80)} | {_cell(expected, 160)} | {answered} | "
                     f"{_cell('; '.join(r.failures), 160)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str, limit: int) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plot_styles(path: Path, summary: dict) -> Path:
    plt = _pyplot()
    styles = list(summary["per_style"])
    figure, axes = plt.subplots(figsize=(8, 3.5))
    positions = range(len(styles))
    axes.bar([p - 0.2 for p in positions], [summary["per_style"][s]["top5"] for s in styles], 0.4, label="top-5")
    axes.bar([p + 0.2 for p in positions], [summary["per_style"][s]["fact_recall"] for s in styles], 0.4,
             label="fact recall")
    axes.axhline(0.95, color="grey", linestyle="--", linewidth=1, label="goal 0.95 (top-5)")
    axes.set_xticks(list(positions), styles, rotation=30, ha="right")
    axes.set_ylim(0, 1.05)
    axes.set_title("Per phrasing style")
    axes.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _plot_latency(path: Path, results: list[QuestionResult]) -> Path:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.hist([r.ms for r in results], bins=30)
    axes.set_xlabel("answer latency (ms)")
    axes.set_ylabel("questions")
    axes.set_title("Answer latency")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _pyplot():  # noqa: ANN202 - matplotlib's module
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
