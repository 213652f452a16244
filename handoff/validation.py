"""Reading JSON request bodies: each field checked, each failure a clear 4xx (errors as data)."""
from __future__ import annotations

import re
from typing import Any, Optional

from flask import current_app, request

from .errors import ApiError, InvalidInput

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# White space as JSON Schema / ECMAScript's \s means it, so "blank" here is what the OpenAPI
# document's pattern "\S" rejects (Python's str.isspace() also counts \x1c-\x1f).
_BLANK = re.compile("^[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*$")
_MISSING = object()


def json_body(required: bool = True) -> dict[str, Any]:
    """The body as a JSON object; an empty body counts as {} when nothing is required."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ApiError("body_required", "Send a JSON object.", 400)
        return {}
    try:
        body = request.get_json(force=True, silent=False)
    except Exception:
        raise ApiError("invalid_json", "The body is not valid JSON.", 400)
    if not isinstance(body, dict):
        raise ApiError("invalid_json", "The body must be a JSON object.", 400)
    return body


def text(body: dict, name: str, *, required: bool = True, max_chars: Optional[int] = None,
         code_too_long: str = "invalid_field") -> Optional[str]:
    value = body.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise InvalidInput("missing_field", f"'{name}' is required.")
        return None
    if not isinstance(value, str):
        raise InvalidInput("invalid_field", f"'{name}' must be a string.")
    if "\x00" in value:
        raise InvalidInput("invalid_field", f"'{name}' contains a NUL character.")
    if required and _BLANK.match(value):
        raise InvalidInput("missing_field", f"'{name}' must not be empty.")
    if max_chars is not None and len(value) > max_chars:
        raise InvalidInput(code_too_long, f"'{name}' is longer than {max_chars} characters.")
    return value


def message_text(body: dict) -> str:
    return text(body, "text", max_chars=current_app.config["MAX_MESSAGE_CHARS"], code_too_long="message_too_long")


def choice(body: dict, name: str, options: tuple, *, default=None):
    value = body.get(name)
    if value is None:
        return default
    if value not in options:
        raise InvalidInput("invalid_field", f"'{name}' must be one of: {', '.join(map(str, options))}.")
    return value


def integer(body: dict, name: str, low: int, high: int, *, required: bool = False) -> Optional[int]:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidInput("missing_field", f"'{name}' is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput("invalid_field", f"'{name}' must be an integer from {low} to {high}.")
    return value


def boolean(body: dict, name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise InvalidInput("invalid_field" if name in body else "missing_field", f"'{name}' must be true or false.")
    return value


def email(body: dict, name: str = "email") -> str:
    value = text(body, name, max_chars=254)
    if not _EMAIL.match(value.strip()):
        raise InvalidInput("invalid_email", f"'{name}' is not an e-mail address.")
    return value.strip()


def query_int(name: str, default: int, low: int = 0, high: int = 2**31 - 1) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput("invalid_parameter", f"'{name}' must be an integer.")
    if not low <= value <= high:
        raise InvalidInput("invalid_parameter", f"'{name}' must be from {low} to {high}.")
    return value


def query_choice(name: str, options: tuple) -> Optional[str]:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in options:
        raise InvalidInput("invalid_parameter", f"'{name}' must be one of: {', '.join(options)}.")
    return raw
