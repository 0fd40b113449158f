"""The e2e bench's bookkeeping: matching the app's meter turns by time, summary keys, report."""

from __future__ import annotations

import pytest

from app.bench import e2e, e2e_report
from app.bench.e2e_app import RecordingMeter
from app.bench.e2e_trials import Samples


def _meter_with_two_turns() -> RecordingMeter:
    meter = RecordingMeter()
    meter.mark("turn-1", "first_audio", 10.000)
    meter.mark("turn-1", "onset", 10.030)
    meter.mark("turn-2", "first_audio", 12.000)
    meter.mark("turn-2", "onset", 12.045)
    meter.mark("turn-2", "onset", 12.500)  # a repeated mark keeps the first, as in the meter
    return meter


def test_turn_near_picks_the_turn_whose_mark_is_closest_in_time():
    meter = _meter_with_two_turns()
    turn = meter.turn_near("first_audio", 11.9, within=1.0)
    assert turn is not None and turn.turn_id == "turn-2"
    assert turn.marks["onset"] == pytest.approx(12.045)
    assert turn.values["first_audio_to_speaker"] == pytest.approx(45.0)


def test_turn_near_returns_none_outside_the_tolerance_or_for_an_absent_mark():
    meter = _meter_with_two_turns()
    assert meter.turn_near("first_audio", 20.0, within=1.0) is None
    assert meter.turn_near("bargein", 10.0, within=5.0) is None


def test_marks_between_lists_marks_in_the_half_open_window():
    meter = _meter_with_two_turns()
    assert meter.marks_between("onset", 10.0, 12.045) == [pytest.approx(10.030)]
    assert meter.marks_between("onset", 0.0, 99.0) == [
        pytest.approx(10.030),
        pytest.approx(12.045),
    ]


def test_recording_meter_still_feeds_the_real_snapshot():
    meter = _meter_with_two_turns()
    stats = meter.snapshot().segment("first_audio_to_speaker")
    assert stats.count == 2
    assert stats.last == pytest.approx(45.0)


def _samples() -> Samples:
    out = Samples()
    for v in (100.0, 200.0, 300.0):
        out.add("vad_stop_ms", v)
        out.add("vad_stage_cut_ms", v - 50.0)
        out.add("v2v_ms", 2000.0 + v)
        out.add("v2v_stage_eos_ms", 700.0)
    out.add("vad_not_stopped", 1)
    out.add("vad_duck_untimed", 1)
    out.add("vad_duck_untimed", 1)
    for _ in range(5):
        out.add("vad_attempts", 1)
    out.add("self_interrupts", 1.0)
    out.add("self_interrupts", 0.0)
    out.add("self_interrupt_other_cuts", 0.0)
    out.add("self_interrupt_other_cuts", 1.0)
    out.add("v2v_eos_silence_ms", 500)
    out.add("min_interruption_ms", 300)
    out.add("meter_error_ms.voice_to_voice", 4.0)
    return out


def test_summarize_reports_untimed_stops_and_self_interrupt_causes_separately():
    res = e2e.summarize(_samples())
    assert res["bargein_stop_ms.n"] == 3.0
    assert res["vad_not_stopped"] == 1.0
    assert res["vad_duck_untimed"] == 2.0  # stops timed, ducks not: counted, not hidden
    assert res["bargein_vad_trials"] == 5.0
    assert res["self_interrupts"] == 1.0
    assert res["self_interrupt_other_cuts"] == 1.0
    assert res["self_interrupt_answers"] == 2.0
    assert res["vad_stage_cut_ms.p50"] == pytest.approx(150.0)
    assert res["vad_stage_cut_ms.p5"] < res["vad_stage_cut_ms.p50"]  # signed: the early side
    assert res["v2v_eos_silence_ms"] == 500.0
    assert not any(k.startswith("meter_missing.") for k in res)


def test_report_uses_configured_targets_and_breaks_down_every_miss():
    res = e2e.summarize(_samples())
    res["load_avg_start"], res["load_avg_end"] = 1.5, 1.7
    text = e2e_report.render(res, "voxdesk bench e2e", [], [], "test box", ["Load 1.5."])
    row = next(line for line in text.splitlines() if line.startswith("| voice-to-voice P50"))
    assert "≤ 500 + 500" in row and row.endswith("missed |")
    stop = next(line for line in text.splitlines() if "onset → silence P95" in line)
    assert "≤ 300 + 100" in stop and stop.endswith("met |")
    assert "Where `v2v_ms.p50` goes: end of speech → THINKING" in text
    assert "Where `vad_not_stopped` goes" in text
    assert "Where `self_interrupts` goes" in text
    assert "Load 1.5." in text
