"""Every error leaves the API as a real HTTP status with the body `{"error": code, "message": ...}`.

Project errors are mapped here once (`IndexNotFoundError` → 503 `index_not_found`, …); FastAPI's
validation errors, Starlette's 404/405 and anything unexpected get the same body.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from api.schemas import ErrorBody, ErrorDetail
from assistant.errors import (
    BundleNotFoundError,
    ConfigError,
    DocumentConflictError,
    DocumentNotFoundError,
    EmbeddingError,
    FeedbackNotFoundError,
    FeedbackStoreError,
    IndexBusyError,
    IndexingError,
    IndexNotFoundError,
    InvalidUploadNameError,
    LoadError,
    RouterError,
    StoreError,
    TicketNotFoundError,
    TicketStoreError,
    UploadTooLargeError,
    ZhengwuError,
)

log = logging.getLogger("zhengwu.api")

# First match wins: subclasses before their parents.
PROJECT_ERRORS: tuple[tuple[type[ZhengwuError], int, str], ...] = (
    (IndexNotFoundError, 503, "index_not_found"),
    (StoreError, 503, "store_unavailable"),
    (IndexBusyError, 409, "index_busy"),
    (IndexingError, 500, "indexing_failed"),
    (InvalidUploadNameError, 422, "invalid_file_name"),
    (UploadTooLargeError, 413, "upload_too_large"),
    (LoadError, 422, "load_error"),
    (ConfigError, 500, "config_error"),
    (EmbeddingError, 503, "embedder_unavailable"),
    (FeedbackStoreError, 503, "feedback_store_unavailable"),
    (FeedbackNotFoundError, 404, "feedback_not_found"),
    (DocumentNotFoundError, 404, "document_not_found"),
    (DocumentConflictError, 409, "document_conflict"),
    (TicketNotFoundError, 404, "ticket_not_found"),
    (TicketStoreError, 503, "ticket_store_unavailable"),
    (BundleNotFoundError, 404, "bundle_not_found"),
    (RouterError, 503, "router_unavailable"),
)
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 413: "payload_too_large",
              415: "unsupported_media_type", 429: "rate_limited"}
# Validation errors raised on purpose (PydanticCustomError types) keep their own code and message.
OWN_VALIDATION_CODES = {"empty_question", "empty_note"}


class ApiError(Exception):
    """An HTTP error the API raises on purpose."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def status_of(exc: ZhengwuError) -> tuple[int, str]:
    """The HTTP status and error code of a project error."""
    for kind, status, code in PROJECT_ERRORS:
        if isinstance(exc, kind):
            return status, code
    return 500, "internal_error"


def error_response(status: int, code: str, message: str, details: list[ErrorDetail] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=code, message=message, details=details)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(ZhengwuError, _project_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers)


async def _project_error(_: Request, exc: ZhengwuError) -> JSONResponse:
    status, code = status_of(exc)
    if status >= 500:
        log.warning("%s: %s", code, exc)
    return error_response(status, code, str(exc))


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    details = [ErrorDetail(loc=[p if isinstance(p, int) else str(p) for p in e.get("loc", ())], msg=str(e.get("msg", "")),
                           type=str(e.get("type", ""))) for e in errors]
    own = [e for e in errors if e.get("type") in OWN_VALIDATION_CODES]
    if own and len(own) == len(errors):
        return error_response(422, str(own[0]["type"]), str(own[0]["msg"]), details)
    summary = "; ".join(f"{'.'.join(str(p) for p in d.loc)}: {d.msg}" for d in details[:5])
    return error_response(422, "validation_error", f"输入无效 / invalid input: {summary}", details)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else code
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # Starlette names only the first matching route's methods
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(exc.status_code, code, message, headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method any operation of this path answers, read from the OpenAPI document."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(request.scope["path"]):
            methods.update(method.upper() for method in operations)
    return sorted(methods)


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected %s", type(exc).__name__, exc_info=exc)
    return error_response(500, "internal_error", "内部错误，请稍后再试。/ Internal error; please try again later.")
