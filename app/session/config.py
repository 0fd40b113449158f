"""Session settings as one frozen value: provider endpoint, voice, turn taking, timeouts.

The runtime builds a ``SessionConfig`` from the user's settings; the codec turns it into a
``session.update`` and the driver reads its endpoint, timeouts and limits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit


class TurnMode(enum.Enum):
    """Who decides when the user's turn ends."""

    PUSH_TO_TALK = "push_to_talk"
    HANDS_FREE = "hands_free"


class VadKind(enum.Enum):
    """Which voice-activity detector ends a hands-free turn."""

    SERVER_VAD = "server_vad"
    SEMANTIC_VAD = "semantic_vad"
    LOCAL = "local"


class RepairPolicy(enum.Enum):
    """What the model is told after a barge-in cut its answer short."""

    NONE = "none"
    HEARD_NOTE = "heard_note"


@dataclass(frozen=True, slots=True)
class ServerVadParams:
    """Parameters of ``turn_detection: server_vad`` (every field is always sent, pitfall 8)."""

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None


@dataclass(frozen=True, slots=True)
class SemanticVadParams:
    """Parameters of ``turn_detection: semantic_vad``."""

    eagerness: str = "auto"
    create_response: bool = True
    interrupt_response: bool = True


@dataclass(frozen=True, slots=True)
class TranscriptionParams:
    """Input transcription (a separate ASR model on the provider side)."""

    model: str = "gpt-4o-mini-transcribe"
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class RetentionRatio:
    """``truncation: retention_ratio`` (drop the oldest items down to this share of the budget)."""

    ratio: float = 0.8
    post_instructions_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Everything the session needs to connect and configure a realtime conversation.

    Attributes:
        provider: ``"local"``, ``"openai"``, ``"azure"``, ``"custom"`` or ``"gemini"`` (picks the
            wire protocol: Gemini Live for ``"gemini"``, OpenAI Realtime otherwise).
        base_url: HTTP(S) or WS(S) base, e.g. ``https://api.openai.com/v1``; the socket URL is
            ``<base>/realtime?model=<model>`` with the ws scheme.
        url: a full WebSocket URL that overrides ``base_url`` and ``model`` in the address.
        model: model id (or Azure deployment name).
        api_version: Azure-style ``api-version`` query parameter, when the endpoint wants one.
        auth_header: header that carries the secret: ``"Authorization"`` (sent as ``Bearer``)
            or e.g. ``"api-key"`` (sent as is).
        voice: output voice id.
        instructions: system instructions (the memory block is appended by the driver).
        turn_mode: push-to-talk or hands-free.
        vad: hands-free detector; ``LOCAL`` sends no server turn detection.
        server_vad: server VAD parameters.
        semantic_vad: semantic VAD parameters.
        noise_reduction: ``"near_field"``, ``"far_field"`` or ``None``.
        transcription: input transcription, or ``None`` for off.
        truncation: ``"auto"``, ``"disabled"`` or a ``RetentionRatio``.
        tools_enabled: advertise the tool registry's schemas.
        sample_rate: PCM16 rate of the assistant audio (downlink; 24000 for OpenAI and Gemini),
            and of the uplink unless ``input_sample_rate`` is set.
        input_sample_rate: PCM16 rate of the microphone uplink when it differs (Gemini: 16000).
        min_interruption_ms: speech that lasts this long while the assistant talks is a barge-in;
            shorter speech only ducks playback.
        duck_gain: playback gain while a possible interruption is being confirmed.
        repair: what the model is told after a barge-in.
        min_turn_ms: push-to-talk turns with less audio are discarded.
        connect_timeout_s: bound on opening the socket and the first server event.
        response_timeout_s: bound on waiting for ``response.created`` after ``response.create``,
            and for the ``response.done`` of a response cut off by a barge-in.
        close_timeout_s: bound on the closing handshake.
        backoff_initial_s: first reconnect delay.
        backoff_max_s: largest reconnect delay.
        backoff_factor: growth of the delay per failed attempt.
        max_retries: give up (and tell the user) after this many failed attempts in a row.
        renew_after_s: reconnect in advance, when idle, after this long (the server ends sessions
            at 60 minutes with close code 1001).
        uplink_queue_chunks: bound of the audio inbox (oldest dropped and counted when full).
        uplink_batch_ms: audio gathered into one ``append`` at most.
        max_frame_bytes: largest accepted server frame.
        ping_interval_s: WebSocket keepalive period (``None`` disables it).
        ping_timeout_s: keepalive answer bound.
    """

    provider: str = "local"
    base_url: str = "http://127.0.0.1:8765/v1"
    url: str | None = None
    model: str = "gpt-realtime"
    api_version: str | None = None
    auth_header: str = "Authorization"
    voice: str = "marin"
    instructions: str = "You are VoxDesk, a concise and friendly voice assistant."
    turn_mode: TurnMode = TurnMode.HANDS_FREE
    vad: VadKind = VadKind.SERVER_VAD
    server_vad: ServerVadParams = field(default_factory=ServerVadParams)
    semantic_vad: SemanticVadParams = field(default_factory=SemanticVadParams)
    noise_reduction: str | None = "near_field"
    transcription: TranscriptionParams | None = field(default_factory=TranscriptionParams)
    truncation: str | RetentionRatio = "auto"
    tools_enabled: bool = True
    sample_rate: int = 24000
    input_sample_rate: int | None = None
    min_interruption_ms: int = 300
    duck_gain: float = 0.25
    repair: RepairPolicy = RepairPolicy.NONE
    min_turn_ms: int = 100
    connect_timeout_s: float = 10.0
    response_timeout_s: float = 15.0
    close_timeout_s: float = 2.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_factor: float = 2.0
    max_retries: int = 8
    renew_after_s: float = 50 * 60.0
    uplink_queue_chunks: int = 100
    uplink_batch_ms: int = 100
    max_frame_bytes: int = 8 * 1024 * 1024
    ping_interval_s: float | None = 20.0
    ping_timeout_s: float | None = 40.0

    def input_rate(self) -> int:
        """PCM16 rate of the microphone chunks sent to the provider."""
        return self.input_sample_rate or self.sample_rate

    def server_interrupts(self) -> bool:
        """Whether the provider cancels the response itself when its VAD hears speech."""
        if self.turn_mode is not TurnMode.HANDS_FREE:
            return False
        if self.vad is VadKind.SERVER_VAD:
            return self.server_vad.interrupt_response
        if self.vad is VadKind.SEMANTIC_VAD:
            return self.semantic_vad.interrupt_response
        return False

    def server_creates_response(self) -> bool:
        """Whether the provider starts a response itself when its VAD ends a turn."""
        if self.turn_mode is not TurnMode.HANDS_FREE:
            return False
        if self.vad is VadKind.SERVER_VAD:
            return self.server_vad.create_response
        if self.vad is VadKind.SEMANTIC_VAD:
            return self.semantic_vad.create_response
        return False

    def uses_server_vad(self) -> bool:
        """Whether turn detection runs on the provider (hands-free with server or semantic VAD)."""
        return self.turn_mode is TurnMode.HANDS_FREE and self.vad is not VadKind.LOCAL


def realtime_url(config: SessionConfig) -> str:
    """Return the WebSocket address for ``config`` (ws scheme, ``/realtime``, model query)."""
    if config.url:
        return config.url
    parts = urlsplit(config.base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path.endswith("/realtime") else parts.path + "/realtime"
    query = [f"model={quote(config.model, safe='')}"]
    if config.api_version:
        query.append(f"api-version={quote(config.api_version, safe='')}")
    if parts.query:
        query.insert(0, parts.query)
    return urlunsplit((scheme, parts.netloc, path, "&".join(query), ""))


def auth_headers(config: SessionConfig, secret: str | None) -> dict[str, str]:
    """Return the handshake headers carrying ``secret`` (none when there is no secret)."""
    if not secret:
        return {}
    if config.auth_header.lower() == "authorization":
        return {"Authorization": f"Bearer {secret}"}
    return {config.auth_header: secret}
