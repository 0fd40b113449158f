import csv
import io
import json
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.metrics import MARK_NAMES, SEGMENTS, LatencyMeter, percentile


def full_turn(meter: LatencyMeter, turn: str, t0: float, scale: float = 1.0) -> None:
    meter.mark(turn, "capture", t0)
    meter.mark(turn, "uplink_sent", t0 + 0.004 * scale)
    meter.mark(turn, "speech_end", t0 + 2.0)
    meter.mark(turn, "first_audio", t0 + 2.0 + 0.300 * scale)
    meter.mark(turn, "onset", t0 + 2.0 + 0.350 * scale)
    meter.mark(turn, "bargein", t0 + 3.0)
    meter.mark(turn, "silence", t0 + 3.0 + 0.040 * scale)


def test_mark_names_cover_the_brief() -> None:
    assert MARK_NAMES == {
        "capture",
        "uplink_sent",
        "speech_end",
        "first_audio",
        "onset",
        "bargein",
        "silence",
    }
    assert [s.key for s in SEGMENTS] == [
        "mic_to_uplink",
        "speech_end_to_first_audio",
        "first_audio_to_speaker",
        "voice_to_voice",
        "bargein_to_silence",
    ]


def test_one_turn_gives_every_segment() -> None:
    meter = LatencyMeter()
    full_turn(meter, "t1", 100.0)
    snap = meter.snapshot()
    expected = {
        "mic_to_uplink": 4.0,
        "speech_end_to_first_audio": 300.0,
        "first_audio_to_speaker": 50.0,
        "voice_to_voice": 350.0,
        "bargein_to_silence": 40.0,
    }
    for key, value in expected.items():
        stats = snap.segment(key)
        assert stats.last == pytest.approx(value)
        assert stats.p50 == pytest.approx(value) and stats.count == 1
    assert [t.turn_id for t in snap.turns] == ["t1"]
    assert dict(snap.turns[0].values) == pytest.approx(expected)


def test_marks_in_any_order_and_first_wins() -> None:
    meter = LatencyMeter()
    meter.mark("t", "onset", 10.5)
    meter.mark("t", "speech_end", 10.0)
    meter.mark("t", "speech_end", 10.2)  # ignored
    assert meter.snapshot().segment("voice_to_voice").last == pytest.approx(500.0)


def test_unknown_mark_and_negative_segment_are_ignored(caplog: pytest.LogCaptureFixture) -> None:
    meter = LatencyMeter()
    meter.mark("t", "bogus", 1.0)
    meter.mark("t", "bogus", 2.0)
    assert caplog.text.count("unknown latency mark") == 1
    meter.mark("t", "bargein", 5.0)
    meter.mark("t", "silence", 4.0)
    assert meter.rejected == 1
    assert meter.snapshot().segment("bargein_to_silence").count == 0
    assert meter.snapshot().version == 0


def test_rolling_window_and_percentiles_match_numpy() -> None:
    meter = LatencyMeter(window=100)
    for n in range(250):
        full_turn(meter, f"t{n}", n * 10.0, scale=1.0 + (n % 37) / 10)
    snap = meter.snapshot()
    stats = snap.segment("voice_to_voice")
    window_values = [350.0 * (1.0 + (n % 37) / 10) for n in range(150, 250)]
    assert stats.count == 100
    assert stats.recent == pytest.approx(window_values)
    for q, got in ((50, stats.p50), (95, stats.p95), (99, stats.p99)):
        assert got == pytest.approx(float(np.percentile(window_values, q)))
    assert len(snap.turns) == 100 and snap.turns[-1].turn_id == "t249"


@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=50), st.floats(0, 100)
)
def test_percentile_matches_numpy(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), abs=1e-6)


def test_percentile_edges() -> None:
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_snapshot_is_immutable_and_versioned() -> None:
    meter = LatencyMeter()
    before = meter.snapshot()
    full_turn(meter, "t1", 0.0)
    after = meter.snapshot()
    assert before is not after and after.version > before.version
    assert meter.snapshot() is after  # no rebuild without a change
    with pytest.raises(AttributeError):
        after.version = 99  # type: ignore[misc]
    with pytest.raises(TypeError):
        after.turns[0].values["mic_to_uplink"] = 1.0  # type: ignore[index]


def test_exports() -> None:
    meter = LatencyMeter()
    full_turn(meter, "t1", 0.0)
    meter.mark("t2", "speech_end", 10.0)
    meter.mark("t2", "onset", 10.4)
    data = json.loads(meter.to_json())
    assert data["window"] == 100
    v2v = next(s for s in data["segments"] if s["segment"] == "voice_to_voice")
    assert v2v["count"] == 2 and v2v["p50_ms"] == pytest.approx(375.0)
    assert data["turns"][1] == {"turn_id": "t2", "voice_to_voice": 400.0}
    rows = list(csv.reader(io.StringIO(meter.to_csv())))
    assert rows[0] == ["turn_id", *(s.key for s in SEGMENTS)]
    assert rows[1] == ["t1", "4.0", "300.0", "50.0", "350.0", "40.0"]
    assert rows[2] == ["t2", "", "", "", "400.0", ""]


def test_invalid_window() -> None:
    with pytest.raises(ValueError):
        LatencyMeter(window=0)


def test_concurrent_reader_sees_consistent_snapshots() -> None:
    meter = LatencyMeter(window=20)
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            snap = meter.snapshot()
            for stats in snap.segments:
                if stats.count != len(stats.recent):
                    problems.append("count mismatch")
                if stats.count and not (stats.p50 <= stats.p95 <= stats.p99):  # type: ignore[operator]
                    problems.append("unordered percentiles")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(500):
            full_turn(meter, f"t{n}", float(n), scale=1 + n % 7)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert problems == []
    assert meter.snapshot().segment("mic_to_uplink").count == 20
