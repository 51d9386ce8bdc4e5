from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.settings import Settings


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_environ({})
    assert settings.data_dir == Path("data")
    assert settings.chroma_url is None
    assert settings.embedder == "e5"
    assert settings.chroma_path == Path("data") / "chroma"


def test_values_come_from_prefixed_keys_only() -> None:
    settings = Settings.from_environ(
        {
            "ZHENGWU_DATA_DIR": "/srv/zw",
            "ZHENGWU_CHROMA_URL": "http://127.0.0.1:8001/",
            "ZHENGWU_THREADS": "4",
            "ZHENGWU_LLM_API_KEY": "sk-secret",
            "DATA_DIR": "/ignored",
        }
    )
    assert settings.data_dir == Path("/srv/zw")
    assert settings.chroma_url == "http://127.0.0.1:8001"
    assert settings.threads == 4
    assert settings.llm_api_key is not None and settings.llm_api_key.get_secret_value() == "sk-secret"
    assert "sk-secret" not in repr(settings)


def test_overrides_win_over_environ() -> None:
    settings = Settings.from_environ({"ZHENGWU_EMBEDDER": "use"}, embedder="st:m3e-small")
    assert settings.embedder == "st:m3e-small"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ZHENGWU_THREADS": "0"}, "ZHENGWU_THREADS"),
        ({"ZHENGWU_EMBEDDER": "bert"}, "embedder must be"),
        ({"ZHENGWU_CHROMA_URL": "localhost:8000"}, "chroma_url must start with http"),
        ({"ZHENGWU_SECOND_EMBEDDER": "bert"}, "second_embedder must be"),
        ({"ZHENGWU_SECOND_EMBEDDER": "e5"}, "second_embedder must differ from embedder"),
        ({"ZHENGWU_EMBEDDER": "st:models/x", "ZHENGWU_SECOND_EMBEDDER": "st:./models/x"}, "must differ"),  # one folder
        ({"ZHENGWU_DATA_DIRR": "/x"}, "unknown setting(s): ZHENGWU_DATA_DIRR"),
    ],
)
def test_bad_values_name_the_setting(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_environ(environ)
    assert message in str(caught.value)
