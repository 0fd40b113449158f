"""SPSC rings: wrap-around, overflow counting, publish order, power-of-two capacity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audio.ringbuffer import BlockRing, SampleRing, SegmentRing


def test_block_ring_rejects_non_power_of_two_capacity() -> None:
    with pytest.raises(ValueError, match="power of two"):
        BlockRing(6, 4, 2)


def test_block_ring_wraps_and_counts_overflow() -> None:
    ring = BlockRing(4, 3, 2)
    for i in range(4):
        slot = ring.claim()
        ring.data[slot, 0] = i
        ring.publish()
    assert ring.claim() == -1 and ring.overflows == 1
    assert ring.readable() == 4
    seen = []
    for _ in range(2):
        seen.append(float(ring.data[ring.peek(), 0, 0]))
        ring.release()
    for i in range(4, 6):  # wraps onto slots 0 and 1
        slot = ring.claim()
        ring.data[slot, 0] = i
        ring.publish()
    while ring.readable():
        seen.append(float(ring.data[ring.peek(), 0, 0]))
        ring.release()
    assert seen == [0, 1, 2, 3, 4, 5]
    assert ring.write_count == ring.read_count == 6


def test_block_ring_unpublished_slot_is_invisible() -> None:
    ring = BlockRing(2, 1, 1)
    ring.claim()
    assert ring.readable() == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=40))
def test_sample_ring_preserves_order_across_wraps(writes: list[int]) -> None:
    ring = SampleRing(64)
    produced: list[float] = []
    consumed: list[float] = []
    counter = 0
    for n in writes:
        if ring.free() >= n:
            chunk = np.arange(counter, counter + n, dtype=np.float32)
            counter += n
            ring.publish(ring.store(chunk))
            produced.extend(chunk.tolist())
        take = (ring.write_count - ring.read_count) // 2 + 1
        take = min(take, ring.write_count - ring.read_count)
        out = np.zeros(take, np.float32)
        ring.copy_out(out, ring.read_count)
        ring.read_count += take
        consumed.extend(out.tolist())
    rest = np.zeros(ring.write_count - ring.read_count, np.float32)
    ring.copy_out(rest, ring.read_count)
    consumed.extend(rest.tolist())
    assert consumed == produced


def test_sample_ring_free_space_accounts_unread_data() -> None:
    ring = SampleRing(8)
    ring.publish(ring.store(np.ones(5, np.float32)))
    assert ring.free() == 3
    ring.read_count += 5
    assert ring.free() == 8


def test_segment_ring_full_and_append_order() -> None:
    segs = SegmentRing(2)
    segs.append(10, 3)
    segs.append(25, 4)
    assert segs.full()
    assert [int(segs.end[i]) for i in range(2)] == [10, 25]
    assert [int(segs.slot[i]) for i in range(2)] == [3, 4]
    segs.read_count += 1
    assert not segs.full()
