"""64-bit time-ordered ids (snowflake-like): 41 bits of milliseconds, 10 bits of node, 12 bits of sequence."""

from __future__ import annotations

import os
import threading
import time

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
_NODE = (os.getpid() ^ int.from_bytes(os.urandom(2), "big")) & 0x3FF
_lock = threading.Lock()
_last_ms = 0
_seq = 0


def new_id() -> int:
    """A new id, unique across processes with overwhelming probability and increasing within one."""
    global _last_ms, _seq
    with _lock:
        now = int(time.time() * 1000) - EPOCH_MS
        if now < _last_ms:
            now = _last_ms
        if now == _last_ms:
            _seq = (_seq + 1) & 0xFFF
            if _seq == 0:
                now = _last_ms + 1
        else:
            _seq = 0
        _last_ms = now
        return (now << 22) | (_NODE << 12) | _seq


def parse_id(value: str | int) -> int | None:
    """The integer id in `value`, or None when it is not a positive 63-bit integer."""
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number < 2**63 else None
