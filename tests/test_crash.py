"""Kill the indexer with SIGKILL in the middle of a rebuild: the previous index must stay live,
complete and queryable, and a re-run must complete. Everything runs in real subprocesses (the
embedded Chroma is used by one process at a time, as in production)."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import GUIDE_IDCARD, write

CHECK = """
import json, sys
from assistant.settings import Settings
from assistant.store import ChromaStore
from assistant.catalog import Catalog
from assistant.embedders import create_embedder
settings = Settings.from_env()
store = ChromaStore.connect(settings)
key = f"{settings.index_name}-use"
live = store.require_live(key)
catalog = Catalog.load(settings.index_dir, live)
hits = store.query(live, create_embedder("use").embed_query("第7号事项补领工本费"), k=1)
print(json.dumps({"live": live, "count": store.count(live), "catalog": len(catalog.chunks),
                  "docs": len(catalog.documents), "top": hits[0].metadata["doc_id"],
                  "generations": store.generations(key)}))
"""


def run(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout)


def check(env: dict[str, str]) -> dict:
    done = run(env, "-c", CHECK)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_sigkill_during_rebuild_leaves_the_previous_index_intact(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for n in range(40):
        text = GUIDE_IDCARD.replace("guide-idcard-replace", f"guide-matter-{n}").replace(
            "补领工本费40元。", f"第{n}号事项补领工本费{n}元。" + "办理时请核对信息。" * 20
        )
        write(corpus / f"guide-matter-{n}.md", text)
    env = {
        **os.environ,
        "ZHENGWU_DATA_DIR": str(tmp_path / "data"),
        "ZHENGWU_EMBEDDER": "use",
        "ZHENGWU_THREADS": "1",
        "ZHENGWU_BATCH_SIZE": "4",
        "ZHENGWU_CHUNK_CHARS": "120",
        "ZHENGWU_CHUNK_OVERLAP": "20",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    index = ["-m", "assistant.cli", "index", str(corpus)]
    started = time.monotonic()
    first = run(env, *index)
    full_seconds = time.monotonic() - started
    assert first.returncode == 0, first.stderr[-2000:]
    before = check(env)
    assert before["count"] == before["catalog"] > 240 and before["docs"] == 40
    assert before["top"] == "guide-matter-7"

    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    interrupted_mid_write = 0
    for attempt in range(4):
        process = subprocess.Popen([sys.executable, *index, "--rebuild"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 0.9) * full_seconds)
        if process.poll() is not None:
            continue  # it finished before the kill: a complete rebuild is also a valid outcome
        process.send_signal(signal.SIGKILL)
        process.wait()
        after = check(env)
        assert after["count"] == before["count"] and after["catalog"] == before["catalog"], (seed, attempt)
        assert after["docs"] == 40 and after["top"] == "guide-matter-7", (seed, attempt)
        assert after["live"] in after["generations"], (seed, attempt)
        interrupted_mid_write += len(after["generations"]) > 1  # a half-built generation was left
        before = after

    assert interrupted_mid_write >= 1, f"no kill landed while a generation was being written (seed {seed})"

    final = run(env, *index, "--rebuild")
    assert final.returncode == 0, final.stderr[-2000:]
    done = check(env)
    assert done["count"] == before["count"] and done["docs"] == 40
    assert done["generations"] == [done["live"]]  # leftovers of the killed runs are gone
