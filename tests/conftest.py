"""Shared fixtures: no network, real embedders, real Chroma (embedded and server), tiny corpora."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from assistant.answering import ExtractiveAnswerer
from assistant.embedders import E5Embedder, Embedder
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import ChromaStore
from indexer.indexing import Indexer
from indexer.loaders import load_paths
from indexer.splitter import Splitter

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a non-loopback address fails the test that made it."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            host = str(address[0])
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def e5() -> Embedder:
    return E5Embedder(threads=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (`chroma run`) on loopback for the whole session."""
    chroma = shutil.which("chroma", path=str(VENV_BIN)) or shutil.which("chroma")
    if chroma is None:
        pytest.fail("the `chroma` command (installed with chromadb) is not on PATH")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("w")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"chroma run did not start: {(path / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(params=["embedded", "server"])
def chroma_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """Settings over a fresh data dir; `mode="server"` points at the session's Chroma server."""

    def build(mode: str = "embedded", **overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": str(tmp_path / "data"),
            "index_name": f"t{uuid.uuid4().hex[:10]}",
            "threads": 1,
        }
        if mode == "server":
            values["chroma_url"] = request.getfixturevalue("chroma_server")
        values.update(overrides)
        return Settings.from_environ({}, **values)

    return build


def index_corpus(settings: Settings, embedder: Embedder, corpus: Path) -> Indexer:
    """Index `corpus` into the store `settings` names; the indexer is returned for re-runs."""
    indexer = Indexer(ChromaStore.connect(settings), embedder, Splitter(), settings.index_dir, settings.index_name)
    indexer.run(load_paths([corpus]).documents)
    return indexer


def product_answerer(root: Path, corpus: Path, embedder: Embedder) -> ExtractiveAnswerer:
    """The product's extractive answerer (`Assistant.from_settings`) over `corpus`, indexed with
    `embedder` into a data dir under `root`."""
    settings = Settings.from_environ({"ZHENGWU_DATA_DIR": str(root / "data"), "ZHENGWU_CORPUS_DIR": str(corpus)},
                                     threads=1)
    index_corpus(settings, embedder, corpus)
    answerer = Assistant.from_settings(settings).answerer
    assert isinstance(answerer, ExtractiveAnswerer)
    return answerer


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


GUIDE_IDCARD = """
---
id: guide-idcard-replace
title: 居民身份证补领
kind: guide
department: 示例市公安局
region: 示例市
effective_date: 2012-01-01
source_url: https://zwfw.shili.example/guide/guide-idcard-replace
sample: true
tags: [身份证, 补办]
---

## 事项名称
居民身份证补领

## 受理条件
居民身份证丢失的，应当申请补领。

## 申请材料
- 居民户口簿
- 本人近期免冠照片

## 办理流程
1. 到户政窗口申请；
2. 采集照片和指纹；
3. 领取新证。

## 办理时限
自提交申领登记表之日起60日内发放。

## 收费标准
补领工本费40元。
"""

BUNDLE_JOBLESS = """
---
id: bundle-unemployment
title: 失业一件事
kind: bundle
event: 失业
department: 示例市人力资源和社会保障局
region: 示例市
effective_date: 2025-01-01
source_url: https://zwfw.shili.example/bundle/bundle-unemployment
sample: true
steps:
  - guide: guide-unemployment-benefit
    note: 失业前单位和本人缴纳失业保险费满一年的，申领失业保险金
    together_with: []
    carries: []
---

## 适用情形
非本人意愿中断就业后，申领失业保险金。

## 办理顺序
1. 失业保险金申领（guide-unemployment-benefit）：到社保经办机构申领。
"""


GUIDE_UNEMPLOYMENT = """
---
id: guide-unemployment-benefit
title: 失业保险金申领
kind: guide
department: 示例市人力资源和社会保障局
region: 示例市
effective_date: 2019-01-01
source_url: https://zwfw.shili.example/guide/guide-unemployment-benefit
sample: true
---

## 事项名称
失业保险金申领

## 受理条件
失业前用人单位和本人已经缴纳失业保险费满一年，非因本人意愿中断就业，已经进行失业登记并有求职要求。

## 申请材料
- 居民身份证
- 解除或者终止劳动合同的证明

## 办理时限
自受理之日起10个工作日内办结。
"""

LAW_ID_CARD = """
---
id: law-resident-id-card
title: 中华人民共和国居民身份证法
kind: policy
department: 全国人民代表大会常务委员会
region: 全国
effective_date: 2012-01-01
source_url: https://flk.npc.gov.cn/
sample: false
doc_type: law
---

## 第一章 总则

第一条 为了证明居住在中国境内的公民的身份，制定本法。

第二条 年满十六周岁的中国公民应当申领居民身份证。

## 第二章 申领和发放

第十一条 居民身份证丢失的，应当申请补领。

第十二条 公安机关应当自公民提交申领登记表之日起六十日内发放居民身份证；交通不便的地区，延长的时间不得超过三十日。
"""

FAQ_FEE = """
---
id: faq-idcard-lost-fee
title: 身份证丢了补办要多少钱？
kind: faq
question: 身份证丢了补办要多少钱？
rests_on: [guide-idcard-replace#收费标准]
department: 公安机关
region: 全国
effective_date: 2012-01-01
source_url: https://zwfw.shili.example/guide/guide-idcard-replace
sample: false
---
补领居民身份证的工本费是40元。
"""


def write_tiny_corpus(root: Path) -> Path:
    """Four documents of every structure the splitter knows, written under `root`."""
    write(root / "guides" / "guide-idcard-replace.md", GUIDE_IDCARD)
    write(root / "guides" / "guide-unemployment-benefit.md", GUIDE_UNEMPLOYMENT)
    write(root / "policies" / "law-resident-id-card.md", LAW_ID_CARD)
    write(root / "faqs" / "faq-idcard-lost-fee.md", FAQ_FEE)
    return root


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return write_tiny_corpus(tmp_path / "corpus")


# A guide staff upload in the API and web tests (expired: it shows as stale).
DOG_GUIDE = """---
id: guide-dog-registration
title: 养犬登记
kind: guide
department: 示例市公安局
region: 示例市
effective_date: 2020-01-01
expires: 2020-12-31
source_url: https://zwfw.shili.example/guide/guide-dog-registration
sample: true
---

## 事项名称
养犬登记

## 申请材料
- 犬只狂犬病免疫证明
- 养犬人居民身份证

## 办理时限
即时办结。
"""
