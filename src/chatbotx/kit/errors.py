"""One error format everywhere: {"code", "status", "message", "data"}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("chatbotx")


class ErrorBody(BaseModel):
    code: str
    status: int
    message: str
    data: dict[str, Any] | None = None


class ApiError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, **data: Any):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.data = data or None
        self.headers: dict[str, str] | None = None

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "status": self.status, "message": self.message, "data": self.data or {}}


class NotFound(ApiError):
    status = 404
    code = "NOT_FOUND"


class Conflict(ApiError):
    status = 409
    code = "CONFLICT"


class BusinessError(ApiError):
    status = 400
    code = "BUSINESS_ERROR"


class InvalidData(ApiError):
    status = 422
    code = "INVALID_REQUEST_DATA"


class Unauthorized(ApiError):
    status = 401
    code = "UNAUTHORIZED"


class Forbidden(ApiError):
    status = 403
    code = "FORBIDDEN"


class RateLimited(ApiError):
    status = 429
    code = "RATE_LIMIT_EXCEEDED"

    def __init__(self, retry_after: int):
        super().__init__(f"Too many requests; retry after {retry_after} s.", retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


class PayloadTooLarge(ApiError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


def invalid_field(field: str, message: str) -> InvalidData:
    return InvalidData(f"{field}: {message}", errors=[{"field": field, "message": message}])


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed request or a business rule refused it"},
    401: {"model": ErrorBody, "description": "Missing or invalid token"},
    403: {"model": ErrorBody, "description": "The token lacks the scope"},
    404: {"model": ErrorBody, "description": "Not found"},
    409: {"model": ErrorBody, "description": "Conflicts with existing data (for example a duplicate name)"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    422: {"model": ErrorBody, "description": "Invalid request data"},
    429: {"model": ErrorBody, "description": "Rate limit exceeded"},
}

_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_REQUEST_DATA",
    429: "RATE_LIMIT_EXCEEDED",
}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                body = ApiError("Malformed JSON body.", code="MALFORMED_JSON", status=400).body()
                return JSONResponse(body, status_code=400)
            errors.append(
                {"field": _field_path(tuple(err.get("loc", ()))), "message": err.get("msg", "invalid")}
            )
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid request data."
        return JSONResponse(InvalidData(message, errors=errors).body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code
        body = {"code": code, "status": exc.status_code, "message": message, "data": {}}
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        body = {"code": "INTERNAL_ERROR", "status": 500, "message": "Internal server error.", "data": {}}
        return JSONResponse(body, status_code=500)
