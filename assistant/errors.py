"""The project's error tree.

Every failure a caller can act on is one of these. Third-party errors (chromadb, the embedding
libraries, YAML, HTTP clients) are translated once, at the module that talks to the library, with
``raise OurError(...) from exc``; nothing above that boundary catches a library's own exception.

    ZhengwuError
    ├── ConfigError          a setting is missing or invalid
    ├── LoadError            a source file cannot be read or parsed (carries the path and the reason)
    ├── EmbeddingError       an embedder cannot be created or failed to embed
    ├── StoreError           the vector store (Chroma) failed or is unreachable
    │   └── IndexNotFoundError   no index has been built yet for this name and embedder
    └── IndexingError        an indexing run could not complete
        └── IndexBusyError       another indexing run holds the lock

"No evidence" is not an error: the answerer returns a normal answer that says so.
"""

from __future__ import annotations

from pathlib import Path


class ZhengwuError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(ZhengwuError):
    """A setting is missing or has an invalid value."""


class LoadError(ZhengwuError):
    """A source document cannot be read or parsed."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class EmbeddingError(ZhengwuError):
    """An embedder cannot be created, or failed while embedding."""


class StoreError(ZhengwuError):
    """The vector store failed or cannot be reached."""


class IndexNotFoundError(StoreError):
    """No index has been built yet for this index name and embedder."""


class IndexingError(ZhengwuError):
    """An indexing run could not complete; the previous index is untouched."""


class IndexBusyError(IndexingError):
    """Another indexing run holds the lock on this data directory."""
