import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from assistant.embedders import Embedder
from assistant.errors import ConfigError, IndexBusyError, IndexingError, LoadError
from assistant.settings import Settings
from assistant.store import REGISTRY, REGISTRY_METADATA, ChromaStore
from indexer.indexing import IndexSummary, index_lock
from indexer.reindex import (
    DocumentConflictError,
    DocumentNotFoundError,
    InvalidUploadNameError,
    ReindexJob,
    UploadTooLargeError,
    Uploads,
    default_sources,
    drop_index,
    indexed_documents,
    reindex,
    safe_name,
    unused_indexes,
    uploads_dir,
)
from tests.conftest import DOG_GUIDE, write


QA_RECORDS = "\n".join(json.dumps(r, ensure_ascii=False) for r in (
    {"id": "qa-parking", "question": "小区停车位怎么申请？", "answer": "向物业服务企业提出申请。"},
    {"id": "qa-water", "question": "停水了找谁？", "answer": "拨打供水服务热线。"},
)) + "\n"


@pytest.fixture
def settings(make_settings: Callable[..., Settings], tiny_corpus: Path) -> Settings:
    return make_settings(corpus_dir=str(tiny_corpus))


def test_default_sources_add_the_uploads_folder_once_it_exists(settings: Settings) -> None:
    assert default_sources(settings) == [settings.corpus_dir]
    uploads_dir(settings).mkdir(parents=True)
    assert default_sources(settings) == [settings.corpus_dir, settings.data_dir / "uploads"]


def test_reindex_indexes_corpus_and_uploads_and_reports_skipped_files(settings: Settings, e5: Embedder) -> None:
    write(uploads_dir(settings) / "dog.md", DOG_GUIDE)
    write(uploads_dir(settings) / "broken.md", "没有标题也没有前置信息的文本\n")
    problems: list[LoadError] = []
    summary = reindex(settings, embedder=e5, on_problem=problems.append)
    assert summary.added == 5 and summary.switched and summary.index_key == f"{settings.index_name}-e5"
    assert [p.path.name for p in problems] == ["broken.md"]
    store = ChromaStore.connect(settings)
    assert store.count(store.require_live(summary.index_key)) == summary.chunks_total
    again = reindex(settings, embedder=e5)
    assert not again.switched and again.unchanged == 5 and again.added == 0
    (uploads_dir(settings) / "dog.md").unlink()
    assert reindex(settings, embedder=e5).removed == 1


@pytest.mark.parametrize("spelled", ["relative", "absolute"])
def test_indexed_documents_are_what_the_live_index_holds_however_the_corpus_path_is_spelled(
        spelled: str, make_settings: Callable[..., Settings], tiny_corpus: Path, e5: Embedder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tiny_corpus.parent)  # the corpus lies under the working directory, as in `make run`
    corpus = tiny_corpus.name if spelled == "relative" else str(tiny_corpus)
    settings = make_settings(corpus_dir=corpus)
    store = ChromaStore.connect(settings)
    before = indexed_documents(settings, store)  # no index yet: every document on disk
    assert len(before) == 4
    reindex(settings, embedder=e5)
    write(uploads_dir(settings) / "dog.md", DOG_GUIDE)  # saved, not indexed yet
    assert {d.doc_id for d in indexed_documents(settings, store)} == {d.doc_id for d in before}
    reindex(settings, embedder=e5)
    assert "guide-dog-registration" in {d.doc_id for d in indexed_documents(settings, store)}
    (tiny_corpus / "guides" / "guide-idcard-replace.md").write_text(
        (tiny_corpus / "guides" / "guide-idcard-replace.md").read_text(encoding="utf-8") + "\n补充说明。\n",
        encoding="utf-8")  # changed on disk since the index took it in
    assert "guide-idcard-replace" not in {d.doc_id for d in indexed_documents(settings, store)}


def test_reindex_refuses_to_run_without_the_corpus_folder(make_settings: Callable[..., Settings], tmp_path: Path,
                                                           e5: Embedder) -> None:
    settings = make_settings(corpus_dir=str(tmp_path / "missing"))
    with pytest.raises(IndexingError, match="corpus folder"):
        reindex(settings, embedder=e5)
    assert ChromaStore.connect(settings).live(f"{settings.index_name}-e5") is None


def test_explicit_sources_are_indexed_as_given(settings: Settings, e5: Embedder) -> None:
    only = settings.corpus_dir / "guides" / "guide-idcard-replace.md"
    assert reindex(settings, [only], embedder=e5).added == 1


@pytest.mark.parametrize("name", ["../../x.md", "..\\x.md", "/etc/x.md", "a/b.md", ".hidden.md", "_index.md",
                                  "README.md", "x.txt", "x.md\x00.jsonl", "", "x..md"])
def test_unsafe_or_unsupported_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidUploadNameError):
        safe_name(name)


@pytest.mark.parametrize("name", ["dog.md", "养犬登记-2024.md", "records_1.jsonl"])
def test_plain_names_are_kept_as_they_are(name: str) -> None:
    assert safe_name(name) == name


def test_a_good_upload_is_kept_and_a_bad_one_leaves_nothing(tmp_path: Path) -> None:
    uploads = Uploads(tmp_path / "uploads", max_bytes=10_000)
    stored = uploads.save("dog.md", DOG_GUIDE.encode())
    assert stored.doc_ids == ("guide-dog-registration",) and (tmp_path / "uploads" / "dog.md").read_text() == DOG_GUIDE
    bad = {
        "binary.md": b"---\x00\x01\x02" * 10,
        "front.md": b"---\nid: [unclosed\n---\nbody\n",
        "fields.md": b"---\nid: x\n---\nbody\n",
        "latin1.md": "---\ntitle: caf\xe9\n".encode("latin-1"),
        "lines.jsonl": b'{"id": "q", "question": "q?", "answer": "a"}\nnot json\n',
        "empty.md": b"",
    }
    for name, data in bad.items():
        with pytest.raises(LoadError) as caught:
            uploads.save(name, data)
        assert name in str(caught.value) and ".incoming" not in str(caught.value)
    with pytest.raises(UploadTooLargeError):
        uploads.save("big.md", b"x" * 10_001)
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["dog.md"]


def test_ids_taken_by_the_corpus_or_another_upload_are_refused(tmp_path: Path) -> None:
    uploads = Uploads(tmp_path / "uploads")
    with pytest.raises(DocumentConflictError, match="corpus/dog.md"):
        uploads.save("dog.md", DOG_GUIDE.encode(), taken={"guide-dog-registration": "corpus/dog.md"})
    uploads.save("dog.md", DOG_GUIDE.encode())
    with pytest.raises(DocumentConflictError, match="dog.md"):
        uploads.save("dog-copy.md", DOG_GUIDE.encode())
    changed = DOG_GUIDE.replace("即时办结", "当场办结")
    uploads.save("dog.md", changed.encode())  # the same file again replaces it
    assert (tmp_path / "uploads" / "dog.md").read_text() == changed
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["dog.md"]


def test_deleting_removes_a_file_or_one_record_line(tmp_path: Path) -> None:
    uploads = Uploads(tmp_path / "uploads")
    uploads.save("dog.md", DOG_GUIDE.encode())
    uploads.save("qa.jsonl", QA_RECORDS.encode())
    assert set(uploads.documents()) == {"guide-dog-registration", "qa-parking", "qa-water"}
    assert uploads.delete("qa-parking") == "qa.jsonl"
    assert set(uploads.documents()) == {"guide-dog-registration", "qa-water"}
    assert "停水" in (tmp_path / "uploads" / "qa.jsonl").read_text(encoding="utf-8")
    uploads.delete("qa-water")
    uploads.delete("guide-dog-registration")
    assert list((tmp_path / "uploads").iterdir()) == []
    with pytest.raises(DocumentNotFoundError):
        uploads.delete("qa-water")


def test_uploads_know_which_sources_are_theirs(tmp_path: Path) -> None:
    uploads = Uploads(tmp_path / "uploads")
    assert uploads.holds(str(tmp_path / "uploads" / "dog.md"))
    assert not uploads.holds(str(tmp_path / "corpus" / "dog.md"))
    assert not uploads.holds(str(tmp_path / "uploads" / ".." / "corpus" / "dog.md"))


def test_the_job_runs_in_the_background_and_refuses_a_second_start(settings: Settings, e5: Embedder) -> None:
    started, release = threading.Event(), threading.Event()

    def gated(*args: object, **kwargs: object) -> IndexSummary:  # the real reindex, held until released
        started.set()
        release.wait(30)
        return reindex(*args, **kwargs)  # type: ignore[arg-type]

    job = ReindexJob(settings, run=gated, embedder=e5)
    assert job.status().state == "idle"
    assert job.start().state == "running"
    assert started.wait(30)
    with pytest.raises(IndexBusyError):
        job.start()
    release.set()
    status = job.wait(120)
    assert status.state == "succeeded" and status.summary is not None and status.summary.added == 4
    assert status.finished_at is not None and status.chunks_total == status.chunks_done > 0


def test_a_failed_run_is_reported_not_raised(make_settings: Callable[..., Settings], tmp_path: Path,
                                             e5: Embedder) -> None:
    job = ReindexJob(make_settings(corpus_dir=str(tmp_path / "missing")), embedder=e5)
    job.start()
    status = job.wait(60)
    assert status.state == "failed" and "corpus folder" in status.error and status.summary is None


def test_the_job_loads_the_second_embedder_once_and_indexes_with_it(make_settings: Callable[..., Settings],
                                                                    tiny_corpus: Path, e5: Embedder) -> None:
    settings = make_settings(corpus_dir=str(tiny_corpus), second_embedder="use")
    given: list[object] = []

    def recorded(*args: object, **kwargs: object) -> IndexSummary:  # the real reindex, its models noted
        given.append(kwargs["second_embedder"])
        return reindex(*args, **kwargs)  # type: ignore[arg-type]

    job = ReindexJob(settings, run=recorded, embedder=e5)
    for rebuild in (False, True):
        job.start(rebuild=rebuild)
        status = job.wait(300)
        assert status.state == "succeeded" and status.summary is not None and status.summary.second is not None
    first, second = given
    assert isinstance(first, Embedder) and first.key == "use" and second is first  # loaded once, used by both runs
    assert status.summary.second.chunks_embedded == status.summary.chunks_embedded > 0  # the rebuild re-embedded both
    store = ChromaStore.connect(settings)
    assert store.live(f"{settings.index_name}-use") == status.summary.second.collection


def test_an_unused_index_is_found_and_dropped_whatever_the_store(chroma_mode: str, make_settings: Callable[..., Settings],
                                                                 tiny_corpus: Path, e5: Embedder) -> None:
    both = make_settings(chroma_mode, corpus_dir=str(tiny_corpus), second_embedder="use")
    reindex(both, embedder=e5)
    one = Settings.from_environ({}, **{**both.model_dump(), "second_embedder": None})
    store = ChromaStore.connect(one)
    first, unused = f"{one.index_name}-e5", f"{one.index_name}-use"
    assert unused_indexes(both, store) == [] and unused_indexes(one, store) == [unused]
    assert {first, unused} <= set(store.keys())
    with pytest.raises(ConfigError, match="used by these settings"):
        drop_index(both, store, unused)  # the settings that use it never drop it
    drop_index(one, store, unused)
    assert store.live(unused) is None and store.generations(unused) == [] and unused not in store.keys()
    assert not list(one.index_dir.glob(f"{unused}-g*")) and store.count(store.require_live(first)) == 15


def test_a_key_that_begins_another_keeps_its_generations_apart(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    store = ChromaStore.connect(settings)
    short, longer = f"{settings.index_name}-st-m3e-small", f"{settings.index_name}-st-m3e-small-gte-f708f3"
    mine, theirs = store.create_generation(short), store.create_generation(longer)
    store.switch(longer, theirs)
    assert store.generations(short) == [mine] and store.generations(longer) == [theirs]
    drop_index(settings, store, short)
    assert store.generations(short) == [] and store.live(longer) == theirs and store.generations(longer) == [theirs]


def test_a_drop_waits_for_no_run_it_cannot_hold_the_index_lock_for(settings: Settings, e5: Embedder) -> None:
    reindex(settings, embedder=e5)
    store = ChromaStore.connect(settings)
    key = f"{settings.index_name}-use"
    store.switch(key, store.create_generation(key))
    with index_lock(settings.index_dir, key), pytest.raises(IndexBusyError):
        drop_index(settings, store, key)  # a run of that index holds its lock
    assert store.live(key) is not None
    drop_index(settings, store, key)
    assert store.live(key) is None and (settings.index_dir / f".{key}.lock").exists()  # the lock file stays


def generation(key: str, n: int) -> str:
    return f"{key}-g{n:020d}"


def test_pointers_changed_at_once_from_two_stores_never_undo_each_other(
        chroma_mode: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(chroma_mode)
    indexing, dropping = ChromaStore.connect(settings), ChromaStore.connect(settings)  # as two hosts would
    kept, dropped = f"{settings.index_name}-e5", f"{settings.index_name}-use"
    start, failures = threading.Barrier(2), list[str]()

    def switch_kept() -> None:
        start.wait(30)
        for n in range(40):
            indexing.switch(kept, generation(kept, n))
            if indexing.live(kept) != generation(kept, n):
                failures.append(f"{kept} lost switch {n}")

    def switch_and_forget_dropped() -> None:
        start.wait(30)
        for n in range(40):
            dropping.switch(dropped, generation(dropped, n))
            if n % 2:
                dropping.forget(dropped)
            if dropping.live(dropped) != (None if n % 2 else generation(dropped, n)):
                failures.append(f"{dropped} wrong after step {n}")

    threads = [threading.Thread(target=switch_kept), threading.Thread(target=switch_and_forget_dropped)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads) and failures == []
    for store in (indexing, dropping):
        assert store.live(kept) == generation(kept, 39) and store.live(dropped) is None  # step 39 forgot it
        assert kept in store.keys() and dropped not in store.keys()
    dropping.switch(dropped, generation(dropped, 40))
    assert indexing.live(dropped) == generation(dropped, 40) and indexing.live(kept) == generation(kept, 39)


def registry_as_an_older_version_wrote_it(settings: Settings, pointers: dict[str, str]) -> Any:
    """The registry collection with `pointers` added to its metadata, the way versions before
    pointer records kept them; written through chromadb itself, not the store."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        client = chromadb.HttpClient(host=url.hostname or "", port=url.port or 8000, settings=chroma_settings)
    else:
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    registry = client.get_or_create_collection(REGISTRY, embedding_function=None, metadata=dict(REGISTRY_METADATA))
    registry.modify(metadata={**(registry.metadata or {}), **pointers})
    return client


def test_pointers_an_older_version_kept_in_the_registry_metadata_are_read_then_moved_into_records(
        chroma_mode: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(chroma_mode)
    old, kept, late, new = (f"{settings.index_name}-{name}" for name in ("old", "kept", "late", "new"))
    client = registry_as_an_older_version_wrote_it(settings, {old: generation(old, 1), kept: generation(kept, 1)})
    store = ChromaStore.connect(settings)
    assert store.live(old) == generation(old, 1) and store.live(kept) == generation(kept, 1)
    assert {old, kept} <= set(store.keys())
    store.forget(old)  # the first change moves the legacy pointers, then forgets one of them
    assert store.live(old) is None and old not in store.keys() and store.live(kept) == generation(kept, 1)
    assert client.get_collection(REGISTRY).metadata == REGISTRY_METADATA

    # an older version on another host writes the metadata again: a stale pointer and a new one
    registry_as_an_older_version_wrote_it(settings, {kept: generation(kept, 0), late: generation(late, 1)})
    host = ChromaStore.connect(settings)
    assert host.live(kept) == generation(kept, 1) and host.live(late) == generation(late, 1)  # a record wins
    host.switch(new, generation(new, 2))
    assert client.get_collection(REGISTRY).metadata == REGISTRY_METADATA
    for reader in (store, host):
        assert reader.live(new) == generation(new, 2) and reader.live(late) == generation(late, 1)
        assert reader.live(kept) == generation(kept, 1) and reader.live(old) is None
        assert {kept, late, new} <= set(reader.keys()) and old not in reader.keys()
