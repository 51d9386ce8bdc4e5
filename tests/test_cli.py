import json
import json
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli import app
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
