"""The registry loads the built-in adapters even when another adapter registered first."""

from __future__ import annotations

from chatbotx.channels import registry


def test_builtin_adapters_load_after_an_early_registration() -> None:
    class Early:
        channel = "early-test-channel"

    registry.register(Early())  # type: ignore[arg-type]
    try:
        assert registry.get("whatsapp") is not None
        assert registry.get("telegram") is not None
        assert registry.get("early-test-channel") is not None
        assert registry.get("no-such-channel") is None
    finally:
        registry._adapters.pop("early-test-channel", None)
