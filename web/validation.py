"""Pydantic validation errors in Chinese, for the pages' forms (the models' own rules, reworded).

The API models (`TicketRequest`, `Profile`, `TicketUpdate` …) validate what the pages send; their
built-in error messages are English, so `explain_invalid` names the field the way the form labels
it and says what is wrong. Messages the project wrote itself ("中文。/ English.") keep their own
Chinese half.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from web import chinese


def explain_invalid(exc: ValidationError, labels: Mapping[str, str]) -> str:
    """The first error of `exc` as one Chinese sentence: 「从业人员数」不能小于0。"""
    error = exc.errors()[0]
    loc = error.get("loc") or ("",)
    field = str(loc[0])
    message = str(error.get("msg", ""))
    if "/ " in message:  # a project message, already bilingual
        return chinese(message.removeprefix("Value error, "))
    problem = describe(str(error.get("type", "")), error.get("ctx") or {})
    name = labels.get(field, field)
    return f"「{name}」{problem}。" if name else f"{problem}。"


def describe(kind: str, ctx: Mapping[str, Any]) -> str:
    """What is wrong, by pydantic's error type (with the limit the model sets)."""
    limits = {"greater_than_equal": ("不能小于", "ge"), "greater_than": ("应大于", "gt"),
              "less_than_equal": ("不能大于", "le"), "less_than": ("应小于", "lt"),
              "string_too_short": ("至少要有{}个字", "min_length"), "string_too_long": ("最多{}个字", "max_length")}
    if kind in limits:
        text, key = limits[kind]
        value = _number(ctx.get(key))
        return text.format(value) if "{}" in text else f"{text}{value}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return "应填写整数"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return "应填写数字"
    if kind in ("literal_error", "enum"):
        return "请从选项中选择"
    if kind == "string_pattern_mismatch":
        return "不能为空或只有空格"
    if kind in ("missing", "string_type"):
        return "必须填写"
    if kind == "extra_forbidden":
        return "不是可以填写的项目"
    return "填写有误"


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
