"""Cut a stream of float32 samples into fixed-length little-endian PCM16 chunks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class Chunker:
    """Accumulate samples and emit PCM16 chunks of exactly ``chunk_ms`` at ``rate``.

    Args:
        rate: sample rate of the samples pushed.
        chunk_ms: chunk duration; ``rate * chunk_ms / 1000`` must be a whole number.
    """

    def __init__(self, rate: int, chunk_ms: int = 20) -> None:
        if chunk_ms <= 0 or (rate * chunk_ms) % 1000:
            raise ValueError(f"{chunk_ms} ms is not a whole number of samples at {rate} Hz")
        self.rate = rate
        self.chunk_samples = rate * chunk_ms // 1000
        self._pending = np.zeros(0, dtype=np.int16)
        self._next_first = 0  # stream index of the first pending sample

    @property
    def pending_samples(self) -> int:
        """Samples waiting for the next chunk."""
        return len(self._pending)

    def push(self, samples: npt.NDArray[np.floating]) -> list[tuple[int, bytes]]:
        """Add samples; return ``(first_sample, pcm16_bytes)`` for every completed chunk."""
        pcm = np.clip(np.rint(np.asarray(samples) * 32768.0), -32768, 32767).astype("<i2")
        data = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        n = len(data) // self.chunk_samples
        out: list[tuple[int, bytes]] = []
        for i in range(n):
            part = data[i * self.chunk_samples : (i + 1) * self.chunk_samples]
            out.append((self._next_first, part.tobytes()))
            self._next_first += self.chunk_samples
        self._pending = data[n * self.chunk_samples :].copy()
        return out

    def reset(self) -> None:
        """Drop pending samples and restart numbering at zero."""
        self._pending = np.zeros(0, dtype=np.int16)
        self._next_first = 0
