"""The staff console's lock: every console handler but the key check refuses until the session's
server-side `gr.State` says the staff key unlocked it."""

from __future__ import annotations

import gradio as gr

LOCKED = "请先输入员工密钥。"


def require_unlocked(unlocked: object) -> None:
    """Raise the page error `LOCKED` unless `unlocked` is exactly True (a forged value is not)."""
    if unlocked is not True:
        raise gr.Error(LOCKED)
