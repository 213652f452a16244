"""Errors as data: every failure a client can cause is an ApiError with a code and a 4xx status."""
from __future__ import annotations

from typing import Optional


class ApiError(Exception):
    status = 400

    def __init__(self, code: str, message: str, status: Optional[int] = None, headers: Optional[dict] = None):
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidInput(ApiError):
    status = 422


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class RateLimited(ApiError):
    status = 429

    def __init__(self, retry_after: int):
        super().__init__("rate_limited", f"Too many requests; retry in {retry_after} s.",
                         headers={"Retry-After": str(retry_after)})
