"""Turn taking: push-to-talk and hands-free (server VAD, semantic VAD or the local VAD).

``TurnTaker`` is pure bookkeeping for the driver. It turns audio-side events, server VAD events
and PTT presses into state-machine event kinds (``Ev``) according to the turn mode, gates the
microphone uplink (only while the key is held in push-to-talk; only during local speech, with a
short pre-roll, when the local VAD ends turns) and says what ending a turn sends.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.events import AudioChunk
from app.session.config import SessionConfig, TurnMode, VadKind
from app.session.states import Ev

Pcm = TypeVar("Pcm", bytes, AudioChunk)
"""Uplink items: raw PCM16 bytes, or captured chunks that keep their capture time."""


def _size(item: bytes | AudioChunk) -> int:
    return len(item.pcm) if isinstance(item, AudioChunk) else len(item)


@dataclass(frozen=True, slots=True)
class TurnEnd:
    """What ending a user turn sends: a commit and/or a response request."""

    commit: bool
    create_response: bool


class TurnTaker(Generic[Pcm]):
    """Maps turn-taking inputs to state-machine events for the configured turn mode.

    Args:
        config: the session settings (mode, VAD kind, rate, minimum turn length).
        preroll_ms: audio kept before a local VAD speech start and sent with the turn.
    """

    def __init__(self, config: SessionConfig, preroll_ms: int = 300) -> None:
        self._config = config
        self._preroll_ms = preroll_ms
        self._bytes_per_ms = config.input_rate() * 2 / 1000
        self._preroll_bytes = int(preroll_ms * self._bytes_per_ms)
        self._preroll: collections.deque[Pcm] = collections.deque()
        self._preroll_size = 0
        self._held = False
        self._local_speech = False
        self._turn_bytes = 0
        self.muted = False

    @property
    def config(self) -> SessionConfig:
        """The settings in force."""
        return self._config

    def reconfigure(self, config: SessionConfig) -> None:
        """Apply new settings (e.g. a turn-mode switch); resets any turn in progress."""
        self._config = config
        self._bytes_per_ms = config.input_rate() * 2 / 1000
        self._preroll_bytes = int(self._preroll_ms * self._bytes_per_ms)
        self.reset()

    def reset(self) -> None:
        """Forget the turn in progress (after a reconnect or a discarded turn)."""
        self._held = False
        self._local_speech = False
        self._turn_bytes = 0
        self._preroll.clear()
        self._preroll_size = 0

    @property
    def push_to_talk(self) -> bool:
        """Whether the user ends turns with the key."""
        return self._config.turn_mode is TurnMode.PUSH_TO_TALK

    @property
    def local_vad_ends_turns(self) -> bool:
        """Whether the local VAD (not the provider) decides when a hands-free turn ends."""
        return not self.push_to_talk and self._config.vad is VadKind.LOCAL

    # ------------------------------------------------------------------ inputs

    def ptt_pressed(self) -> Ev:
        """The key went down: start a turn (in hands-free it only interrupts)."""
        if not self.push_to_talk:
            return Ev.INTERRUPT
        self._held = True
        self._turn_bytes = 0
        return Ev.PTT_PRESSED

    def ptt_released(self) -> Ev | None:
        """The key went up: end the turn, or discard it when it is too short."""
        if not self.push_to_talk or not self._held:
            return None
        self._held = False
        if self._turn_bytes / self._bytes_per_ms < self._config.min_turn_ms:
            return Ev.PTT_TOO_SHORT
        return Ev.PTT_RELEASED

    def local_speech_started(self) -> Ev | None:
        """The local VAD heard speech (after hysteresis)."""
        if self.push_to_talk:
            return None
        self._local_speech = True
        return Ev.VAD_SPEECH_STARTED

    def local_speech_stopped(self) -> Ev | None:
        """The local VAD heard the speech end."""
        if self.push_to_talk:
            return None
        self._local_speech = False
        return Ev.SPEECH_STOPPED

    def drop_speech(self) -> None:
        """A typed turn replaced the speech in progress: none of its remaining audio is sent.

        The local VAD's uplink gate closes until its next speech start; a held push-to-talk key
        counts as released (its release then ends nothing).
        """
        self._held = False
        self._local_speech = False
        self._turn_bytes = 0

    def server_speech_started(self) -> Ev | None:
        """The provider's VAD heard speech (ignored unless the provider detects turns)."""
        if not self._config.uses_server_vad():
            return None
        if self._config.server_interrupts():
            return Ev.SERVER_SPEECH_STARTED
        return Ev.VAD_SPEECH_STARTED

    def server_speech_stopped(self) -> Ev | None:
        """The provider's VAD heard the speech end."""
        return Ev.SPEECH_STOPPED if self._config.uses_server_vad() else None

    # ------------------------------------------------------------------ uplink

    def uplink(self, pcm: Pcm) -> list[Pcm]:
        """Return the audio to send now for a captured chunk (may be empty or include pre-roll).

        ``pcm`` is raw PCM16 or an ``AudioChunk``; what comes back is of the same kind, so the
        caller keeps each pre-roll chunk's capture time.
        """
        if self.muted:
            return []
        if self.push_to_talk:
            if not self._held:
                return []
            self._turn_bytes += _size(pcm)
            return [pcm]
        if not self.local_vad_ends_turns:
            return [pcm]
        if self._local_speech:
            out = list(self._preroll) + [pcm]
            self._preroll.clear()
            self._preroll_size = 0
            return out
        self._preroll.append(pcm)
        self._preroll_size += _size(pcm)
        while (
            len(self._preroll) > 1
            and self._preroll_size - _size(self._preroll[0]) >= self._preroll_bytes
        ):
            self._preroll_size -= _size(self._preroll.popleft())
        return []

    def turn_ms(self) -> float:
        """Milliseconds of audio sent in the current push-to-talk turn."""
        return self._turn_bytes / self._bytes_per_ms

    def turn_end(self) -> TurnEnd:
        """What ending a turn must send in this mode."""
        if self._config.uses_server_vad():
            return TurnEnd(commit=False, create_response=not self._config.server_creates_response())
        return TurnEnd(commit=True, create_response=True)
