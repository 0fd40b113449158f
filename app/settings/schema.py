"""The settings registry: every user setting declared once, with type, default, range and help.

This table drives validation (``validate``), storage (``app.settings.store``), migrations and the
generated settings dialog (``ui/settings``). A key is dotted: ``<section>.<name>``; sections are
listed, in display order, in ``SECTIONS``. Secrets (API keys) are never settings: they live in the
OS keyring (``app.secrets``).
"""

from __future__ import annotations

from app.settings.setting import (
    Applies,
    Check,
    Setting,
    SettingError,
    Value,
    ValueType,
    hotkey,
    http_url,
    max_length,
    websocket_url,
)

SCHEMA_VERSION = 2
"""Version of the stored layout; ``app.settings.migrations`` upgrades older files to it."""

SECTIONS: tuple[tuple[str, str], ...] = (
    ("audio", "Audio"),
    ("session", "Conversation"),
    ("local", "Offline engine"),
    ("hotkey", "Hotkeys"),
    ("ui", "Window"),
    ("log", "Logging"),
)
"""Section ids with their labels, in the order the settings dialog shows them."""

_NOW = Applies.IMMEDIATELY
_AUDIO = Applies.STREAM_RESTART
_SESSION = Applies.SESSION_RESTART
_APP = Applies.APP_RESTART

REGISTRY: tuple[Setting, ...] = (
    # --- audio -------------------------------------------------------------------------------
    Setting("audio.input_device", str, "", "Microphone",
            "Input device, matched by name (device numbers change when devices come and go). "
            "Empty uses the system default.", _AUDIO),
    Setting("audio.output_device", str, "", "Speaker",
            "Output device, matched by name. Empty uses the system default.", _AUDIO),
    Setting("audio.dsp_backend", str, "hybrid", "Echo and noise processing",
            "Which signal processing cleans the microphone. WebRTC removes the most echo but can "
            "dip your voice while the assistant talks; SpeexDSP keeps your voice intact but leaves "
            "more echo; hybrid combines them.", _AUDIO,
            choices=(("hybrid", "Hybrid"), ("webrtc", "WebRTC"), ("speex", "SpeexDSP"))),
    Setting("audio.aec_enabled", bool, True, "Echo cancellation",
            "Removes the assistant's own voice from the microphone so it does not hear itself. "
            "Needed for hands-free use with speakers; can be off with a headset.", _AUDIO),
    Setting("audio.aec_tail_ms", int, 200, "Echo tail",
            "How long an echo the canceller models. Longer copes with reverberant rooms and "
            "laggy devices at more CPU cost.", _AUDIO,
            minimum=50, maximum=500, step=10, unit="ms", advanced=True),
    Setting("audio.ns_enabled", bool, True, "Noise suppression",
            "Reduces steady background noise (fans, hum) before speech detection.", _AUDIO),
    Setting("audio.ns_level", int, 2, "Noise suppression strength",
            "Stronger suppression removes more noise but can make your voice sound thinner.",
            _AUDIO, choices=((0, "Low"), (1, "Moderate"), (2, "High"), (3, "Very high"))),
    Setting("audio.agc_enabled", bool, True, "Automatic gain",
            "Evens out your microphone level so quiet and loud speech both come through.", _AUDIO),
    Setting("audio.agc_target_dbfs", int, -18, "Gain target level",
            "Level automatic gain aims for. Closer to 0 is louder.", _AUDIO,
            minimum=-31, maximum=-3, unit="dBFS", advanced=True),
    Setting("audio.agc_max_gain_db", int, 30, "Maximum gain",
            "The most automatic gain may amplify a quiet microphone.", _AUDIO,
            minimum=0, maximum=60, unit="dB", advanced=True),
    Setting("audio.highpass_enabled", bool, True, "High-pass filter",
            "Removes rumble below speech frequencies (desk knocks, traffic).", _AUDIO,
            advanced=True),
    Setting("audio.vad_threshold", float, 0.5, "Speech detection threshold",
            "How sure the local speech detector must be before it counts sound as speech. Raise "
            "it in noisy rooms; lower it if quiet speech is missed.", _NOW,
            minimum=0.05, maximum=0.95, step=0.05),
    Setting("audio.vad_min_speech_ms", int, 150, "Minimum speech",
            "Sound shorter than this is not treated as the start of speech.", _NOW,
            minimum=30, maximum=2000, unit="ms", advanced=True),
    Setting("audio.vad_min_silence_ms", int, 500, "End-of-speech silence",
            "How long you must pause before your turn counts as finished (local detection).",
            _NOW, minimum=100, maximum=5000, unit="ms"),
    Setting("audio.chunk_ms", int, 20, "Upload chunk",
            "Length of each piece of microphone audio sent to the assistant. Shorter is more "
            "responsive, longer costs less overhead.", _AUDIO,
            minimum=10, maximum=100, step=10, unit="ms", advanced=True),
    Setting("audio.playback_prebuffer_ms", int, 0, "Playback pre-buffer",
            "Audio held back before the assistant starts speaking. 0 starts at the first byte; "
            "the buffer grows by itself after a dropout.", _AUDIO,
            minimum=0, maximum=1000, unit="ms", advanced=True),
    Setting("audio.playback_max_buffer_ms", int, 60000, "Playback buffer limit",
            "The most assistant audio queued ahead of the speaker (answers arrive faster than "
            "they are spoken).", _AUDIO,
            minimum=1000, maximum=600000, step=1000, unit="ms", advanced=True),
    Setting("audio.output_latency_ms", int, 0, "Output latency",
            "Device latency requested from the sound system. 0 uses its low-latency default; "
            "raise it if you hear crackles.", _AUDIO,
            minimum=0, maximum=500, unit="ms", advanced=True),
    # --- session -----------------------------------------------------------------------------
    Setting("session.provider", str, "local", "Provider",
            "Who answers: the built-in offline engine, OpenAI's realtime API or Google's Gemini "
            "Live (each needs an API key), or another server that speaks the OpenAI protocol.",
            _SESSION,
            choices=(("local", "Offline (built in)"), ("openai", "OpenAI"),
                     ("gemini", "Google Gemini Live"), ("custom", "Custom server"))),
    Setting("session.url", str, "", "Server address",
            "WebSocket address of the realtime server. Empty uses the provider's default.",
            _SESSION, check=websocket_url),
    Setting("session.model", str, "", "Model",
            "Realtime model name, e.g. gpt-realtime. Empty uses the provider's default.",
            _SESSION, check=max_length(200)),
    Setting("session.voice", str, "", "Voice",
            "The assistant's voice, e.g. marin. Empty uses the provider's default. OpenAI accepts "
            "a new voice only until the assistant first speaks in a session; after that it "
            "applies from the next session.",
            _SESSION, check=max_length(100)),
    Setting("session.instructions", str,
            "You are VoxDesk, a friendly desktop voice assistant. You are heard, not read: "
            "answer briefly and conversationally.", "Instructions",
            "What the assistant is told about how to behave.", _NOW, check=max_length(16000)),
    Setting("session.turn_mode", str, "push_to_talk", "Turn mode",
            "Push to talk: hold the key or button while you speak. Hands-free: just talk; "
            "speaking over the assistant interrupts it.", _NOW,
            choices=(("push_to_talk", "Push to talk"), ("hands_free", "Hands-free"))),
    Setting("session.turn_detection", str, "server_vad", "End-of-turn detection",
            "In hands-free mode, who decides that you finished speaking: the server's speech "
            "detector, OpenAI's semantic detector (waits for a complete thought) or the local "
            "detector.", _NOW,
            choices=(("server_vad", "Server"), ("semantic_vad", "Semantic (OpenAI)"),
                     ("local_vad", "Local"))),
    Setting("session.vad_threshold", float, 0.5, "Server detection threshold",
            "How sure the server's speech detector must be. Raise it in noisy rooms.", _NOW,
            minimum=0.0, maximum=1.0, step=0.05, advanced=True),
    Setting("session.prefix_padding_ms", int, 300, "Speech lead-in",
            "Audio before detected speech that is kept with your turn.", _NOW,
            minimum=0, maximum=2000, unit="ms", advanced=True),
    Setting("session.silence_duration_ms", int, 500, "Server end-of-speech silence",
            "How long a pause the server waits for before your turn counts as finished.", _NOW,
            minimum=100, maximum=5000, unit="ms"),
    Setting("session.semantic_eagerness", str, "auto", "Semantic eagerness",
            "How quickly the semantic detector answers: low waits longer for you to finish.",
            _NOW, advanced=True,
            choices=(("auto", "Automatic"), ("low", "Low"), ("medium", "Medium"),
                     ("high", "High"))),
    Setting("session.noise_reduction", str, "off", "Server noise reduction",
            "Extra noise reduction done by the provider. VoxDesk already cleans the microphone, "
            "so this is usually off.", _NOW, advanced=True,
            choices=(("off", "Off"), ("near_field", "Headset / near"),
                     ("far_field", "Laptop / far"))),
    Setting("session.input_transcription_model", str, "gpt-4o-mini-transcribe",
            "Caption model",
            "Model that writes captions of what you said. Empty turns provider captions off.",
            _NOW, advanced=True, check=max_length(200)),
    Setting("session.min_interruption_ms", int, 300, "Minimum interruption",
            "How long you must speak over the assistant before it stops. Shorter sounds (a "
            "cough, 'mhm') only lower its voice for a moment.", _NOW,
            minimum=0, maximum=2000, step=10, unit="ms"),
    Setting("session.repair_policy", str, "note", "After an interruption",
            "Whether the assistant is told which part of its answer you actually heard.", _NOW,
            choices=(("note", "Tell it what was heard"), ("none", "Do nothing"))),
    Setting("session.context_turns", int, 20, "Turns remembered",
            "How many recent turns are kept in the conversation; older ones are dropped.", _NOW,
            minimum=1, maximum=200),
    Setting("session.truncation", str, "auto", "Context overflow",
            "What the provider does when the conversation gets too long: drop the oldest part, "
            "or fail with an error.", _NOW, advanced=True,
            choices=(("auto", "Drop the oldest"), ("disabled", "Report an error"))),
    # --- local engine ------------------------------------------------------------------------
    Setting("local.stt_engine", str, "whisper", "Speech recognition",
            "Offline recogniser: Whisper is accurate; PocketSphinx is lighter and less accurate.",
            _APP, choices=(("whisper", "Whisper (tiny.en)"), ("pocketsphinx", "PocketSphinx"))),
    Setting("local.tts_engine", str, "piper", "Speech synthesis",
            "Offline voice: Piper sounds natural; flite and eSpeak are robotic but very light.",
            _APP, choices=(("piper", "Piper"), ("flite", "Flite"), ("espeak", "eSpeak NG"))),
    Setting("local.llm_url", str, "", "Chat model address",
            "Optional OpenAI-compatible chat server (e.g. llama.cpp or Ollama on this machine). "
            "Empty uses the built-in offline skills only.", _APP, check=http_url),
    Setting("local.llm_model", str, "", "Chat model",
            "Model name to ask the chat server for. Empty uses the server's default.", _APP,
            check=max_length(200)),
    # --- hotkeys -----------------------------------------------------------------------------
    Setting("hotkey.enabled", bool, True, "Global hotkeys",
            "Lets the keys below work while another window has focus.", _NOW),
    Setting("hotkey.push_to_talk", str, "F9", "Push-to-talk key",
            "Hold to speak (push-to-talk mode).", _NOW, check=hotkey),
    Setting("hotkey.interrupt", str, "F10", "Interrupt key",
            "Stops the assistant mid-answer.", _NOW, check=hotkey),
    # --- window ------------------------------------------------------------------------------
    Setting("ui.start_minimized", bool, False, "Start minimized",
            "Start in the system tray without showing the window (minimized to the taskbar "
            "when the desktop has no system tray).", _APP),
    Setting("ui.close_to_tray", bool, True, "Close to tray",
            "Closing the window keeps VoxDesk running in the system tray.", _NOW),
    # --- logging -----------------------------------------------------------------------------
    Setting("log.level", str, "INFO", "Log detail",
            "How much goes into the log file. Debug helps when reporting a problem.", _NOW,
            advanced=True,
            choices=(("DEBUG", "Debug"), ("INFO", "Normal"), ("WARNING", "Warnings"),
                     ("ERROR", "Errors only"))),
)  # fmt: skip
"""Every setting, grouped by section in ``SECTIONS`` order."""

_BY_KEY: dict[str, Setting] = {s.key: s for s in REGISTRY}


def get(key: str) -> Setting:
    """Return the setting for ``key``; raise ``KeyError`` (naming the key) when there is none."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown setting {key!r}") from None


def validate(key: str, value: object) -> Value:
    """Return ``value`` converted for ``key``.

    Raises:
        SettingError: the key is unknown or the value is not allowed (user-readable message).
    """
    try:
        setting = _BY_KEY[key]
    except KeyError:
        raise SettingError(key, f"There is no setting called {key!r}.") from None
    return setting.validate(value)


def defaults() -> dict[str, Value]:
    """Return every key mapped to its default value."""
    return {s.key: s.default for s in REGISTRY}


def keys() -> frozenset[str]:
    """Return the set of every known key."""
    return frozenset(_BY_KEY)


def in_section(section: str) -> tuple[Setting, ...]:
    """Return the settings of ``section`` in declaration order."""
    return tuple(s for s in REGISTRY if s.section == section)


def section_label(section: str) -> str:
    """Return the user-facing label of a section id."""
    return dict(SECTIONS)[section]


__all__ = [
    "REGISTRY",
    "SCHEMA_VERSION",
    "SECTIONS",
    "Applies",
    "Check",
    "Setting",
    "SettingError",
    "Value",
    "ValueType",
    "defaults",
    "get",
    "in_section",
    "keys",
    "section_label",
    "validate",
]
