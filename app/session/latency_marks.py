"""Latency marks of the conversation, each taken on the clock where the moment really happens.

=============  ==================================================================================
``capture``    ``AudioChunk.captured_at`` (ADC time) of the turn's first uplinked chunk
``uplink_sent`` when that chunk's ``append`` left the socket
``speech_end`` ``SpeechStopped.at`` (local VAD) or the server VAD's ``audio_end_ms`` mapped back
               to the capture clock, each moved to the last audible mic sample near it
               (:meth:`TurnMarks.vad_speech_end`); the key release (push-to-talk); or the
               send of a typed turn
``first_audio`` arrival of the response's first audio delta
``onset``      ``playback.onset_at(item)``: DAC time of that audio's first sample (polled)
``bargein``    the trigger: ``SpeechStarted.at`` (the capture DSP dates the onset), the
               key/button press, or the arrival of the server's ``speech_started``
``silence``    ``playback.last_audible_at()`` once the flush took effect (polled), or the
               ``bargein`` mark when the answer was already silent then (cut in a pause)
=============  ==================================================================================

A turn starts when the user starts one (key press, speech start, typed text). ``bargein`` and
``silence`` are recorded in the turn current at the flush; ``first_audio`` and ``onset`` in the
turn current at the first delta.

A VAD's end-of-speech stamp is the edge of a 32 ms window, late by the model's own lag (~100 ms);
the user stopped speaking at the last audible sample, which is what the meter must time (and what
the end-to-end bench measures on the mic feed). The mic levels every chunk leaves
(:meth:`TurnMarks.mic_audio`) place that edge (``app.metrics.speech_edges``).

Polls run on the loop every ``POLL_S`` and stop once the value is known or after a bound,
so they cost a timer tick, never a busy loop.

Thread: the session loop thread only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from app.events import AudioChunk
from app.metrics.speech_edges import MicLevels
from app.ports import PlaybackSink
from app.session.collaborators import MeterLike

log = logging.getLogger("app.session.latency")

POLL_S = 0.02
ONSET_POLL_LIMIT_S = 15.0
SILENCE_POLL_LIMIT_S = 5.0
SILENCE_MARGIN_S = 0.005


class TurnMarks:
    """Turn ids and latency marks; polls the playback side for DAC times.

    Args:
        meter: where marks go (``None``: marks are only kept for the current turn).
        playback: the playback side (``onset_at``, ``last_audible_at``).
        clock: the monotonic clock.
    """

    def __init__(
        self, meter: MeterLike | None, playback: PlaybackSink, clock: Callable[[], float]
    ) -> None:
        self._meter = meter
        self._playback = playback
        self._clock = clock
        self._seq = 0
        self.turn_id = "turn-0"
        self.marks: dict[str, dict[str, float]] = {}
        self.trigger_at: float | None = None
        self._first_audio_response: str | None = None
        self._onset: asyncio.TimerHandle | None = None
        self._onset_item: tuple[str, str] | None = None
        self._silence: asyncio.TimerHandle | None = None
        self.levels = MicLevels()

    def mic_audio(self, chunk: AudioChunk) -> None:
        """Record the level of a cleaned mic chunk (every chunk, uplinked or not).

        The pipeline's unity-gain levels when the chunk has them, else the level of its PCM.
        """
        if chunk.levels_db:
            self.levels.add_levels(chunk.levels_at, chunk.levels_db)
        else:
            self.levels.add(chunk.pcm, chunk.sample_rate, chunk.captured_at)

    def vad_speech_end(self, at: float) -> float:
        """The audible end of the speech a VAD says stopped at ``at`` (capture clock)."""
        return self.levels.speech_end(at)

    def new_turn(self) -> str:
        """Start a new turn and return its id."""
        self._seq += 1
        self.turn_id = f"turn-{self._seq}"
        while len(self.marks) > 20:
            self.marks.pop(next(iter(self.marks)))
        return self.turn_id

    def mark(self, name: str, t: float, turn_id: str | None = None) -> None:
        """Record ``name`` at ``t`` in ``turn_id`` (default: the current turn); first one wins."""
        turn = turn_id or self.turn_id
        seen = self.marks.setdefault(turn, {})
        if name in seen:
            return
        seen[name] = t
        if self._meter is not None:
            self._meter.mark(turn, name, t)

    def trigger(self, at: float | None = None) -> None:
        """A possible barge-in trigger happened at ``at`` (default: now)."""
        self.trigger_at = self._clock() if at is None else at

    def response_created(self) -> None:
        """A new response: its first delta may mark ``first_audio`` again (first one wins)."""
        self._first_audio_response = None

    def first_audio(self, response_id: str, item_id: str) -> None:
        """An audio delta of ``item_id`` arrived: mark ``first_audio`` and poll for its onset."""
        if self._first_audio_response == response_id:
            return
        self._first_audio_response = response_id
        turn = self.turn_id
        if "first_audio" in self.marks.get(turn, {}):
            return
        now = self._clock()
        self.mark("first_audio", now, turn)
        self._cancel_onset()
        self._poll_onset(item_id, turn, now + ONSET_POLL_LIMIT_S)

    def flushed(self) -> None:
        """Playback was flushed by a barge-in: mark its trigger and poll for the last sample."""
        if self._onset is not None and self._onset_item is not None:
            self._cancel_onset()  # nothing more of the item plays: one last look
            item_id, onset_turn = self._onset_item
            at = self._playback.onset_at(item_id, final=True)
            if at is not None:
                self.mark("onset", at, onset_turn)
        turn = self.turn_id
        now = self._clock()
        trigger = self.trigger_at if self.trigger_at is not None else now
        self.mark("bargein", trigger, turn)
        self.trigger_at = None
        if self._silence is not None:
            self._silence.cancel()
        self._schedule_silence(turn, now + SILENCE_POLL_LIMIT_S, 0)

    def cancel(self) -> None:
        """Stop every poll (connection lost, shutdown)."""
        self._cancel_onset()
        if self._silence is not None:
            self._silence.cancel()
            self._silence = None
        self.trigger_at = None

    # ------------------------------------------------------------------ polls

    def _loop(self) -> asyncio.AbstractEventLoop | None:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            return None

    def _cancel_onset(self) -> None:
        if self._onset is not None:
            self._onset.cancel()
            self._onset = None

    def _poll_onset(self, item_id: str, turn: str, deadline: float) -> None:
        self._onset = None
        self._onset_item = (item_id, turn)
        try:
            at = self._playback.onset_at(item_id)
        except Exception:
            log.exception("onset_at failed")
            return
        if at is not None:
            self.mark("onset", at, turn)
            return
        loop = self._loop()
        if loop is None or self._clock() > deadline:
            log.debug("onset of %s never known", item_id)
            return
        self._onset = loop.call_later(POLL_S, self._poll_onset, item_id, turn, deadline)

    def _schedule_silence(self, turn: str, deadline: float, polls: int) -> None:
        loop = self._loop()
        if loop is None:
            return
        self._silence = loop.call_later(POLL_S, self._poll_silence, turn, deadline, polls + 1)

    def _poll_silence(self, turn: str, deadline: float, polls: int) -> None:
        self._silence = None
        try:
            at = self._playback.last_audible_at()
        except Exception:
            log.exception("last_audible_at failed")
            return
        now = self._clock()
        # Final once the flush had a device block to act (two polls) and the sample has left.
        if at is not None and polls >= 2 and now >= at + SILENCE_MARGIN_S:
            trigger = self.marks.get(turn, {}).get("bargein", at)
            self.mark("silence", max(at, trigger), turn)
            return
        if now > deadline:
            log.debug("last assistant sample never known after the flush")
            return
        self._schedule_silence(turn, deadline, polls)
