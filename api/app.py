"""`create_app(settings)`: the FastAPI application served by `zhengwu serve`."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api import ask, bundles, feedback, health, metrics, policies, staff, tickets
from api.dependencies import AssistantProvider
from api.errors import install_error_handlers
from api.limits import JSON_BODY_LIMIT, UPLOAD_BODY_LIMIT, BodySizeLimit, RateLimiter
from api.metrics import Metrics, RequestRecorder
from api.wechat import create_wechat_router
from assistant.bundles import BundleGuide
from assistant.embedders import Embedders
from assistant.feedback import FeedbackStore, RecentAnswers
from assistant.lazy import Lazy
from assistant.matcher import PolicyCatalog
from assistant.routing import LazyRouter
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import ChromaStore
from assistant.tickets import TicketStore, open_ticket
from indexer.reindex import ReindexJob, Uploads, indexed_documents
from web.mount import mount_web


def create_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    """The API over `settings`. `assistant` is built from settings on first use when not given."""
    app = FastAPI(title="政务问答助手 Zhengwu", version="0.1.0",
                  description="Cited answers about government services and policies. Errors are real HTTP "
                              "statuses with the body `{\"error\": code, \"message\": ...}`.")
    app.state.settings = settings
    app.state.store = ChromaStore.connect(settings)
    # The corpus and the staff uploads as indexed, read once on first use and again after each
    # re-index, for the bundles, the policy catalog and the router.
    documents = Lazy(lambda: indexed_documents(settings, app.state.store))
    app.state.bundles = BundleGuide(documents.get)
    app.state.policies = PolicyCatalog(documents.get)
    app.state.assistant = assistant  # the assistant once there is one (set by the provider when it builds it)
    embedders = Embedders(settings.threads)  # each model loaded once, for answering and the staff re-index
    app.state.assistant_provider = AssistantProvider(  # `provider()` builds it on first use; the WeChat router takes it
        settings, assistant, on_build=lambda built: setattr(app.state, "assistant", built), bundles=app.state.bundles,
        embedders=embedders)
    app.state.answers = RecentAnswers()
    app.state.feedback = FeedbackStore.from_settings(settings)
    app.state.metrics = Metrics()
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)

    def reread_documents() -> None:
        documents.refresh()
        app.state.bundles.refresh()
        app.state.policies.refresh()
        if isinstance(app.state.router, LazyRouter):
            app.state.router.refresh()

    app.state.reindex_job = ReindexJob(settings, on_success=reread_documents, embedders=embedders)
    app.state.uploads = Uploads.from_settings(settings)
    app.state.tickets = TicketStore.from_settings(settings)
    # The fitted router when saved, else keywords from the corpus and the uploads.
    app.state.router = LazyRouter(settings, documents.get)

    install_error_handlers(app)
    for module in (health, metrics, ask, feedback, staff, bundles, policies, tickets):
        app.include_router(module.router)
    app.include_router(feedback.staff_router)
    app.include_router(tickets.staff_router)
    app.include_router(create_wechat_router(  # "反映+联系方式" in WeChat opens a ticket like POST /v1/tickets
        settings, app.state.assistant_provider,
        reporter=lambda question, contact, conversation_id: open_ticket(
            app.state.tickets, app.state.router, question, contact, conversation_id)))
    app.add_middleware(BodySizeLimit, default_limit=JSON_BODY_LIMIT,
                       limits={"/v1/staff/documents": UPLOAD_BODY_LIMIT})
    app.add_middleware(RequestRecorder, metrics=app.state.metrics)
    mount_web(app)  # the citizen page at /, the staff console at /staff
    _log_requests()
    return app


def _log_requests() -> None:
    """Request lines go to stderr at INFO unless logging was configured already."""
    logger = logging.getLogger("zhengwu.api")
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
