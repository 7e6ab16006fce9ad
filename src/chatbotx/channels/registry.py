"""Channel adapters by channel name; each adapter module registers itself on import."""

from __future__ import annotations

import importlib

from chatbotx.channels.base import ChannelAdapter

_adapters: dict[str, ChannelAdapter] = {}
_loaded = False
# Modules that hold adapters; importing one registers its adapter.
ADAPTER_MODULES = (
    "chatbotx.channels.telegram",
    "chatbotx.channels.whatsapp",
    "chatbotx.channels.webchat",
    "chatbotx.channels.messenger",
    "chatbotx.channels.instagram",
    "chatbotx.channels.email",
)


def register(adapter: ChannelAdapter) -> ChannelAdapter:
    _adapters[adapter.channel] = adapter
    return adapter


def _load() -> None:
    global _loaded
    _loaded = True
    for name in ADAPTER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def get(channel: str) -> ChannelAdapter | None:
    """The adapter of `channel`, or None for channels without one (their inboxes are API-only)."""
    if not _loaded:  # not "if not _adapters": a test may have registered its own adapter first
        _load()
    return _adapters.get(channel)


def channels() -> list[str]:
    """The channels that have an adapter (the built-in ones and any registered since)."""
    if not _loaded:
        _load()
    return sorted(_adapters)
