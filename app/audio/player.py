"""Playback side of the engine: the ``PlaybackSink`` the session writes assistant audio into.

``PlaybackState`` is the memory shared with the real-time callback (allocated once; see
``callback.py`` for the reader). ``Player`` is the producer API used by the session thread:
it resamples each tagged stream of the provider's PCM16 to the device rate with a low-delay
streaming resampler (``streamresample.py``), stores it in the playback ring with a segment tag
naming its item slot, and implements flush (an epoch the callback honours on its next block),
stale responses, duck/resume, and the per-item "what did the user hear" queries.

Ownership (see ``ringbuffer.py`` for the SPSC rules): every attribute of ``PlaybackState`` has
exactly one writer, noted next to it. The session thread is the only producer; the callback the
only consumer; the engine thread only reads (``poll_drained``, ``is_active``).
"""

from __future__ import annotations

import collections
import logging
import math
import time
from collections.abc import Callable

import numpy as np

from app.audio.clock import PaClock
from app.audio.config import AudioConfig
from app.audio.jitter import ArrivalJitter
from app.audio.ringbuffer import FloatArray, SampleRing, SegmentRing
from app.audio.streamresample import StreamResampler, make_stream_resampler
from app.events import PlaybackDrained

log = logging.getLogger("app.audio")

_RETIRED_ITEMS = 1024  # played-ms records kept for items whose slot was reused
_STALE_RESPONSES = 256  # stale response ids remembered
REBUFFER_HEADROOM = 1.5
"""An underrun mid-answer rebuffers for this times the hold: the hold just proved too short, and
the worst lateness seen so far in a stream underestimates its final one (rig, ±30 ms send
jitter, the first jittered answer: gaps 2, 2, 2 at 1.0 → 1, 2, 1 at 1.5)."""
ONSET_DATING_WAIT_S = 0.1
"""An onset from a primed start waits at most this long for its run's re-dating (it comes with
the run's second real-time callback, 10–20 ms in); then the priming's own dating is used."""
AUDIBLE_DBFS = -50.0
"""A sample written to the device quieter than this is silence at the speaker: the latency meter's
"silence" after a barge-in is when the last louder one left the DAC (an answer cut in a pause
between words was silent from that pause on, not from the flush). The e2e bench's monitor uses
the same floor."""


class DacStamp:
    """Where a sample left the callback: its block's callback time, raw DAC time and frame offset.

    Written by the callback only (``store``, a seqlock: ``seq`` is odd while the three values are
    being replaced), read by any thread through ``Player``. ``seq`` 0: never stored.
    """

    __slots__ = ("dac", "now", "offset", "seq")

    def __init__(self) -> None:
        self.seq = 0
        self.now = 0.0  # monotonic time of the callback that wrote the sample
        self.dac = 0.0  # raw DAC time of that block
        self.offset = 0  # frames from block start to just past the sample

    def store(self, now: float, dac: float, offset: int) -> None:
        """Replace the stamp (callback thread: plain attribute stores, no allocation)."""
        self.seq += 1  # odd: storing
        self.now, self.dac, self.offset = now, dac, offset
        self.seq += 1  # even: consistent


class PlaybackState:
    """Preallocated playback memory shared by the session thread, the callback and the engine.

    Attributes are grouped by their single writer: [producer] = session thread, [callback] = the
    PortAudio callback. The engine thread and the session thread's queries only read.
    """

    def __init__(self, config: AudioConfig) -> None:
        self.rate = config.device_rate
        self.frames = config.block_frames
        self.ring = SampleRing(config.playback_capacity_frames)
        self.segments = SegmentRing(config.playback_segments)
        slots = config.item_slots
        self.slot_stale = np.zeros(slots, dtype=np.uint8)  # [producer] 1 = drop this slot's audio
        self.slot_gen = np.zeros(slots, dtype=np.int64)  # [producer] bumped when a slot is reused
        self.slot_played = np.zeros(slots, dtype=np.int64)  # [callback] samples written to device
        self.onset_gen = np.zeros(slots, dtype=np.int64)  # [callback] == slot_gen once onset known
        self.onset_now = np.zeros(slots, dtype=np.float64)  # [callback] monotonic at that callback
        self.onset_dac = np.zeros(slots, dtype=np.float64)  # [callback] raw DAC time of the block
        self.onset_offset = np.zeros(slots, dtype=np.int64)  # [callback] first sample's frame
        self.flush_mark = 0  # [producer] ring position everything before which a flush drops
        self.flush_epoch = 0  # [producer] bumped after flush_mark is stored
        self.flush_hard = False  # [producer] the output is aborted on flush: no fade needed
        self.seen_epoch = 0  # [callback] last epoch honoured
        fade_frames = max(1, config.ms_to_frames(config.flush_fade_ms))
        fade = 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, fade_frames + 2)[1:-1])
        self.fade: FloatArray = fade.astype(np.float32)  # raised-cosine fade-out, read-only
        ramp = np.arange(1, self.frames + 1, dtype=np.float32) / np.float32(self.frames)
        self.ramp: FloatArray = ramp  # 1/frames .. 1, read-only: per-block gain ramp shape
        self.scratch: FloatArray = np.zeros(self.frames, dtype=np.float32)  # [callback]
        self.gain_target = 1.0  # [producer] duck()/resume()
        self.gain_now = 1.0  # [callback] gain reached at the end of the last block
        self.max_frames = config.ms_to_frames(config.playback_target_bound_ms)  # read-only
        self.base_frames = config.ms_to_frames(config.playback_prebuffer_ms)  # read-only
        self.target_frames = self.base_frames  # [producer] jitter buffer: learned (jitter.py)
        self.play_at = 0.0  # [producer] monotonic time a new item may start: arrival + target
        self.resume_at = 0.0  # [callback] end of the current buffering wait
        self.rebuffer_scale = REBUFFER_HEADROOM  # read-only
        self.buffering = False  # [callback] holding playback until resume_at
        self.starved = True  # [callback] the ring ran dry (idle at start)
        self.starved_slot = -1  # [callback] item slot that ran dry (-1: none, e.g. after a flush)
        self.underruns = 0  # [callback]
        self.played_total = 0  # [callback] assistant samples written to the device, all items
        self.last_slot = -1  # [callback] slot of the last sample written
        self.last = DacStamp()  # [callback] the last assistant sample written
        self.was_playing = False  # [callback] the last block was filled entirely
        self.audible_amp = np.float32(10.0 ** (AUDIBLE_DBFS / 20.0))  # read-only
        self.abs_scratch: FloatArray = np.zeros(self.frames, dtype=np.float32)  # [callback]
        self.audible_mask = np.zeros(self.frames, dtype=np.bool_)  # [callback]
        self.audible = DacStamp()  # [callback] the last one at or above AUDIBLE_DBFS


class Player:
    """The ``PlaybackSink``: adaptive jitter buffer with tags, flush epoch, duck and counters.

    Thread: ``enqueue``, ``end_response``, ``flush``, ``mark_stale``, ``duck``, ``resume`` from the
    session thread only (single producer). The queries (``played_ms``, ``onset_at``,
    ``last_sample_at``, ``last_audible_at``, ``queued_ms``, ``start_wait_s``, ``audio_complete``,
    ``read_ahead_s``) from any thread: each reads single values the producer replaces whole.
    ``poll_drained`` and ``is_active`` from the engine thread only. None of them blocks.
    """

    def __init__(
        self,
        config: AudioConfig,
        state: PlaybackState,
        clock: PaClock,
        arrival_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._arrival_clock = arrival_clock  # when each delta reached the player
        self.state = state
        self._clock = clock
        self._rate = config.device_rate
        self._slots: dict[str, int] = {}
        self._slot_item: list[str | None] = [None] * config.item_slots
        self._slot_response: list[str | None] = [None] * config.item_slots
        self._slot_base = np.zeros(config.item_slots, dtype=np.int64)
        self._next_slot = 0
        self._retired: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._stale: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._resampler: StreamResampler | None = None
        self._resampler_key: tuple[str, str, int, int] | None = None
        self._resampler_slot = -1
        self.dropped_samples = 0  # audio refused because the ring was full
        self.dropped_stale = 0  # enqueue calls refused because their response was stale
        self._drain_seen_total = 0  # [engine thread]
        self._wake: Callable[[], None] | None = None  # the output lane, when on demand
        self._slot_unheard = np.zeros(config.item_slots, dtype=np.int64)  # aborted, never heard
        self._cut_at = -math.inf  # last flush that aborted the output (what it held is lost)
        self._open_response: str | None = None  # the response whose audio is still coming
        self._jitter = ArrivalJitter(
            memory=config.playback_jitter_memory,
            margin_ms=config.playback_jitter_margin_ms,
            bound_ms=config.playback_target_bound_ms,
        )

    def attach_output(self, wake: Callable[[], None]) -> None:
        """Use an on-demand output: ``wake`` after queueing; a flush aborts the device buffer.

        Call before the session starts.
        """
        self._wake = wake
        self.state.flush_hard = True

    # -- producer side (session thread) ---------------------------------------------------------

    def enqueue(
        self, pcm16: bytes, sample_rate: int, response_id: str, item_id: str, content_index: int
    ) -> None:
        """Queue assistant audio (mono PCM16 LE at ``sample_rate``) tagged with its item."""
        if response_id in self._stale:
            self.dropped_stale += 1
            return
        samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / np.float32(32768.0)
        key = (response_id, item_id, content_index, sample_rate)
        self._open_response = response_id
        self._learn_target(key, len(samples) / sample_rate)
        if key != self._resampler_key:
            self._finish_resampler()
        slot = self._slot_for(response_id, item_id)
        if sample_rate == self._rate:
            self._write(samples, slot)
        else:
            if self._resampler is None:
                self._resampler = make_stream_resampler(
                    sample_rate, self._rate, self._config.resample_quality
                )
                self._resampler_key = key
                self._resampler_slot = slot
            self._write(self._resampler.resample_chunk(samples), slot)
        if self._wake is not None:
            self._wake()

    def end_response(self, response_id: str) -> None:
        """Push out the resampler's tail of ``response_id`` (call when its audio is complete).

        Without it the last few milliseconds held by the streaming resampler are written only when
        the next tagged stream starts.
        """
        if self._resampler_key is not None and self._resampler_key[0] == response_id:
            self._finish_resampler()
        if self._open_response == response_id:
            self._open_response = None

    def flush(self) -> int:
        """Drop everything queued (≤5 ms fade); effective within one device block.

        Returns:
            The new flush epoch.
        """
        self._resampler = None
        self._resampler_key = None
        self._open_response = None
        st = self.state
        if self._wake is not None:  # the output is aborted now: what is in the device is lost
            now = time.monotonic()
            last, slot = self.last_sample_at(), st.last_slot
            if last is not None and last > now and slot >= 0:
                self._slot_unheard[slot] += int((last - now) * self._rate)
            self._cut_at = now
        st.flush_mark = st.ring.write_count  # stored before the epoch that publishes it
        st.flush_epoch += 1
        if self._wake is not None:
            self._wake()
        return st.flush_epoch

    def mark_stale(self, response_id: str) -> None:
        """Drop queued and future audio of ``response_id``."""
        self._stale[response_id] = None
        while len(self._stale) > _STALE_RESPONSES:
            self._stale.popitem(last=False)
        for slot, owner in enumerate(self._slot_response):
            if owner == response_id:
                self.state.slot_stale[slot] = 1
        if self._open_response == response_id:
            self._open_response = None
        if self._resampler_key is not None and self._resampler_key[0] == response_id:
            self._resampler = None
            self._resampler_key = None

    def duck(self, gain: float) -> None:
        """Ramp playback to ``gain`` (0..1) within one block, keeping the queue."""
        self.state.gain_target = min(1.0, max(0.0, float(gain)))

    def resume(self) -> None:
        """Ramp playback back to full gain."""
        self.state.gain_target = 1.0

    # -- queries (any thread) -------------------------------------------------------------------

    def played_ms(self, item_id: str) -> float:
        """Milliseconds of ``item_id`` actually written to the device so far."""
        slot = self._slots.get(item_id)
        if slot is None:
            return self._retired.get(item_id, 0.0)
        played = int(self.state.slot_played[slot]) - int(self._slot_base[slot])
        played -= int(self._slot_unheard[slot])
        return max(0, played) * 1000.0 / self._rate

    def onset_at(self, item_id: str, final: bool = False) -> float | None:
        """``time.monotonic()`` when the first sample of ``item_id`` reached the DAC, if it has.

        A primed start dates its first blocks early (``app.audio.farref``): while the engine has
        not yet re-dated the run (10–20 ms after its start), this is None, up to
        ``ONSET_DATING_WAIT_S``; ``final`` (nothing more will play) takes the dating as it is.
        """
        slot = self._slots.get(item_id)
        st = self.state
        if slot is None or st.onset_gen[slot] != st.slot_gen[slot]:
            return None
        called = float(st.onset_now[slot])
        clock = self._clock
        waited = time.monotonic() - called
        if not final and not clock.dated(called) and waited < ONSET_DATING_WAIT_S:
            return None
        start = clock.played_at(called, float(st.onset_dac[slot]))
        return start + int(st.onset_offset[slot]) / self._rate

    def last_sample_at(self) -> float | None:
        """``time.monotonic()`` at which the last assistant sample written so far leaves the DAC."""
        return self._heard_at(self.state.last)

    def last_audible_at(self) -> float | None:
        """``time.monotonic()`` at which the last audible assistant sample leaves the DAC.

        Audible: at least :data:`AUDIBLE_DBFS` as written to the device (after the duck gain).
        None until one was written. A sample written before an abort of the output but due at
        the DAC after it was never heard: the stamp is then the abort time.
        """
        return self._heard_at(self.state.audible)

    def honour_flush_stopped(self) -> None:
        """Consumer side of a flush while the output stream is stopped (no callback can run).

        Thread: the output lane only, between an abort (or while stopped) and the next start:
        it is then the ring's only consumer.
        """
        st = self.state
        epoch = st.flush_epoch  # read before the mark: the producer stores the mark first
        if epoch == st.seen_epoch:
            return
        ring = st.ring
        ring.read_count = max(ring.read_count, st.flush_mark)
        st.buffering = False
        st.starved, st.starved_slot = True, -1
        st.seen_epoch = epoch

    def has_pending(self) -> bool:
        """True when queued audio remains that a pending flush will not drop."""
        return self.pending_frames() > 0

    def audio_complete(self) -> bool:
        """True unless the response whose audio was queued last is still streaming more."""
        return self._open_response is None

    @property
    def read_ahead_s(self) -> float:
        """How far ahead of the DAC the output reads (its latency, as the stream reports it)."""
        return self._clock.output_latency_s

    def start_wait_s(self, now: float) -> float:
        """Seconds until the queued item may start playing (its playout time; 0 = now).

        The output lane starts the stream only then, so a primed start never plays buffering
        silence ahead of the audio.
        """
        return max(0.0, self.state.play_at - now)

    def pending_frames(self) -> int:
        """Frames queued that a pending flush will not drop."""
        st = self.state
        ring = st.ring
        start = ring.read_count
        if st.flush_epoch != st.seen_epoch:
            start = max(start, st.flush_mark)
        return max(0, ring.write_count - start)

    def queued_ms(self) -> float:
        """Milliseconds of audio queued and not yet written to the device."""
        ring = self.state.ring
        return (ring.write_count - ring.read_count) * 1000.0 / self._rate

    # -- engine thread ---------------------------------------------------------------------------

    def poll_drained(self, now: float) -> PlaybackDrained | None:
        """Return ``PlaybackDrained`` once the queue ran empty and its last sample left the DAC."""
        st = self.state
        total = st.played_total
        if total == self._drain_seen_total or st.ring.read_count != st.ring.write_count:
            return None
        at = self.last_sample_at()
        if at is None or at > now:
            return None
        self._drain_seen_total = total
        slot = st.last_slot
        return PlaybackDrained(response_id=self._slot_response[slot] if slot >= 0 else None, at=at)

    def is_active(self, now: float) -> bool:
        """True while assistant audio is queued or still on its way out of the DAC."""
        ring = self.state.ring
        if ring.write_count != ring.read_count:
            return True
        at = self.last_sample_at()
        return at is not None and at > now

    # -- internals (session thread) ------------------------------------------------------------

    def _learn_target(self, key: tuple[str, str, int, int], seconds: float) -> None:
        # Stored before the audio it was learned from is published, so the callback that finds
        # a late delta after a gap already rebuffers to the raised target.
        jitter = self._jitter
        target_s = jitter.arrive(key, seconds, self._arrival_clock(), self.read_ahead_s)
        st = self.state
        st.target_frames = max(st.base_frames, min(round(target_s * self._rate), st.max_frames))
        st.play_at = jitter.anchor + st.target_frames / self._rate

    def _heard_at(self, stamp: DacStamp) -> float | None:
        """Monotonic DAC time of ``stamp``'s sample, from a consistent (seqlock) read.

        A sample written before an abort of the output but due at the DAC after it was lost
        with the device buffer: what was heard ended at the abort.
        """
        for _ in range(100):
            seq = stamp.seq
            if seq == 0:
                return None
            if seq & 1 == 0:
                now, dac, offset = stamp.now, stamp.dac, stamp.offset
                if stamp.seq == seq:
                    at = self._clock.played_at(now, dac) + offset / self._rate
                    return min(at, self._cut_at) if now <= self._cut_at else at
            time.sleep(0)  # the callback is mid-store: let it finish
        return None

    def _slot_for(self, response_id: str, item_id: str) -> int:
        slot = self._slots.get(item_id)
        if slot is not None:
            return slot
        slot = self._next_slot
        self._next_slot = (slot + 1) % len(self._slot_item)
        old_item = self._slot_item[slot]
        if old_item is not None:
            self._retired[old_item] = self.played_ms(old_item)
            while len(self._retired) > _RETIRED_ITEMS:
                self._retired.popitem(last=False)
            del self._slots[old_item]
        st = self.state
        self._slot_base[slot] = st.slot_played[slot]
        self._slot_unheard[slot] = 0
        st.slot_stale[slot] = 0
        st.slot_gen[slot] += 1  # onset_gen no longer matches: onset unknown for the new item
        self._slot_item[slot] = item_id
        self._slot_response[slot] = response_id
        self._slots[item_id] = slot
        return slot

    def _finish_resampler(self) -> None:
        if self._resampler is None:
            self._resampler_key = None
            return
        tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        slot = self._resampler_slot
        self._resampler = None
        self._resampler_key = None
        ring = self.state.ring
        # The tail is the filter's sub-millisecond ring-out; after the queue ran dry it would
        # play as a blip after a gap (and count as an underrun), so it is dropped then.
        if not self.state.slot_stale[slot] and ring.read_count != ring.write_count:
            self._write(tail, slot)

    def _write(self, samples: FloatArray, slot: int) -> None:
        n = len(samples)
        if n == 0:
            return
        st = self.state
        if st.ring.free() < n or st.segments.full():
            self.dropped_samples += n
            log.warning("playback ring full: dropped %d ms of audio", n * 1000 // self._rate)
            return
        end = st.ring.store(samples)
        st.segments.append(end, slot)  # tag published before the audio it describes
        st.ring.publish(end)
