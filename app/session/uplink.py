"""The microphone uplink: a bounded inbox of captured chunks and a map of what was sent.

``UplinkQueue`` holds chunks waiting for the writer. It is bounded: when full, the oldest chunk
is dropped and counted (fresh audio matters more than old audio). The writer takes batches of at
most ``uplink_batch_ms``.

``SentAudio`` remembers, per chunk sent this session, where it sits in the server's input stream
(sample offset since the session started), its ADC capture time and when its ``append`` left the
socket. It maps the server VAD's ``audio_start_ms``/``audio_end_ms`` back to the capture clock.

Thread: the session loop thread only.
"""

from __future__ import annotations

import bisect
import collections
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UplinkChunk:
    """One captured chunk on its way to the server.

    Attributes:
        pcm: PCM16 LE mono at the session rate.
        captured_at: monotonic time of its first sample at the ADC.
        mark_turn: turn id whose ``uplink_sent`` mark this chunk carries, if any.
    """

    pcm: bytes
    captured_at: float
    mark_turn: str | None = None


@dataclass(frozen=True, slots=True)
class UplinkBatch:
    """Chunks joined into one ``input_audio_buffer.append``."""

    pcm: bytes
    chunks: tuple[UplinkChunk, ...]


class UplinkQueue:
    """Bounded FIFO of chunks; the oldest is dropped (and counted) when full.

    Args:
        capacity: most chunks held.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._chunks: collections.deque[UplinkChunk] = collections.deque()
        self.dropped = 0
        """Chunks dropped because the queue was full."""
        self.dropped_bytes = 0

    def __len__(self) -> int:
        return len(self._chunks)

    def __bool__(self) -> bool:
        return bool(self._chunks)

    def push(self, chunk: UplinkChunk) -> None:
        """Queue ``chunk``, dropping the oldest when full."""
        while len(self._chunks) >= self.capacity:
            old = self._chunks.popleft()
            self.dropped += 1
            self.dropped_bytes += len(old.pcm)
        self._chunks.append(chunk)

    def take(self, limit_bytes: int) -> UplinkBatch | None:
        """Remove and return the oldest chunks up to ``limit_bytes`` (at least one chunk)."""
        parts: list[UplinkChunk] = []
        size = 0
        while self._chunks and (not parts or size + len(self._chunks[0].pcm) <= limit_bytes):
            chunk = self._chunks.popleft()
            parts.append(chunk)
            size += len(chunk.pcm)
        if not parts:
            return None
        return UplinkBatch(b"".join(c.pcm for c in parts), tuple(parts))

    def clear(self) -> None:
        """Forget everything queued (not counted as dropped)."""
        self._chunks.clear()


@dataclass(frozen=True, slots=True)
class SentPosition:
    """Where a point of the server's input stream came from.

    Attributes:
        chunk_captured_at: ADC time of the first sample of the chunk holding the point.
        captured_at: ADC time of the point itself (interpolated inside the chunk).
        sent_at: when the chunk's ``append`` left the socket.
    """

    chunk_captured_at: float
    captured_at: float
    sent_at: float


class SentAudio:
    """Chunks sent this session, by sample offset in the server's input stream.

    Args:
        sample_rate: the uplink rate.
        max_chunks: how many recent chunks are remembered.
    """

    def __init__(self, sample_rate: int, max_chunks: int = 6000) -> None:
        self._rate = sample_rate
        self._starts: collections.deque[int] = collections.deque(maxlen=max_chunks)
        self._entries: collections.deque[tuple[int, float, float]] = collections.deque(
            maxlen=max_chunks
        )
        self.total_samples = 0

    def reset(self, sample_rate: int | None = None) -> None:
        """A new session: its stream starts at offset 0."""
        if sample_rate is not None:
            self._rate = sample_rate
        self._starts.clear()
        self._entries.clear()
        self.total_samples = 0

    def record(self, batch: UplinkBatch, sent_at: float) -> None:
        """``batch`` left the socket at ``sent_at``."""
        for chunk in batch.chunks:
            samples = len(chunk.pcm) // 2
            self._starts.append(self.total_samples)
            self._entries.append((samples, chunk.captured_at, sent_at))
            self.total_samples += samples

    def locate(self, stream_ms: int) -> SentPosition | None:
        """Map a server stream time (ms since the session's first sample) to the capture clock."""
        offset = stream_ms * self._rate // 1000
        index = bisect.bisect_right(self._starts, offset) - 1
        if index < 0:
            return None
        samples, captured_at, sent_at = self._entries[index]
        inside = offset - self._starts[index]
        if inside > samples and index == len(self._entries) - 1:
            return None  # beyond what was sent
        inside = min(inside, samples)
        return SentPosition(captured_at, captured_at + inside / self._rate, sent_at)
