"""Stored file metadata as the API shows it."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from chatbotx.kit.schemas import IdStr, Schema


class StoredFile(Schema):
    id: IdStr
    filename: str = Field(description="The name the file was uploaded with (no directories)")
    content_type: str = Field(description="Media type given at upload, or guessed from the name")
    size: int = Field(description="Size in bytes")
    sha256: str = Field(description="Hex SHA-256 of the content")
    created_at: dt.datetime
