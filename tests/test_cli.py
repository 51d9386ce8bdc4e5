import json
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli import app
from assistant.settings import Settings
from assistant.store import ChromaStore
from indexer.reindex import drop_index, unused_indexes
from tests.conftest import write

runner = CliRunner()


def env_for(tmp_path: Path, corpus: Path) -> dict[str, str]:
    return {"ZHENGWU_DATA_DIR": str(tmp_path / "data"), "ZHENGWU_CORPUS_DIR": str(corpus),
            "ZHENGWU_THREADS": "1", "ZHENGWU_EMBEDDER": "e5"}


def test_index_prints_a_summary_then_reports_nothing_changed(tmp_path: Path, tiny_corpus: Path) -> None:
    env = env_for(tmp_path, tiny_corpus)
    first = runner.invoke(app, ["index"], env=env)
    assert first.exit_code == 0, first.output
    rows = {" ".join(line.strip("│ ").split("│")[0].split()): line.strip("│ ").split("│")[-1].strip()
            for line in first.output.splitlines() if line.count("│") == 3}
    assert rows["added documents"] == "4" and rows["chunks embedded"] == "15", first.output
    assert rows["skipped files"] == "0" and float(rows["chunks/s"]) > 0

    second = runner.invoke(app, ["index"], env=env)
    assert second.exit_code == 0, second.output
    assert "nothing changed" in second.output


def test_index_with_a_second_embedder_says_what_each_index_did(tmp_path: Path, tiny_corpus: Path) -> None:
    env = {**env_for(tmp_path, tiny_corpus), "ZHENGWU_SECOND_EMBEDDER": "use"}
    first = runner.invoke(app, ["index"], env=env)
    assert first.exit_code == 0, first.output
    assert "second embedder's index" in first.output and "-use: 4 added" in first.output
    again = runner.invoke(app, ["index"], env=env)
    assert again.exit_code == 0 and "4 unchanged" in again.output and "nothing changed" in again.output


def test_index_names_the_index_of_a_removed_second_embedder_and_drops_it_when_asked(tmp_path: Path,
                                                                                    tiny_corpus: Path) -> None:
    env = env_for(tmp_path, tiny_corpus)
    assert runner.invoke(app, ["index"], env={**env, "ZHENGWU_SECOND_EMBEDDER": "use"}).exit_code == 0
    settings = Settings.from_environ(env_for(tmp_path, tiny_corpus))
    store = ChromaStore.connect(settings)
    unused = f"{settings.index_name}-use"
    live = store.live(unused)
    assert live is not None and (settings.index_dir / live).is_dir()

    told = runner.invoke(app, ["index"], env=env)  # the setting removed: the second index is named, kept
    assert told.exit_code == 0 and f"index {unused} is not used" in told.output, told.output
    assert f"--drop {unused}" in told.output and store.live(unused) == live and unused_indexes(settings, store) == [unused]

    answering = f"{settings.index_name}-e5"
    refused = runner.invoke(app, ["index", "--drop", answering], env=env)  # never the index answers come from
    assert refused.exit_code == 1 and "used by these settings" in refused.output, refused.output
    dropped = runner.invoke(app, ["index", "--drop", unused], env=env)
    assert dropped.exit_code == 0 and f"dropped index {unused}" in dropped.output, dropped.output
    assert store.live(unused) is None and store.generations(unused) == [] and not (settings.index_dir / live).exists()
    assert unused_indexes(settings, store) == [] and unused not in store.keys()
    collection = store.require_live(answering)  # the answering index is untouched
    assert store.count(collection) == 15 and (settings.index_dir / collection).is_dir()
    assert "not used" not in runner.invoke(app, ["index"], env=env).output


def test_a_drop_cut_short_is_finished_by_the_next(tmp_path: Path, tiny_corpus: Path) -> None:
    env = {**env_for(tmp_path, tiny_corpus), "ZHENGWU_SECOND_EMBEDDER": "use"}
    assert runner.invoke(app, ["index"], env=env).exit_code == 0
    settings = Settings.from_environ(env_for(tmp_path, tiny_corpus))
    store = ChromaStore.connect(settings)
    unused = f"{settings.index_name}-use"
    store.forget(unused)  # as if the drop stopped after removing the pointer
    assert store.live(unused) is None and len(store.generations(unused)) == 1
    assert unused_indexes(settings, store) == [unused]  # found by its collection
    drop_index(settings, store, unused)
    assert store.generations(unused) == [] and unused_indexes(settings, store) == []


def test_index_reports_skipped_files_and_goes_on(tmp_path: Path, tiny_corpus: Path) -> None:
    write(tiny_corpus / "guides" / "broken.md", "---\nid: [oops\n---\n正文\n")
    result = runner.invoke(app, ["index"], env=env_for(tmp_path, tiny_corpus))
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "broken.md" in result.output and "malformed YAML" in result.output


def test_bad_setting_exits_with_a_clear_message(tmp_path: Path, tiny_corpus: Path) -> None:
    result = runner.invoke(app, ["index"], env={**env_for(tmp_path, tiny_corpus), "ZHENGWU_THREADS": "zero"})
    assert result.exit_code == 2
    assert "ZHENGWU_THREADS" in result.output


def test_unreachable_chroma_server_is_a_clear_error(tmp_path: Path, tiny_corpus: Path) -> None:
    from tests.conftest import free_port

    env = {**env_for(tmp_path, tiny_corpus), "ZHENGWU_CHROMA_URL": f"http://127.0.0.1:{free_port()}"}
    result = runner.invoke(app, ["index"], env=env)
    assert result.exit_code == 1
    assert "cannot open Chroma" in result.output


def test_eval_commands_are_reachable_from_zhengwu() -> None:
    result = runner.invoke(app, ["eval", "--help"])
    assert result.exit_code == 0 and "bench" in result.output and "throughput" in result.output


def test_corpus_stats_json_is_the_last_line() -> None:
    result = runner.invoke(app, ["corpus", "stats", "--json"], env={"ZHENGWU_CORPUS_DIR": "corpus"})
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output.strip().splitlines()[-1])
    assert stats["guide"] >= 60 and stats["faq"] >= 150 and stats["bundle"] >= 6 and stats["policy"] >= 18
    assert stats["glossary"] >= 200 and stats["dialect"] >= 300
    assert stats["eval_questions"] >= 250 and stats["eval_must_refuse"] >= 40 and stats["skipped_files"] == 0


def test_corpus_similar_reports_a_similar_question_that_reads_as_another_matter(tmp_path: Path, tiny_corpus: Path) -> None:
    guide = tiny_corpus / "guides" / "guide-unemployment-benefit.md"
    crossing, fitting = "身份证丢了补办要多少钱", "被裁员了怎么领失业金"
    guide.write_text(guide.read_text("utf-8").replace("sample: true\n", f'sample: true\nsimilar: ["{crossing}", "{fitting}"]\n', 1),
                     "utf-8")
    env = env_for(tmp_path, tiny_corpus)
    assert runner.invoke(app, ["index"], env=env).exit_code == 0
    result = runner.invoke(app, ["corpus", "similar", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["similar_questions"] == 2 and report["crossing"] == 1
    (row,) = report["rows"]  # worded as the ID card's FAQ: it reads as that matter, not its own
    assert (row["doc_id"], row["question"]) == ("guide-unemployment-benefit", crossing)
    assert row["other_doc_id"] in ("faq-idcard-lost-fee", "guide-idcard-replace") and row["margin"] > 0


def test_corpus_similar_without_an_index_is_a_clear_error(tmp_path: Path, tiny_corpus: Path) -> None:
    result = runner.invoke(app, ["corpus", "similar"], env=env_for(tmp_path, tiny_corpus))
    assert result.exit_code == 1 and "cannot read the index" in result.output
