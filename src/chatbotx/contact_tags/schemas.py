"""The body of adding and removing a contact's tags."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from chatbotx.kit.schemas import IdIn, InputSchema

MAX_TAG_IDS = 100


def _as_id_list(value: Any) -> Any:
    # The CLI may pass one id, or "1,2,3"; a JSON array is the documented form.
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ContactTagsChange(InputSchema):
    tag_ids: Annotated[
        list[IdIn],
        BeforeValidator(_as_id_list),
        Field(
            min_length=1,
            max_length=MAX_TAG_IDS,
            description="Tag ids (1 to 100), as strings or integers",
        ),
    ]
