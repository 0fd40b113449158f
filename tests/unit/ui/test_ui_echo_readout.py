"""The echo-attenuation readout, fed by the window's telemetry timer from real snapshots.

"Measuring…" only until something has played; the engine's estimate while it exists; after a
reply, the last estimate marked as such (the engine drops its estimate ~2 s after playback).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ui.widgets.echo_readout import EchoReadout

pytestmark = pytest.mark.gui

SILENT = -120.0


@pytest.fixture(autouse=True)
def nothing_played_yet(core):
    """Start silent: the window's 30 Hz poll may run before a test sets its first levels."""
    core.levels = replace(core.levels, echo_attenuation_db=None, output_rms_dbfs=SILENT)


def _poll(core, qtbot, window, expected: str, **levels: object) -> None:
    base = replace(core.levels, echo_attenuation_db=None, output_rms_dbfs=-25.0)
    core.levels = replace(base, **levels)
    qtbot.waitUntil(lambda: window.echo_label.text() == expected, timeout=2000)


def test_measuring_until_something_plays_then_the_estimate_then_the_last_one(core, qtbot, window):
    _poll(
        core,
        qtbot,
        window,
        "Echo attenuation: measuring…",
        echo_attenuation_db=None,
        output_rms_dbfs=SILENT,
    )
    assert not window.echo_label.has_played
    _poll(core, qtbot, window, "Echo attenuation: 27 dB", echo_attenuation_db=27.4)
    _poll(core, qtbot, window, "Echo attenuation: 31 dB", echo_attenuation_db=31.0)
    # Playback over: the engine has no estimate any more; the last one stays, never "measuring".
    _poll(
        core,
        qtbot,
        window,
        "Echo attenuation: 31 dB (last reply)",
        echo_attenuation_db=None,
        output_rms_dbfs=SILENT,
    )
    assert window.echo_label.accessibleDescription() == "Echo attenuation: 31 dB (last reply)"


def test_floor_estimates_are_put_in_words(core, qtbot, window):
    _poll(
        core,
        qtbot,
        window,
        "Echo attenuation: no echo reached the microphone",
        echo_attenuation_db=SILENT,
    )
    _poll(core, qtbot, window, "Echo attenuation: over 100 dB", echo_attenuation_db=140.0)


def test_a_reply_too_quiet_to_estimate_is_not_called_measuring(core, qtbot, window):
    _poll(
        core,
        qtbot,
        window,
        "Echo attenuation: not measured (the reply was too quiet)",
        echo_attenuation_db=None,
        output_rms_dbfs=-30.0,
    )


def test_aec_off_says_so_and_on_again_keeps_what_was_measured(core, qtbot, window):
    _poll(core, qtbot, window, "Echo attenuation: 25 dB", echo_attenuation_db=25.0)
    core.settings_store.apply({"audio.aec_enabled": False})
    qtbot.waitUntil(lambda: window.echo_label.text() == "Echo cancellation: off", timeout=2000)
    core.settings_store.apply({"audio.aec_enabled": True})
    core.levels = replace(core.levels, echo_attenuation_db=None)
    qtbot.waitUntil(
        lambda: window.echo_label.text() == "Echo attenuation: 25 dB (last reply)", timeout=2000
    )


def test_the_readout_alone_needs_no_window(qtbot):
    readout = EchoReadout()
    qtbot.addWidget(readout)
    readout.show_reading(True, None, None)
    assert readout.text() == "Echo attenuation: measuring…"
    readout.show_reading(True, 12.2, -20.0)
    assert readout.text() == "Echo attenuation: 12 dB" and readout.has_played
