"""The only code that runs on the PortAudio thread.

Real-time rules, respected line by line (each line says which): everything touched here was
allocated before the stream started (rings, counters, scratch, fade and ramp shapes); copies use
slice assignment or ``np.copyto`` into that memory; no lock, no logging, no I/O, no container
growth; ring counters follow the SPSC rules of ``ringbuffer.py``; a broad guard counts any fault
and outputs silence, because an exception escaping into sounddevice aborts the stream.
Transient Python floats/ints and NumPy views are the only objects created; they are freed within
the call, which the ``tracemalloc`` test bounds to below one block's bytes.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

import numpy as np

from app.audio.player import PlaybackState
from app.audio.ringbuffer import (
    CLOCK_ADC,
    CLOCK_CURRENT,
    CLOCK_DAC,
    CLOCK_NOW,
    CLOCK_RUN,
    CLOCK_SEQ,
    BlockRing,
)
from app.audio.ringbuffer import FloatArray as FloatArray


class CallbackShared:
    """State shared by every stream generation's callbacks; counters are callback-written.

    Thread: created before the stream opens; afterwards the callback writes the counters and the
    rings' producer side, the engine reads the counters and consumes the capture ring.
    ``generation`` is written by the engine (watchdog) only, before it opens a new stream.
    """

    def __init__(self, capture: BlockRing, far: BlockRing, playback: PlaybackState) -> None:
        self.capture = capture
        self.far = far
        self.playback = playback
        self.frames = capture.frames
        self.generation = 0  # [engine] only callbacks of this generation may touch the rings
        self.output_run = 0  # [backend] bumped before each output-stream start (far ring tag)
        self.callbacks = 0  # [callback] heartbeat read by the watchdog
        self.input_overflows = 0  # [callback] PortAudio input overflow flags
        self.output_underflows = 0  # [callback] PortAudio output underflow flags
        self.frame_mismatches = 0  # [callback] blocks whose size differed from the fixed block
        self.faults = 0  # [callback] exceptions caught by the guard


def render_playback(st: PlaybackState, out: FloatArray, now: float, dac: float) -> None:
    """Fill ``out`` (one block) from the playback ring; runs on the PortAudio thread only."""
    ring, segs = st.ring, st.segments  # local aliases: lookups only
    pos, end = ring.read_count, ring.write_count  # snapshot; the producer publishes end after data
    frames = len(out)  # == st.frames: the caller rejected mismatched blocks
    if st.flush_epoch != st.seen_epoch and st.flush_hard:  # flushed; the output was aborted
        st.seen_epoch = st.flush_epoch  # honour this epoch exactly once
        pos = max(pos, st.flush_mark)  # drop what was queued before it; nothing to fade
        ring.read_count = pos  # consumer-owned counter
        st.buffering = False  # a flush is not an underrun
        st.starved, st.starved_slot = True, -1  # idle: the next audio starts a new item
    elif st.flush_epoch != st.seen_epoch:  # a flush was requested since the last block
        n = min(len(st.fade), max(0, st.flush_mark - pos), frames)  # fade length, ≤ fade shape
        ring.copy_out(out[:n], pos)  # the samples that would have played next, copied in place
        np.multiply(out[:n], st.fade[:n], out=out[:n])  # in-place raised-cosine fade: no click
        np.multiply(out[:n], st.gain_now, out=out[:n])  # keep the current duck level
        out[n:] = 0.0  # silence for the rest of the block, in place
        if n:  # the fade is heard too
            note_audible(st, out, n, now, dac)  # its last loud sample
        st.seen_epoch = st.flush_epoch  # honour this epoch exactly once
        ring.read_count = max(pos, st.flush_mark)  # drop everything queued before the flush
        st.buffering = False  # a flush is not an underrun
        st.starved, st.starved_slot = True, -1  # idle: the next audio starts a new item
        return  # nothing else to play in this block
    if st.starved and end > pos:  # audio is back after the ring ran dry (or was idle)
        st.starved = False  # single writer: the callback
        first = int(segs.slot[segs.read_count & segs.mask])  # slot of the next segment
        if segs.read_count < segs.write_count and first == st.starved_slot:  # same item: underrun
            st.underruns += 1  # counted, never raised; the producer has raised the target
            st.resume_at = now + st.rebuffer_scale * st.target_frames / st.rate  # with headroom
        else:  # a new item: it plays at its playout time (first arrival + target)
            st.resume_at = st.play_at  # float copy
        st.buffering = now < st.resume_at  # hold until then
    if st.buffering:  # holding playback until resume_at (silence meanwhile)
        if now >= st.resume_at:  # the wait is over
            st.buffering = False  # start playing in this block
        else:  # keep waiting
            out.fill(0.0)  # silence, in place
            return  # nothing played
    filled = 0  # frames of out written from the ring
    while filled < frames and pos < end and segs.read_count < segs.write_count:  # bounded by frames
        k = segs.read_count & segs.mask  # current segment's index
        seg_end, slot = int(segs.end[k]), int(segs.slot[k])  # tag: where it ends, whose it is
        if seg_end <= pos:  # segment fully played (or skipped by a flush)
            segs.read_count += 1  # consumer-owned counter
            continue  # next segment
        n = min(seg_end, end) - pos  # published samples left in this segment
        if st.slot_stale[slot]:  # the session marked this response stale
            pos += n  # skip it without output
            continue  # next segment
        n = min(n, frames - filled)  # what fits in this block
        ring.copy_out(out[filled : filled + n], pos)  # slice copy into PortAudio's buffer
        if st.onset_gen[slot] != st.slot_gen[slot]:  # first sample of this item
            st.onset_now[slot], st.onset_dac[slot] = now, dac  # raw times into preallocated arrays
            st.onset_offset[slot] = filled  # frame of the block where it starts
            st.onset_gen[slot] = st.slot_gen[slot]  # publish after the values
        st.slot_played[slot] += n  # samples of this item written to the device
        st.last_slot = slot  # for PlaybackDrained's response id
        pos += n  # advance the local read position
        filled += n  # and the block fill
        if pos >= seg_end:  # segment finished: drop it now so the next slot is visible
            segs.read_count += 1  # consumer-owned counter
    ring.read_count = pos  # publish consumption after the copies
    out[filled:] = 0.0  # silence after the last queued sample, in place
    if filled:  # some assistant audio was written
        st.played_total += filled  # drained detection reads this
        st.last.store(now, dac, filled)  # seqlocked raw times, no conversion
    if filled < frames and (filled or st.was_playing):  # ran dry while an item was playing
        st.starved, st.starved_slot = True, st.last_slot  # judged when audio comes back
    st.was_playing = filled == frames  # a full block may run dry at the next one
    g0, g1 = st.gain_now, st.gain_target  # duck/resume: ramp from the gain reached to the target
    if g0 != g1:  # a ramp is due: linear over this one block
        np.multiply(st.ramp, g1 - g0, out=st.scratch)  # preallocated scratch, in place
        np.add(st.scratch, g0, out=st.scratch)  # ramp values g0 → g1
        np.multiply(out, st.scratch, out=out)  # apply in place
        st.gain_now = g1  # target reached at the end of this block
    elif g1 != 1.0:  # steady duck
        np.multiply(out, g1, out=out)  # in place
    if filled:  # as heard: after the gain
        note_audible(st, out, filled, now, dac)  # the meter's "silence" is the last loud sample


def note_audible(st: PlaybackState, out: FloatArray, n: int, now: float, dac: float) -> None:
    """Stamp the last sample of ``out[:n]`` at or above the audible floor, if there is one."""
    mag, loud = st.abs_scratch[:n], st.audible_mask[:n]  # views of preallocated memory
    np.abs(out[n - 1 :: -1], out=mag)  # read backwards into contiguous scratch: no copy
    np.greater_equal(mag, st.audible_amp, out=loud)  # in place
    back = int(loud.argmax())  # distance of the last loud sample from the end (contiguous: no copy)
    if loud[back]:  # argmax is 0 when nothing is loud: check that sample
        st.audible.store(now, dac, n - back)  # seqlocked raw times, no conversion


class DuplexCallback:
    """The PortAudio callbacks of one stream generation (full-duplex, or input + output).

    Thread: called by PortAudio only. A callback whose ``generation`` is no longer current (a
    replaced stream still firing while it closes) outputs silence and touches no ring.
    """

    def __init__(self, shared: CallbackShared, generation: int) -> None:
        self.shared = shared
        self.generation = generation

    def __call__(
        self, indata: FloatArray, outdata: FloatArray, frames: int, time_info: Any, status: Any
    ) -> None:
        """Full-duplex callback: render playback, then store mic + played block in one slot."""
        try:  # an exception escaping would abort the stream: guard everything
            s = self.shared  # local alias: lookup only
            if self.generation != s.generation:  # a replaced stream: do not touch the rings
                outdata.fill(0.0)  # silence, in place
                return  # nothing else
            now = monotonic()  # the one clock read: float from the free list
            s.callbacks += 1  # watchdog heartbeat (single writer)
            s.input_overflows += status.input_overflow  # flags are counted, never raised
            s.output_underflows += status.output_underflow  # same
            if frames != s.frames:  # PortAudio broke the fixed block size
                s.frame_mismatches += 1  # count it; an assert would raise
                outdata.fill(0.0)  # silence, in place
                return  # the mic block is dropped (its size does not fit a slot)
            out = outdata[:, 0]  # view into PortAudio's buffer, no copy
            render_playback(s.playback, out, now, time_info.outputBufferDacTime)  # in place
            if outdata.shape[1] > 1:  # a multi-channel device
                outdata[:, 1:] = outdata[:, :1]  # same signal on every channel, in place
            slot = s.capture.claim()  # -1 when the engine fell behind (overflow counted)
            if slot >= 0:  # room in the capture ring
                s.capture.data[slot, 0] = indata[:, 0]  # mic block, slice copy
                s.capture.data[slot, 1] = out  # exactly what was written to the device
                clock = s.capture.clock[slot]  # view of this slot's clock doubles
                clock[CLOCK_NOW], clock[CLOCK_CURRENT] = now, time_info.currentTime  # raw doubles
                clock[CLOCK_ADC] = time_info.inputBufferAdcTime  # raw; converted by the engine
                clock[CLOCK_DAC] = time_info.outputBufferDacTime  # raw; converted by the engine
                clock[CLOCK_SEQ] = s.callbacks  # block number: the engine's sample clock
                s.capture.publish()  # publish after the data
        except Exception:  # noqa: BLE001 - the stream must survive anything
            self.shared.faults += 1  # counted; the watchdog reports it
            outdata.fill(0.0)  # silence, in place

    def on_output(self, outdata: FloatArray, frames: int, time_info: Any, status: Any) -> None:
        """Output-only callback (two streams): render playback, store the block in the far ring."""
        try:  # an exception escaping would abort the stream: guard everything
            s = self.shared  # local alias: lookup only
            if self.generation != s.generation or frames != s.frames:  # stale stream / odd block
                s.frame_mismatches += frames != s.frames  # count odd blocks (bool adds 0/1)
                outdata.fill(0.0)  # silence, in place
                return  # nothing else
            now = monotonic()  # float from the free list
            s.output_underflows += status.output_underflow  # counted, never raised
            out = outdata[:, 0]  # view into PortAudio's buffer, no copy
            render_playback(s.playback, out, now, time_info.outputBufferDacTime)  # in place
            if outdata.shape[1] > 1:  # a multi-channel device
                outdata[:, 1:] = outdata[:, :1]  # same signal on every channel, in place
            slot = s.far.claim()  # far ring: this callback is its only producer
            if slot >= 0:  # room (else overflow counted by the ring)
                s.far.data[slot, 0] = out  # exactly what was written to the device
                clock = s.far.clock[slot]  # view of this slot's clock doubles
                clock[CLOCK_NOW], clock[CLOCK_CURRENT] = now, time_info.currentTime  # raw
                clock[CLOCK_DAC] = time_info.outputBufferDacTime  # raw; mapped by the engine
                clock[CLOCK_RUN] = s.output_run  # which start of the output stream played it
                s.far.publish()  # publish after the data
        except Exception:  # noqa: BLE001 - the stream must survive anything
            self.shared.faults += 1  # counted; the watchdog reports it
            outdata.fill(0.0)  # silence, in place

    def on_input(self, indata: FloatArray, frames: int, time_info: Any, status: Any) -> None:
        """Input-only callback (two streams): store the mic block; the engine adds the far end."""
        try:  # an exception escaping would abort the stream: guard everything
            s = self.shared  # local alias: lookup only
            if self.generation != s.generation or frames != s.frames:  # stale stream / odd block
                s.frame_mismatches += frames != s.frames  # count odd blocks (bool adds 0/1)
                return  # nothing stored
            now = monotonic()  # float from the free list
            s.callbacks += 1  # watchdog heartbeat (single writer: the input callback)
            s.input_overflows += status.input_overflow  # counted, never raised
            slot = s.capture.claim()  # -1 when the engine fell behind (overflow counted)
            if slot < 0:  # no room
                return  # dropped and counted
            s.capture.data[slot, 0] = indata[:, 0]  # mic block, slice copy
            clock = s.capture.clock[slot]  # view of this slot's clock doubles
            clock[CLOCK_NOW], clock[CLOCK_CURRENT] = now, time_info.currentTime  # raw doubles
            clock[CLOCK_ADC] = time_info.inputBufferAdcTime  # raw; converted by the engine
            clock[CLOCK_SEQ] = s.callbacks  # block number: the engine's sample clock
            clock[CLOCK_DAC] = 0.0  # the engine pairs far-end audio by DAC time (farref.py)
            s.capture.publish()  # publish after the data
        except Exception:  # noqa: BLE001 - the stream must survive anything
            self.shared.faults += 1  # counted; the watchdog reports it
