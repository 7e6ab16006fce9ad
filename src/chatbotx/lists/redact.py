"""Keeping secrets out of responses: settings blobs lose any key that looks like a credential."""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEY = re.compile(r"(secret|token|password|passwd|api_?key|apikey|credential|private)", re.IGNORECASE)


def redact(value: Any) -> Any:
    """`value` with every dict entry whose key looks secret removed, at any depth."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if not _SECRET_KEY.search(str(k))}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value
