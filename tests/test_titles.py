import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.catalog import TITLES, Catalog, lexical_text
from assistant.documents import Document
from assistant.embedders import Embedder
from assistant.settings import Settings
from assistant.store import ChromaStore, StoredChunk
from assistant.titles import TitleVectors, crossing_names
from indexer.indexing import Indexer
from indexer.loaders import load_paths
from indexer.splitter import Splitter
from tests.conftest import GUIDE_IDCARD, write


class CountingEmbedder(Embedder):
    """A test double over the real e5 embedder that records which texts it was asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.key = inner.key
        self.dim = inner.dim
        self.embedded: list[str] = []

    def encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        self.embedded += texts
        return self.inner.encode(texts, is_query=is_query)


def test_a_question_reads_closest_to_the_title_of_its_own_matter(e5: Embedder) -> None:
    titles = TitleVectors(e5)
    temporary = e5.embed_query("新身份证还没下来，明天要坐高铁，能开个临时身份证吗？")
    lost = e5.embed_query("身份证丢了怎么补办")
    on_temporary = titles.closeness(temporary, ["临时居民身份证申领"])
    on_replacement = titles.closeness(temporary, ["居民身份证补领", "身份证丢了补办要多少钱？"])
    assert on_temporary is not None and on_replacement is not None and on_temporary > on_replacement
    best = titles.closeness(lost, ["居民身份证补领", "身份证丢了补办要多少钱？"])
    assert best is not None and best > titles.closeness(lost, ["临时居民身份证申领"])  # type: ignore[operator]
    # the closeness of several titles is the best of each alone
    assert best == max(titles.closeness(lost, [title]) for title in ("居民身份证补领", "身份证丢了补办要多少钱？"))  # type: ignore[type-var]


def test_titles_are_embedded_once_and_nothing_is_compared_without_a_title_or_vector(e5: Embedder) -> None:
    counting = CountingEmbedder(e5)
    titles = TitleVectors(counting, capacity=3)
    question = e5.embed_query("护照丢了怎么补办")
    first = titles.closeness(question, ["普通护照签发", "普通护照签发", " "])
    assert counting.embedded == ["普通护照签发"]  # blank titles and repeats are not embedded
    assert titles.closeness(question, ["普通护照签发"]) == first and counting.embedded == ["普通护照签发"]
    assert titles.closeness(question, []) is None and titles.closeness([], ["普通护照签发"]) is None
    titles.closeness(question, ["居民身份证补领", "机动车驾驶证补证", "居住证申领"])  # past capacity: starts afresh
    titles.closeness(question, ["普通护照签发"])
    assert counting.embedded.count("普通护照签发") == 2


def test_the_titles_of_a_matter_are_the_documents_its_faqs_and_its_guide_share() -> None:
    def chunk(doc_id: str, title: str, kind: str, rests_on: str = "") -> StoredChunk:
        return StoredChunk(f"{doc_id}#0", f"{title}的内容", {"doc_id": doc_id, "title": title, "kind": kind,
                                                           "chunk_no": 0, "rests_on": rests_on})

    catalog = Catalog.build("c", [
        chunk("guide-id", "居民身份证补领", "guide"),
        chunk("faq-fee", "身份证丢了补办要多少钱？", "faq", "guide-id#收费标准"),
        chunk("faq-time", "补办身份证要多久？", "faq", "guide-id#办理时限"),
        chunk("guide-temp", "临时居民身份证申领", "guide"),
    ])
    family = ["居民身份证补领", "身份证丢了补办要多少钱？", "补办身份证要多久？"]
    assert sorted(catalog.family_names("faq-fee")) == sorted(family)  # its guide, and the guide's other FAQ
    assert sorted(catalog.family_names("guide-id")) == sorted(family)
    assert catalog.family_names("guide-temp") == ["临时居民身份证申领"]
    assert catalog.family_names("unknown") == []
    assert "补办身份证要多久？" in catalog.matter_names["faq-fee"] and "临时" not in catalog.matter_names["faq-fee"]


def test_a_documents_names_are_its_title_and_the_similar_questions_it_carries() -> None:
    def chunk(doc_id: str, title: str, kind: str, rests_on: str = "", similar: str = "", number: int = 0) -> StoredChunk:
        return StoredChunk(f"{doc_id}#{number}", f"{title}的内容", {"doc_id": doc_id, "title": title, "kind": kind,
                                                                  "chunk_no": number, "rests_on": rests_on,
                                                                  "similar": similar})

    catalog = Catalog.build("c", [
        chunk("guide-id", "居民身份证补领", "guide", similar="身份证丢了咋补办？\n补办身份证去哪办"),
        chunk("guide-id", "居民身份证补领", "guide", similar="身份证丢了咋补办？\n补办身份证去哪办", number=1),
        chunk("faq-fee", "身份证丢了补办要多少钱？", "faq", "guide-id#收费标准", similar="补身份证收费吗\n \n"),
        chunk("guide-temp", "临时居民身份证申领", "guide"),
    ])
    assert catalog.names("guide-id") == ["居民身份证补领", "身份证丢了咋补办？", "补办身份证去哪办"]
    assert catalog.names("faq-fee") == ["身份证丢了补办要多少钱？", "补身份证收费吗"]  # blank lines are no names
    assert catalog.names("guide-temp") == ["临时居民身份证申领"] and catalog.names("unknown") == []
    # the "same matter?" check reads every name of the matter; the title order a document's own
    assert sorted(catalog.family_names("faq-fee")) == sorted([*catalog.names("guide-id"), *catalog.names("faq-fee")])
    assert catalog.all_names() == sorted({*catalog.names("guide-id"), *catalog.names("faq-fee"), "临时居民身份证申领"})


def test_an_faqs_similar_questions_are_searched_by_words_too_a_guides_are_not() -> None:
    """BM25 reads an FAQ's similar questions with its text (an FAQ is one short chunk, and a
    citizen's words are often only there); a guide's many chunks are searched by their own words."""
    faq = StoredChunk("faq-fee#0", "补领居民身份证的工本费是40元。", {
        "doc_id": "faq-fee", "title": "身份证丢了补办要多少钱？", "kind": "faq", "chunk_no": 0,
        "similar": "补办身份证得掏多少银子\n身份证丢了补办收费标准"})
    guide = StoredChunk("guide-id#0", "居民身份证补领。", {
        "doc_id": "guide-id", "title": "居民身份证补领", "kind": "guide", "chunk_no": 0, "similar": "身份证掉了咋整"})
    other = StoredChunk("faq-time#0", "补领居民身份证一般在60日内办结。", {
        "doc_id": "faq-time", "title": "补办身份证要多久？", "kind": "faq", "chunk_no": 0})
    assert "补办身份证得掏多少银子" in lexical_text(faq) and "身份证掉了咋整" not in lexical_text(guide)
    catalog = Catalog.build("c", [faq, guide, other])
    assert [chunk_id for chunk_id, _ in catalog.lexical.search("银子", k=3)] == ["faq-fee#0"]
    assert catalog.lexical.search("咋整", k=3) == []


def test_a_similar_question_crosses_only_into_another_matter_not_into_its_own_faqs() -> None:
    def unit(*values: float) -> np.ndarray:
        vector = np.array(values, dtype=np.float32)
        return vector / np.linalg.norm(vector)

    def chunk(doc_id: str, title: str, kind: str, rests_on: str = "", similar: str = "") -> StoredChunk:
        return StoredChunk(f"{doc_id}#0", title, {"doc_id": doc_id, "title": title, "kind": kind, "chunk_no": 0,
                                                  "rests_on": rests_on, "similar": similar})

    catalog = Catalog.build("c", [
        chunk("guide-id", "居民身份证补领", "guide", similar="身份证丢了咋补\n补身份证要钱不"),
        chunk("faq-fee", "身份证丢了补办要多少钱？", "faq", "guide-id#收费标准"),
        chunk("guide-temp", "临时居民身份证申领", "guide"),
    ])
    catalog.title_queries = {"居民身份证补领": unit(1, 0.5, 0), "身份证丢了咋补": unit(0.2, 1, 0),
                             "补身份证要钱不": unit(0, 0.1, 1), "身份证丢了补办要多少钱？": unit(0, 0, 1),
                             "临时居民身份证申领": unit(0, 1, 0)}
    (crossing,) = crossing_names(catalog)  # 补身份证要钱不 reads as its own FAQ: the same matter
    assert (crossing.doc_id, crossing.question, crossing.other_doc_id) == ("guide-id", "身份证丢了咋补", "guide-temp")
    assert crossing.other_closeness > crossing.own_closeness and crossing.margin == pytest.approx(
        float(unit(0.2, 1, 0) @ unit(0, 1, 0) - unit(0.2, 1, 0) @ unit(1, 0.5, 0)))
    assert crossing_names(Catalog.build("c", [chunk("guide-temp", "临时居民身份证申领", "guide")])) == []


def indexed(settings: Settings, e5: Embedder, corpus: Path) -> tuple[Indexer, CountingEmbedder, list[Document]]:
    """`corpus` indexed through a counting e5."""
    counting = CountingEmbedder(e5)
    indexer = Indexer(ChromaStore.connect(settings), counting, Splitter(), settings.index_dir, settings.index_name)
    documents = load_paths([corpus]).documents
    indexer.run(documents)
    return indexer, counting, documents


def test_the_indexer_saves_every_title_vector_and_embeds_only_new_titles_again(
        make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    settings = make_settings()
    indexer, counting, documents = indexed(settings, e5, tiny_corpus)
    live = indexer.store.require_live(indexer.index_key)
    catalog = Catalog.load(settings.index_dir, live)
    titles = {doc.title for doc in documents}
    assert set(catalog.title_vectors) == titles and set(counting.embedded) >= titles
    for title, vector in catalog.title_vectors.items():  # the vectors the embedder gives, read back from disk
        assert np.allclose(vector, e5.encode([title], is_query=False)[0], atol=1e-5)
    assert set(catalog.title_queries) == titles  # and as queries, for retrieval's title order
    for title, vector in catalog.title_queries.items():
        assert np.allclose(vector, e5.encode([title], is_query=True)[0], atol=1e-5)
    counting.embedded.clear()
    renamed = [replace(doc, title="居民身份证挂失补领") if doc.doc_id == "guide-idcard-replace" else doc for doc in documents]
    indexer.run(renamed)
    assert "居民身份证挂失补领" in counting.embedded and not titles & set(counting.embedded) - {"居民身份证补领"}
    catalog = Catalog.load(settings.index_dir, indexer.store.require_live(indexer.index_key))
    assert "居民身份证挂失补领" in catalog.title_vectors and "居民身份证补领" not in catalog.title_vectors
    counting.embedded.clear()
    indexer.run(renamed)  # nothing changed: nothing embedded, the generation kept
    assert counting.embedded == [] and indexer.store.require_live(indexer.index_key) == catalog.collection


def test_the_indexer_embeds_similar_questions_beside_the_titles_and_only_new_ones_again(
        make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    settings = make_settings()
    similar = ("身份证丢了咋补办？", "补身份证得带啥")
    write(tiny_corpus / "guides" / "guide-idcard-replace.md", GUIDE_IDCARD.replace("tags: [", f"similar: {list(similar)}\ntags: ["))
    indexer, counting, documents = indexed(settings, e5, tiny_corpus)
    catalog = Catalog.load(settings.index_dir, indexer.store.require_live(indexer.index_key))
    names = {doc.title for doc in documents} | set(similar)
    assert set(catalog.title_vectors) == names and set(catalog.title_queries) == names
    assert np.allclose(catalog.title_queries["补身份证得带啥"], e5.encode(["补身份证得带啥"], is_query=True)[0], atol=1e-5)
    assert catalog.names("guide-idcard-replace") == ["居民身份证补领", *similar]
    counting.embedded.clear()
    asked = [replace(doc, similar=(*doc.similar, "身份证掉了怎么办")) if doc.doc_id == "guide-idcard-replace" else doc
             for doc in documents]
    indexer.run(asked)  # one question more: the guide re-embedded, of the names only the new one
    names_embedded = set(counting.embedded) & (names | {"身份证掉了怎么办"})
    assert names_embedded == {"身份证掉了怎么办"}
    catalog = Catalog.load(settings.index_dir, indexer.store.require_live(indexer.index_key))
    assert "身份证掉了怎么办" in catalog.title_vectors and catalog.names("guide-idcard-replace")[-1] == "身份证掉了怎么办"


def test_an_index_from_before_title_vectors_gets_them_without_embedding_its_chunks_again(
        make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    settings = make_settings()
    indexer, counting, documents = indexed(settings, e5, tiny_corpus)
    old = indexer.store.require_live(indexer.index_key)
    (settings.index_dir / old / TITLES).unlink()  # as an index written before title vectors
    counting.embedded.clear()
    indexer.run(documents)
    live = indexer.store.require_live(indexer.index_key)
    titles = {doc.title for doc in documents}
    assert live != old and sorted(counting.embedded) == sorted([*titles, *titles])  # as passages and as queries
    catalog = Catalog.load(settings.index_dir, live)
    assert set(catalog.title_vectors) == titles and set(catalog.title_queries) == titles


def test_a_catalog_rebuilt_without_vectors_gets_them_at_the_next_run_without_embedding_its_chunks(
        make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    """A catalog rebuilt from a Chroma server is saved with no name vectors: the next run, with
    nothing changed, writes a generation that has them (else every title order would embed them)."""
    settings = make_settings()
    write(tiny_corpus / "guides" / "guide-idcard-replace.md", GUIDE_IDCARD.replace("tags: [", 'similar: ["身份证丢了咋补办？"]\ntags: ['))
    indexer, counting, documents = indexed(settings, e5, tiny_corpus)
    old = indexer.store.require_live(indexer.index_key)
    shutil.rmtree(settings.index_dir / old)
    rebuilt = Catalog.open(settings.index_dir, indexer.store, old)  # as a reader on another host does
    assert rebuilt.title_vectors == {} and rebuilt.names("guide-idcard-replace")[-1] == "身份证丢了咋补办？"
    counting.embedded.clear()
    indexer.run(documents)
    live = indexer.store.require_live(indexer.index_key)
    names = {doc.title for doc in documents} | {"身份证丢了咋补办？"}
    assert live != old and sorted(counting.embedded) == sorted([*names, *names])  # names only, no chunk
    catalog = Catalog.load(settings.index_dir, live)
    assert set(catalog.title_vectors) == names and set(catalog.title_queries) == names
    counting.embedded.clear()
    indexer.run(documents)  # and then nothing changed at all
    assert counting.embedded == [] and indexer.store.require_live(indexer.index_key) == live


def test_an_index_from_before_title_queries_gets_them_and_keeps_its_passage_vectors(
        make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    settings = make_settings()
    indexer, counting, documents = indexed(settings, e5, tiny_corpus)
    old = indexer.store.require_live(indexer.index_key)
    passages = Catalog.load(settings.index_dir, old).title_vectors
    with (settings.index_dir / old / TITLES).open("wb") as handle:  # as session 12 wrote it: passages only
        np.savez(handle, titles=np.array(list(passages), dtype=str), vectors=np.stack(list(passages.values())))
    assert Catalog.load(settings.index_dir, old).title_queries == {}
    counting.embedded.clear()
    indexer.run(documents)
    live = indexer.store.require_live(indexer.index_key)
    titles = {doc.title for doc in documents}
    assert live != old and sorted(counting.embedded) == sorted(titles)  # the queries only: no chunk, no passage title
    assert set(Catalog.load(settings.index_dir, live).title_queries) == titles


def test_unreadable_title_vectors_leave_the_catalog_readable_and_are_embedded_when_needed(
        make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    settings = make_settings()
    indexer, counting, documents = indexed(settings, e5, tiny_corpus)
    live = indexer.store.require_live(indexer.index_key)
    (settings.index_dir / live / TITLES).write_bytes(b"not an npz file")
    catalog = Catalog.load(settings.index_dir, live)  # the chunks and BM25 are there; the titles are not
    assert catalog.title_vectors == {} and set(catalog.documents) == {doc.doc_id for doc in documents}
    counting.embedded.clear()
    closeness = TitleVectors(counting).closeness(e5.embed_query("身份证丢了怎么补办"),
                                                 catalog.family_names("guide-idcard-replace"), catalog.title_vectors)
    assert closeness is not None and sorted(counting.embedded) == sorted(catalog.family_names("guide-idcard-replace"))
    counting.embedded.clear()
    as_queries = TitleVectors(counting, as_queries=True).each_closeness(e5.embed_query("身份证丢了怎么补办"),
                                                                        ["居民身份证补领"], catalog.title_queries)
    assert counting.embedded == ["居民身份证补领"]
    assert as_queries == [pytest.approx(float(np.dot(e5.embed_query("身份证丢了怎么补办"),
                                                     e5.encode(["居民身份证补领"], is_query=True)[0])), abs=1e-5)]
