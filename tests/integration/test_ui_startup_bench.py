"""``voxdesk bench startup`` measures the real app's launch under Xvfb (one short run)."""

from __future__ import annotations

import argparse
import json

import pytest

from app.bench import startup

pytestmark = pytest.mark.slow


def test_startup_bench_measures_launch_to_window_and_writes_json(tmp_path):
    out = tmp_path / "startup.json"
    args = argparse.Namespace(runs=1, quick=True, json=str(out), no_docs=True)
    code = startup.run(args)
    results = json.loads(out.read_text())
    assert results["startup_s.n"] == 1
    assert 0 < results["shown_mark_s.p50"] <= results["startup_s.p50"] + 0.5
    assert 0 < results["startup_s.p50"] < startup.SHOW_TIMEOUT_S
    assert code == (0 if results["startup_s.p50"] <= startup.TARGET_S else 1)


def test_docs_section_is_rendered_between_the_markers(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# x\n\n<!-- startup:begin -->\nold\n<!-- startup:end -->\ntail\n")
    results = {
        f"{k}.{s}": 1.0 for k in ("startup_s", "shown_mark_s") for s in ("p50", "p95", "max", "n")
    }
    startup.update_docs(results, "voxdesk bench startup", path=doc)
    text = doc.read_text()
    assert "old" not in text and text.endswith("tail\n")
    assert "| launch → window viewable (X), s | 1.000 | 1.000 | 1.000 | 1 | ≤ 2 |" in text
