"""Interfaces between the core's parts.

``app/runtime`` wires the parts through these, so ``app/audio`` and ``app/session`` never import
one another.
"""

from __future__ import annotations

from typing import Protocol


class PlaybackSink(Protocol):
    """What the session needs from the audio engine's playback side.

    Thread: every method may be called from the session loop thread; none blocks.
    """

    def enqueue(
        self, pcm16: bytes, sample_rate: int, response_id: str, item_id: str, content_index: int
    ) -> None:
        """Queue assistant audio (mono PCM16 LE at ``sample_rate``) tagged with its item."""

    def end_response(self, response_id: str) -> None:
        """No more audio will come for ``response_id``: drain and report ``PlaybackDrained``."""

    def flush(self) -> int:
        """Drop everything queued (≤5 ms fade) within one device block; returns the new epoch."""

    def mark_stale(self, response_id: str) -> None:
        """Drop queued and future audio of ``response_id``."""

    def duck(self, gain: float) -> None:
        """Ramp playback to ``gain`` (0..1) within one block, keeping the queue."""

    def resume(self) -> None:
        """Ramp playback back to full gain."""

    def played_ms(self, item_id: str) -> float:
        """Milliseconds of ``item_id`` actually written to the device so far."""

    def onset_at(self, item_id: str, final: bool = False) -> float | None:
        """``time.monotonic()`` when the first sample of ``item_id`` reached the DAC, if it has.

        None also while that time is not final yet; ``final`` (nothing more will play) asks
        for the best dating there is.
        """

    def last_audible_at(self) -> float | None:
        """``time.monotonic()`` at which the last audible assistant sample reaches the DAC."""
