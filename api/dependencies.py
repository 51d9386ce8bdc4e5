"""FastAPI dependencies, as `Annotated` aliases the routes declare (`assistant: AssistantDep`).

Everything lives on `app.state`, set once by `create_app`: settings, store, the assistant (or its
lazy provider), the feedback store, recent answers, metrics, the rate limiter, the re-index job,
the uploads folder, the bundles, the policy catalog, the ticket store and the department router.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.errors import ApiError
from api.limits import RateLimiter
from api.metrics import Metrics
from assistant.bundles import BundleGuide
from assistant.embedders import Embedders
from assistant.errors import ConfigError, LoadError
from assistant.feedback import FeedbackStore, RecentAnswers
from assistant.matcher import PolicyCatalog
from assistant.routing import Router
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import ChromaStore
from assistant.tickets import TicketStore
from indexer.reindex import ReindexJob, Uploads, index_key


class AssistantProvider:
    """Returns the assistant, building it from settings on first use (so the app starts, and
    /healthz answers, before an index exists). Thread-safe; the WeChat router takes it too."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None,
                 on_build: Callable[[Assistant], None] | None = None, bundles: BundleGuide | None = None,
                 embedders: Embedders | None = None) -> None:
        self.settings = settings
        self.bundles = bundles
        self.embedders = embedders  # the app's loaded models, shared with the staff re-index
        self._assistant = assistant
        self._on_build = on_build
        self._lock = threading.Lock()

    def __call__(self) -> Assistant:
        if self._assistant is None:
            with self._lock:
                if self._assistant is None:
                    try:
                        assistant = Assistant.from_settings(self.settings, self.bundles, self.embedders)
                    except LoadError as exc:  # a lexicon or the matters handled elsewhere: a deployment problem
                        raise ConfigError(f"cannot build the assistant: {exc}") from exc
                    if self._on_build is not None:
                        self._on_build(assistant)
                    self._assistant = assistant
        return self._assistant


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_store(request: Request) -> ChromaStore:
    return request.app.state.store  # type: ignore[no-any-return]


def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant_provider()  # type: ignore[no-any-return]


def get_answers(request: Request) -> RecentAnswers:
    return request.app.state.answers  # type: ignore[no-any-return]


def get_feedback(request: Request) -> FeedbackStore:
    return request.app.state.feedback  # type: ignore[no-any-return]


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


def get_reindex_job(request: Request) -> ReindexJob:
    return request.app.state.reindex_job  # type: ignore[no-any-return]


def get_uploads(request: Request) -> Uploads:
    return request.app.state.uploads  # type: ignore[no-any-return]


def get_bundles(request: Request) -> BundleGuide:
    return request.app.state.bundles  # type: ignore[no-any-return]


def get_policies(request: Request) -> PolicyCatalog:
    return request.app.state.policies  # type: ignore[no-any-return]


def get_tickets(request: Request) -> TicketStore:
    return request.app.state.tickets  # type: ignore[no-any-return]


def get_router(request: Request) -> Router:
    return request.app.state.router  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ChromaStore, Depends(get_store)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
AnswersDep = Annotated[RecentAnswers, Depends(get_answers)]
FeedbackDep = Annotated[FeedbackStore, Depends(get_feedback)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ReindexJobDep = Annotated[ReindexJob, Depends(get_reindex_job)]
UploadsDep = Annotated[Uploads, Depends(get_uploads)]
BundlesDep = Annotated[BundleGuide, Depends(get_bundles)]
PoliciesDep = Annotated[PolicyCatalog, Depends(get_policies)]
TicketsDep = Annotated[TicketStore, Depends(get_tickets)]
RouterDep = Annotated[Router, Depends(get_router)]


def require_live_index(settings: SettingsDep, store: StoreDep) -> str:
    """The live collection; `IndexNotFoundError` (503) before any index was built."""
    return store.require_live(index_key(settings))


LiveIndex = Annotated[str, Depends(require_live_index)]


def limit_rate(request: Request) -> None:
    """Count this request against the client's per-minute budget; 429 with Retry-After past it."""
    limiter: RateLimiter = request.app.state.limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.hit(client)
    if wait:
        raise ApiError(429, "rate_limited",
                       f"请求过于频繁，请{wait}秒后再试。/ Too many requests: at most {limiter.per_minute} per minute; "
                       f"retry in {wait} s.", headers={"Retry-After": str(wait)})


RateLimited = Annotated[None, Depends(limit_rate)]

staff_key_header = APIKeyHeader(name="X-Staff-Key", auto_error=False,
                                description="The staff API key (ZHENGWU_STAFF_KEY).")


def require_staff(settings: SettingsDep, key: Annotated[str | None, Security(staff_key_header)]) -> None:
    """401 without the header, 403 with a wrong key, 403 for everyone while no staff key is set."""
    expected = settings.staff_key.get_secret_value() if settings.staff_key is not None else ""
    if not expected:
        raise ApiError(403, "staff_closed", "员工接口未开放（未设置 ZHENGWU_STAFF_KEY）。/ Staff access is closed: "
                       "ZHENGWU_STAFF_KEY is not set.")
    if not key:
        raise ApiError(401, "unauthorized", "缺少 X-Staff-Key 请求头。/ The X-Staff-Key header is missing.")
    if not hmac.compare_digest(key.encode("utf-8"), expected.encode("utf-8")):
        raise ApiError(403, "forbidden", "员工密钥错误。/ Wrong staff key.")


StaffOnly = Annotated[None, Depends(require_staff)]
