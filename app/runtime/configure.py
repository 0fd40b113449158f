"""Translate the user's settings into the frozen config objects each part is built from.

Kept apart from :mod:`app.runtime.core` so the mapping is pure and tested on its own: every
setting a part consumes is read here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.audio.config import AudioConfig
from app.audio.dspconfig import DspConfig
from app.session.config import (
    RepairPolicy,
    SemanticVadParams,
    ServerVadParams,
    SessionConfig,
    TranscriptionParams,
    TurnMode,
    VadKind,
)
from app.settings.snapshot import Settings

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-realtime"
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
GEMINI_DEFAULT_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
GEMINI_DEFAULT_VOICE = "Kore"
# Gemini Live connections last about 10 minutes; renew while idle before the server's goAway.
GEMINI_RENEW_AFTER_S = 540.0
GEMINI_INPUT_RATE = 16_000
LOCAL_MODEL = "voxdesk-local"
DEFAULT_VOICE = "marin"
# Explicit PortAudio latency: "low" is erratic on the ALSA-pulse path (desktop.md §5).
DEFAULT_OUTPUT_LATENCY_S = 0.01
REPAIR_POLICIES = {"none": RepairPolicy.NONE, "note": RepairPolicy.HEARD_NOTE}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the session connects: a full WebSocket URL or a base URL, plus the provider name."""

    provider: str
    base_url: str = OPENAI_BASE_URL
    url: str | None = None


def audio_config(settings: Settings) -> AudioConfig:
    """Audio stream and playback configuration from the ``audio.*`` settings."""
    latency_ms = settings.get_int("audio.output_latency_ms")
    return AudioConfig(
        input_device=settings.get_str("audio.input_device") or None,
        output_device=settings.get_str("audio.output_device") or None,
        latency_s=latency_ms / 1000 if latency_ms > 0 else DEFAULT_OUTPUT_LATENCY_S,
        chunk_ms=settings.get_int("audio.chunk_ms"),
        playback_prebuffer_ms=settings.get_int("audio.playback_prebuffer_ms"),
        playback_max_buffer_ms=max(
            settings.get_int("audio.playback_max_buffer_ms"),
            settings.get_int("audio.playback_prebuffer_ms"),
        ),
    )


def dsp_config(settings: Settings) -> DspConfig:
    """Echo cancellation, noise suppression, gain control and VAD from the ``audio.*`` settings."""
    return DspConfig(
        backend=settings.get_str("audio.dsp_backend"),  # type: ignore[arg-type]
        aec=settings.get_bool("audio.aec_enabled"),
        aec_tail_ms=settings.get_int("audio.aec_tail_ms"),
        ns=settings.get_bool("audio.ns_enabled"),
        ns_level=settings.get_int("audio.ns_level"),
        agc=settings.get_bool("audio.agc_enabled"),
        agc_target_dbfs=float(settings.get_int("audio.agc_target_dbfs")),
        agc_max_gain_db=float(settings.get_int("audio.agc_max_gain_db")),
        high_pass=settings.get_bool("audio.highpass_enabled"),
        vad_threshold=settings.get_float("audio.vad_threshold"),
        vad_min_speech_ms=settings.get_int("audio.vad_min_speech_ms"),
        vad_min_silence_ms=settings.get_int("audio.vad_min_silence_ms"),
    )


def endpoint_for(settings: Settings) -> Endpoint:
    """The configured cloud endpoint (the local engine's address is only known once it runs)."""
    provider = settings.get_str("session.provider")
    url = settings.get_str("session.url").strip()
    if provider == "openai":
        return Endpoint(provider="openai", base_url=OPENAI_BASE_URL)
    if provider == "gemini":
        if url.startswith(("ws://", "wss://")):
            return Endpoint(provider="gemini", url=url)
        return Endpoint(provider="gemini", base_url=GEMINI_BASE_URL)
    if provider == "custom":
        if url.startswith(("ws://", "wss://")):
            return Endpoint(provider="custom", url=url)
        return Endpoint(provider="custom", base_url=url or OPENAI_BASE_URL)
    return Endpoint(provider="local")


def session_config(settings: Settings, endpoint: Endpoint) -> SessionConfig:
    """Conversation configuration from the ``session.*`` settings for ``endpoint``."""
    detection = settings.get_str("session.turn_detection")
    vad = {
        "server_vad": VadKind.SERVER_VAD,
        "semantic_vad": VadKind.SEMANTIC_VAD,
        "local_vad": VadKind.LOCAL,
    }[detection]
    noise = settings.get_str("session.noise_reduction")
    gemini = endpoint.provider == "gemini"
    default_model = {"local": LOCAL_MODEL, "gemini": GEMINI_DEFAULT_MODEL}.get(
        endpoint.provider, OPENAI_DEFAULT_MODEL
    )
    model = settings.get_str("session.model") or default_model
    transcription_model = settings.get_str("session.input_transcription_model")
    config = SessionConfig(
        provider=endpoint.provider,
        base_url=endpoint.base_url,
        url=endpoint.url,
        model=model,
        voice=settings.get_str("session.voice")
        or (GEMINI_DEFAULT_VOICE if gemini else DEFAULT_VOICE),
        instructions=settings.get_str("session.instructions"),
        turn_mode=TurnMode(settings.get_str("session.turn_mode")),
        vad=vad,
        server_vad=ServerVadParams(
            threshold=settings.get_float("session.vad_threshold"),
            prefix_padding_ms=settings.get_int("session.prefix_padding_ms"),
            silence_duration_ms=settings.get_int("session.silence_duration_ms"),
        ),
        semantic_vad=SemanticVadParams(eagerness=settings.get_str("session.semantic_eagerness")),
        noise_reduction=None if noise == "off" else noise,
        transcription=TranscriptionParams(model=transcription_model)
        if transcription_model
        else None,
        truncation=settings.get_str("session.truncation"),
        min_interruption_ms=settings.get_int("session.min_interruption_ms"),
        repair=REPAIR_POLICIES[settings.get_str("session.repair_policy")],
    )
    if gemini:
        config = replace(
            config, input_sample_rate=GEMINI_INPUT_RATE, renew_after_s=GEMINI_RENEW_AFTER_S
        )
    return config
