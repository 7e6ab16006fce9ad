"""Route declaration helpers: every operation gets an operationId, a summary and its CLI command path."""

from __future__ import annotations

from typing import Any

from chatbotx.kit.errors import ERROR_RESPONSES


def op(
    operation_id: str, summary: str, cli: str, *, description: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Keyword arguments for a route decorator.

    `cli` is the command path the generated CLI gives this operation (`x-cli-name`), e.g. "contacts tag add".
    """
    openapi_extra = {"x-cli-name": cli, **extra.pop("openapi_extra", {})}
    return {
        "operation_id": operation_id,
        "summary": summary,
        "description": description or summary + ".",
        "openapi_extra": openapi_extra,
        "responses": ERROR_RESPONSES,
        **extra,
    }
