"""The real-time callback on synthetic blocks: allocation-free, counts flags, never raises."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np

from app.audio.callback import CallbackShared, DuplexCallback
from app.audio.clock import PaClock
from app.audio.config import AudioConfig
from app.audio.fake_backend import FakeFlags, FakeTimeInfo
from app.audio.player import PlaybackState, Player
from app.audio.ringbuffer import CLOCK_CURRENT, CLOCK_DAC, CLOCK_RUN, BlockRing

CONFIG = AudioConfig(playback_capacity_s=4.0, capture_ring_blocks=16)
FRAMES = CONFIG.block_frames


def make() -> tuple[CallbackShared, DuplexCallback, Player]:
    playback = PlaybackState(CONFIG)
    shared = CallbackShared(BlockRing(16, FRAMES, 2), BlockRing(8, FRAMES, 1), playback)
    shared.generation = 1
    return shared, DuplexCallback(shared, 1), Player(CONFIG, playback, PaClock())


REPO = Path(__file__).resolve().parents[3]


def tone(seconds: float, rate: int, hz: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def measure_callback_allocation() -> tuple[int, int]:
    """Traced peak allocation over 200 callbacks (with a gain ramp and a flush), and the bound.

    Runs in a fresh interpreter (see the test): tracemalloc counts every thread's allocations,
    and the suite's background threads would otherwise be charged to the callback.
    """
    shared, callback, player = make()
    pcm = (tone(3.0, CONFIG.device_rate) * 32767).astype("<i2").tobytes()
    player.enqueue(pcm, CONFIG.device_rate, "r1", "i1", 0)
    player.duck(0.5)
    indata = np.random.default_rng(1).standard_normal((FRAMES, 1)).astype(np.float32)
    outdata = np.zeros((FRAMES, 1), np.float32)
    info, flags = FakeTimeInfo(), FakeFlags()
    info.currentTime, info.inputBufferAdcTime, info.outputBufferDacTime = 10.0, 9.99, 10.02
    for _ in range(20):  # warm up: first-use caches are not per-block allocations
        callback(indata, outdata, FRAMES, info, flags)
        shared.capture.release()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        for i in range(200):
            callback(indata, outdata, FRAMES, info, flags)
            shared.capture.release()  # the consumer side, so the ring never overflows
            if i == 100:
                player.resume()  # a gain ramp inside the traced window
            if i == 150:
                player.flush()  # and a flush with its fade (then idle blocks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert shared.faults == 0
    assert shared.playback.played_total >= 170 * FRAMES  # it really played audio while traced
    assert shared.playback.seen_epoch == 1  # and honoured the flush
    return peak - base, FRAMES * 4


def _in_fresh_interpreter(measure: str) -> tuple[int, int]:
    """Run ``measure`` of this module in a new interpreter: tracemalloc counts every thread's
    allocations, and the suite's background threads would be charged to the callback."""
    script = f"from tests.unit.audio.test_audio_callback import {measure} as m\nprint(*m())\n"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    allocated, bound = map(int, result.stdout.split())
    return allocated, bound


def test_callback_allocates_nothing_per_block() -> None:
    allocated, bound = _in_fresh_interpreter("measure_callback_allocation")
    assert allocated < bound, f"callback allocated {allocated} B (block {bound} B)"


def test_copy_per_block_would_fail_the_allocation_bound() -> None:
    """The bound really separates: a per-block .copy() of one block exceeds it."""
    block = np.zeros(FRAMES, np.float32)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(10):
            copied = block.copy()
            del copied
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base >= FRAMES * 4


def test_capture_slot_holds_mic_and_the_block_played_in_the_same_callback() -> None:
    shared, callback, player = make()
    played = tone(0.05, CONFIG.device_rate)
    player.enqueue((played * 32767).astype("<i2").tobytes(), CONFIG.device_rate, "r", "i", 0)
    indata = np.full((FRAMES, 1), 0.25, np.float32)
    outdata = np.zeros((FRAMES, 1), np.float32)
    info = FakeTimeInfo()
    info.currentTime, info.inputBufferAdcTime, info.outputBufferDacTime = 5.0, 4.98, 5.03
    callback(indata, outdata, FRAMES, info, FakeFlags())
    slot = shared.capture.peek()
    assert shared.capture.readable() == 1
    np.testing.assert_array_equal(shared.capture.data[slot, 0], indata[:, 0])
    np.testing.assert_array_equal(shared.capture.data[slot, 1], outdata[:, 0])
    assert np.any(outdata != 0.0)
    assert list(shared.capture.clock[slot, 1:]) == [5.0, 4.98, 5.03, 1.0, 0.0]  # PA times, seq


def test_flags_overflow_and_frame_mismatch_are_counted_not_raised() -> None:
    shared, callback, _ = make()
    flags = FakeFlags()
    flags.input_overflow = flags.output_underflow = True
    indata = np.zeros((FRAMES, 1), np.float32)
    outdata = np.ones((FRAMES, 1), np.float32)
    callback(indata, outdata, FRAMES, FakeTimeInfo(), flags)
    assert (shared.input_overflows, shared.output_underflows) == (1, 1)
    odd_in, odd_out = np.zeros((FRAMES // 2, 1), np.float32), np.ones((FRAMES // 2, 1), np.float32)
    callback(odd_in, odd_out, FRAMES // 2, FakeTimeInfo(), FakeFlags())
    assert shared.frame_mismatches == 1
    assert not np.any(odd_out)
    for _ in range(40):  # the engine never reads: the ring fills, overflow is counted
        callback(indata, outdata, FRAMES, FakeTimeInfo(), FakeFlags())
    assert shared.capture.overflows > 0
    assert shared.faults == 0


def test_fault_is_caught_counted_and_silenced() -> None:
    shared, callback, _ = make()
    outdata = np.ones((FRAMES, 1), np.float32)
    callback(None, outdata, FRAMES, FakeTimeInfo(), FakeFlags())  # type: ignore[arg-type]
    assert shared.faults == 1
    assert not np.any(outdata)


def test_stale_generation_touches_no_ring() -> None:
    shared, _, _ = make()
    old = DuplexCallback(shared, 0)
    outdata = np.ones((FRAMES, 1), np.float32)
    old(np.ones((FRAMES, 1), np.float32), outdata, FRAMES, FakeTimeInfo(), FakeFlags())
    assert shared.capture.write_count == 0 and shared.callbacks == 0
    assert not np.any(outdata)


def test_split_streams_store_mic_and_tagged_played_blocks_separately() -> None:
    shared, callback, player = make()
    played = tone(0.05, CONFIG.device_rate)
    player.enqueue((played * 32767).astype("<i2").tobytes(), CONFIG.device_rate, "r", "i", 0)
    outdata = np.zeros((FRAMES, 1), np.float32)
    indata = np.full((FRAMES, 1), -0.5, np.float32)
    info = FakeTimeInfo()
    info.currentTime, info.outputBufferDacTime = 7.0, 7.03
    shared.output_run = 3
    callback.on_output(outdata, FRAMES, info, FakeFlags())
    callback.on_input(indata, FRAMES, info, FakeFlags())
    assert shared.capture.readable() == 1 and shared.far.readable() == 1
    np.testing.assert_array_equal(shared.capture.data[0, 0], indata[:, 0])
    assert shared.capture.clock[0, CLOCK_DAC] == 0.0  # the engine pairs by DAC time
    k = shared.far.peek()
    np.testing.assert_array_equal(shared.far.data[k, 0], outdata[:, 0])
    assert np.any(outdata != 0.0)
    assert shared.far.clock[k, CLOCK_CURRENT] == 7.0
    assert shared.far.clock[k, CLOCK_DAC] == 7.03
    assert shared.far.clock[k, CLOCK_RUN] == 3.0


def measure_split_stream_allocation() -> tuple[int, int]:
    """Traced peak allocation of the split-stream callbacks, and the bound (fresh interpreter)."""
    shared, callback, player = make()
    pcm = (tone(2.0, CONFIG.device_rate) * 32767).astype("<i2").tobytes()
    player.enqueue(pcm, CONFIG.device_rate, "r1", "i1", 0)
    indata = np.ones((FRAMES, 1), np.float32)
    outdata = np.zeros((FRAMES, 1), np.float32)
    info, flags = FakeTimeInfo(), FakeFlags()
    for _ in range(10):
        callback.on_output(outdata, FRAMES, info, flags)
        callback.on_input(indata, FRAMES, info, flags)
        shared.capture.release()
        shared.far.release()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(150):
            callback.on_output(outdata, FRAMES, info, flags)
            callback.on_input(indata, FRAMES, info, flags)
            shared.capture.release()
            shared.far.release()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert shared.faults == 0 and shared.far.overflows == 0
    assert shared.playback.played_total == 160 * FRAMES
    return peak - base, FRAMES * 4


def test_split_stream_callbacks_allocate_nothing_per_block() -> None:
    allocated, bound = _in_fresh_interpreter("measure_split_stream_allocation")
    assert allocated < bound, f"callbacks allocated {allocated} B (block {bound} B)"
