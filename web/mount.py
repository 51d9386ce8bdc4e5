"""`mount_web(app)`: the staff console at `/staff` and the citizen page at `/`, on the API's app.

Both pages use what `create_app` put on `app.state` (the lazy assistant provider, recent answers,
the feedback store, metrics, the rate limiter, the store, uploads, the re-index job, the bundle
guide, the policy catalog, the ticket store and the department router). The page at `/` answers
only its own paths (`PageMount`), so the API's routes, also those included after this call, and
its 404 and 405 error bodies are untouched.
"""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from gradio.routes import INTERNAL_ROUTES
from starlette.applications import Starlette
from starlette.routing import Match, Mount
from starlette.types import Scope

from web.citizen import CSS as CITIZEN_CSS
from web.citizen import CitizenServices, citizen_page
from web.staff import CSS as STAFF_CSS
from web.staff import StaffServices, staff_console

SET_LANGUAGE = "() => { document.documentElement.lang = 'zh-CN'; }"  # Chinese glyphs and screen readers
# System fonts only (the pages must not fetch fonts from the network); CJK faces first that exist.
FONTS = ["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "system-ui", "sans-serif"]


class PageMount(Mount):
    """The citizen page at `/`, answering only the paths of the page itself (`/`, `assets/`,
    `gradio_api/`, `theme.css` …): every other path falls through to the API, so unknown paths and
    wrong methods keep the API's 404 and 405 error bodies."""

    def __init__(self, page: Starlette) -> None:
        super().__init__("", app=page)
        own = {first_segment(route.path) for route in page.routes if isinstance(getattr(route, "path", None), str)}
        self.segments = own | set(INTERNAL_ROUTES) | {""}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and first_segment(scope["path"]) not in self.segments:
            return Match.NONE, {}
        return super().matches(scope)


def first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


def theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="blue", font=FONTS, font_mono=["ui-monospace", "monospace"])


def mount_web(app: FastAPI) -> FastAPI:
    """Mount both pages once (a second call changes nothing) and return `app`."""
    state = app.state
    if getattr(state, "web_mounted", False):
        return app
    staff = staff_console(StaffServices(settings=state.settings, assistant=state.assistant_provider,
                                        feedback=state.feedback, store=state.store, uploads=state.uploads,
                                        reindex_job=state.reindex_job, limiter=state.limiter, tickets=state.tickets))
    citizen = citizen_page(CitizenServices(settings=state.settings, assistant=state.assistant_provider,
                                           answers=state.answers, feedback=state.feedback, metrics=state.metrics,
                                           limiter=state.limiter, bundles=state.bundles, policies=state.policies,
                                           tickets=state.tickets, router=state.router))
    app.add_api_route("/staff", redirect_to_staff, methods=["GET"], include_in_schema=False)
    gr.mount_gradio_app(app, staff, path="/staff", theme=theme(), css=STAFF_CSS, footer_links=[],
                        run_history=False, show_error=True, ssr_mode=False, mcp_server=False, js=SET_LANGUAGE)
    gr.mount_gradio_app(app, citizen, path="/", theme=theme(), css=CITIZEN_CSS, footer_links=[],
                        run_history=False, show_error=False, ssr_mode=False, mcp_server=False, js=SET_LANGUAGE)
    mounted = app.router.routes.pop()  # the plain Mount("/") that mount_gradio_app appended last
    if not (isinstance(mounted, Mount) and mounted.path == "" and isinstance(mounted.app, Starlette)):
        raise RuntimeError(f"expected the citizen page's mount at /, found {mounted!r}")
    app.router.routes.append(PageMount(mounted.app))
    state.web_mounted = True
    return app


def redirect_to_staff(request: Request) -> RedirectResponse:
    return RedirectResponse(request.scope.get("root_path", "") + "/staff/", status_code=307)
