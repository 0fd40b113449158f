"""Chunker: exact chunk sizes across arbitrary block boundaries, numbering, PCM16 conversion."""

from __future__ import annotations

import numpy as np
import pytest

from app.audio.chunker import Chunker


def test_chunks_have_exact_size_and_contiguous_numbering() -> None:
    c = Chunker(24000, 20)
    x = (np.arange(70000) % 1000 / 1000.0 - 0.5).astype(np.float32)
    out = []
    pos = 0
    sizes = [1, 479, 480, 481, 7, 2000] * 20
    for size in sizes:
        out += c.push(x[pos : pos + size])
        pos += size
    assert all(len(pcm) == 480 * 2 for _, pcm in out)
    assert [first for first, _ in out] == [i * 480 for i in range(len(out))]
    assert len(out) * 480 + c.pending_samples == pos
    joined = np.frombuffer(b"".join(pcm for _, pcm in out), dtype="<i2")
    expected = np.clip(np.rint(x[: len(joined)] * 32768), -32768, 32767)
    np.testing.assert_array_equal(joined, expected)


def test_clipping_and_reset() -> None:
    c = Chunker(16000, 10)
    ((first, pcm),) = c.push(np.full(160, 2.0, np.float32))
    assert first == 0 and set(np.frombuffer(pcm, "<i2")) == {32767}
    c.push(np.zeros(10, np.float32))
    c.reset()
    assert c.pending_samples == 0
    assert c.push(np.zeros(160, np.float32))[0][0] == 0


def test_rejects_fractional_chunk() -> None:
    with pytest.raises(ValueError):
        Chunker(22050, 3)
