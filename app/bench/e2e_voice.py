"""Spoken trials: voice-to-voice on the embedded engine (and the voice phase's entry point).

Voice-to-voice: a spoken question (three synthetic voices) is played into the mic; its end is
the clip's last active sample, placed on the mic-feed recording by cross-correlation with the
clip; the answer's first sample is the first sound on the speaker monitor after it. Each time
is split into stages (end-of-speech detection, engine, playout) with the app's own marks.
VAD barge-in and self-interrupts live in ``e2e_vad``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from app.audio.resample import resample
from app.bench.e2e_app import RIG_RATE, HeadlessApp, Rig, wait_samples_until
from app.bench.e2e_detect import (
    DetectionError,
    FloatArray,
    active_bounds,
    first_sound,
    locate,
)
from app.bench.e2e_stream import RATE
from app.bench.e2e_trials import Samples
from app.events import AssistantState
from app.harness.procs import HarnessTimeout, wait_until
from app.harness.recorder import Recorder
from app.harness.speech import SpeechFixtures

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
ANSWER_TEXT = (
    "Here is what I found. The nearest pharmacy is on Baker Street and it is open until nine "
    "tonight. Tomorrow will be cloudy in the morning with some sunshine later and a high of "
    "eighteen degrees."
)


def clip_of(fixtures: SpeechFixtures, text: str, voice: str) -> tuple[Path, FloatArray]:
    """A synthetic spoken clip (cached WAV path, samples at the rig's rate)."""
    path = fixtures.say(text, voice, RIG_RATE)
    samples, rate = SpeechFixtures.load(path)
    return path, resample(samples, rate, RIG_RATE) if rate != RIG_RATE else samples


def locate_clip(mic: Recorder, clip: FloatArray, t_play: float) -> int:
    """Index in the mic-feed recording of the clip's sample 0 (played at monotonic ``t_play``)."""
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
    out.add("v2v_eos_silence_ms", app.settings.current.get_int("session.silence_duration_ms"))
    try:
        for i in range(n):
            text, voice = QUESTIONS[i % len(QUESTIONS)], VOICES[i % len(VOICES)]
            path, clip = clip_of(fixtures, text, voice)
            _start, end = active_bounds(clip, RIG_RATE)
            t_play = time.monotonic()
            rig.pulse.play_into_mic(path)
            try:
                lag = locate_clip(mic, clip, t_play)
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
            _v2v_stages(app, t_play, t_end, speaker.time_of(first), out)
    finally:
        app.stop()


def _v2v_stages(app: HeadlessApp, t_play: float, t_end: float, heard: float, out: Samples) -> None:
    """Split one voice-to-voice time into stages and check the meter's ``voice_to_voice``.

    Stages (ms, from the outside end of speech ``t_end`` to the outside first sample ``heard``):
    ``v2v_stage_eos_ms`` end of speech → the app's THINKING state (end-of-speech detection: the
    configured silence, the server VAD's hop, the uplink), ``v2v_stage_engine_ms`` → the first
    audio delta received (the engine: transcription, reply, first synthesized chunk),
    ``v2v_stage_playout_ms`` → the first sample on the speaker. Also the app's ``speech_end``
    mark against the outside end of speech (``v2v_stage_speech_end_mark_ms``, signed) and its
    ``onset`` mark against the outside first sample (``v2v_stage_onset_mark_ms``, signed): the
    meter's error is their difference.
    """
    turn = app.meter_turn_near("onset", heard, within=1.0) or app.meter_turn_near(
        "speech_end", t_end, within=3.0
    )
    if turn is None or "voice_to_voice" not in turn.values:
        out.add("meter_missing.voice_to_voice", 1)
    else:
        v2v = (heard - t_end) * 1000.0
        out.add("meter_error_ms.voice_to_voice", abs(turn.values["voice_to_voice"] - v2v))
    if turn is not None and "speech_end_to_first_audio" in turn.values:
        out.add("v2v_meter_speech_end_to_first_audio_ms", turn.values["speech_end_to_first_audio"])
    thinking = [at for at, s in app.states_since(t_play) if s is AssistantState.THINKING]
    marks = turn.marks if turn is not None else {}
    if thinking:
        out.add("v2v_stage_eos_ms", (thinking[0] - t_end) * 1000.0)
    if "speech_end" in marks:
        out.add("v2v_stage_speech_end_mark_ms", (marks["speech_end"] - t_end) * 1000.0)
    if "first_audio" in marks:
        if thinking:
            out.add("v2v_stage_engine_ms", (marks["first_audio"] - thinking[0]) * 1000.0)
        out.add("v2v_stage_playout_ms", (heard - marks["first_audio"]) * 1000.0)
    if "onset" in marks:
        out.add("v2v_stage_onset_mark_ms", (marks["onset"] - heard) * 1000.0)


def answer_audio(fixtures: SpeechFixtures) -> FloatArray:
    """The spoken answer the scripted server streams in the VAD trials (24 kHz, peak 0.5)."""
    path = fixtures.say(ANSWER_TEXT, "espeak", RATE)
    samples, rate = SpeechFixtures.load(path)
    level = 0.5 / max(1e-6, float(abs(samples).max()))
    return (resample(samples, rate, RATE) * level).astype("float32")


def _spoke(app: HeadlessApp, since: float) -> Callable[[], bool]:
    return lambda: any(s is AssistantState.ASSISTANT_SPEAKING for _, s in app.states_since(since))


def voice_phase(rig: Rig, work: Path, quick: bool, out: Samples) -> None:
    """VAD barge-in and self-interrupts (scripted answer), then voice-to-voice (local engine)."""
    from app.bench.e2e_vad import vad_trials

    failures: list[str] = []
    for name, part in (("vad", vad_trials), ("v2v", v2v_trials)):
        try:
            part(rig, work, quick, out)
        except Exception as exc:  # noqa: BLE001 - the other part may still measure
            log.exception("bench e2e: %s part failed", name)
            failures.append(f"{name}: {exc}")
    if failures:
        raise RuntimeError("; ".join(failures))
