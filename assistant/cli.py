"""`zhengwu`: the command line. Each subcommand is a thin face over library code."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from assistant.errors import ZhengwuError
from assistant.settings import Settings

app = typer.Typer(help="政务问答助手 Zhengwu: index the corpus, ask questions, serve the API.", no_args_is_help=True)
corpus_app = typer.Typer(help="Inspect the shipped corpus.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")


def _add_eval_commands() -> None:
    """`zhengwu eval …` is the same app as `python -m eval …`."""
    from eval.__main__ import app as eval_app

    app.add_typer(eval_app, name="eval", help="Benchmarks and the staff eval harness (same as python -m eval).")


_add_eval_commands()
console = Console()
errors = Console(stderr=True)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ZhengwuError as exc:
        errors.print(f"[red]配置错误 / configuration error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc


@app.command()
def index(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Files or folders (default: the corpus dir and the staff uploads under the data dir).")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed every document.")] = False,
    drop: Annotated[list[str] | None, typer.Option(
        "--drop", metavar="KEY", help="Drop this index (a key `zhengwu index` names as unused, e.g. a removed "
                                      "ZHENGWU_SECOND_EMBEDDER's); never one these settings use.")] = None,
) -> None:
    """Index documents into Chroma (incremental; atomic switch when complete)."""
    from assistant.store import ChromaStore
    from indexer.reindex import drop_index, reindex, unused_indexes

    settings = _settings()
    skipped: list[str] = []

    def on_problem(problem: ZhengwuError) -> None:
        skipped.append(str(problem))
        errors.print(f"[yellow]skipped[/yellow] {problem}", soft_wrap=True)

    try:
        with Progress(
            TextColumn("[bold]embedding[/bold]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("chunks · {task.fields[rate]}"), TimeRemainingColumn(),
            console=console, transient=False, disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task("embed", total=None, rate="")

            def on_progress(done: int, total: int) -> None:
                elapsed = progress.tasks[0].elapsed or 0.0
                rate = f"{done / elapsed:.1f}/s" if elapsed > 0 and done else ""
                progress.update(task, completed=done, total=total, rate=rate)

            summary = reindex(settings, paths or None, rebuild=rebuild, on_progress=on_progress, on_problem=on_problem)
    except ZhengwuError as exc:
        errors.print(f"[red]indexing failed:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc

    table = Table(title=f"index {summary.index_key}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for what, value in (
        ("added documents", summary.added), ("updated documents", summary.updated),
        ("removed documents", summary.removed), ("unchanged documents", summary.unchanged),
        ("skipped files", len(skipped)), ("chunks in index", summary.chunks_total),
        ("chunks embedded", summary.chunks_embedded), ("seconds", f"{summary.seconds:.2f}"),
        ("chunks/s", f"{summary.chunks_per_second:.1f}"),
    ):
        table.add_row(what, str(value))
    console.print(table)
    console.print(f"live collection: {summary.collection}", soft_wrap=True)
    if not summary.switched:
        console.print("nothing changed: the live index was left as it is")
    if summary.second is not None:
        second = summary.second
        console.print(f"second embedder's index {second.index_key}: {second.added} added, {second.updated} updated, "
                      f"{second.removed} removed, {second.unchanged} unchanged, {second.chunks_embedded} chunks "
                      f"embedded in {second.seconds:.1f}s; live collection {second.collection}", soft_wrap=True)
    for key in drop or []:
        try:
            drop_index(settings, ChromaStore.connect(settings), key)
        except ZhengwuError as exc:
            errors.print(f"[red]could not drop index {key}:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(1) from exc
        console.print(f"dropped index {key}", soft_wrap=True)
    try:
        unused = unused_indexes(settings, ChromaStore.connect(settings))
    except ZhengwuError as exc:  # the index was built: say so, do not fail the run
        errors.print(f"[yellow]could not list unused indexes:[/yellow] {exc}", soft_wrap=True)
        return
    for key in unused:
        console.print(f"index {key} is not used by these settings; `zhengwu index --drop {key}` removes it "
                      "(check first that no other deployment uses it)", soft_wrap=True)


@app.command()
def ask(question: Annotated[str, typer.Argument(help="The question, e.g. 身份证丢了怎么补办")]) -> None:
    """Answer one question with numbered sources."""
    from api.schemas import BlockOut
    from assistant.query import clean_text
    from assistant.service import Assistant

    settings = _settings()
    question = clean_text(question)  # control, format and lone-surrogate characters (invalid UTF-8) dropped
    if not question:
        errors.print("[red]问题不能为空[/red]，例如：zhengwu ask 身份证丢了怎么补办 / the question is empty", soft_wrap=True)
        raise typer.Exit(2)
    if len(question) > settings.max_question_chars:
        errors.print(f"[red]问题太长了[/red]（{len(question)}字），请控制在{settings.max_question_chars}字以内。"
                     f" / the question is longer than ZHENGWU_MAX_QUESTION_CHARS", soft_wrap=True)
        raise typer.Exit(2)
    try:
        answer = Assistant.from_settings(settings).ask(question)
    except ZhengwuError as exc:
        errors.print(f"[red]cannot answer:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    if answer.refused and answer.handoff:
        console.print(answer.handoff.message, soft_wrap=True)
        if answer.handoff.department:
            console.print(f"相关部门：{answer.handoff.department}  {answer.handoff.phone}".rstrip(), soft_wrap=True)
        return
    for block in answer.blocks:
        marks = "".join(f"[{n}]" for n in block.citations)
        console.print(f"[bold]{escape(BlockOut.of(block).title)}[/bold] {marks}", soft_wrap=True)
        console.print(block.text, soft_wrap=True, markup=False)
    for warning in answer.warnings:
        console.print(f"[yellow]提示：[/yellow]{warning}", soft_wrap=True)
    console.print("\n[bold]来源[/bold]")
    for c in answer.citations:
        sample = "（示例数据）" if c.sample else ""
        console.print(f"[{c.number}] 《{c.title}》{c.section}，{c.effective_date}施行{sample} {c.source_url}",
                      soft_wrap=True, markup=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs), the WeChat endpoint (/wechat) and the web pages."""
    import uvicorn

    from api.app import create_app

    settings = _settings()
    try:
        application = create_app(settings)
    except ZhengwuError as exc:
        errors.print(f"[red]cannot start:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    # access_log off: the app logs each request itself, with personal data masked
    uvicorn.run(application, host=host, port=port, log_level="info", access_log=False)


@corpus_app.command("stats")
def corpus_stats(
    as_json: Annotated[bool, typer.Option("--json", help="Also print one JSON object on the last line.")] = False,
) -> None:
    """Count the corpus per kind, the glossary, the dialect lexicon and the eval set."""
    from eval.questions import load_questions
    from assistant.lexicon import load_dialect, load_glossary
    from indexer.loaders import load_paths

    settings = _settings()
    try:
        loaded = load_paths([settings.corpus_dir], root=Path.cwd())
        counts = Counter(doc.kind for doc in loaded.documents)
        stats = {kind: counts.get(kind, 0) for kind in ("guide", "policy", "faq", "bundle")}
        stats["glossary"] = len(load_glossary(settings.corpus_dir / "glossary.yaml"))
        stats["dialect"] = len(load_dialect(settings.corpus_dir / "dialect.yaml"))
        questions = load_questions(settings.eval_questions)
        stats["eval_questions"] = len(questions)
        stats["eval_must_refuse"] = sum(q.must_refuse for q in questions)
        stats["skipped_files"] = len(loaded.problems)
    except ZhengwuError as exc:
        errors.print(f"[red]cannot read the corpus:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    for problem in loaded.problems:
        errors.print(f"[yellow]skipped[/yellow] {problem.path}: {problem.reason}", soft_wrap=True)
    table = Table(title="corpus")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in stats.items():
        table.add_row(key, str(value))
    console.print(table)
    if as_json:
        sys.stdout.write(json.dumps(stats, ensure_ascii=False) + "\n")


@corpus_app.command("similar")
def corpus_similar(
    limit: Annotated[int, typer.Option(help="Rows to print, largest margin first.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Also print one JSON object on the last line.")] = False,
) -> None:
    """Similar questions that read closer to another matter's title or similar question than to any
    of their own matter's, in the live index (run `zhengwu index` first): what to reword before
    the title order and the title checks take them for that matter."""
    from assistant.catalog import Catalog
    from assistant.store import ChromaStore
    from assistant.titles import crossing_names
    from indexer.reindex import index_key

    settings = _settings()
    try:
        store = ChromaStore.connect(settings)
        catalog = Catalog.open(settings.index_dir, store, store.require_live(index_key(settings)))
    except ZhengwuError as exc:
        errors.print(f"[red]cannot read the index:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    crossings = crossing_names(catalog)
    questions = sum(len(catalog.names(doc_id)) - 1 for doc_id in catalog.documents)
    table = Table(title=f"{len(crossings)} of {questions} similar questions read closer to another matter")
    for column in ("document", "similar question", "reads closer to", "margin"):
        table.add_column(column, justify="right" if column == "margin" else "left")
    for crossing in crossings[:limit]:
        table.add_row(crossing.doc_id, crossing.question, f"{crossing.other_doc_id}: {crossing.other_name}",
                      f"{crossing.margin:.3f}")
    console.print(table)
    if as_json:
        summary = {"similar_questions": questions, "crossing": len(crossings),
                   "rows": [{"doc_id": c.doc_id, "question": c.question, "other_doc_id": c.other_doc_id,
                             "other_name": c.other_name, "margin": round(c.margin, 4)} for c in crossings[:limit]]}
        sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover - `python -m assistant.cli`
    app()
