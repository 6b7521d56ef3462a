"""The device the engine will compute on, as one line for the sidebar badge and the Home page."""
from __future__ import annotations

from engine.core.device import default_device, describe


def device_status() -> tuple[str, bool]:
    """(text, ok). Not ok when $DEEP_PLAYGROUND_DEVICE asks for a device this machine lacks:
    the text is then the engine's message, which says what to change."""
    try:
        return describe(default_device()), True
    except ValueError as err:
        return f"{err} (set by DEEP_PLAYGROUND_DEVICE)", False
