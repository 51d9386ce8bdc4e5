import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest

from assistant.bundles import BundleGuide
from assistant.catalog import Catalog, similar_questions
from assistant.documents import Scalar
from assistant.embedders import Embedder, create_embedder
from assistant.errors import ConfigError, StoreError
from assistant.lexicon import DialectEntry
from assistant.query import QueryNormalizer
from assistant.ranker import LearnedRanker
from assistant.retrieval import TITLE_ORDER_DEPTH, Filters, FusionWeights, HybridRetriever, order_by_title
from assistant.settings import Settings
from assistant.store import StoredChunk
from assistant.titles import TitleVectors
from indexer.indexing import Indexer
from indexer.loaders import load_paths
from indexer.reindex import reindex
from tests.conftest import GUIDE_IDCARD, index_corpus, write


def build(settings: Settings, embedder: Embedder, corpus: Path,
          ranker: LearnedRanker | None = None) -> tuple[HybridRetriever, Indexer]:
    indexer = index_corpus(settings, embedder, corpus)
    store = indexer.store
    normalizer = QueryNormalizer([DialectEntry("唔见咗", "丢了", "粤语"), DialectEntry("点样", "怎样", "粤语")], [])
    return HybridRetriever(store, embedder, normalizer, settings.index_dir, settings.index_name,
                           ranker=ranker), indexer


@pytest.mark.parametrize("ranked_by", ["rrf", "learned"])
def test_hybrid_finds_the_guide_section(chroma_mode: str, ranked_by: str, make_settings: Callable[..., Settings],
                                        e5: Embedder, tiny_corpus: Path) -> None:
    ranker = LearnedRanker.load() if ranked_by == "learned" else None
    retriever, _ = build(make_settings(chroma_mode), e5, tiny_corpus, ranker)
    # The learned ranker puts the FAQ far ahead and orders the guide's sections by how much of the
    # question they cover, so on this tiny corpus the fee section comes sixth of eight: look at eight.
    passages = retriever.retrieve("身份证丢了补办要多少钱", k=5 if ranker is None else 8)
    assert passages[0].doc_id in {"guide-idcard-replace", "faq-idcard-lost-fee"}
    fee = [p for p in passages if p.section == "收费标准"]
    assert fee and fee[0].text == "补领工本费40元。" and fee[0].dense is not None and fee[0].lexical is not None
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert fee[0].metadata["source_url"].startswith("https://") and fee[0].title == "居民身份证补领"


def test_dialect_question_retrieves_like_its_standard_twin(make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    retriever, _ = build(make_settings(), e5, tiny_corpus)
    standard = retriever.retrieve("身份证丢了怎样补办", k=3)
    cantonese = retriever.retrieve("身份证唔见咗点样补办", k=3)
    assert [p.chunk_id for p in cantonese] == [p.chunk_id for p in standard]


@pytest.mark.parametrize("ranked_by", ["rrf", "learned"])
def test_filters_apply_to_both_sides(ranked_by: str, make_settings: Callable[..., Settings], e5: Embedder,
                                     tiny_corpus: Path) -> None:
    write(tiny_corpus / "guides" / "guide-old.md", GUIDE_IDCARD.replace("guide-idcard-replace", "guide-old")
          .replace("effective_date: 2012-01-01", "effective_date: 2012-01-01\nexpires: 2020-01-01"))
    retriever, _ = build(make_settings(), e5, tiny_corpus, LearnedRanker.load() if ranked_by == "learned" else None)
    laws = retriever.retrieve("身份证丢了怎么办", k=5, filters=Filters(kinds=("policy",)))
    assert laws and {p.kind for p in laws} == {"policy"}
    current = retriever.retrieve("补领工本费", k=20, filters=Filters(effective_on=dt.date(2026, 1, 1)))
    assert current and "guide-old" not in {p.doc_id for p in current}
    everything = retriever.retrieve("补领工本费", k=20)
    assert "guide-old" in {p.doc_id for p in everything}
    other_city = retriever.retrieve("补领工本费", k=20, filters=Filters(region="别的市"))
    assert {p.metadata["region"] for p in other_city} == {"全国"}


def test_retriever_follows_a_re_index(make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    retriever, indexer = build(make_settings(), e5, tiny_corpus)
    assert retriever.retrieve("补领工本费", k=3)
    write(tiny_corpus / "guides" / "guide-idcard-replace.md", GUIDE_IDCARD.replace("补领工本费40元。", "补领工本费40元，当场缴纳。"))
    indexer.run(load_paths([tiny_corpus]).documents)
    texts = [p.text for p in retriever.retrieve("补领工本费", k=3)]
    assert "补领工本费40元，当场缴纳。" in texts


def test_langchain_retriever_returns_documents_with_citations(make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    retriever, _ = build(make_settings(), e5, tiny_corpus)
    docs = retriever.as_langchain(k=2).invoke("失业保险金怎么申领")
    assert len(docs) == 2 and docs[0].metadata["doc_id"] == "guide-unemployment-benefit"
    assert {"title", "section", "effective_date", "source_url", "score"} <= set(docs[0].metadata)


def test_a_recognised_life_event_ranks_its_checklist_first(make_settings: Callable[..., Settings], e5: Embedder,
                                                          tiny_corpus: Path) -> None:
    """A question about a whole life event leads with that event's checklist, every chunk of it;
    other questions rank as without the recogniser, and filters still apply."""
    corpus_root = Path(__file__).resolve().parents[1] / "corpus"
    write(tiny_corpus / "bundles" / "bundle-after-death.md", (corpus_root / "bundles" / "bundle-after-death.md").read_text("utf-8"))
    for guide in ("guide-funeral-service", "guide-death-registration", "guide-pension-survivor"):
        write(tiny_corpus / "guides" / f"{guide}.md", (corpus_root / "guides" / f"{guide}.md").read_text("utf-8"))
    settings = make_settings()
    plain, indexer = build(settings, e5, tiny_corpus)
    events = BundleGuide(load_paths([tiny_corpus]).documents)
    routed = HybridRetriever(indexer.store, e5, plain.normalizer, settings.index_dir, settings.index_name, events=events)
    story = "我家老头子上个月走了，他是厂里退休的，一直领养老金。后面要办哪些手续？"  # shares words with the survivor-pension guide
    assert events.recognize(story) is not None and plain.retrieve(story, k=1)[0].doc_id == "guide-pension-survivor"
    bundle_chunks = routed.live_catalog().documents["bundle-after-death"].chunk_ids
    passages = routed.retrieve(story, k=len(bundle_chunks) + 3)
    assert [p.chunk_id for p in passages[:len(bundle_chunks)]] == bundle_chunks
    assert "bundle-after-death" not in {p.doc_id for p in passages[len(bundle_chunks):]}
    assert passages[0].score >= max(p.score for p in passages[1:]) and passages[0].title == "身后一件事"
    one_matter = "身份证丢了补办要多少钱"
    assert [p.chunk_id for p in routed.retrieve(one_matter, k=5)] == [p.chunk_id for p in plain.retrieve(one_matter, k=5)]
    guides_only = routed.retrieve(story, k=5, filters=Filters(kinds=("guide",)))
    assert guides_only and {p.kind for p in guides_only} == {"guide"}


def test_empty_question_retrieves_nothing(make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    retriever, _ = build(make_settings(), e5, tiny_corpus)
    assert retriever.retrieve("   ") == []


@pytest.mark.parametrize("weights", [dict(dense=-1), dict(dense=0, lexical=0), dict(k=0)])
def test_bad_fusion_weights_are_refused(weights: dict) -> None:
    with pytest.raises(ConfigError):
        FusionWeights(**weights)


def test_the_learned_ranker_reorders_but_keeps_each_sides_scores_and_fills_k_past_its_depth(
        make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings()
    fused, indexer = build(settings, e5, tiny_corpus)
    monkeypatch.setattr("assistant.retrieval.CANDIDATE_DEPTH", 3)  # the ranker scores 3 a side; the rest come fused
    learned = HybridRetriever(indexer.store, e5, fused.normalizer, fused.catalog_root, settings.index_name,
                              ranker=LearnedRanker.load())
    question, kinds = "身份证丢了补办要多少钱", Filters(kinds=("guide", "faq"))
    by_rank, by_model = fused.retrieve(question, k=12, filters=kinds), learned.retrieve(question, k=12, filters=kinds)
    assert {p.chunk_id for p in by_model} == {p.chunk_id for p in by_rank}  # the same candidates, k of them
    assert len(by_model) == len(by_rank) > 6 and {p.kind for p in by_model} <= {"guide", "faq"}
    scored = [p for p in by_model if p.score > 0]
    assert 3 <= len(scored) <= 6 and by_model[: len(scored)] == scored  # each side's best 3, scored first
    rest = [p.chunk_id for p in by_rank if p.chunk_id not in {q.chunk_id for q in scored}]
    assert [p.chunk_id for p in by_model[len(scored):]] == rest  # then the other candidates in fused order
    rank_fields = {p.chunk_id: (p.dense, p.lexical) for p in by_rank}
    assert all(rank_fields[p.chunk_id] == (p.dense, p.lexical) for p in by_model)


def test_search_returns_the_catalog_of_the_generation_it_searched(make_settings: Callable[..., Settings], e5: Embedder,
                                                                   tiny_corpus: Path) -> None:
    retriever, indexer = build(make_settings(), e5, tiny_corpus)
    found = retriever.search("身份证丢了怎么补办", k=5)
    assert found.catalog is not None and found.catalog.collection == indexer.store.live(retriever.index_key)
    assert found.passages and all(p.chunk_id in found.catalog.chunks for p in found.passages)
    nothing = retriever.search("   ", k=5)  # empty once normalised: the store is not asked
    assert nothing.passages == [] and nothing.catalog is None


def test_a_second_embedder_adds_its_list_once_its_index_exists(chroma_mode: str, make_settings: Callable[..., Settings],
                                                               e5: Embedder, tiny_corpus: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(chroma_mode, corpus_dir=str(tiny_corpus), second_embedder="use")
    one, indexer = build(settings, e5, tiny_corpus)  # the e5 index only, as before ZHENGWU_SECOND_EMBEDDER was set
    two = HybridRetriever(indexer.store, e5, one.normalizer, settings.index_dir, settings.index_name,
                          second=create_embedder("use", 1))
    question = "身份证丢了补办要多少钱"
    with caplog.at_level(logging.WARNING):
        waiting = two.retrieve(question, k=5)
    assert "no index for the second embedder" in caplog.text
    assert [(p.chunk_id, p.score) for p in waiting] == [(p.chunk_id, p.score) for p in one.retrieve(question, k=5)]

    summary = reindex(settings)  # indexes with both embedders, the second first
    assert summary.index_key == one.index_key and indexer.store.live(f"{settings.index_name}-use") is not None
    fused = two.retrieve(question, k=5)
    before = {p.chunk_id: p.score for p in one.retrieve(question, k=20)}
    assert fused[0].doc_id in {"guide-idcard-replace", "faq-idcard-lost-fee"}
    assert all(p.score > before[p.chunk_id] for p in fused)  # each also ranked by the second list: a larger RRF sum
    assert all(p.dense is not None for p in fused)  # the evidence check still reads the first embedder's cosines

    guide = tiny_corpus / "guides" / "guide-idcard-replace.md"
    guide.write_text(guide.read_text(encoding="utf-8") + "\n补充说明。\n", encoding="utf-8")
    indexer.run(load_paths([tiny_corpus]).documents)  # the first index only: the second is one version behind
    after = {p.chunk_id: p.score for p in one.retrieve(question, k=20)}
    for passage in two.retrieve(question, k=20):
        if passage.doc_id == "guide-idcard-replace":  # its old version's hits are ignored
            assert passage.score == after[passage.chunk_id]
        else:
            assert passage.score > after[passage.chunk_id]

    def unreadable(collection: str, vector: object, limit: int) -> object:
        if collection.startswith(f"{settings.index_name}-use"):
            raise StoreError("the second collection is gone")
        return real_query(collection, vector, limit)

    real_query = indexer.store.query
    fresh = HybridRetriever(indexer.store, e5, one.normalizer, settings.index_dir, settings.index_name,
                            second=create_embedder("use", 1))
    caplog.clear()
    with caplog.at_level(logging.WARNING), pytest.MonkeyPatch.context() as patch:
        patch.setattr(indexer.store, "query", unreadable)
        alone = [(p.chunk_id, p.score) for p in fresh.retrieve(question, k=5)]
        fresh.retrieve(question, k=5)
    assert alone == [(p.chunk_id, p.score) for p in one.retrieve(question, k=5)]  # the first embedder answers on
    assert caplog.text.count("cannot be read") == 1  # told once, not on every question
    with pytest.raises(ConfigError, match="rank fusion"):
        HybridRetriever(indexer.store, e5, one.normalizer, settings.index_dir, settings.index_name,
                        ranker=LearnedRanker.load(), second=create_embedder("use", 1))


def test_the_assistant_built_from_settings_answers_with_both_embedders(make_settings: Callable[..., Settings],
                                                                       tiny_corpus: Path) -> None:
    from assistant.service import Assistant

    shipped = Path(__file__).resolve().parents[1] / "corpus"
    for lexicon in ("dialect.yaml", "glossary.yaml"):  # the assistant reads the corpus's lexicons
        (tiny_corpus / lexicon).write_text((shipped / lexicon).read_text(encoding="utf-8"), encoding="utf-8")
    settings = make_settings(corpus_dir=str(tiny_corpus), second_embedder="use")
    reindex(settings)
    assistant = Assistant.from_settings(settings)
    retriever = assistant.answerer.retriever  # type: ignore[attr-defined]
    assert retriever.second is not None and retriever.second.key == "use" and retriever.ranker is None
    answer = assistant.ask("身份证丢了补办要多少钱")
    assert not answer.refused and "40元" in answer.text
    assert {c.doc_id for c in answer.citations} & {"guide-idcard-replace", "faq-idcard-lost-fee"}


def test_the_title_order_fuses_the_ranks_with_the_titles_ranks() -> None:
    def ids(ranked: list[tuple[str, float]]) -> list[str]:
        return [item for item, _ in ranked]

    four = [("a", 0.4), ("b", 0.3), ("c", 0.2), ("d", 0.1)]
    # the second reads closest and overtakes the first, which reads farthest (1/11 + 1/10 > 1/10 +
    # 1/13); the fourth, second closest, passes the third, third closest (1/13 + 1/11 > 1/12 + 1/12):
    # the two orders weigh the same
    assert order_by_title(four, [0.70, 0.95, 0.80, 0.90]) == [("b", 0.3), ("a", 0.4), ("d", 0.1), ("c", 0.2)]
    # the fourth, third closest, stays behind the third, second closest
    assert ids(order_by_title(four, [0.70, 0.95, 0.90, 0.80])) == ["b", "a", "c", "d"]
    assert ids(order_by_title(four[:2], [0.85, 0.85])) == ["a", "b"]  # a tie keeps the order
    assert ids(order_by_title(four[:3], [0.90, 0.80, 0.70])) == ["a", "b", "c"]
    assert order_by_title([], []) == []


def test_the_title_order_reads_a_title_with_its_documents_similar_questions(e5: Embedder) -> None:
    """A passage's title closeness is the closest of its title and its document's similar questions
    (hand-made unit vectors, saved as the indexer saves them: nothing is embedded)."""
    def unit(*values: float) -> np.ndarray:
        vector = np.array(values, dtype=np.float32)
        return vector / np.linalg.norm(vector)

    def metadata(doc_id: str, title: str, similar: str = "") -> dict[str, Scalar]:
        return {"doc_id": doc_id, "title": title, "kind": "faq", "chunk_no": 0, "similar": similar}

    found = {f"{d}#0": (f"{d}的内容", metadata(d, f"{d}的标题")) for d in "abcd"}
    found["b#0"] = ("b的内容", metadata("b", "b的标题", "b的问法"))
    catalog = Catalog.build("c", [StoredChunk(chunk_id, text, meta) for chunk_id, (text, meta) in found.items()])
    question = unit(1, 0, 0)
    catalog.title_queries = {"a的标题": unit(0.2, 1, 0), "b的标题": unit(0.3, 1, 0), "c的标题": unit(0.5, 1, 0),
                             "d的标题": unit(0.6, 1, 0), "b的问法": unit(1, 0.1, 0)}
    ranked = [("a#0", 0.4), ("b#0", 0.3), ("c#0", 0.2), ("d#0", 0.1)]
    reader = SimpleNamespace(titles=TitleVectors(e5, as_queries=True))
    ordered = HybridRetriever._title_order(cast(HybridRetriever, reader), ranked, found, catalog, list(question))
    assert [chunk_id for chunk_id, _ in ordered] == ["b#0", "a#0", "d#0", "c#0"]  # b's similar question reads closest
    assert dict(ordered) == dict(ranked)  # each keeps its score
    found["b#0"] = ("b的内容", metadata("b", "b的标题"))  # without it b's title reads far: a stays first
    plain = Catalog.build("c", [StoredChunk(chunk_id, text, meta) for chunk_id, (text, meta) in found.items()])
    plain.title_queries = catalog.title_queries
    unordered = HybridRetriever._title_order(cast(HybridRetriever, reader), ranked, found, plain, list(question))
    assert [chunk_id for chunk_id, _ in unordered][0] == "a#0"


def test_the_title_order_reorders_the_best_passages_and_keeps_their_scores(
        make_settings: Callable[..., Settings], e5: Embedder, tiny_corpus: Path) -> None:
    """With titles the best passages are the same, in the order `order_by_title` gives them from
    the question's closeness to each one's title as a query (or the closest of its similar questions,
    which the corpus's housing-fund documents carry); each keeps its score, the rest their order."""
    corpus_root = Path(__file__).resolve().parents[1] / "corpus"
    for path in [*(corpus_root / "faqs").glob("faq-housing-fund-rent-*.md"),
                 *(corpus_root / "guides").glob("guide-housing-fund-withdrawal-*.md")]:
        write(tiny_corpus / path.parent.name / path.name, path.read_text("utf-8"))
    settings = make_settings()
    plain, indexer = build(settings, e5, tiny_corpus, LearnedRanker.load())
    titled = HybridRetriever(indexer.store, e5, plain.normalizer, settings.index_dir, settings.index_name,
                             ranker=LearnedRanker.load(), titles=TitleVectors(e5, as_queries=True))
    question, head = "租房子住能把公积金取出来付房租吗？", TITLE_ORDER_DEPTH
    before, after = plain.retrieve(question, k=12), titled.retrieve(question, k=12)
    vector = e5.embed_query(plain.normalizer.normalize(question).search_text)
    closeness = [max(float(np.dot(vector, e5.encode([name], is_query=True)[0]))  # the title or a similar question
                     for name in (p.title, *similar_questions(p.metadata))) for p in before[:head]]
    expected = [item for item, _ in order_by_title([(p.chunk_id, p.score) for p in before[:head]], closeness)]
    assert [p.chunk_id for p in after[:head]] == expected != [p.chunk_id for p in before[:head]]
    assert [p.chunk_id for p in after[head:]] == [p.chunk_id for p in before[head:]]
    scores = {p.chunk_id: p.score for p in before}
    assert all(p.score == scores[p.chunk_id] for p in after)
