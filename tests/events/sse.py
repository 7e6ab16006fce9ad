"""Reading a Server-Sent Events stream in tests, with bounded waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson


@dataclass
class Frame:
    id: int | None
    event: str | None
    data: Any
    comment: str | None = None


class Reader:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines: AsyncIterator[str] = response.aiter_lines()

    async def frame(self, limit: float = 10.0) -> Frame:
        """The next event or comment block."""
        fields: dict[str, str] = {}
        comment = None
        async with asyncio.timeout(limit):
            async for line in self.lines:
                if line == "":
                    if fields or comment is not None:
                        break
                    continue
                if line.startswith(":"):
                    comment = line[1:].strip()
                    continue
                key, _, value = line.partition(":")
                fields[key] = value[1:] if value.startswith(" ") else value
            else:
                raise AssertionError("the stream ended")
        data = orjson.loads(fields["data"]) if "data" in fields else None
        return Frame(int(fields["id"]) if "id" in fields else None, fields.get("event"), data, comment)

    async def events(self, n: int, limit: float = 10.0) -> list[Frame]:
        """The next `n` events (comments and retry hints skipped)."""
        out: list[Frame] = []
        while len(out) < n:
            frame = await self.frame(limit)
            if frame.event is not None:
                out.append(frame)
        return out
