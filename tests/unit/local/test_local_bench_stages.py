"""The engine bench's reading of the server's timing records and its docs table."""

from __future__ import annotations

from typing import Any

from app.bench.engine import server_stages
from app.bench.engine_report import render


def record(first_delta: float, **extra: Any) -> dict[str, Any]:
    ms = {"transcript_ready": 1.0, "decided": 2.0, "tts_first_chunk": first_delta - 1}
    return {"status": "completed", "ms": {**ms, "first_delta": first_delta}, **extra}


def test_stages_are_split_into_hands_free_push_to_talk_and_cancels() -> None:
    records = [
        record(10.0, speculated=True, presynthesized=True),
        record(30.0, speculated=True, presynthesized=False),
        record(200.0),
        record(300.0),
        {"status": "cancelled", "ms": {}, "cancel_to_done_ms": 2.0, "cancel_to_last_delta_ms": -5},
        {
            "status": "cancelled",
            "ms": {},
            "cancel_to_done_ms": 4.0,
            "cancel_to_last_delta_ms": None,
        },
        {"status": "completed", "ms": {}, "cancel_to_done_ms": 99.0},  # finished before the cancel
    ]
    results: dict[str, float] = {}
    server_stages(records, 2, results)
    assert results["eos_stage.first_delta_ms.p95"] <= 30.0
    assert results["eos_stage.first_delta_ms.p50"] >= 10.0
    assert results["ptt_stage.first_delta_ms.p50"] >= 200.0
    assert results["eos_stage.speculation_reused"] == 1.0
    assert results["eos_stage.presynthesized"] == 0.5
    assert results["ptt_stage.speculation_reused"] == 0.0
    assert 2.0 <= results["cancel_server.to_done_ms.p95"] <= 4.0
    assert results["cancel_server.to_last_delta_ms.max"] == 0.0


def test_render_shows_the_stage_table_and_marks_missing_values() -> None:
    results = {"eos_stage.first_delta_ms.p50": 12.0, "eos_stage.first_delta_ms.p95": 40.0}
    text = render(results, "voxdesk bench engine", ["wer"])
    assert "| first audio delta sent | 12 | 40 | — | — |" in text
    assert "| STT word error rate, flite slt | not measured | ≤ 10 % |" in text
    assert "Parts not measured in this run: wer." in text
