"""The error a client event turns into, and checked access to client event fields."""

from __future__ import annotations

from typing import Any

from app.local.events import JSON


class ProtocolError(ValueError):
    """A client event that cannot be honoured; becomes an ``error`` event."""

    def __init__(self, message: str, code: str | None, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.param = param


def field_of(event: JSON, name: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
    """``event[name]`` checked to be a ``kind``; None when absent and not ``required``.

    Raises:
        ProtocolError: the field is missing (and required) or of the wrong type.
    """
    value = event.get(name)
    if value is None:
        if required:
            raise ProtocolError(
                f"Missing required parameter: '{name}'.", "missing_required_parameter", name
            )
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ProtocolError(f"Invalid type for '{name}'.", "invalid_type", name)
    return value
