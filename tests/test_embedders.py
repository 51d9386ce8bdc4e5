import numpy as np
import pytest

from assistant.embedders import Embedder, create_embedder, resolve_st_path
from assistant.errors import ConfigError

GUIDES = {
    "idcard": "居民身份证补领：居民身份证丢失的，应当申请补领，带户口簿到户政窗口，工本费40元。",
    "unemployment": "失业保险金申领：非因本人意愿中断就业、缴费满一年的失业人员，办理失业登记后按月领取失业保险金。",
    "vehicle": "机动车检验：机动车应当按照规定的周期到检验机构进行安全技术检验，合格后发放检验合格标志。",
    "marriage": "结婚登记：要求结婚的男女双方应当共同到婚姻登记机关办理结婚登记，出示居民身份证。",
}
QUESTIONS = {
    "idcard": "我的身份证丢了，怎么补办？",
    "unemployment": "被公司辞退了能领失业金吗",
    "vehicle": "车子年检要去哪里",
    "marriage": "我们想领结婚证需要带什么",
}


@pytest.fixture(scope="module", params=["e5", "use", "st:m3e-small"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    return create_embedder(request.param, threads=1)


@pytest.mark.slow
def test_each_question_ranks_its_own_guide_first(embedder: Embedder) -> None:
    names = list(GUIDES)
    passages = embedder.encode([GUIDES[n] for n in names], is_query=False)
    queries = embedder.encode([QUESTIONS[n] for n in names], is_query=True)
    assert passages.shape == (4, embedder.dim) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    similarity = queries @ passages.T
    assert [names[i] for i in similarity.argmax(axis=1)] == names, similarity.round(3)


@pytest.mark.slow
def test_langchain_interface_matches_encode(embedder: Embedder) -> None:
    as_documents = np.array(embedder.embed_documents([GUIDES["idcard"]]), dtype=np.float32)
    as_query = np.array(embedder.embed_query(QUESTIONS["idcard"]), dtype=np.float32)
    assert np.allclose(as_documents, embedder.encode([GUIDES["idcard"]], is_query=False), atol=1e-5)
    assert as_query.shape == (embedder.dim,)
    assert embedder.encode([], is_query=False).shape == (0, embedder.dim)


def test_bundled_m3e_is_found_without_importing_it() -> None:
    import sys

    path = resolve_st_path("m3e-small")
    assert (path / "config.json").is_file()
    assert "embedding" not in sys.modules


def test_keys_name_their_index() -> None:
    assert create_embedder("e5").key == "e5"


@pytest.mark.parametrize("spec", ["bert", "st:/no/such/model/dir", "st:"])
def test_unknown_or_missing_embedders_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        create_embedder(spec)


def test_threads_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="threads must be at least 1, got 0"):
        create_embedder("e5", threads=0)


def test_key_is_known_without_loading_the_model() -> None:
    from assistant.embedders import embedder_key

    assert embedder_key("e5") == "e5" and embedder_key("st:m3e-small") == "st-m3e-small"
    assert embedder_key("st:m3e-small") == create_embedder("st:m3e-small").key
