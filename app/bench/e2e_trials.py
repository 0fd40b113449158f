"""Trials against the scripted realtime server: onset, underruns, jitter, button/server barge-in.

Each trial drives the real core (``HeadlessApp``) and times what the speaker monitor recorded
against the server's send times and the bench's own command times, all on the monotonic clock.
The answer is a known probe signal, located on the monitor by cross-correlation.
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app.audio.resample import resample
from app.bench.e2e_app import RIG_RATE, HeadlessApp, wait_samples_until
from app.bench.e2e_detect import (
    DetectionError,
    FloatArray,
    count_gaps,
    heard_onset,
    heard_position,
    silence_from,
)
from app.bench.e2e_scripted import ScriptedRealtimeServer
from app.bench.e2e_stream import RATE, Pacing, ResponseLog
from app.events import AssistantState
from app.harness.procs import HarnessTimeout, wait_until
from app.harness.recorder import Recorder
from app.runtime.commands import Interrupt, SendText

log = logging.getLogger("app.bench")


@dataclass(slots=True)
class Samples:
    """Per-key measured values (ms or counts), per-stage breakdowns, and failures."""

    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)

    def add(self, key: str, value: float) -> None:
        """Record one value."""
        self.values[key].append(float(value))

    def fail(self, what: str) -> None:
        """Record a trial that could not be timed."""
        log.warning("e2e: %s", what)
        self.failures.append(what)


def reference48(entry: ResponseLog) -> FloatArray:
    """The probe signal of ``entry`` at the rig's rate (how it appears on the monitor)."""
    return resample(ScriptedRealtimeServer.reference(entry), RATE, RIG_RATE)


def _start_answer(app: HeadlessApp, server: ScriptedRealtimeServer, text: str) -> ResponseLog:
    before = len(server.responses)
    app.submit(SendText(text))
    wait_until(
        lambda: len(server.responses) > before and server.responses[-1].first_delta_at is not None,
        timeout=10.0,
        what="the scripted server to start answering",
    )
    return server.responses[-1]


def _onset(speaker: Recorder, entry: ResponseLog, x: FloatArray, ref: FloatArray) -> int:
    assert entry.first_delta_at is not None
    lo = max(0, speaker.index_at(entry.first_delta_at) - RIG_RATE // 20)
    hi = min(len(x), lo + 3 * RIG_RATE)
    return lo + heard_onset(ref, x[lo:hi], RIG_RATE)


def answer_trials(
    app: HeadlessApp,
    server: ScriptedRealtimeServer,
    speaker: Recorder,
    out: Samples,
    trials: int,
    pacing: Pacing,
    prefix: str,
) -> None:
    """Play ``trials`` whole answers; record onset, gaps and the meter's view.

    Keys: ``<prefix>first_audio_to_speaker_ms``, ``<prefix>gaps`` (and ``<prefix>gaps_first``
    for the phase's first answer, played before the app could learn the pacing),
    ``<prefix>underruns_app``,
    ``meter_error_ms.first_audio_to_speaker``.
    """
    server.set_pacing(pacing)
    for i in range(trials):
        u0 = app.underruns()
        entry = _start_answer(app, server, f"{prefix}question {i}")
        assert entry.first_delta_at is not None
        wait_until(_sent(entry), timeout=pacing.seconds * 3 + 10.0, what="the answer to be sent")
        wait_samples_until(speaker, entry.first_delta_at + entry.seconds + 0.8, timeout=15.0)
        try:
            app.wait_state(AssistantState.LISTENING, timeout=10.0)
        except HarnessTimeout:
            out.fail(f"{prefix}trial {i}: the session did not return to listening")
        x = speaker.snapshot()
        ref = reference48(entry)
        try:
            onset = _onset(speaker, entry, x, ref)
        except DetectionError as exc:
            out.fail(f"{prefix}trial {i}: answer not found on the speaker ({exc})")
            continue
        outside = (speaker.time_of(onset) - entry.first_delta_at) * 1000.0
        out.add(f"{prefix}first_audio_to_speaker_ms", outside)
        end = silence_from(x, onset + len(ref) - RIG_RATE // 10, RIG_RATE, hold_ms=100.0)
        if end is None:
            out.fail(f"{prefix}trial {i}: the answer never ended on the speaker")
            continue
        gaps = count_gaps(x, onset, end, RIG_RATE)
        out.add(f"{prefix}gaps", gaps)
        if i == 0:
            out.add(f"{prefix}gaps_first", gaps)
        out.add(f"{prefix}stretch_ms", ((end - onset) - len(ref)) * 1000.0 / RIG_RATE)
        out.add(f"{prefix}underruns_app", app.underruns() - u0)
        _meter_first_audio(app, entry.first_delta_at, speaker.time_of(onset), out, prefix)


def _meter_first_audio(
    app: HeadlessApp, sent_at: float, heard_at: float, out: Samples, prefix: str
) -> None:
    """Check the meter's ``first_audio_to_speaker`` and split the outside figure into stages.

    Stages: server send → the client's ``first_audio`` mark (socket + parse), that mark → the
    app's ``onset`` mark (the app's own view: queue + device latency), and the outside onset −
    the app's ``onset`` mark (how far the app's DAC-time estimate is off, signed). The app's
    stage is split by the output lane's start (``AudioTelemetry.output_started_at``): the mark →
    the start asked for (the audio queued, a device buffer's worth waited for, the lane woken),
    and the start call itself (it primes the device buffer).
    """
    turn = app.meter_turn_near("first_audio", sent_at, within=1.0)
    meter = turn.values.get("first_audio_to_speaker") if turn is not None else None
    if turn is None or meter is None:
        out.add("meter_missing.first_audio_to_speaker", 1)
        return
    outside = (heard_at - sent_at) * 1000.0
    received = turn.marks["first_audio"]
    out.add("meter_error_ms.first_audio_to_speaker", abs(outside - meter))
    out.add(f"{prefix}fa_stage_receive_ms", (received - sent_at) * 1000.0)
    out.add(f"{prefix}fa_stage_app_ms", meter)
    if "onset" in turn.marks:
        out.add(f"{prefix}fa_stage_dac_error_ms", (heard_at - turn.marks["onset"]) * 1000.0)
    tel = app.core.telemetry()
    started = tel.output_started_at if tel is not None else None
    if tel is not None and started is not None and received <= started <= received + 1.0:
        out.add(f"{prefix}fa_stage_wait_ms", (started - received) * 1000.0)
        out.add(f"{prefix}fa_stage_start_ms", tel.output_start_ms)


def bargein_trials(
    app: HeadlessApp,
    server: ScriptedRealtimeServer,
    speaker: Recorder,
    out: Samples,
    trials: int,
    source: str,
    seed: int,
) -> None:
    """Interrupt answers mid-playback from ``source`` (``"button"`` or ``"server"``).

    Keys: ``<source>_stop_ms`` (trigger → silence on the monitor), ``truncate_error_ms``,
    ``<source>_react_ms`` (trigger → the client's cancel/truncate reaching the server),
    ``meter_error_ms.bargein_to_silence``.
    """
    rng = random.Random(seed)
    server.set_pacing(Pacing(seconds=4.0, seed=seed))
    for i in range(trials):
        entry = _start_answer(app, server, f"{source} barge-in {i}")
        assert entry.first_delta_at is not None
        cut_after = 0.4 + 1.2 * rng.random()
        wait_samples_until(speaker, entry.first_delta_at + cut_after, timeout=10.0)
        if source == "server":
            t_trig = server.barge_in()
        else:
            t_trig = time.monotonic()
            app.submit(Interrupt())
        try:
            wait_until(_sent(entry), timeout=5.0, what="response.done")
            wait_until(_truncated(server, t_trig), timeout=3.0, what="the client's truncate")
        except HarnessTimeout as exc:
            out.fail(f"{source} trial {i}: {exc}")
        wait_samples_until(speaker, t_trig + 0.6, timeout=10.0)
        x = speaker.snapshot()
        trig = speaker.index_at(t_trig)
        end = silence_from(x, max(0, trig - RIG_RATE // 100), RIG_RATE, hold_ms=100.0)
        if end is None:
            out.fail(f"{source} trial {i}: the speaker never went silent")
        else:
            stop = (speaker.time_of(end) - t_trig) * 1000.0
            out.add(f"{source}_stop_ms", stop)
            _truncate_error(server, entry, t_trig, x, end, out)
            meter_stop(app, t_trig, speaker.time_of(end), out, source)
        reacts = [
            at
            for kind in ("response.cancel", "conversation.item.truncate")
            for at, _ in server.client_events(kind)
            if at >= t_trig
        ]
        if reacts:
            out.add(f"{source}_react_ms", (min(reacts) - t_trig) * 1000.0)
        if source == "server":
            server.finish_user_turn(answer_seconds=0.3)
        _settle(app, out, f"{source} trial {i}")


def meter_stop(
    app: HeadlessApp,
    t_trig: float,
    silent_at: float,
    out: Samples,
    source: str,
    key: str = "bargein_to_silence",
) -> None:
    """Check the meter's ``bargein_to_silence`` against trigger → silence measured outside.

    The error has two parts, recorded as signed stages: ``<source>_stage_trigger_ms`` = the
    app's ``bargein`` mark − the outside trigger (for the VAD: the app's dating of the speech
    onset against the clip's onset in the mic feed) and ``<source>_stage_silence_error_ms`` =
    outside silence − the app's ``silence`` mark.
    """
    turn = app.meter_turn_near("bargein", t_trig, within=2.0)
    meter = turn.values.get("bargein_to_silence") if turn is not None else None
    if turn is None or meter is None:
        out.add(f"meter_missing.{key}", 1)
        return
    trig = turn.marks["bargein"]
    out.add(f"meter_error_ms.{key}", abs((silent_at - t_trig) * 1000.0 - meter))
    out.add(f"{source}_stage_trigger_ms", (trig - t_trig) * 1000.0)
    if "silence" in turn.marks:
        out.add(f"{source}_stage_silence_error_ms", (silent_at - turn.marks["silence"]) * 1000.0)


def _sent(entry: ResponseLog) -> Callable[[], bool]:
    return lambda: entry.done_at is not None


def _truncated(server: ScriptedRealtimeServer, since: float) -> Callable[[], bool]:
    return lambda: any(at >= since for at, _ in server.client_events("conversation.item.truncate"))


def _truncate_error(
    server: ScriptedRealtimeServer,
    entry: ResponseLog,
    t_trig: float,
    x: FloatArray,
    end: int,
    out: Samples,
) -> None:
    truncates = [
        e
        for at, e in server.client_events("conversation.item.truncate")
        if at >= t_trig and e.get("item_id") == entry.item_id
    ]
    if not truncates:
        out.add("truncate_missing", 1)
        return
    try:
        heard = heard_position(reference48(entry), x, end, probe=RIG_RATE // 50)
    except DetectionError as exc:
        out.fail(f"heard position not found ({exc})")
        return
    heard_ms = heard * 1000.0 / RIG_RATE
    sent = float(truncates[0].get("audio_end_ms", 0))
    out.add("truncate_error_ms", abs(sent - heard_ms))
    out.add("truncate_signed_ms", sent - heard_ms)


def _settle(app: HeadlessApp, out: Samples, what: str) -> None:
    try:
        app.wait_state(AssistantState.LISTENING, timeout=10.0)
    except HarnessTimeout:
        out.fail(f"{what}: the session stayed {app.state.value}")


def gaps_p(values: list[float]) -> float:
    """Sum of a list of counts (0 for none)."""
    return float(np.sum(values)) if values else 0.0
