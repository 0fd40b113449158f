"""VAD barge-in and self-interrupt trials: the app's own VAD against a spoken scripted answer.

The scripted server streams a *spoken* answer (so the echo canceller and the VAD meet speech)
with the rig's echo loopback on and the app deciding barge-ins itself (``local_vad``).

- Barge-in: a spoken interruption is played into the mic mid-answer. Its onset is the clip's
  first active sample, placed in the mic-feed recording by cross-correlation. Duck = the
  answer's gain on the monitor 10 dB down against the known answer; stop = the answer's last
  sample on the monitor after the client cut it (``response.cancel``/``truncate`` on the wire).
  Stops are timed up to ``STOP_BOUND_S`` after the onset; a trial with no cut by then is counted
  in ``vad_not_stopped`` (not timed, not dropped silently); one whose answer was in a pause at
  the onset (nothing to duck) has its stop timed and counts in ``vad_duck_untimed``.
- Self-interrupts: answers played with nobody speaking. A trial counts in ``self_interrupts``
  when the app itself flushed playback as a barge-in (a ``bargein`` mark in its meter) during
  the answer — the echo got through as speech; a cut sent without such a trigger counts in
  ``self_interrupt_other_cuts`` (a protocol cause, not the echo).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from app.bench.e2e_app import RIG_RATE, HeadlessApp, Rig, wait_samples_until
from app.bench.e2e_detect import DetectionError, active_bounds, duck_point_ref, last_sound
from app.bench.e2e_scripted import ScriptedRealtimeServer
from app.bench.e2e_stream import RATE, Pacing
from app.bench.e2e_trials import Samples, _start_answer, meter_stop, reference48
from app.bench.e2e_voice import VOICES, answer_audio, clip_of, locate_clip
from app.events import AssistantState
from app.harness.procs import HarnessTimeout, wait_until
from app.harness.recorder import Recorder
from app.harness.speech import SpeechFixtures
from app.runtime.commands import Interrupt

log = logging.getLogger("app.bench")

INTERRUPTIONS = (
    "stop, wait a moment",
    "no no, hold on please",
    "sorry, can I ask something else",
    "wait, stop talking",
)
STOP_BOUND_S = 5.0
"""A VAD barge-in whose cut has not reached the server this long after the onset is not stopped."""
SILENT_AFTER_CUT_S = 1.0
"""After the cut, the speaker must be silent within this long (else: still playing)."""
CUT_KINDS = ("conversation.item.truncate", "response.cancel")


def vad_trials(rig: Rig, work: Path, quick: bool, out: Samples) -> None:
    """VAD barge-in (echo path on) and self-interrupts against a spoken scripted answer."""
    speaker, _mic = rig.ears
    fixtures = SpeechFixtures()
    n_barge, n_quiet = (4, 3) if quick else (52, 50)
    rng = random.Random(41)
    with ScriptedRealtimeServer(Pacing(seed=41)) as server:
        server.answer_audio = answer_audio(fixtures)
        settings = {"session.turn_detection": "local_vad"}
        app = HeadlessApp(work / "core-vad", settings, server=(server.url, server.token))
        app.start(timeout=30.0)  # first: the loopback needs the speaker sink running
        out.add("min_interruption_ms", app.settings.current.get_int("session.min_interruption_ms"))
        echo = EchoPath(rig)
        try:
            for i in range(n_quiet):
                _quiet_answer(app, server, speaker, echo, out, i)
            for i in range(n_barge):
                _barge_trial(app, server, rig, echo, fixtures, rng, out, i)
        finally:
            echo.off()
            app.stop()


class EchoPath:
    """The rig's acoustic echo (speaker monitor → mic feed at half gain, 20 ms), switchable.

    When the app barges in on its own echo, each answer is cut and the echo "turn" is answered
    again: a loop that only silence breaks. ``settle`` opens the path, stops the app talking and
    closes the path again, so one failed trial does not poison the next.
    """

    def __init__(self, rig: Rig) -> None:
        self._rig = rig
        self._module: int | None = None
        self.on()

    def on(self) -> None:
        """Load the loopback (idempotent)."""
        if self._module is None:
            self._module = self._rig.pulse.load_echo_loopback(latency_ms=20, gain=0.5)

    def off(self) -> None:
        """Unload the loopback (idempotent)."""
        if self._module is not None:
            self._rig.pulse.unload_module(self._module)
            self._module = None

    def settle(self, app: HeadlessApp) -> None:
        """Without the echo, bring the session back to listening; then the echo on again."""
        self.off()
        try:
            _back_to_listening(app)
        finally:
            self.on()


def _cuts(server: ScriptedRealtimeServer, since: float, until: float = float("inf")) -> list[float]:
    return sorted(
        at for kind in CUT_KINDS for at, _ in server.client_events(kind) if since <= at < until
    )


def _quiet_answer(
    app: HeadlessApp,
    server: ScriptedRealtimeServer,
    speaker: Recorder,
    echo: EchoPath,
    out: Samples,
    i: int,
) -> None:
    entry = _start_answer(app, server, f"quiet {i}")
    assert entry.first_delta_at is not None
    seconds = len(server.reference(entry)) / RATE
    since = entry.created_at
    wait_samples_until(speaker, entry.first_delta_at + seconds + 0.8, timeout=seconds + 20.0)
    until = time.monotonic()
    triggered = app.marks_between("bargein", since, until)
    cuts = _cuts(server, since, until)
    out.add("self_interrupts", 1.0 if triggered else 0.0)
    out.add("self_interrupt_other_cuts", 1.0 if cuts and not triggered else 0.0)
    if triggered:
        log.info("quiet answer %d: the app barged in %.0f ms into the answer", i,
                 (triggered[0] - entry.first_delta_at) * 1000.0)  # fmt: skip
    if triggered:  # the echo loop answers itself: break it before the next trial
        echo.settle(app)
        return
    try:
        app.wait_state(AssistantState.LISTENING, timeout=10.0)
    except HarnessTimeout:
        out.add("quiet_stuck", 1)
        out.fail(f"quiet answer {i}: the session stayed {app.fine_state()}")
        echo.settle(app)


def _barge_trial(
    app: HeadlessApp,
    server: ScriptedRealtimeServer,
    rig: Rig,
    echo: EchoPath,
    fixtures: SpeechFixtures,
    rng: random.Random,
    out: Samples,
    i: int,
) -> None:
    speaker, mic = rig.ears
    out.add("vad_attempts", 1)
    path, clip = clip_of(fixtures, INTERRUPTIONS[i % len(INTERRUPTIONS)], VOICES[1 + i % 2])
    start, _end = active_bounds(clip, RIG_RATE)
    entry = _start_answer(app, server, f"vad barge-in {i}")
    assert entry.first_delta_at is not None
    wait_samples_until(speaker, entry.first_delta_at + 0.8 + 1.5 * rng.random(), timeout=10.0)
    t_play = time.monotonic()
    rig.pulse.play_into_mic(path)
    try:
        lag = locate_clip(mic, clip, t_play)
    except DetectionError as exc:
        out.fail(f"vad trial {i}: interruption not found in the mic feed ({exc})")
        _recover(app, echo, out, i)
        return
    t_onset = mic.time_of(lag + start)
    # Judged by when the client cut (its cancel/truncate on the wire), not by the meter's
    # "bargein" mark: that is the dated onset, which may rightly lie a little before the clip's
    # detected onset while the cut itself came after the user spoke.
    if _cuts(server, entry.created_at, t_onset - 0.05):
        out.add("vad_preempted", 1)
        out.fail(f"vad trial {i}: the app had cut the answer on its echo before the onset")
        _recover(app, echo, out, i)
        return
    try:
        wait_until(
            lambda: bool(_cuts(server, t_onset - 0.05)),
            timeout=max(0.1, t_onset + STOP_BOUND_S - time.monotonic()),
            what="the client's cut",
        )
        t_cut: float | None = _cuts(server, t_onset - 0.05)[0]
    except HarnessTimeout:
        t_cut = None
    horizon = (t_cut if t_cut is not None else t_onset + STOP_BOUND_S) + SILENT_AFTER_CUT_S
    wait_samples_until(speaker, max(horizon, t_onset + 1.0), timeout=15.0)
    x = speaker.snapshot()
    trig = speaker.index_at(t_onset)
    try:
        duck = duck_point_ref(reference48(entry), x, trig, RIG_RATE)
    except DetectionError as exc:
        # The duck needs the answer audible at the onset (not in a pause); the stop does not.
        out.add("vad_duck_untimed", 1)
        log.info("vad trial %d: duck not timed: answer not playing at the onset (%s)", i, exc)
        duck = None
    if duck is not None and speaker.time_of(duck) <= horizon:
        out.add("vad_duck_ms", (speaker.time_of(duck) - t_onset) * 1000.0)
    if t_cut is None:
        out.add("vad_not_stopped", 1)
        out.fail(f"vad trial {i}: no cut within {STOP_BOUND_S:.0f} s of the onset")
        _recover(app, echo, out, i)
        return
    out.add("vad_stage_cut_ms", (t_cut - t_onset) * 1000.0)
    window_end = _next_answer_bound(server, t_onset, speaker.index_at(horizon), speaker)
    stop = last_sound(x, trig, window_end)
    if stop is not None and stop > window_end - RIG_RATE // 10:
        out.add("vad_not_silent", 1)
        out.fail(f"vad trial {i}: still playing {SILENT_AFTER_CUT_S:.0f} s after the cut")
    else:
        silent_at = speaker.time_of(stop) if stop is not None else t_onset
        out.add("vad_stop_ms", (silent_at - t_onset) * 1000.0)
        out.add("vad_stage_flush_ms", (silent_at - t_cut) * 1000.0)
        meter_stop(app, t_onset, silent_at, out, "vad")
    _recover(app, echo, out, i)


def _next_answer_bound(
    server: ScriptedRealtimeServer, t_onset: float, limit: int, speaker: Recorder
) -> int:
    """``limit``, or earlier: where the next answer (to the interruption itself) starts."""
    later = [
        speaker.index_at(r.first_delta_at)
        for r in list(server.responses)
        if r.created_at > t_onset and r.first_delta_at is not None
    ]
    return min([limit, *later])


def _back_to_listening(app: HeadlessApp) -> None:
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        if app.state is AssistantState.ASSISTANT_SPEAKING:
            app.submit(Interrupt())
        try:
            wait_until(_listening_held(app, 1.0), timeout=3.0, what="listening")
            return
        except HarnessTimeout:
            continue
    log.warning("e2e: the session stayed %s", app.fine_state())


def _recover(app: HeadlessApp, echo: EchoPath, out: Samples, i: int) -> None:
    """Back to listening; the answer to the interruption itself is cut with the button."""
    settled = (AssistantState.LISTENING, AssistantState.ASSISTANT_SPEAKING)
    try:
        wait_until(lambda: app.state in settled, timeout=15.0, what="the next answer")
        if app.state is AssistantState.ASSISTANT_SPEAKING:
            app.submit(Interrupt())
        app.wait_state(AssistantState.LISTENING, timeout=5.0)
        wait_until(_listening_held(app, 0.5), timeout=5.0, what="the session to stay listening")
    except HarnessTimeout:
        out.add("vad_recover_stuck", 1)
        log.warning("e2e: vad trial %d: the session stayed %s", i, app.fine_state())
        echo.settle(app)


def _listening_held(app: HeadlessApp, seconds: float) -> Callable[[], bool]:
    """True once the session has been listening, unchanged, for ``seconds``."""

    def held() -> bool:
        if app.state is not AssistantState.LISTENING:
            return False
        changes = app.states_since(time.monotonic() - seconds)
        return not changes

    return held
