"""The uplink inbox (bounded, oldest dropped and counted) and the sent-audio map."""

from __future__ import annotations

from app.session.uplink import SentAudio, UplinkChunk, UplinkQueue


def chunk(i: int, size: int = 960) -> UplinkChunk:
    return UplinkChunk(bytes([i]) * size, captured_at=100.0 + i * 0.02)


def test_full_queue_drops_the_oldest_and_counts_it() -> None:
    queue = UplinkQueue(3)
    for i in range(5):
        queue.push(chunk(i))
    assert queue.dropped == 2 and queue.dropped_bytes == 2 * 960 and len(queue) == 3
    batch = queue.take(10_000)
    assert batch is not None and [c.pcm[0] for c in batch.chunks] == [2, 3, 4]
    assert batch.pcm == b"".join(c.pcm for c in batch.chunks)
    assert queue.take(10_000) is None and not queue


def test_batches_respect_the_limit_but_always_take_one_chunk() -> None:
    queue = UplinkQueue(10)
    for i in range(4):
        queue.push(chunk(i))
    first = queue.take(2000)
    assert first is not None and len(first.chunks) == 2
    queue.clear()
    assert queue.dropped == 0 and not queue
    queue.push(chunk(9, size=5000))
    big = queue.take(100)
    assert big is not None and len(big.chunks) == 1


def test_sent_audio_maps_stream_ms_to_capture_time() -> None:
    sent = SentAudio(24000)
    queue = UplinkQueue(10)
    for i in range(5):
        queue.push(chunk(i))  # 20 ms each
    first = queue.take(1920)
    rest = queue.take(10_000)
    assert first is not None and rest is not None
    sent.record(first, sent_at=7.0)
    sent.record(rest, sent_at=8.0)
    assert sent.total_samples == 5 * 480
    pos = sent.locate(50)  # inside chunk 2 (40-60 ms), 10 ms in
    assert pos is not None
    assert pos.chunk_captured_at == 100.04 and abs(pos.captured_at - 100.05) < 1e-9
    assert pos.sent_at == 8.0
    assert sent.locate(0) is not None and sent.locate(0).sent_at == 7.0  # type: ignore[union-attr]
    end = sent.locate(100)  # exactly the end of what was sent
    assert end is not None and abs(end.captured_at - 100.1) < 1e-9
    assert sent.locate(500) is None  # never sent
    sent.reset()
    assert sent.locate(10) is None and sent.total_samples == 0
