"""Preallocated single-producer / single-consumer rings shared with the real-time callback.

Rules every ring here follows (and every caller must keep):

- capacity is a power of two, so a monotonically increasing counter maps to a slot with ``& mask``;
- ``write_count`` and ``read_count`` only ever increase and each has exactly one writer thread
  (the producer owns ``write_count``, the consumer owns ``read_count``);
- the producer stores the data *before* it publishes the new ``write_count``; the consumer copies
  the data out *before* it publishes the new ``read_count``.

Assumption: CPython with the GIL. A store of a Python int attribute is atomic and the interpreter
does not reorder the stores of one thread as seen by another, so no lock or fence is needed.
Revisit this module (atomics or a C ring) before shipping on a free-threaded build.

Nothing in the consumer/producer fast paths allocates arrays: copies use slice assignment or
``np.copyto`` into memory allocated here at construction.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ClockArray = npt.NDArray[np.float64]

# Columns of BlockRing.clock: raw PortAudio times and the monotonic time of the callback.
CLOCK_NOW = 0  # time.monotonic() read inside the callback
CLOCK_CURRENT = 1  # time_info.currentTime (PortAudio stream clock)
CLOCK_ADC = 2  # time_info.inputBufferAdcTime
CLOCK_DAC = 3  # time_info.outputBufferDacTime
CLOCK_SEQ = 4  # the callback's block sequence number (exact as a double up to 2**53)
CLOCK_RUN = 5  # far ring: number of the output-stream run (start) that played the block
CLOCK_FIELDS = 6


def _check_power_of_two(capacity: int) -> None:
    if capacity <= 0 or capacity & (capacity - 1):
        raise ValueError(f"ring capacity must be a power of two, got {capacity}")


class BlockRing:
    """A ring of fixed-size blocks, each with ``lanes`` float32 rows plus ``CLOCK_FIELDS`` doubles.

    The capture ring uses two lanes (lane 0 = microphone, lane 1 = the block played in the same
    callback); the far-end ring used with two streams has one lane.

    Thread: one producer thread calls ``claim``/``publish``; one consumer calls
    ``readable``/``peek``/``release``.
    """

    def __init__(self, capacity: int, frames: int, lanes: int) -> None:
        _check_power_of_two(capacity)
        self.capacity = capacity
        self.mask = capacity - 1
        self.frames = frames
        self.data: FloatArray = np.zeros((capacity, lanes, frames), dtype=np.float32)
        self.clock: ClockArray = np.zeros((capacity, CLOCK_FIELDS), dtype=np.float64)
        self.write_count = 0  # producer-owned
        self.read_count = 0  # consumer-owned
        self.overflows = 0  # producer-owned: blocks dropped because the ring was full

    def claim(self) -> int:
        """Producer: slot index to fill next, or -1 (overflow counted) when the ring is full."""
        if self.write_count - self.read_count >= self.capacity:
            self.overflows += 1
            return -1
        return self.write_count & self.mask

    def publish(self) -> None:
        """Producer: make the claimed slot visible; call only after its data is stored."""
        self.write_count += 1

    def readable(self) -> int:
        """Consumer: number of published blocks not yet released."""
        return self.write_count - self.read_count

    def peek(self) -> int:
        """Consumer: slot index of the oldest unreleased block (check ``readable()`` first)."""
        return self.read_count & self.mask

    def release(self) -> None:
        """Consumer: free the oldest block; call only after its data was copied out."""
        self.read_count += 1


class SampleRing:
    """A ring of float32 samples addressed by absolute sample counters.

    The playback ring: the session thread writes resampled audio, the callback reads it. The
    consumer reads at an absolute position it owns (``read_count``), so it may also jump forward
    (flush) without the producer's help.

    Thread: producer calls ``free``/``store``/``publish``; the consumer ``copy_out`` and moves
    ``read_count``.
    """

    def __init__(self, capacity: int) -> None:
        _check_power_of_two(capacity)
        self.capacity = capacity
        self.mask = capacity - 1
        self.data: FloatArray = np.zeros(capacity, dtype=np.float32)
        self.write_count = 0  # producer-owned
        self.read_count = 0  # consumer-owned

    def free(self) -> int:
        """Producer: samples that can be stored without overwriting unread audio."""
        return self.capacity - (self.write_count - self.read_count)

    def store(self, samples: FloatArray) -> int:
        """Producer: copy ``samples`` after the published data; returns the end position.

        The caller must check ``free()`` first and call ``publish(end)`` afterwards.
        """
        n = len(samples)
        start = self.write_count & self.mask
        first = min(n, self.capacity - start)
        self.data[start : start + first] = samples[:first]
        if first < n:
            self.data[: n - first] = samples[first:]
        return self.write_count + n

    def publish(self, end: int) -> None:
        """Producer: make everything up to absolute position ``end`` visible to the consumer."""
        self.write_count = end

    def copy_out(self, dst: FloatArray, position: int) -> None:
        """Consumer: copy ``len(dst)`` samples starting at absolute ``position`` (no allocation).

        ``len(dst)`` must not exceed the capacity; the caller checks the data is published.
        """
        n = len(dst)
        start = position & self.mask
        first = min(n, self.capacity - start)
        dst[:first] = self.data[start : start + first]
        if first < n:
            dst[first:] = self.data[: n - first]


class SegmentRing:
    """Tags of the playback ring, one per stored run of samples.

    Segment ``k`` ends at absolute sample ``end[k]`` and belongs to item slot ``slot[k]``; it
    starts where segment ``k - 1`` ended.

    Thread: producer (session thread) ``append``s and ``publish``es; the consumer (callback) owns
    ``read_count``.
    """

    def __init__(self, capacity: int) -> None:
        _check_power_of_two(capacity)
        self.capacity = capacity
        self.mask = capacity - 1
        self.end = np.zeros(capacity, dtype=np.int64)
        self.slot = np.zeros(capacity, dtype=np.int64)
        self.write_count = 0  # producer-owned
        self.read_count = 0  # consumer-owned

    def full(self) -> bool:
        """Producer: True when no segment can be appended."""
        return self.write_count - self.read_count >= self.capacity

    def append(self, end: int, slot: int) -> None:
        """Producer: store and publish one segment (stores happen before the counter moves)."""
        index = self.write_count & self.mask
        self.end[index] = end
        self.slot[index] = slot
        self.write_count += 1
