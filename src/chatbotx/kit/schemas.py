"""Base schema types: camelCase JSON, ids as strings out and strings-or-integers in."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema, model_validator
from pydantic.alias_generators import to_camel

from chatbotx.kit.ids import parse_id


class Schema(BaseModel):
    """Output schema: camelCase keys, read from ORM objects or dicts."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class InputSchema(BaseModel):
    """Input schema: camelCase keys (snake_case accepted too), unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it everywhere so both backends behave alike.
        if _contains_nul(data):
            raise ValueError("text must not contain NUL characters")
        return data


def _contains_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 32:
        return False
    if isinstance(value, dict):
        return any(_contains_nul(k, depth + 1) or _contains_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains_nul(v, depth + 1) for v in value)
    return False


def _to_id(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an id")
    if isinstance(value, int | str):
        parsed = parse_id(value)
        if parsed is None:
            raise ValueError("must be a positive integer id (as a string)")
        return parsed
    return value


ID_SCHEMA = {"type": "string", "pattern": "^[0-9]{1,19}$", "examples": ["612345678901234567"]}

# An id: an integer inside, a string in JSON.
IdStr = Annotated[int, PlainSerializer(str, return_type=str), WithJsonSchema(ID_SCHEMA)]
OptIdStr = Annotated[
    int | None,
    PlainSerializer(lambda v: None if v is None else str(v), return_type=str | None),
    WithJsonSchema({"anyOf": [ID_SCHEMA, {"type": "null"}]}),
]
# An id given by a caller: a digit string or an integer.
IdIn = Annotated[int, BeforeValidator(_to_id), WithJsonSchema(ID_SCHEMA)]

Timestamp = dt.datetime
