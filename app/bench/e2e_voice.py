"""Spoken trials: voice-to-voice on the embedded engine; VAD barge-in and self-interrupts.

Voice-to-voice: a spoken question (three synthetic voices) is played into the mic; its end is
the clip's last active sample, placed on the mic-feed recording by cross-correlation with the
clip; the answer's first sample is the first sound on the speaker monitor after it.

VAD barge-in and self-interrupts run against the scripted server streaming a *spoken* answer
(so the echo canceller and the VAD meet speech), with the rig's echo loopback on and the app's
own VAD deciding (``local_vad``). The user's interruption onset is located in the mic-feed
recording by cross-correlation; duck = the answer's gain on the monitor down 10 dB against the
known answer; stop = the answer's last sample on the monitor.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from app.audio.resample import resample
from app.bench.e2e_app import RIG_RATE, HeadlessApp, Rig, wait_samples_until
from app.bench.e2e_detect import (
    DetectionError,
    FloatArray,
    active_bounds,
    duck_point_ref,
    first_sound,
    last_sound,
    locate,
)
from app.bench.e2e_scripted import RATE, Pacing, ScriptedRealtimeServer
from app.bench.e2e_trials import Samples, _newest_turn, _start_answer, reference48
from app.events import AssistantState
from app.harness.procs import HarnessTimeout, wait_until
from app.harness.recorder import Recorder
from app.harness.speech import SpeechFixtures
from app.runtime.commands import Interrupt

log = logging.getLogger("app.bench")

VOICES = ("espeak", "flite", "festival")
QUESTIONS = (
    "what time is it",
    "what is the date today",
    "what is twelve times four",
    "what is seven plus eight",
    "convert ten miles to kilometers",
    "what day is it",
    "what is one hundred divided by four",
    "how many grams are in two pounds",
    "tell me the time",
    "what is nine minus three",
    "what is the current time",
)
INTERRUPTIONS = (
    "stop, wait a moment",
    "no no, hold on please",
    "sorry, can I ask something else",
    "wait, stop talking",
)
ANSWER_TEXT = (
    "Here is what I found. The nearest pharmacy is on Baker Street and it is open until nine "
    "tonight. Tomorrow will be cloudy in the morning with some sunshine later and a high of "
    "eighteen degrees."
)


def _clip(fixtures: SpeechFixtures, text: str, voice: str) -> tuple[Path, FloatArray]:
    path = fixtures.say(text, voice, RIG_RATE)
    samples, rate = SpeechFixtures.load(path)
    return path, resample(samples, rate, RIG_RATE) if rate != RIG_RATE else samples


def _locate_clip(mic: Recorder, clip: FloatArray, t_play: float) -> int:
    """Index in the mic-feed recording of the clip's sample 0."""
    mic.wait_samples(mic.index_at(t_play) + len(clip) + RIG_RATE // 2, timeout=20.0)
    x = mic.snapshot()
    lo = max(0, mic.index_at(t_play) - RIG_RATE // 5)
    hi = min(len(x), lo + len(clip) + RIG_RATE)
    return lo + locate(clip, x[lo:hi], min_corr=0.3).lag


def v2v_trials(rig: Rig, work: Path, quick: bool, out: Samples) -> None:
    """Spoken questions to the embedded local engine; ``v2v_ms`` per answer."""
    speaker, mic = rig.ears
    fixtures = SpeechFixtures()
    n = 3 if quick else 33
    app = HeadlessApp(work / "core-local")
    app.start(timeout=180.0)
    try:
        for i in range(n):
            text, voice = QUESTIONS[i % len(QUESTIONS)], VOICES[i % len(VOICES)]
            path, clip = _clip(fixtures, text, voice)
            _start, end = active_bounds(clip, RIG_RATE)
            t_play = time.monotonic()
            rig.pulse.play_into_mic(path)
            try:
                lag = _locate_clip(mic, clip, t_play)
                wait_until(_spoke(app, t_play), timeout=60.0, what="the spoken answer")
                app.wait_state(AssistantState.LISTENING, timeout=60.0)
            except (DetectionError, HarnessTimeout) as exc:
                out.fail(f"v2v {voice} '{text}': {exc}")
                continue
            t_end = mic.time_of(lag + end)
            wait_samples_until(speaker, time.monotonic(), timeout=5.0)
            x = speaker.snapshot()
            first = first_sound(x, speaker.index_at(t_end))
            if first is None:
                out.fail(f"v2v {voice} '{text}': no answer on the speaker")
                continue
            v2v = (speaker.time_of(first) - t_end) * 1000.0
            out.add("v2v_ms", v2v)
            meter = _newest_turn(app)
            if "speech_end_to_first_audio" in meter:
                out.add(
                    "v2v_meter_speech_end_to_first_audio_ms", meter["speech_end_to_first_audio"]
                )
            if "voice_to_voice" in meter:
                out.add("meter_error_ms.voice_to_voice", abs(meter["voice_to_voice"] - v2v))
            else:
                out.add("meter_missing.voice_to_voice", 1)
    finally:
        app.stop()


def _answer_audio(fixtures: SpeechFixtures) -> FloatArray:
    path = fixtures.say(ANSWER_TEXT, "espeak", RATE)
    samples, rate = SpeechFixtures.load(path)
    level = 0.5 / max(1e-6, float(abs(samples).max()))
    return (resample(samples, rate, RATE) * level).astype("float32")


def vad_trials(rig: Rig, work: Path, quick: bool, out: Samples) -> None:
    """VAD barge-in (echo path on) and self-interrupts against a spoken scripted answer."""
    speaker, mic = rig.ears
    fixtures = SpeechFixtures()
    n_barge, n_quiet = (4, 2) if quick else (50, 50)
    rng = random.Random(41)
    loop = rig.pulse.load_echo_loopback(latency_ms=20, gain=0.5)
    try:
        with ScriptedRealtimeServer(Pacing(seed=41)) as server:
            server.answer_audio = _answer_audio(fixtures)
            settings = {"session.turn_detection": "local_vad"}
            app = HeadlessApp(work / "core-vad", settings, server=(server.url, server.token))
            app.start(timeout=30.0)
            try:
                for i in range(n_quiet):
                    _quiet_answer(app, server, speaker, out, i)
                for i in range(n_barge):
                    _barge_trial(app, server, rig, fixtures, rng, out, i)
            finally:
                app.stop()
    finally:
        rig.pulse.unload_module(loop)
    del mic


def _quiet_answer(
    app: HeadlessApp, server: ScriptedRealtimeServer, speaker: Recorder, out: Samples, i: int
) -> None:
    entry = _start_answer(app, server, f"quiet {i}")
    assert entry.first_delta_at is not None
    seconds = len(server.reference(entry)) / RATE
    since = entry.created_at
    wait_samples_until(speaker, entry.first_delta_at + seconds + 0.8, timeout=seconds + 20.0)
    cuts = [
        at
        for kind in ("conversation.item.truncate", "response.cancel")
        for at, _ in server.client_events(kind)
        if at >= since
    ]
    out.add("self_interrupts", 1.0 if cuts else 0.0)
    try:
        app.wait_state(AssistantState.LISTENING, timeout=10.0)
    except HarnessTimeout:
        out.fail(f"quiet answer {i}: the session stayed {app.state.value}")


def _barge_trial(
    app: HeadlessApp,
    server: ScriptedRealtimeServer,
    rig: Rig,
    fixtures: SpeechFixtures,
    rng: random.Random,
    out: Samples,
    i: int,
) -> None:
    speaker, mic = rig.ears
    text = INTERRUPTIONS[i % len(INTERRUPTIONS)]
    path, clip = _clip(fixtures, text, VOICES[1 + i % 2])
    start, _end = active_bounds(clip, RIG_RATE)
    entry = _start_answer(app, server, f"vad barge-in {i}")
    assert entry.first_delta_at is not None
    wait_samples_until(speaker, entry.first_delta_at + 0.8 + 1.5 * rng.random(), timeout=10.0)
    t_play = time.monotonic()
    rig.pulse.play_into_mic(path)
    try:
        lag = _locate_clip(mic, clip, t_play)
    except DetectionError as exc:
        out.fail(f"vad trial {i}: interruption not found in the mic feed ({exc})")
        _recover(app, out, i)
        return
    t_onset = mic.time_of(lag + start)
    wait_samples_until(speaker, t_onset + 1.6, timeout=10.0)
    x = speaker.snapshot()
    trig = speaker.index_at(t_onset)
    ref = reference48(entry)
    try:
        duck = duck_point_ref(ref, x, trig, RIG_RATE)
    except DetectionError as exc:
        out.fail(f"vad trial {i}: answer not playing at the onset ({exc})")
        _recover(app, out, i)
        return
    window_end = trig + int(1.5 * RIG_RATE)
    stop = last_sound(x, trig, window_end)
    if stop is not None and stop > window_end - RIG_RATE // 10:
        out.fail(f"vad trial {i}: the answer did not stop within 1.5 s of the onset")
    elif stop is not None:
        out.add("vad_stop_ms", (speaker.time_of(stop) - t_onset) * 1000.0)
    if duck is not None:
        out.add("vad_duck_ms", (speaker.time_of(duck) - t_onset) * 1000.0)
    _recover(app, out, i)


def _spoke(app: HeadlessApp, since: float) -> Callable[[], bool]:
    return lambda: any(s is AssistantState.ASSISTANT_SPEAKING for _, s in app.states_since(since))


def _recover(app: HeadlessApp, out: Samples, i: int) -> None:
    """Back to listening; the answer to the interruption itself is cut with the button."""
    settled = (AssistantState.LISTENING, AssistantState.ASSISTANT_SPEAKING)
    try:
        wait_until(lambda: app.state in settled, timeout=15.0, what="the next answer")
        if app.state is AssistantState.ASSISTANT_SPEAKING:
            app.submit(Interrupt())
        app.wait_state(AssistantState.LISTENING, timeout=15.0)
    except HarnessTimeout:
        out.fail(f"vad trial {i}: the session stayed {app.state.value}")


def voice_phase(rig: Rig, work: Path, quick: bool, out: Samples) -> None:
    """VAD barge-in and self-interrupts (scripted answer), then voice-to-voice (local engine)."""
    failures: list[str] = []
    for name, part in (("vad", vad_trials), ("v2v", v2v_trials)):
        try:
            part(rig, work, quick, out)
        except Exception as exc:  # noqa: BLE001 - the other part may still measure
            log.exception("bench e2e: %s part failed", name)
            failures.append(f"{name}: {exc}")
    if failures:
        raise RuntimeError("; ".join(failures))
