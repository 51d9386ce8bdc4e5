from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.catalog import Catalog
from assistant.embedders import Embedder
from assistant.errors import IndexBusyError, IndexNotFoundError
from assistant.settings import Settings
from assistant.store import ChromaStore
from indexer.indexing import Indexer
from indexer.loaders import load_paths
from indexer.splitter import Splitter
from tests.conftest import GUIDE_IDCARD, write


def make_indexer(settings: Settings, embedder: Embedder) -> Indexer:
    return Indexer(
        store=ChromaStore.connect(settings),
        embedder=embedder,
        splitter=Splitter(settings.chunk_chars, settings.chunk_overlap),
        catalog_root=settings.index_dir,
        index_name=settings.index_name,
        batch_size=3,
    )


def load(corpus: Path) -> list:
    result = load_paths([corpus], root=corpus)
    assert result.problems == []
    return result.documents


def live_state(indexer: Indexer) -> tuple[str, dict[str, str]]:
    live = indexer.store.require_live(indexer.index_key)
    stored = {c.chunk_id: c.text for c in indexer.store.fetch(live)}
    return live, stored


def test_first_run_indexes_everything_then_nothing_changes(
    chroma_mode: str, make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path
) -> None:
    indexer = make_indexer(make_settings(chroma_mode), e5)
    progress: list[tuple[int, int]] = []
    first = indexer.run(load(tiny_corpus), on_progress=lambda done, total: progress.append((done, total)))
    assert (first.added, first.updated, first.removed, first.unchanged) == (4, 0, 0, 0)
    assert first.switched and first.chunks_total == first.chunks_embedded == 6 + 4 + 4 + 1
    assert progress[0] == (0, 15) and progress[-1] == (15, 15)

    live, stored = live_state(indexer)
    assert len(stored) == 15 and live == first.collection

    second = indexer.run(load(tiny_corpus))
    assert (second.added, second.updated, second.removed, second.unchanged) == (0, 0, 0, 4)
    assert not second.switched and second.chunks_embedded == 0 and second.collection == live
    assert live_state(indexer) == (live, stored)


def test_changed_document_replaces_its_chunks_and_others_are_not_re_embedded(
    chroma_mode: str, make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path
) -> None:
    indexer = make_indexer(make_settings(chroma_mode), e5)
    indexer.run(load(tiny_corpus))
    old_live, old_stored = live_state(indexer)
    old_vectors = {c.chunk_id: c.embedding for c in indexer.store.fetch(old_live, embeddings=True)}

    write(tiny_corpus / "guides" / "guide-idcard-replace.md", GUIDE_IDCARD.replace("补领工本费40元。", "补领工本费40元，可以邮寄送达。\n\n## 咨询电话\n12345"))
    (tiny_corpus / "faqs" / "faq-idcard-lost-fee.md").unlink()
    write(tiny_corpus / "guides" / "guide-new.md", GUIDE_IDCARD.replace("guide-idcard-replace", "guide-new").replace("居民身份证补领", "临时居民身份证申领").replace("补领工本费40元。", "临时证工本费10元。"))
    summary = indexer.run(load(tiny_corpus))

    assert (summary.added, summary.updated, summary.removed, summary.unchanged) == (1, 1, 1, 2)
    assert summary.chunks_embedded == 7 + 6 and summary.chunks_copied == 4 + 4
    live, stored = live_state(indexer)
    assert live != old_live and old_live not in indexer.store.generations(indexer.index_key)
    assert not (indexer.catalog_root / old_live).exists()
    texts = set(stored.values())
    assert "补领工本费40元，可以邮寄送达。" in texts and "补领工本费40元。" not in texts
    assert "补领居民身份证的工本费是40元。" not in texts  # the deleted FAQ is gone
    assert len(stored) == 15 - 1 + 1 + 6
    new_vectors = {c.chunk_id: c.embedding for c in indexer.store.fetch(live, embeddings=True)}
    unchanged = [cid for cid, text in old_stored.items() if text.startswith("失业前") or text.startswith("第十二条")]
    assert unchanged and all(new_vectors[cid] == pytest.approx(old_vectors[cid]) for cid in unchanged)

    catalog = Catalog.load(indexer.catalog_root, live)
    assert set(catalog.documents) == {"guide-idcard-replace", "guide-unemployment-benefit", "law-resident-id-card", "guide-new"}
    hits = catalog.lexical.search("补办身份证可以邮寄吗", k=3)
    assert hits and stored[hits[0][0]] == "补领工本费40元，可以邮寄送达。"


def test_rebuild_re_embeds_everything_into_a_new_generation(
    make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path
) -> None:
    indexer = make_indexer(make_settings(), e5)
    first = indexer.run(load(tiny_corpus))
    rebuilt = indexer.run(load(tiny_corpus), rebuild=True)
    assert rebuilt.switched and rebuilt.collection != first.collection
    assert rebuilt.chunks_embedded == rebuilt.chunks_total == 15 and rebuilt.unchanged == 4
    assert indexer.store.generations(indexer.index_key) == [rebuilt.collection]


def test_dense_query_finds_the_guide(chroma_mode: str, make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    indexer = make_indexer(make_settings(chroma_mode), e5)
    indexer.run(load(tiny_corpus))
    live = indexer.store.require_live(indexer.index_key)
    hits = indexer.store.query(live, e5.embed_query("失业了怎么领失业金"), k=3)
    assert hits[0].metadata["doc_id"] == "guide-unemployment-benefit"
    filtered = indexer.store.query(live, e5.embed_query("失业了怎么领失业金"), k=3, where={"kind": "policy"})
    assert filtered and all(h.metadata["kind"] == "policy" for h in filtered)


def test_missing_catalog_is_rebuilt_from_chroma(make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    settings = make_settings()
    indexer = make_indexer(settings, e5)
    summary = indexer.run(load(tiny_corpus))
    import shutil

    shutil.rmtree(settings.index_dir / summary.collection)
    again = indexer.run(load(tiny_corpus))
    # the rebuilt catalog has the manifest and chunks but no title vectors: a new generation gets
    # them, its chunks copied, none embedded again
    assert again.switched and again.unchanged == 4 and again.chunks_embedded == 0
    assert again.chunks_copied == summary.chunks_embedded
    assert (settings.index_dir / again.collection / "manifest.json").exists()
    assert not indexer.run(load(tiny_corpus)).switched  # and then nothing changed


def test_leftovers_of_an_interrupted_run_are_removed(make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    settings = make_settings()
    indexer = make_indexer(settings, e5)
    indexer.run(load(tiny_corpus))
    orphan = indexer.store.create_generation(indexer.index_key)
    (settings.index_dir / f"{orphan}").mkdir()
    (tiny_corpus / "faqs" / "faq-idcard-lost-fee.md").unlink()
    summary = indexer.run(load(tiny_corpus))
    assert indexer.store.generations(indexer.index_key) == [summary.collection]
    assert not (settings.index_dir / orphan).exists()


def test_a_second_indexer_is_refused_while_one_runs(make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    settings = make_settings()
    first, second = make_indexer(settings, e5), make_indexer(settings, e5)
    with first._lock():
        with pytest.raises(IndexBusyError):
            second.run(load(tiny_corpus))


def test_no_index_yet_is_a_clear_error(make_settings: Callable[..., Settings]) -> None:
    store = ChromaStore.connect(make_settings())
    with pytest.raises(IndexNotFoundError, match="run `zhengwu index` first"):
        store.require_live("nothing-here-e5")
