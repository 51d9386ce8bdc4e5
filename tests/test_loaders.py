import json
from dataclasses import replace
from pathlib import Path

from indexer.loaders import load_file, load_paths
from tests.conftest import GUIDE_IDCARD, write


def test_corpus_markdown_loads_with_all_metadata(tiny_corpus: Path) -> None:
    result = load_paths([tiny_corpus], root=tiny_corpus)
    assert result.problems == []
    docs = {d.doc_id: d for d in result.documents}
    assert set(docs) == {"guide-idcard-replace", "guide-unemployment-benefit", "law-resident-id-card", "faq-idcard-lost-fee"}
    guide = docs["guide-idcard-replace"]
    assert (guide.kind, guide.title, guide.region, guide.effective_date) == ("guide", "居民身份证补领", "示例市", "2012-01-01")
    assert guide.sample is True and guide.tags == ("身份证", "补办")
    assert guide.source_path == "guides/guide-idcard-replace.md"
    assert guide.body.startswith("## 事项名称")
    faq = docs["faq-idcard-lost-fee"]
    assert faq.extra["rests_on"] == ["guide-idcard-replace#收费标准"]
    assert docs["law-resident-id-card"].extra["doc_type"] == "law"


def test_lawrefbook_layout_loads_as_policy(tmp_path: Path) -> None:
    path = write(
        tmp_path / "社会法" / "示例保险法(2018-12-29).md",
        """
        # 中华人民共和国示例保险法

        2018年12月29日 修正

        <!-- INFO END -->

        ## 第一章 总则

        第一条 为了规范示例保险关系，制定本法。
        """,
    )
    result = load_file(path, root=tmp_path)
    assert result.problems == []
    (doc,) = result.documents
    assert doc.title == "中华人民共和国示例保险法"
    assert doc.kind == "policy" and doc.effective_date == "2018-12-29" and doc.region == "全国"
    assert "INFO END" not in doc.body and "2018年12月29日" not in doc.body
    assert doc.doc_id.startswith("law-")


def test_jsonl_records_of_every_format(tmp_path: Path) -> None:
    gd = {
        "TASK_CODE": "114400", "matter_name": "临时价格干预提价申报", "DEPT_NAME": "广东省发展和改革委员会",
        "AREA_CODE_TEXT": "广东省", "URL": "https://www.gdzwfw.gov.cn/x", "handle_time": "30(工作日)",
        "handle_time_limit": "7(工作日)", "handle_location": "办理地点：广州市越秀区东风中路305号",
        "consult_phone": "020-34121084", "material_intro": "['提价申报申请报告', '成本说明']",
        "service_object_name": "['企业法人']", "accept_standard": "无",
    }
    qa = {"id": "qa-1", "question": "地震时怎么自救？", "answer": "保护头部。", "department": "应急局"}
    doc = {"docid": "d1", "text": "关于支持企业复工的通知 一、减免租金。"}
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in (gd, qa, doc)) + "\n", encoding="utf-8")
    result = load_file(path)
    assert result.problems == []
    guide, faq, policy = result.documents
    assert guide.doc_id == "gd-114400" and guide.kind == "guide" and guide.department == "广东省发展和改革委员会"
    assert "## 申请材料\n- 提价申报申请报告\n- 成本说明" in guide.body
    assert "法定办结时限30（工作日）" in guide.body and "受理条件" not in guide.body  # 无 means absent
    assert "广州市越秀区东风中路305号" in guide.body and "办理地点：" not in guide.body
    assert (faq.kind, faq.title, faq.body, faq.department) == ("faq", "地震时怎么自救？", "保护头部。", "应急局")
    assert (policy.doc_id, policy.kind, policy.title) == ("d1", "policy", "关于支持企业复工的通知")


def test_bad_jsonl_lines_are_reported_and_the_rest_load(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(
        '{"id": "a", "question": "问一", "answer": "答一"}\n'
        "{not json\n"
        "[1, 2]\n"
        '{"id": "b", "question": "", "answer": "答二"}\n'
        '{"foo": 1}\n'
        '{"id": "c", "question": "问三", "answer": "答三"}\n',
        encoding="utf-8",
    )
    result = load_file(path)
    assert [d.doc_id for d in result.documents] == ["a", "c"]
    reasons = {str(p.path).rsplit(":", 1)[1]: p.reason for p in result.problems}
    assert set(reasons) == {"2", "3", "4", "5"}
    assert "not valid JSON" in reasons["2"]
    assert "JSON object" in reasons["3"]
    assert "empty question" in reasons["4"]
    assert "unknown record format" in reasons["5"]


def test_malformed_files_are_skipped_with_path_and_reason(tiny_corpus: Path) -> None:
    bad = tiny_corpus / "bad"
    write(bad / "no-front-matter.md", "只有正文，没有标题。\n")
    write(bad / "broken-yaml.md", "---\nid: [unclosed\n---\n正文\n")
    write(bad / "missing-field.md", GUIDE_IDCARD.replace("department: 示例市公安局\n", "").replace("guide-idcard-replace", "guide-x"))
    write(bad / "bad-date.md", GUIDE_IDCARD.replace("2012-01-01", "去年").replace("guide-idcard-replace", "guide-y"))
    write(bad / "no-body.md", "---\n" + GUIDE_IDCARD.split("---")[1].replace("guide-idcard-replace", "guide-z") + "---\n")
    write(bad / "duplicate.md", GUIDE_IDCARD)
    (bad / "empty.md").write_bytes(b"")
    (bad / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (bad / "latin1.md").write_bytes("---\ntitle: caf\xe9\n---\n".encode("latin-1"))
    write(bad / "README.md", "# not a document\n")
    write(bad / "_index.md", "---\nbookCollapseSection: true\n---\n")

    result = load_paths([tiny_corpus, tiny_corpus / "missing-folder"], root=tiny_corpus)
    assert len(result.documents) == 4  # the good ones all loaded
    reasons = {p.path.name: p.reason for p in result.problems}
    reasons.update({str(p.path): p.reason for p in result.problems})
    assert "neither YAML front matter nor a '# title' line" in reasons["no-front-matter.md"]
    assert "malformed YAML front matter" in reasons["broken-yaml.md"]
    assert "department: Field required" in reasons["missing-field.md"]
    assert "effective_date" in reasons["bad-date.md"]
    assert "no body" in reasons["no-body.md"]
    # the first in path order wins (bad/ sorts before guides/); the other is reported naming both
    assert "duplicate id 'guide-idcard-replace' (already used by bad/duplicate.md)" in reasons["guides/guide-idcard-replace.md"]
    assert "empty" in reasons["empty.md"]
    assert "binary" in reasons["binary.md"]
    assert "not UTF-8" in reasons["latin1.md"]
    assert "no such file or folder" in reasons["missing-folder"]
    assert "README.md" not in reasons and "_index.md" not in reasons


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "huge.md", "# 标题\n" + "字" * 1_000_000)
    result = load_file(path)
    assert result.documents == []
    assert "too large" in result.problems[0].reason


def test_similar_questions_load_as_lines_and_bad_ones_are_refused_with_the_reason(tmp_path: Path) -> None:
    similar = '["身份证丢了咋补办？", "  补办身份证要啥材料 ", "身份证丢了咋补办？"]'
    write(tmp_path / "good.md", GUIDE_IDCARD.replace("tags: [", f"similar: {similar}\ntags: ["))
    write(tmp_path / "plain.md", GUIDE_IDCARD.replace("guide-idcard-replace", "guide-plain"))
    write(tmp_path / "newline.md", GUIDE_IDCARD.replace("guide-idcard-replace", "guide-n")
          .replace("tags: [", 'similar: ["第一行\\n第二行"]\ntags: ['))
    many = "[" + ", ".join(f'"问法{n}"' for n in range(21)) + "]"
    write(tmp_path / "many.md", GUIDE_IDCARD.replace("guide-idcard-replace", "guide-m").replace("tags: [", f"similar: {many}\ntags: ["))
    write(tmp_path / "number.md", GUIDE_IDCARD.replace("guide-idcard-replace", "guide-d").replace("tags: [", "similar: [12345]\ntags: ["))

    result = load_paths([tmp_path], root=tmp_path)
    docs = {d.doc_id: d for d in result.documents}
    # stripped, each once, in order; carried in the hash (a changed question re-embeds the document)
    assert docs["guide-idcard-replace"].similar == ("身份证丢了咋补办？", "补办身份证要啥材料")
    assert docs["guide-plain"].similar == ()
    with_similar = docs["guide-idcard-replace"]
    assert replace(with_similar, similar=with_similar.similar[:1]).content_hash != with_similar.content_hash
    reasons = {p.path.name: p.reason for p in result.problems}
    assert set(reasons) == {"newline.md", "many.md", "number.md"}
    assert all("invalid front matter: similar" in reason for reason in reasons.values())
    policy = GUIDE_IDCARD.replace("guide-idcard-replace", "law-x").replace("kind: guide", "kind: policy")
    write(tmp_path / "more" / "policy.md", policy.replace("tags: [", 'similar: ["身份证法讲了啥"]\ntags: ['))
    (problem,) = load_paths([tmp_path / "more"], root=tmp_path).problems
    assert "similar questions belong to an faq or a guide, not a policy" in problem.reason


def test_a_document_without_similar_questions_keeps_the_hash_it_had_before_they_existed(tiny_corpus: Path) -> None:
    """Hashes decide what is embedded again and fingerprint the benchmarks the ranker was fitted on
    (`assistant/data/ranker.json`): the field's arrival must not change any document without it.
    The hashes below are session 14's code's (70e349e) for the test corpus."""
    hashes = {d.doc_id: d.content_hash for d in load_paths([tiny_corpus], root=tiny_corpus).documents}
    assert hashes == {
        "faq-idcard-lost-fee": "0589b4d7e2141ff061be9524663da4c8d46908c4",
        "guide-idcard-replace": "d54fa9c20265271f0f9ef8fac351a5a77a38e541",
        "guide-unemployment-benefit": "2a4ff0b9beebaf3fd23a3d9e77e1e0a19b4a1aa9",
        "law-resident-id-card": "d77cecc0fbc58be376c985dc29740afb805a7c77",
    }
