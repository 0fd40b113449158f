"""Session configuration of the local engine: defaults, key-by-key merge and validation.

``session.update`` changes only the keys it names; ``null`` clears a key; the model cannot
change, and the voice cannot change once audio has been produced. Values are checked just enough
that a bad update is refused with an ``error`` instead of breaking a later response.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

from app.local.events import JSON, new_id

DEFAULT_MODEL = "gpt-realtime"
DEFAULT_INSTRUCTIONS = (
    "You are VoxDesk's offline assistant. Answer briefly and helpfully in plain spoken English."
)
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")


class ConfigError(ValueError):
    """A ``session.update`` the engine refuses.

    Attributes:
        code: the error code to report (``invalid_value``, ``missing_required_parameter``…).
        param: the dotted path of the offending parameter.
    """

    def __init__(self, message: str, code: str, param: str) -> None:
        super().__init__(message)
        self.code = code
        self.param = param


def default_turn_detection() -> JSON:
    """The server VAD settings a new session starts with (the documented defaults)."""
    return {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }


def default_session(model: str | None, engines: JSON) -> JSON:
    """The full session a new connection reports in ``session.created``.

    Args:
        model: the ``model`` query parameter, accepted as given.
        engines: the local engines actually used (reported under ``local_engines``).
    """
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": model or DEFAULT_MODEL,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "noise_reduction": None,
                "transcription": None,
                "turn_detection": default_turn_detection(),
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "marin",
                "speed": 1.0,
            },
        },
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "truncation": "auto",
        "tracing": None,
        "prompt": None,
        "include": None,
        "expires_at": int(time.time()) + 3600,
        "local_engines": engines,
    }


def _deep_merge(target: JSON, update: JSON) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict) and value:
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def merge_session(current: JSON, update: Any, *, audio_produced: bool) -> JSON:
    """Return ``current`` with ``update`` merged key by key, or raise :class:`ConfigError`.

    Args:
        current: the effective session (not modified).
        update: the ``session`` object of a ``session.update`` event.
        audio_produced: whether this session already sent assistant audio (locks the voice).
    """
    if not isinstance(update, dict):
        raise ConfigError("session must be an object", "invalid_type", "session")
    if update.get("type") not in ("realtime", "transcription"):
        raise ConfigError(
            "session.type is required and must be 'realtime' or 'transcription'",
            "missing_required_parameter" if "type" not in update else "invalid_value",
            "session.type",
        )
    update = {k: v for k, v in update.items() if k not in ("object", "id", "local_engines")}
    if "model" in update and update["model"] != current.get("model"):
        raise ConfigError("Cannot update a conversation's model.", "invalid_value", "session.model")
    merged = copy.deepcopy(current)
    _deep_merge(merged, update)
    old_voice = _get(current, "audio", "output", "voice")
    if audio_produced and _get(merged, "audio", "output", "voice") != old_voice:
        raise ConfigError(
            "Cannot update a conversation's voice if assistant audio is present.",
            "cannot_update_voice",
            "session.audio.output.voice",
        )
    _validate(merged)
    return merged


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _validate(session: JSON) -> None:
    modalities = session.get("output_modalities")
    if modalities not in (["audio"], ["text"], None):
        raise ConfigError(
            "output_modalities must be ['audio'] or ['text']",
            "invalid_value",
            "session.output_modalities",
        )
    instructions = session.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise ConfigError("instructions must be a string", "invalid_type", "session.instructions")
    audio = session.get("audio")
    if audio is not None and not isinstance(audio, dict):
        raise ConfigError("audio must be an object", "invalid_type", "session.audio")
    for side in ("input", "output"):
        fmt = _get(session, "audio", side, "format")
        if fmt is not None and (
            not isinstance(fmt, dict)
            or fmt.get("type") != "audio/pcm"
            or fmt.get("rate", 24000) != 24000
        ):
            raise ConfigError(
                "the local engine supports only audio/pcm at 24000 Hz",
                "invalid_value",
                f"session.audio.{side}.format",
            )
    _validate_turn_detection(_get(session, "audio", "input", "turn_detection"))
    transcription = _get(session, "audio", "input", "transcription")
    if transcription is not None and not isinstance(transcription, dict):
        raise ConfigError(
            "transcription must be an object or null",
            "invalid_type",
            "session.audio.input.transcription",
        )
    voice = _get(session, "audio", "output", "voice")
    if voice is not None and not isinstance(voice, str | dict):
        raise ConfigError("voice must be a string", "invalid_type", "session.audio.output.voice")
    speed = _get(session, "audio", "output", "speed")
    if speed is not None and (not _is_number(speed) or not 0.25 <= speed <= 1.5):
        raise ConfigError(
            "speed must be between 0.25 and 1.5", "invalid_value", "session.audio.output.speed"
        )
    tools = session.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not all(_valid_tool(t) for t in tools):
            raise ConfigError(
                "tools must be a list of {type:'function', name, parameters}",
                "invalid_value",
                "session.tools",
            )
    limit = session.get("max_output_tokens")
    if limit is not None and limit != "inf" and (not isinstance(limit, int) or limit < 1):
        raise ConfigError(
            "max_output_tokens must be 1-4096 or 'inf'",
            "invalid_value",
            "session.max_output_tokens",
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _valid_tool(tool: Any) -> bool:
    if not isinstance(tool, dict):
        return False
    if tool.get("type") == "mcp":
        return isinstance(tool.get("server_label"), str)
    return (
        tool.get("type", "function") == "function"
        and isinstance(tool.get("name"), str)
        and len(str(tool.get("description", ""))) <= 1024
    )


def _validate_turn_detection(td: Any) -> None:
    param = "session.audio.input.turn_detection"
    if td is None:
        return
    if not isinstance(td, dict) or td.get("type") not in ("server_vad", "semantic_vad"):
        raise ConfigError(
            "turn_detection.type must be 'server_vad' or 'semantic_vad'", "invalid_value", param
        )
    threshold = td.get("threshold")
    if threshold is not None and (not _is_number(threshold) or not 0.0 <= threshold <= 1.0):
        raise ConfigError(
            "threshold must be between 0 and 1", "invalid_value", param + ".threshold"
        )
    for key in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
        value = td.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise ConfigError(
                f"{key} must be a non-negative integer", "invalid_value", f"{param}.{key}"
            )
    for key in ("create_response", "interrupt_response"):
        if td.get(key) is not None and not isinstance(td.get(key), bool):
            raise ConfigError(f"{key} must be a boolean", "invalid_type", f"{param}.{key}")


@dataclass(frozen=True, slots=True)
class TurnDetection:
    """Effective VAD settings (the defaults filled in for keys the client left out).

    Attributes:
        threshold: speech probability that counts as speech.
        prefix_padding_ms: audio kept before the detected start.
        silence_duration_ms: silence that ends the turn.
        create_response: start a response when the turn ends.
        interrupt_response: cancel the active response when speech starts.
        idle_timeout_ms: silence after the last response's audio that triggers a response
            (``server_vad`` only; None: never).
    """

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None

    @classmethod
    def from_session(cls, session: JSON) -> TurnDetection | None:
        """Read the session's ``turn_detection`` (None when turn detection is off)."""
        td = _get(session, "audio", "input", "turn_detection")
        if not isinstance(td, dict):
            return None
        silence = td.get("silence_duration_ms")
        if td.get("type") == "semantic_vad":
            silence = {"low": 1500, "high": 300}.get(str(td.get("eagerness")), 700)
        threshold = td.get("threshold")
        padding = td.get("prefix_padding_ms")
        idle = td.get("idle_timeout_ms") if td.get("type") != "semantic_vad" else None
        return cls(
            threshold=float(threshold) if threshold is not None else 0.5,
            prefix_padding_ms=int(padding) if padding is not None else 300,
            silence_duration_ms=int(silence) if silence is not None else 500,
            create_response=td.get("create_response") is not False,
            interrupt_response=td.get("interrupt_response") is not False,
            idle_timeout_ms=int(idle) if isinstance(idle, int) and idle > 0 else None,
        )
