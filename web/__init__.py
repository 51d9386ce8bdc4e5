"""The web faces of Zhengwu (Gradio): the citizen page at `/` and the staff console at `/staff`,
mounted on the API's FastAPI app by `web.mount.mount_web`. This package module imports nothing
heavy; Gradio is loaded by `web.mount`, `web.citizen` and `web.staff`."""

from __future__ import annotations


def chinese(message: str) -> str:
    """The Chinese half of a bilingual project message ("中文。/ English." or "中文 / English")."""
    return message.split("/ ", 1)[0].rstrip()


def client_of(request: object) -> str:
    """The client address of a `gr.Request` (what the rate limiter counts by)."""
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "unknown")
