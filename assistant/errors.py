"""The project's error tree.

Every failure a caller can act on is one of these. Third-party errors (chromadb, the embedding
libraries, YAML, HTTP clients) are translated once, at the module that talks to the library, with
``raise OurError(...) from exc``; nothing above that boundary catches a library's own exception.

    ZhengwuError
    ├── ConfigError          a setting is missing or invalid
    ├── LoadError            a source file cannot be read or parsed (carries the path and the reason)
    │   ├── InvalidUploadNameError   an uploaded file's name is not a plain, safe .md/.jsonl name
    │   └── UploadTooLargeError      an uploaded file is over the upload limit
    ├── EmbeddingError       an embedder cannot be created or failed to embed
    ├── StoreError           the vector store (Chroma) failed or is unreachable
    │   └── IndexNotFoundError   no index has been built yet for this name and embedder
    ├── IndexingError        an indexing run could not complete
    │   └── IndexBusyError       another indexing run holds the lock
    ├── DocumentConflictError    a request clashes with an existing document (a corpus document, a used id)
    ├── DocumentNotFoundError    no uploaded document has this id
    ├── FeedbackStoreError       the feedback database cannot be opened, read or written
    ├── FeedbackNotFoundError    no feedback with this id
    ├── TicketStoreError         the ticket database cannot be opened, read or written
    ├── TicketNotFoundError      no ticket with this id
    ├── BundleNotFoundError      no 一件事 bundle with this id
    ├── RouterError              the department router cannot be loaded or fitted
    └── LlmError             the chat model failed or replied in a form that cannot be used
        └── LlmTimeoutError      no reply within the time limit

The HTTP faces add their own, next to the routes: `api.errors.ApiError` (an HTTP status the API
answers on purpose) and the WeChat envelope's `WeChatRequestError`; `api.errors` maps every error
above to one HTTP status and code.

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


class InvalidUploadNameError(LoadError):
    """The uploaded file's name is not a plain, safe `.md`/`.jsonl` file name."""


class UploadTooLargeError(LoadError):
    """The uploaded file is larger than the upload limit."""


class DocumentConflictError(ZhengwuError):
    """The request clashes with a document that exists (a corpus document, a used id)."""


class DocumentNotFoundError(ZhengwuError):
    """No uploaded document has this id."""


class FeedbackStoreError(ZhengwuError):
    """The feedback database cannot be opened, read or written."""


class FeedbackNotFoundError(ZhengwuError):
    """No feedback with this id."""


class LlmError(ZhengwuError):
    """The chat model failed, or replied in a form that cannot be used."""


class LlmTimeoutError(LlmError):
    """The chat model did not reply within the time limit."""


class TicketStoreError(ZhengwuError):
    """The ticket database cannot be opened, read or written. (Proposed for assistant/errors.py.)"""


class TicketNotFoundError(ZhengwuError):
    """No ticket with this id. (Proposed for assistant/errors.py.)"""


class BundleNotFoundError(ZhengwuError):
    """No bundle has this id. (Proposed for assistant/errors.py, mapped to 404 bundle_not_found.)"""


class RouterError(ZhengwuError):
    """A fitted router cannot be saved or loaded. (Proposed for assistant/errors.py.)"""
