"""Typed reads of Gemini Live server frames: every wrong type or absurd size is ``MalformedFrame``.

Gemini's JSON may use camelCase or the snake_case proto names; ``field`` accepts both. The
decoder in ``app.session.protocol.gemini`` counts and drops a frame whose read raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from app.session.protocol.gemini_setup import GEMINI_OUTPUT_RATE
from app.session.protocol.pcm16 import Pcm16Error, decode_pcm16

MAX_AUDIO_BYTES = 4 * 1024 * 1024
MAX_TEXT_CHARS = 1_000_000
IGNORED_KEYS = frozenset({"usageMetadata", "voiceActivity", "voiceActivityDetectionSignal"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class MalformedFrame(ValueError):
    """A server frame that cannot be trusted (the reason is safe to log)."""


def field(data: Mapping[str, object], camel: str) -> object:
    """The value under ``camel`` or its snake_case proto name (both are valid JSON keys)."""
    if camel in data:
        return data[camel]
    return data.get(re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower())


def obj(data: Mapping[str, object], key: str) -> dict[str, object] | None:
    """The object under ``key`` (None when absent)."""
    value = field(data, key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedFrame(f"{key} is not an object")
    return value


def string(data: Mapping[str, object], key: str) -> str | None:
    """The string under ``key`` (None when absent)."""
    value = field(data, key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedFrame(f"{key} is not a string")
    if len(value) > MAX_TEXT_CHARS:
        raise MalformedFrame(f"{key} is absurdly long")
    return value


def flag(data: Mapping[str, object], key: str) -> bool:
    """The boolean under ``key`` (False when absent)."""
    value = field(data, key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise MalformedFrame(f"{key} is not a boolean")
    return value


def objects(data: Mapping[str, object], key: str) -> list[dict[str, object]]:
    """The list of objects under ``key`` (empty when absent)."""
    value = field(data, key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MalformedFrame(f"{key} is not a list of objects")
    return value


def pcm(text: str) -> bytes:
    """PCM16 bytes of a base64 audio part."""
    try:
        return decode_pcm16(text, MAX_AUDIO_BYTES, "audio part")
    except Pcm16Error as exc:
        raise MalformedFrame(str(exc)) from exc


def parse_duration(value: object) -> float | None:
    """Seconds in a protobuf JSON ``Duration`` (``"50s"``, ``"1.5s"``), or ``None``."""
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return float(match.group(1))
    return None


def audio_rate(mime: str | None) -> int:
    """The sample rate in an audio MIME type (Gemini's output rate when missing)."""
    match = re.search(r"rate=(\d+)", mime or "")
    return int(match.group(1)) if match else GEMINI_OUTPUT_RATE
