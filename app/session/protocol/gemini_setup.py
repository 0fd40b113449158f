"""The Gemini Live ``setup`` message, built from a ``SessionConfig`` (pure functions).

``setup`` is the first client frame of every connection and the only way to configure a Gemini
Live session (there is no mid-connection update): model, AUDIO output with a prebuilt voice, the
system instruction (with the memory block), tools as ``functionDeclarations``, automatic activity
detection on (hands-free) or off (push-to-talk and the local VAD, with ``activityStart`` /
``activityEnd``), input and output transcription, context-window compression and session
resumption. Field names follow ``google.genai``'s ``_LiveConnectConfig_to_mldev``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from app.session.config import SessionConfig, TurnMode, VadKind

log = logging.getLogger("app.session.protocol")

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
GEMINI_WS_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
GEMINI_DEFAULT_MODEL = "models/gemini-2.5-flash-native-audio-preview-12-2025"
GEMINI_DEFAULT_VOICE = "Kore"
GEMINI_INPUT_RATE = 16000
GEMINI_OUTPUT_RATE = 24000
API_KEY_HEADER = "x-goog-api-key"

# The prebuilt voices (livekit-plugins-google ``api_proto.py``).
GEMINI_VOICES = frozenset(
    "Zephyr Puck Charon Kore Fenrir Leda Orus Aoede Callirrhoe Autonoe Enceladus Iapetus Umbriel "
    "Algieba Despina Erinome Algenib Rasalgethi Laomedeia Achernar Alnilam Schedar Gacrux "
    "Pulcherrima Achird Zubenelgenubi Vindemiatrix Sadachbia Sadaltager Sulafat".split()
)

# JSON-schema keywords outside the OpenAPI subset a ``functionDeclarations[].parameters`` takes.
_UNSUPPORTED_SCHEMA_KEYS = frozenset({"additionalProperties", "$schema", "$id", "examples"})


def gemini_url(config: SessionConfig) -> str:
    """Return the BidiGenerateContent WebSocket address (``config.url`` wins when set)."""
    if config.url:
        return config.url
    parts = urlsplit(config.base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path.endswith("BidiGenerateContent") else GEMINI_WS_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def gemini_headers(secret: str | None) -> dict[str, str]:
    """Return the handshake headers carrying the API key (none without a key)."""
    return {API_KEY_HEADER: secret} if secret else {}


def model_name(model: str) -> str:
    """Return ``model`` as a resource name (``models/<id>``)."""
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


def is_gemini_3(model: str) -> bool:
    """Whether ``model`` is a Gemini 3.x Live model (no mid-session ``clientContent``)."""
    return model_name(model).removeprefix("models/").startswith("gemini-3")


def voice_name(voice: str) -> str:
    """Return a prebuilt Gemini voice for ``voice`` (unknown names fall back to the default)."""
    for name in GEMINI_VOICES:
        if name.lower() == voice.strip().lower():
            return name
    if voice:
        log.info("voice %r is not a Gemini voice; using %s", voice[:40], GEMINI_DEFAULT_VOICE)
    return GEMINI_DEFAULT_VOICE


def manual_activity(config: SessionConfig) -> bool:
    """Whether the client marks turns with ``activityStart``/``activityEnd`` (server VAD off)."""
    return config.turn_mode is TurnMode.PUSH_TO_TALK or config.vad is VadKind.LOCAL


def realtime_input_config(config: SessionConfig) -> dict[str, Any]:
    """Return ``realtimeInputConfig``: server VAD for hands-free, client activity otherwise."""
    if manual_activity(config):
        # Barge-in still works: under START_OF_ACTIVITY_INTERRUPTS an activityStart cuts output.
        return {
            "automaticActivityDetection": {"disabled": True},
            "activityHandling": "START_OF_ACTIVITY_INTERRUPTS",
            "turnCoverage": "TURN_INCLUDES_ONLY_ACTIVITY",
        }
    vad = config.server_vad
    # OpenAI-style threshold: higher means harder to trigger, i.e. LOW sensitivity.
    start, end = ("LOW", "LOW") if vad.threshold >= 0.7 else ("HIGH", "HIGH")
    return {
        "automaticActivityDetection": {
            "disabled": False,
            "startOfSpeechSensitivity": f"START_SENSITIVITY_{start}",
            "endOfSpeechSensitivity": f"END_SENSITIVITY_{end}",
            "prefixPaddingMs": vad.prefix_padding_ms,
            "silenceDurationMs": vad.silence_duration_ms,
        },
        "activityHandling": (
            "START_OF_ACTIVITY_INTERRUPTS" if config.server_interrupts() else "NO_INTERRUPTION"
        ),
        "turnCoverage": "TURN_INCLUDES_ONLY_ACTIVITY",
    }


def _clean_schema(schema: object) -> object:
    if isinstance(schema, Mapping):
        return {
            str(key): _clean_schema(value)
            for key, value in schema.items()
            if key not in _UNSUPPORTED_SCHEMA_KEYS
        }
    if isinstance(schema, list):
        return [_clean_schema(item) for item in schema]
    return schema


def function_declarations(tools: tuple[Mapping[str, object], ...]) -> list[dict[str, Any]]:
    """Turn GA function tools (``{"type":"function","name",…}``) into ``functionDeclarations``."""
    declarations: list[dict[str, Any]] = []
    for tool in tools:
        name = tool.get("name")
        if not isinstance(name, str) or tool.get("type", "function") != "function":
            continue
        declaration: dict[str, Any] = {"name": name}
        description = tool.get("description")
        if isinstance(description, str) and description:
            declaration["description"] = description
        parameters = tool.get("parameters")
        if isinstance(parameters, Mapping) and parameters.get("properties"):
            declaration["parameters"] = _clean_schema(parameters)
        declarations.append(declaration)
    return declarations


def setup_message(
    config: SessionConfig,
    tools: tuple[Mapping[str, object], ...] = (),
    instructions: str | None = None,
    handle: str | None = None,
    seed_history: bool = False,
) -> dict[str, Any]:
    """Return the ``{"setup": …}`` client frame for one connection.

    Args:
        config: the session settings.
        tools: GA function tool schemas (sent when ``config.tools_enabled``).
        instructions: system instruction (``config.instructions`` when ``None``).
        handle: session resumption handle of the previous connection, if any.
        seed_history: a 3.x model gets its initial history as ``clientContent`` next.
    """
    text = config.instructions if instructions is None else instructions
    setup: dict[str, Any] = {
        "model": model_name(config.model),
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {
                "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice_name(config.voice)}}
            },
        },
        "realtimeInputConfig": realtime_input_config(config),
        "outputAudioTranscription": {},
        "contextWindowCompression": {"slidingWindow": {}},
        "sessionResumption": {"handle": handle} if handle else {},
    }
    if text:
        setup["systemInstruction"] = {"parts": [{"text": text}]}
    declarations = function_declarations(tools) if config.tools_enabled else []
    if declarations:
        setup["tools"] = [{"functionDeclarations": declarations}]
    if config.transcription is not None:
        setup["inputAudioTranscription"] = {}
    if seed_history and is_gemini_3(config.model):
        setup["historyConfig"] = {"initialHistoryInClientContent": True}
    return {"setup": setup}
