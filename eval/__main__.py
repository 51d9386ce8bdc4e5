"""`python -m eval …`: benchmarks that print their figures (and, with --json, one JSON object on
the last line). Commands, not tests: the suite only checks they run on tiny inputs."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from assistant.errors import ZhengwuError
from assistant.fusion import DEFAULT_WEIGHTS, FusionWeights
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.answering import ExtractiveAnswerer
    from eval.questions import EvalQuestion
    from eval.scale import IndexGrower

app = typer.Typer(help="Zhengwu benchmarks and the staff eval harness.", no_args_is_help=True)
console = Console(stderr=True)
DENSE = {"e5": "e5", "use": "use", "m3e": "st:m3e-small"}
# Hybrid systems over e5 + BM25: (fusion, whether the product's query normaliser runs first,
# whether the settings' learned ranker re-scores the candidates).
HYBRID = {
    "chatchat": (FusionWeights(dense=0.5, lexical=0.5), False, False),  # Langchain-Chatchat's ensemble retriever
    "zhengwu-z": (FusionWeights(dense=1.0, lexical=0.2, method="zscore"), True, False),
    "zhengwu-rrf": (DEFAULT_WEIGHTS, True, False),
    "zhengwu": (DEFAULT_WEIGHTS, True, True),  # the product's retriever (with ZHENGWU_FUSION=rrf: zhengwu-rrf)
    "zhengwu-m3e": (DEFAULT_WEIGHTS, True, False),  # with ZHENGWU_SECOND_EMBEDDER=st:m3e-small: three lists fused
}
SECOND = {"zhengwu-m3e": "m3e"}  # the hybrid systems with a second embedder (a DENSE name)

FOLDS_MIN = 5  # one question per fold at least
Threads = Annotated[int, typer.Option("--threads", min=1, help="CPU threads (pinned; default 1).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object with every figure on the last line.")]
TitleFloor = Annotated[float | None, typer.Option(
    "--title-floor", min=-1.0, max=1.0, help="The answerer's \"same matter?\" cosine, the titles embedded as "
    "passages (Thresholds.title_floor), for this run; -1 turns that reading off.")]
TitleQueryFloor = Annotated[float | None, typer.Option(
    "--title-query-floor", min=-1.0, max=1.0, help="The \"same matter?\" check's second reading, the titles "
    "embedded as queries (Thresholds.title_query_floor), for this run; -1 turns that reading off.")]


def _settings(threads: int) -> Settings:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    return Settings.from_env(threads=threads)


def _emit(figures: dict, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(figures, ensure_ascii=False) + "\n")


@app.command()
def throughput(
    data: Annotated[list[Path] | None, typer.Option("--data", help="Documents to index (default: the corpus).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Use at most this many documents.")] = 10_000,
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """Indexing chunks/s beside the embedder's raw encode chunks/s, same run."""
    from assistant.embedders import create_embedder
    from eval.throughput import measure_throughput
    from indexer.loaders import load_paths

    settings = _settings(threads)
    try:
        documents = load_paths(data or [settings.corpus_dir], root=Path.cwd()).documents[:limit]
        result = measure_throughput(documents, create_embedder(settings.embedder, threads), settings)
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title=f"indexing throughput ({settings.embedder}, {threads} thread(s))")
    for column in ("documents", "chunks", "raw encode chunks/s", "indexer chunks/s", "indexer / raw"):
        table.add_column(column, justify="right")
    table.add_row(str(result.documents), str(result.chunks), f"{result.raw_chunks_per_s:.1f}",
                  f"{result.index_chunks_per_s:.1f}", f"{result.ratio:.1%}")
    Console().print(table)
    _emit({"embedder": settings.embedder, "threads": threads, "documents": result.documents, "chunks": result.chunks,
           "raw_chunks_per_s": round(result.raw_chunks_per_s, 2),
           "index_chunks_per_s": round(result.index_chunks_per_s, 2), "ratio": round(result.ratio, 4)}, as_json)


Queries = Annotated[int, typer.Option("--queries", min=1, help="Questions asked per index (the eval set, cycled).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the synthetic chunks' texts and noise.")]
Embed = Annotated[bool, typer.Option("--embed", help="Embed the synthetic chunks for real (slow; cached) instead "
                                     "of using their source chunk's embedding plus noise.")]


def _grower(settings: Settings, threads: int, seed: int, embed: bool, queries: int) -> tuple[IndexGrower, list[str]]:
    """The index grower over the shipped corpus (its embeddings cached) and the questions to ask."""
    from assistant.embedders import create_embedder
    from eval.latency import cycled
    from eval.questions import load_questions
    from assistant.answering import ExtractiveAnswerer
    from eval.questions import EvalQuestion
    from eval.scale import IndexGrower
    from indexer.loaders import load_paths

    documents = load_paths([settings.corpus_dir], root=Path.cwd()).documents
    console.print(f"corpus: {len(documents)} documents; embedding them (or reading the cache) …")
    grower = IndexGrower(documents, create_embedder(settings.embedder, threads), settings, seed, embed)
    asked = cycled([q.question for q in load_questions(settings.eval_questions)], queries)
    return grower, asked


@app.command()
def latency(
    chunks: Annotated[list[int] | None, typer.Option("--chunks", min=1, help="Synthetic chunks added to the corpus "
                                                     "(repeat for several sizes).")] = None,
    queries: Queries = 200,
    seed: Seed = 0,
    embed: Embed = False,
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """Answer latency (extractive path) p50/p95/p99 beside the raw floor (embed + Chroma query), same run."""
    from eval.latency import measure_latency, print_latency

    settings = _settings(threads)
    try:
        grower, asked = _grower(settings, threads, seed, embed, queries)
        results = measure_latency(grower, list(chunks or []), asked,
                                  lambda r: console.print(f"{r.index.chunks:,} chunks: built in {r.index.seconds:.0f}s, "
                                                          f"answer p95 {r.serving.answer.p95_ms} ms"))
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_latency(results, grower, threads, queries)
    _emit({"embedder": settings.embedder, "threads": threads, "queries": queries, "vectors": "embedded" if embed else "noised",
           "sizes": [r.as_json() for r in results]}, as_json)


@app.command()
def scale(
    sizes: Annotated[str, typer.Option(help="Comma-separated index sizes, in chunks.")] = "1000,10000,100000",
    queries: Queries = 200,
    seed: Seed = 0,
    embed: Embed = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the p95 and RSS plot (PNG) here.")] = None,
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """Answer p95 and process RSS as the index grows, as a table (and a plot)."""
    from eval.scale import measure_scale, plot_scale, print_scale

    try:
        wanted = [int(size) for size in sizes.split(",") if size.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"sizes must be comma-separated whole numbers, got {sizes!r}") from exc
    if not wanted or min(wanted) < 1:
        raise typer.BadParameter(f"sizes must be whole numbers of at least 1, got {sizes!r}")
    settings = _settings(threads)
    try:
        grower, asked = _grower(settings, threads, seed, embed, queries)
        points = measure_scale(grower, wanted, asked,
                               lambda p: console.print(f"{p.index.chunks:,} chunks: built in {p.index.seconds:.0f}s, "
                                                       f"answer p95 {p.serving.answer.p95_ms} ms, RSS {p.serving.rss_mb:.0f} MiB"))
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_scale(points, grower, threads)
    if plot:
        title = f"{settings.embedder}, {threads} thread(s), {queries} questions; {grower.vectors_label}"
        console.print(f"wrote {plot_scale(points, plot, title)}")
    _emit({"embedder": settings.embedder, "threads": threads, "queries": queries, "vectors": "embedded" if embed else "noised",
           "sizes": [p.as_json() for p in points]}, as_json)


@app.command()
def bench(
    benchmark: Annotated[str, typer.Argument(help="msgabench or ncp")],
    data: Annotated[Path, typer.Option("--data", help="msgabench: zhengwu_qa.jsonl; ncp: the dataset folder.")],
    split: Annotated[str, typer.Option(help="dev, test or all (sha1(id) % 5 == 0 is test).")] = "test",
    queries: Annotated[Path | None, typer.Option("--queries", help="Own questions: JSON lines {question, relevant_ids}.")] = None,
    systems: Annotated[str, typer.Option(help="Comma-separated: bm25, e5, use, m3e, chatchat, zhengwu-z, "
                                              "zhengwu-rrf, zhengwu, zhengwu-m3e.")]
    = "bm25,e5,use,m3e,chatchat,zhengwu-z,zhengwu-rrf,zhengwu,zhengwu-m3e",
    limit: Annotated[int, typer.Option(min=1, help="Score at most this many queries.")] = 100_000,
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """Retrieval benchmark: every system side by side, one run."""
    import numpy as np

    from assistant.embedders import create_embedder
    from assistant.service import create_normalizer, load_ranker
    from eval import bench as runner
    from eval.datasets import load_msgabench, load_ncp, load_query_file
    from indexer.splitter import Splitter

    if split not in ("dev", "test", "all"):
        raise typer.BadParameter(f"split must be dev, test or all, got {split!r}")
    wanted = [s.strip() for s in systems.split(",") if s.strip()]
    unknown = [s for s in wanted if s != "bm25" and s not in DENSE and s not in HYBRID]
    if unknown:
        raise typer.BadParameter(f"unknown system(s): {', '.join(unknown)}")
    settings = _settings(threads)
    try:
        loaders = {"msgabench": load_msgabench, "ncp": load_ncp}
        if benchmark not in loaders:
            raise typer.BadParameter(f"benchmark must be msgabench or ncp, got {benchmark!r}")
        loaded = loaders[benchmark](data, split)  # type: ignore[operator]
        asked = (load_query_file(queries) if queries else loaded.queries)[:limit]
        chunks = runner.chunk_benchmark(loaded, Splitter(settings.chunk_chars, settings.chunk_overlap))
        results: dict[str, dict[str, float]] = {}
        vectors_of: dict[str, tuple[object, np.ndarray]] = {}

        def dense(name: str) -> tuple[object, np.ndarray]:
            if name not in vectors_of:
                embedder = create_embedder(DENSE[name], threads)
                vectors, seconds = runner.timed(lambda: runner.embed_chunks(
                    chunks, embedder, settings.data_dir / "bench-cache", f"{benchmark}-{loaded.fingerprint}"))
                console.print(f"{name}: corpus embeddings ready in {seconds:.1f}s ({len(chunks)} chunks)")
                vectors_of[name] = (embedder, vectors)
            return vectors_of[name]

        bm25 = runner.build_bm25(chunks)
        for system in wanted:
            if system == "bm25":
                rankings, seconds = runner.timed(lambda: runner.rank_bm25(asked, chunks, bm25))
            elif system in HYBRID:
                embedder, vectors = dense("e5")
                weights, normalise, learned = HYBRID[system]
                normalizer = create_normalizer(settings.corpus_dir) if normalise else None
                ranker = load_ranker(settings) if learned else None
                second = dense(SECOND[system]) if system in SECOND else None
                rankings, seconds = runner.timed(lambda: runner.rank_hybrid(
                    asked, chunks, vectors, embedder, bm25, weights, normalizer, ranker, second))
            else:
                embedder, vectors = dense(system)
                rankings, seconds = runner.timed(lambda: runner.rank_dense(asked, chunks, vectors, embedder))
            results[system] = {**runner.score(asked, rankings, spans=benchmark == "ncp"),
                               "query_ms": round(1000 * seconds / max(len(asked), 1), 2)}
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title=f"{benchmark} · split {split} · {len(asked)} questions · {len(loaded.documents)} documents")
    columns = ["hit@1", "hit@5", "mrr@10"] + (["span@5"] if benchmark == "ncp" else [])
    for column in ("system", *columns, "ms/query"):
        table.add_column(column, justify="right")
    for system, figures in results.items():
        table.add_row(system, *(f"{figures[c]:.3f}" for c in columns), f"{figures['query_ms']:.1f}")
    Console().print(table)
    _emit({"benchmark": benchmark, "split": split, "n": len(asked), "threads": threads, "systems": results}, as_json)


@app.command("fit-ranker")
def fit_ranker(
    msgabench: Annotated[Path, typer.Option("--msgabench", help="MSGABench zhengwu_qa.jsonl.")],
    ncp: Annotated[Path, typer.Option("--ncp", help="The NCP policy QA folder.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the fitted ranker here (e.g. "
                                             "assistant/data/ranker.json); without it, only the figures.")] = None,
    strength: Annotated[float, typer.Option(min=1e-4, help="Inverse regularisation strength (sklearn's C).")] = 1.0,
    degree: Annotated[int, typer.Option(min=1, max=2, help="The ranker written: 1 linear, 2 with the features' "
                                        "pairwise products.")] = 2,
    limit: Annotated[int, typer.Option(min=FOLDS_MIN, help="Use at most this many dev questions per benchmark.")]
    = 100_000,
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """Fit the learned ranker on the dev splits (never the test split) and print the k-fold figures of
    rank fusion and of the linear and quadratic rankers on the same dev questions."""
    import datetime as dt

    from assistant.embedders import create_embedder
    from assistant.ranker import CANDIDATE_DEPTH
    from assistant.service import create_normalizer
    from eval import bench as runner
    from eval import ranking
    from eval.datasets import load_msgabench, load_ncp
    from indexer.splitter import Splitter

    settings = _settings(threads)
    try:
        embedder = create_embedder(settings.embedder, threads)
        normalizer = create_normalizer(settings.corpus_dir)
        gathered, fingerprints = [], {}
        for name, loaded in (("msgabench", load_msgabench(msgabench, "dev")), ("ncp", load_ncp(ncp, "dev"))):
            chunks = runner.chunk_benchmark(loaded, Splitter(settings.chunk_chars, settings.chunk_overlap))
            vectors = runner.embed_chunks(chunks, embedder, settings.data_dir / "bench-cache",
                                          f"{name}-{loaded.fingerprint}")
            bm25 = runner.build_bm25(chunks)
            questions = runner.gather_candidates(loaded.queries[:limit], chunks, vectors, embedder, bm25,
                                                 CANDIDATE_DEPTH, normalizer)
            gathered.append(ranking.Gathered(name, chunks, questions))
            fingerprints[name] = loaded.fingerprint
            console.print(f"{name}: {len(questions)} dev questions, {len(chunks)} chunks")
        figures = ranking.cross_check(gathered, DEFAULT_WEIGHTS, strength)
        provenance = {
            "fitted_on": {g.name: f"dev split ({len(g.questions)} questions)" for g in gathered},
            "data_fingerprints": fingerprints, "embedder": settings.embedder, "strength": strength,
            "degree": degree, "limit": limit, "date": dt.date.today().isoformat(),
            "command": f"python -m eval fit-ranker --msgabench {msgabench.name} --ncp {ncp.name} "
                       f"--strength {strength} --degree {degree}",
            "cross_validated": figures,
        }
        ranker = ranking.fit(gathered, strength, provenance=provenance, degree=degree)
    except ValueError as exc:  # too few questions: a fold without a relevant or an irrelevant candidate
        console.print(f"[red]cannot fit the ranker: {exc}[/red]")
        raise typer.Exit(1) from exc
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title=f"learned ranker · {ranking.FOLDS}-fold cross-validation on the dev splits")
    for column in ("benchmark", "system", "hit@1", "hit@5", "mrr@10", "span@5"):
        table.add_column(column, justify="right")
    for name, result in figures.items():
        for system in ("fusion", *ranking.SYSTEMS.values()):
            row = result[system]
            shown = f"{system} (written)" if system == ranking.SYSTEMS[degree] and out is not None else system
            table.add_row(name, shown,
                          *(f"{row[c]:.3f}" if c in row else "—" for c in ("hit@1", "hit@5", "mrr@10", "span@5")))
    Console().print(table)
    if out is not None:
        ranker.save(out)
        console.print(f"ranker written to {out}")
    _emit({"folds": ranking.FOLDS, "strength": strength, "degree": degree, "figures": figures}, as_json)


@app.command()
def run(
    split: Annotated[str, typer.Option(help="dev, test or all (by need: sha1(need) % 2 == 0 is test).")] = "test",
    questions: Annotated[Path | None, typer.Option("--questions", help="Eval set (default: ZHENGWU_EVAL_QUESTIONS).")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Folder for results.jsonl, report.md and plots.")] = None,
    threads: Threads = 1,
    title_floor: TitleFloor = None,
    title_query_floor: TitleQueryFloor = None,
    as_json: AsJson = False,
) -> None:
    """The staff eval set through the full assistant (the shipped corpus is indexed first, incrementally)."""
    from assistant.service import Assistant
    from eval.questions import load_questions
    from eval.runner import run_question, summarise
    from indexer.reindex import reindex

    if split not in ("dev", "test", "all"):
        raise typer.BadParameter(f"split must be dev, test or all, got {split!r}")
    settings = _settings(threads)
    try:
        asked = load_questions(questions or settings.eval_questions, split)  # type: ignore[arg-type]
        reindex(settings)  # the corpus and the staff uploads, incrementally
        assistant = Assistant.from_settings(settings)  # retrieval, answer and the plain-language rewrite
        _set_title_floor(_extractive(assistant.answerer), title_floor, title_query_floor)
        results = [run_question(assistant, q) for q in asked]
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    summary = summarise(asked, results)
    table = Table(title=f"eval set · split {split} · {summary['n']} questions ({summary['must_refuse']} must refuse)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("top1", "top5", "mrr", "fact_recall", "citation_precision", "refusal_accuracy", "false_refusal",
                "section_cited", "section_first", "passed", "p50_ms", "p95_ms"):
        table.add_row(key, str(summary[key]))
    Console().print(table)
    styles = Table(title="per phrasing style (answerable questions)")
    for column in ("style", "n", "top1", "top5", "fact recall"):
        styles.add_column(column, justify="right")
    for style, figures in summary["per_style"].items():
        styles.add_row(style, str(figures["n"]), f"{figures['top1']:.3f}", f"{figures['top5']:.3f}", f"{figures['fact_recall']:.3f}")
    Console().print(styles)
    if report:
        from eval.report import write_report

        for path in write_report(report, split, asked, results, summary):
            console.print(f"wrote {path}")
    _emit(summary, as_json)


def _extractive_over(split: str, questions: Path | None, threads: int) -> tuple[list[EvalQuestion], ExtractiveAnswerer]:
    """The eval set's `split` and the product's extractive answerer over the re-indexed corpus (with
    an LLM configured, the extractive answerer it wraps, whose refusals it keeps)."""
    from eval.questions import load_questions

    if split not in ("dev", "test", "all"):
        raise typer.BadParameter(f"split must be dev, test or all, got {split!r}")
    settings = _settings(threads)
    asked = load_questions(questions or settings.eval_questions, split)  # type: ignore[arg-type]
    return asked, _extractive_answerer(settings)


def _extractive_answerer(settings: Settings) -> ExtractiveAnswerer:
    """The product's extractive answerer over the corpus, re-indexed first (incrementally)."""
    from assistant.service import Assistant
    from indexer.reindex import reindex

    reindex(settings)
    return _extractive(Assistant.from_settings(settings).answerer)


def _extractive(answerer: object) -> ExtractiveAnswerer:
    """The extractive answerer, or with an LLM configured the extractive answerer it wraps."""
    from assistant.answering import ExtractiveAnswerer

    return answerer if isinstance(answerer, ExtractiveAnswerer) else answerer.extractive  # type: ignore[attr-defined]


def _set_title_floor(extractive: ExtractiveAnswerer, title_floor: float | None,
                     title_query_floor: float | None = None) -> None:
    """Run with other "same matter?" cosines than the shipped ones (None keeps one)."""
    if title_floor is not None:
        extractive.thresholds = replace(extractive.thresholds, title_floor=title_floor)
    if title_query_floor is not None:
        extractive.thresholds = replace(extractive.thresholds, title_query_floor=title_query_floor)


@app.command("thresholds")
def thresholds(
    split: Annotated[str, typer.Option(help="dev, test or all (by need: sha1(need) % 2 == 0 is test).")] = "dev",
    questions: Annotated[Path | None, typer.Option("--questions", help="Eval set (default: ZHENGWU_EVAL_QUESTIONS).")] = None,
    top: Annotated[int, typer.Option(min=1, help="Show this many of the best choices.")] = 10,
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """Sweep the evidence thresholds on the eval set (dev by default): refusal accuracy and false
    refusals for the current thresholds and for the best choices on a grid. Changes no code."""
    import numpy as np

    from assistant.answering import Thresholds
    from eval import evidence

    try:
        asked, extractive = _extractive_over(split, questions, threads)
        cases = evidence.gather(extractive, asked)
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    current = evidence.score(cases, Thresholds())
    best = evidence.sweep(cases, Thresholds(), floors=np.arange(0.85, 0.9251, 0.005),
                          weaks=np.arange(0.85, 0.9501, 0.005), coverages=np.arange(0.0, 1.001, 0.02))[:top]
    table = Table(title=f"evidence thresholds · split {split} · {len(cases)} questions "
                        f"({sum(c.must_refuse for c in cases)} must refuse, "
                        f"{sum(c.evidence is not None for c in cases)} reach the check)")
    for column in ("choice", "floor", "weak", "coverage", "refusals right", "false refusals", "errors"):
        table.add_column(column, justify="right")
    for name, outcome in [("current", current)] + [(f"#{n}", o) for n, o in enumerate(best, start=1)]:
        t = outcome.thresholds
        table.add_row(name, f"{t.dense_floor:.3f}", f"{t.dense_weak:.3f}", f"{t.coverage_weak:.2f}",
                      f"{outcome.refusal_accuracy:.3f}", f"{outcome.false_refusal:.3f}", str(outcome.errors))
    Console().print(table)

    def row(outcome: evidence.Outcome) -> dict:
        t = outcome.thresholds
        return {"dense_floor": t.dense_floor, "dense_weak": t.dense_weak, "coverage_weak": t.coverage_weak,
                "refusal_accuracy": outcome.refusal_accuracy, "false_refusal": outcome.false_refusal,
                "errors": outcome.errors}

    _emit({"split": split, "n": len(cases), "current": row(current), "best": [row(o) for o in best]}, as_json)


@app.command("holdout")
def holdout(
    split: Annotated[str, typer.Option(help="dev, test or all (by need: sha1(need) % 2 == 0 is test).")] = "dev",
    questions: Annotated[Path | None, typer.Option("--questions", help="Eval set (default: ZHENGWU_EVAL_QUESTIONS).")] = None,
    threads: Threads = 1,
    title_floor: TitleFloor = None,
    title_query_floor: TitleQueryFloor = None,
    as_json: AsJson = False,
) -> None:
    """Leave one matter out: each answerable question asked with its own documents (and the FAQs
    and life-event bundles built on them) held out of retrieval. The share refused (the honest
    answer, a lower bound) beside the false refusals with nothing held out."""
    from eval.holdout import print_holdout, run_holdout

    try:
        asked, extractive = _extractive_over(split, questions, threads)
        _set_title_floor(extractive, title_floor, title_query_floor)
        summary = run_holdout(extractive, asked)
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_holdout(summary, f"split {split}")
    _emit({"split": split, **summary}, as_json)


@app.command("batches")
def batches(
    data: Annotated[list[Path] | None, typer.Option("--data", help="Batch files (default: every eval/fresh/*.jsonl).")] = None,
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """The fresh batches through the product's extractive answerer: must-refuse questions refused (by
    kind), answerable ones refused, and answered citing the expected document."""
    from eval.batches import ask_batch, load_batch, summarise

    paths = data or sorted((Path(__file__).parent / "fresh").glob("*.jsonl"))
    try:
        extractive = _extractive_answerer(_settings(threads))
        figures = {path.stem: summarise(ask_batch(extractive, load_batch(path))) for path in paths}
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title="fresh batches")
    for column in ("batch", "refused (must refuse)", "by kind", "false refusals", "expected cited"):
        table.add_column(column, justify="right")
    for name, f in figures.items():
        kinds = ", ".join(f"{kind} {got}/{of}" for kind, (got, of) in f["refusals_by_kind"].items())
        table.add_row(name, f"{f['refusals']} of {f['must_refuse']}", kinds, f"{f['false_refusals']} of {f['answerable']}",
                      f"{f['expected_cited']} of {f['answerable']}")
    Console().print(table)
    _emit(figures, as_json)


@app.command("asked-back")
def asked_back(
    limit: Annotated[int | None, typer.Option(min=1, help="Ask at most this many similar questions.")] = None,
    kind: Annotated[str, typer.Option(help="guide, faq or all: whose similar questions to ask.")] = "all",
    split: Annotated[str, typer.Option(help="dev, test or all (by the guide a document is on: sha1(guide) % 2 == 0 "
                                       "is test).")] = "all",
    threads: Threads = 1,
    title_floor: TitleFloor = None,
    title_query_floor: TitleQueryFloor = None,
    as_json: AsJson = False,
) -> None:
    """The corpus's guides' and FAQs' similar questions asked back, each with itself withheld from its
    document: every one is answerable, so the share refused is a false-refusal rate the eval set was
    never tuned on."""
    from eval.asked_back import KINDS, ask_back, print_asked_back, summarise

    if kind not in (*KINDS, "all"):
        raise typer.BadParameter(f"kind must be guide, faq or all, got {kind!r}")
    if split not in ("dev", "test", "all"):
        raise typer.BadParameter(f"split must be dev, test or all, got {split!r}")
    try:
        extractive = _extractive_answerer(_settings(threads))
        _set_title_floor(extractive, title_floor, title_query_floor)
        summary = summarise(ask_back(extractive, limit, KINDS if kind == "all" else (kind,), split))  # type: ignore[arg-type]
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_asked_back(summary)
    _emit({"split": split, "kind": kind, **summary}, as_json)


@app.command("plain")
def plain(
    split: Annotated[str, typer.Option(help="dev, test or all (by need: sha1(need) % 2 == 0 is test).")] = "test",
    questions: Annotated[Path | None, typer.Option("--questions", help="Eval set (default: ZHENGWU_EVAL_QUESTIONS).")] = None,
    elderly: Annotated[bool, typer.Option("--elderly", help="Elderly mode: shorter sentences, top points first.")] = False,
    script: Annotated[str, typer.Option(help="simplified, traditional or cantonese.")] = "simplified",
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """Every answer on the eval set rewritten in plain words (over the existing index): fact
    preservation, mean sentence length and unexplained jargon, before vs after."""
    from assistant.answer import RewriteOptions
    from eval.plain import measure_plain, print_plain

    if split not in ("dev", "test", "all"):
        raise typer.BadParameter(f"split must be dev, test or all, got {split!r}")
    if script not in ("simplified", "traditional", "cantonese"):
        raise typer.BadParameter(f"script must be simplified, traditional or cantonese, got {script!r}")
    settings = _settings(threads)
    try:
        figures = measure_plain(settings, split, questions, RewriteOptions(elderly=elderly, script=script))  # type: ignore[arg-type]
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_plain(figures, f"split {split}{' · elderly' if elderly else ''} · {script}")
    _emit(figures.as_json(), as_json)


@app.command("routing")
def routing(
    data: Annotated[Path, typer.Option("--data", help="MSGABench zhengwu_qa.jsonl (questions with a `department`).")],
    save: Annotated[bool, typer.Option("--save", help="Save the fitted router under the data dir (data_dir/router).")] = False,
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """Department routing: top-1/top-3 on test for the majority class, a keyword router and ours (fitted on dev)."""
    from assistant.routing import ROUTER_DIR
    from eval.routing import print_routing, run_routing

    settings = _settings(threads)
    try:
        report = run_routing(data, settings.data_dir / ROUTER_DIR if save else None)
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_routing(report)
    _emit(report.as_json(), as_json)


@app.command("scope")
def scope(
    data: Annotated[list[str], typer.Option("--data", help="PATH:FIELD of a JSONL file of real questions or messages (repeatable).")],
    rules: Annotated[Path | None, typer.Option("--rules", help="Another scope.yaml to check instead of the shipped one.")] = None,
    other_city: Annotated[bool, typer.Option("--other-city", help="Count the other-city refusals too.")] = False,
    examples: Annotated[int, typer.Option("--examples", min=0, help="Examples shown per category.")] = 3,
    max_chars: Annotated[int, typer.Option("--max-chars", min=1, help="Leave out longer texts.")] = 200,
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """What the scope rules refuse in external texts (per category, with examples): for checking
    rules on data they were not written from."""
    from assistant.places import PlaceNames
    from assistant.scope import ScopeChecker
    from assistant.service import create_normalizer
    from eval.scope import flag, print_scope, read_texts

    settings = _settings(threads)
    try:
        texts = [text for spec in data for text in read_texts(spec, max_chars)]
        checker = ScopeChecker.load(rules, places=PlaceNames.load())
        report = flag(checker, create_normalizer(settings.corpus_dir), texts, other_city, examples)
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_scope(report, console)
    _emit(report.as_json(), as_json)


@app.command("pinyin")
def pinyin(
    data: Annotated[list[str], typer.Option("--data", help="PATH[:FIELD] of a JSONL file of questions (repeatable; "
                                            "FIELD defaults to question).")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Questions per file (the first of its dev split).")] = 1000,
    examples: Annotated[int, typer.Option("--examples", min=0, help="Wrong decodings shown per variant.")] = 10,
    threads: Threads = 1,
    as_json: AsJson = False,
) -> None:
    """Typed pinyin read back by the product's decoder: one word, every word or every character
    (run together or a space between words) of each question typed as toneless pinyin; exact
    recovery, character accuracy and runs left undecoded (the dev split of files whose rows have ids)."""
    from assistant.service import create_normalizer
    from eval.pinyin import measure, print_pinyin, read_questions

    settings = _settings(threads)
    try:
        sources = [read_questions(spec, limit) for spec in data]
        decoder = create_normalizer(settings.corpus_dir).pinyin
        assert decoder is not None  # create_normalizer always gives one
        report = measure(decoder, sources, examples=examples)
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_pinyin(report, console)
    _emit(report.as_json(), as_json)


@app.command("soak")
def soak(
    clients: Annotated[int, typer.Option(min=1, max=1000, help="Concurrent clients.")] = 50,
    seconds: Annotated[float, typer.Option(min=0.1, help="How long to keep asking.")] = 60.0,
    url: Annotated[str, typer.Option(help="The server to soak (ignored with --spawn).")] = "http://127.0.0.1:8000",
    spawn: Annotated[bool, typer.Option("--spawn", help="Start zhengwu serve on a free loopback port (indexing "
                                        "first if there is no index) and stop it afterwards.")] = False,
    questions: Annotated[Path | None, typer.Option("--questions", help="Eval set (default: ZHENGWU_EVAL_QUESTIONS).")] = None,
    as_json: AsJson = False,
) -> None:
    """Concurrent clients ask eval-set questions for a fixed time: requests, errors, p50/p95/p99."""
    import asyncio
    from contextlib import nullcontext

    from eval.questions import load_questions
    from eval.soak import print_soak, spawned_server, warm_up
    from eval.soak import soak as run_soak

    try:
        asked = [q.question for q in load_questions(questions or Settings.from_env().eval_questions)]
        if not asked:
            raise typer.BadParameter("the eval set holds no questions")
        with spawned_server() if spawn else nullcontext() as server:
            target = server.url if server is not None else url.rstrip("/")
            warm_up(target, asked[0])
            result = asyncio.run(run_soak(target, asked, clients, seconds))
    except ZhengwuError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_soak(result, target)
    _emit(result.as_json(), as_json)


if __name__ == "__main__":
    app()
