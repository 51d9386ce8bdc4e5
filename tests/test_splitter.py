from pathlib import Path

import pytest

from assistant.documents import Chunk, Document
from assistant.errors import ConfigError
from indexer.loaders import load_paths
from indexer.splitter import Splitter

CITATION_FIELDS = {"doc_id", "title", "kind", "section", "chapter", "effective_date", "source_url",
                   "department", "region", "doc_hash", "chunk_no", "sample", "expires", "doc_number"}


def docs(corpus: Path) -> dict[str, Document]:
    return {d.doc_id: d for d in load_paths([corpus], root=corpus).documents}


def test_guide_gets_one_chunk_per_section(tiny_corpus: Path) -> None:
    chunks = Splitter().split(docs(tiny_corpus)["guide-idcard-replace"])
    assert [c.section for c in chunks] == ["事项名称", "受理条件", "申请材料", "办理流程", "办理时限", "收费标准"]
    materials = chunks[2]
    assert materials.text == "- 居民户口簿\n- 本人近期免冠照片"
    assert materials.embed_text == "居民身份证补领｜申请材料\n- 居民户口簿\n- 本人近期免冠照片"
    assert [c.chunk_no for c in chunks] == list(range(6))
    assert chunks[0].chunk_id == Chunk.make_id("guide-idcard-replace", 0)


def test_law_gets_one_chunk_per_article_with_its_chapter(tiny_corpus: Path) -> None:
    chunks = Splitter().split(docs(tiny_corpus)["law-resident-id-card"])
    assert [(c.section, c.metadata["chapter"]) for c in chunks] == [
        ("第一条", "第一章 总则"), ("第二条", "第一章 总则"),
        ("第十一条", "第二章 申领和发放"), ("第十二条", "第二章 申领和发放"),
    ]
    article = chunks[3]
    assert article.text.startswith("第十二条 公安机关应当") and article.text.endswith("不得超过三十日。")
    assert article.embed_text.startswith("中华人民共和国居民身份证法｜第二章 申领和发放 第十二条\n")


def test_faq_is_one_chunk_with_question_and_answer(tiny_corpus: Path) -> None:
    (chunk,) = Splitter().split(docs(tiny_corpus)["faq-idcard-lost-fee"])
    assert chunk.embed_text == "身份证丢了补办要多少钱？\n补领居民身份证的工本费是40元。"


def test_every_chunk_carries_citation_metadata(tiny_corpus: Path) -> None:
    for doc in docs(tiny_corpus).values():
        for chunk in Splitter().split(doc):
            assert CITATION_FIELDS <= set(chunk.metadata)
            assert chunk.metadata["doc_id"] == doc.doc_id and chunk.metadata["title"] == doc.title
            assert chunk.metadata["source_url"].startswith("https://")
            assert chunk.metadata["doc_hash"] == doc.content_hash
            assert all(isinstance(v, (str, int, float, bool)) for v in chunk.metadata.values())


def test_long_article_is_split_with_overlap_and_keeps_its_label() -> None:
    sentences = [f"第{i}句规定了申请人应当提交的第{i}项材料和办理的具体要求。" for i in range(1, 30)]
    body = "## 第三章 待遇\n\n第二十条 " + "".join(sentences)
    doc = Document("law-long", "示例条例", "policy", body, "x.md")
    chunks = Splitter(max_chars=200, overlap=60).split(doc)
    assert len(chunks) > 3
    assert all(c.section == "第二十条" and len(c.text) <= 200 for c in chunks)
    for previous, current in zip(chunks, chunks[1:]):
        assert previous.text[-20:] in current.text  # the window overlaps the one before
    joined = "".join(chunks[0].text for _ in [0]) + "".join(c.text for c in chunks)
    assert all(s in joined for s in sentences)  # nothing lost


def test_materials_list_is_kept_whole_when_moderately_long() -> None:
    items = "\n".join(f"- 第{i}份材料：加盖单位公章的证明原件及复印件" for i in range(1, 15))
    doc = Document("guide-x", "示例事项", "guide", f"## 申请材料\n{items}\n\n## 办理流程\n{items}", "x.md")
    chunks = Splitter(max_chars=200, overlap=40).split(doc)
    materials = [c for c in chunks if c.section == "申请材料"]
    assert len(materials) == 1 and materials[0].text == items
    assert len([c for c in chunks if c.section == "办理流程"]) > 1


def test_ids_are_stable_across_runs(tiny_corpus: Path) -> None:
    first = [c.chunk_id for d in docs(tiny_corpus).values() for c in Splitter().split(d)]
    second = [c.chunk_id for d in docs(tiny_corpus).values() for c in Splitter().split(d)]
    assert first == second and len(set(first)) == len(first)


@pytest.mark.parametrize(("max_chars", "overlap"), [(10, 0), (200, 150), (200, -1)])
def test_bad_sizes_are_refused(max_chars: int, overlap: int) -> None:
    with pytest.raises(ConfigError):
        Splitter(max_chars=max_chars, overlap=overlap)
