"""Reading a request with its model from handoff/schemas.py: each failure becomes a clear 4xx in our
error codes (errors as data), worded for the client's developer."""
from __future__ import annotations

import re
from typing import Any, Mapping, get_args

from flask import current_app, request
from pydantic import BaseModel, ValidationError
from pydantic_core.core_schema import ErrorType

from .errors import ApiError, InvalidInput
from .schemas import EMAIL, WHITE_SPACE

_BLANK = re.compile(f"[{WHITE_SPACE}]*")
_PYDANTIC_ERRORS = frozenset(get_args(ErrorType))  # any other error type is one of our codes (schemas.py)


def read_body(model: type[BaseModel], required: bool) -> BaseModel:
    """The JSON body, strictly typed ("1" is not a number); an empty body counts as {} when nothing is required."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ApiError("body_required", "Send a JSON object.", 400)
        raw = b"{}"
    try:
        return model.model_validate_json(raw, strict=True, context=current_app.config)
    except ValidationError as error:
        problem = error.errors()[0]
        if problem["type"] == "json_invalid":
            raise ApiError("invalid_json", "The body is not valid JSON.", 400)
        if not problem["loc"]:
            raise ApiError("invalid_json", "The body must be a JSON object.", 400)
        raise invalid(problem, "invalid_field")


def read_parameters(model: type[BaseModel], values: Mapping[str, str]) -> BaseModel:
    """Query or header parameters, converted from their text; an empty one counts as absent."""
    names = [field.alias or name for name, field in model.model_fields.items()]
    found = {name: values.get(name) for name in names}  # headers' get ignores case
    try:
        return model.model_validate({k: v for k, v in found.items() if v}, context=current_app.config)
    except ValidationError as error:
        raise invalid(error.errors()[0], "invalid_parameter", required_code="invalid_parameter")


def invalid(problem: dict[str, Any], code: str, required_code: str = "missing_field") -> InvalidInput:
    """Our code and message for pydantic's first complaint about a field."""
    name = ".".join(map(str, problem["loc"]))  # e.g. topic.title.ja, examples.3
    kind, value, context = problem["type"], problem.get("input"), problem.get("ctx") or {}
    if kind == "missing":
        return InvalidInput(required_code, f"'{name}' is required.")
    if kind == "string_pattern_mismatch" and "\x00" in value:
        return InvalidInput(code, f"'{name}' contains a NUL character.")
    if kind in ("string_too_short", "too_short") or kind == "string_pattern_mismatch" and _BLANK.fullmatch(value):
        return InvalidInput(required_code, f"'{name}' must not be empty.")
    if kind == "string_pattern_mismatch" and context["pattern"] == EMAIL:
        return InvalidInput("invalid_email", f"'{name}' is not an e-mail address.")
    if kind == "string_too_long":
        return InvalidInput(code, f"'{name}' is longer than {context['max_length']} characters.")
    if kind not in _PYDANTIC_ERRORS:
        return InvalidInput(kind, f"'{name}' {problem['msg']}.")
    return InvalidInput(code, f"'{name}': {problem['msg']}.")
