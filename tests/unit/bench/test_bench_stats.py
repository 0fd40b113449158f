"""Shared bench statistics: percentiles, ERLE, WER; and the docs section writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.bench.audio_report import update_docs
from app.bench.stats import erle_db, percentile, summary, wer


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    s = summary([1.0, 2.0, 3.0])
    assert s["p50"] == 2.0 and s["max"] == 3.0 and s["n"] == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_erle_of_known_attenuation() -> None:
    x = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    assert erle_db(x, x * 0.01) == pytest.approx(40.0, abs=1e-3)
    assert erle_db(x, np.zeros_like(x)) == 120.0
    with pytest.raises(ValueError):
        erle_db(np.zeros(10), np.zeros(10))


def test_wer_counts_edits_after_normalisation() -> None:
    assert wer("Set a timer, please.", "set a timer please") == 0.0
    assert wer("set a timer for ten minutes", "set the timer for minutes") == pytest.approx(2 / 6)
    assert wer("hello", "hello there friend") == 2.0
    assert wer("", "") == 0.0 and wer("", "x") == 1.0


def test_docs_update_touches_only_the_audio_section(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    before = (
        "# B\n\n<!-- audio:begin -->\nSTALE-SECTION\n<!-- audio:end -->\n\n"
        "<!-- engine:begin -->\nE\n<!-- engine:end -->\n"
    )
    doc.write_text(before)
    update_docs({"erle_db_loop.speex": 12.5}, "voxdesk bench audio", [], "2 CPUs", path=doc)
    text = doc.read_text()
    assert "STALE-SECTION" not in text and "| 12.5 |" in text
    assert text.endswith("<!-- engine:begin -->\nE\n<!-- engine:end -->\n")
    assert "voxdesk bench audio" in text and "2 CPUs" in text
