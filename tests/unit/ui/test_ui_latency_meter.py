"""The latency meter shows a real LatencyMeter snapshot: numbers, colours, turn breakdown."""

from __future__ import annotations

import pytest

from app.metrics.latency import LatencyMeter
from ui.widgets.latency_meter import SEGMENTS, colour_for
from ui.widgets.latency_meter import LatencyMeter as LatencyWidget

pytestmark = pytest.mark.gui


def _turn(meter: LatencyMeter, turn: str, t0: float, first_audio: float, onset: float) -> None:
    meter.mark(turn, "speech_end", t0)
    meter.mark(turn, "first_audio", t0 + first_audio)
    meter.mark(turn, "onset", t0 + onset)


def test_segment_keys_match_the_core_meter():
    from app.metrics.latency import SEGMENTS as CORE_SEGMENTS

    assert [s.key for s in SEGMENTS] == [s.key for s in CORE_SEGMENTS]


def test_last_and_percentiles_come_from_the_snapshot(qtbot):
    meter = LatencyMeter()
    for i, v2v in enumerate((0.4, 0.5, 0.6, 0.7, 2.0)):
        _turn(meter, f"t{i}", 10.0 * i, v2v - 0.1, v2v)
    widget = LatencyWidget()
    qtbot.addWidget(widget)
    snap = meter.snapshot()
    widget.set_snapshot(snap)
    stats = snap.segment("voice_to_voice")
    assert widget.cell_text("voice_to_voice", 1) == "2.00 s"
    assert widget.cell_text("voice_to_voice", 2) == f"{stats.p50:.0f} ms"
    assert widget.cell_text("voice_to_voice", 5) == "5"
    assert widget.row("voice_to_voice").recent == pytest.approx((400, 500, 600, 700, 2000), abs=1)
    assert widget.cell_text("bargein_to_silence", 1) == "–"


def test_values_are_coloured_against_thresholds():
    spec = next(s for s in SEGMENTS if s.key == "voice_to_voice")
    assert colour_for(300, spec) == "#15803d"
    assert colour_for(1000, spec) == "#b45309"
    assert colour_for(5000, spec) == "#b91c1c"
    assert colour_for(None, spec) == "#6b7280"


def test_hover_shows_the_per_turn_breakdown(qtbot):
    meter = LatencyMeter()
    _turn(meter, "t1", 0.0, 0.3, 0.45)
    widget = LatencyWidget()
    qtbot.addWidget(widget)
    widget.set_snapshot(meter.snapshot())
    tip = widget._cells["voice_to_voice"][1].toolTip()
    assert "Turn 1" in tip
    assert "450 ms" in tip
