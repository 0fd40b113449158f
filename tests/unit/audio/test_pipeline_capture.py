"""CapturePipeline end to end on synthetic input: chunk sizes, rates, timestamps, speech events."""

from __future__ import annotations

import numpy as np
import pytest

from app.audio.dspconfig import DspConfig
from app.audio.pipeline import CapturePipeline
from app.audio.resample import resample
from app.bench.echo_scene import make_echo_scene
from app.events import AudioChunk, SpeechStarted, SpeechStopped
from app.harness.speech import SpeechFixtures

DEVICE_RATE = 48000
BLOCK = DEVICE_RATE // 100
T0 = 1000.0


@pytest.fixture(scope="module")
def utterance(speech: SpeechFixtures) -> np.ndarray:
    clip, rate = SpeechFixtures.load(speech.say("Turn the lights off in the kitchen.", "flite"))
    return resample(clip, rate, DEVICE_RATE)


def _feed(p: CapturePipeline, mic: np.ndarray, far: np.ndarray) -> list[object]:
    events: list[object] = []
    for i in range(0, len(mic) - BLOCK + 1, BLOCK):
        events += p.process(mic[i : i + BLOCK], far[i : i + BLOCK], T0 + i / DEVICE_RATE)
    return events


@pytest.mark.parametrize("backend", ["speex", "webrtc", "hybrid"])
@pytest.mark.parametrize("session_rate", [24000, 16000])
def test_chunks_and_speech_events(backend: str, session_rate: int, utterance: np.ndarray) -> None:
    lead = 1.5
    mic = np.zeros(int((2 * lead) * DEVICE_RATE) + len(utterance), np.float32)
    mic[int(lead * DEVICE_RATE) : int(lead * DEVICE_RATE) + len(utterance)] = utterance
    p = CapturePipeline(DspConfig(backend=backend), DEVICE_RATE, session_rate, chunk_ms=20)  # type: ignore[arg-type]
    events = _feed(p, mic, np.zeros_like(mic))
    chunks = [e for e in events if isinstance(e, AudioChunk)]
    per_chunk = session_rate // 50
    assert all(c.sample_rate == session_rate and len(c.pcm) == 2 * per_chunk for c in chunks)
    assert [c.first_sample for c in chunks] == [i * per_chunk for i in range(len(chunks))]
    for c in chunks:  # captured_at follows the ADC clock passed in
        t = p.origin_s + c.first_sample / session_rate
        assert c.captured_at == pytest.approx(T0 + t, abs=1e-6)
    assert 0.0 <= p.origin_s < 0.01
    # Everything but the resampler/DSP tail (a few ms) came out.
    assert len(chunks) * per_chunk >= (len(mic) / DEVICE_RATE - 0.05) * session_rate
    # The audio is aligned: the loud part starts where the utterance was placed.
    pcm = np.frombuffer(b"".join(c.pcm for c in chunks), "<i2").astype(np.float32) / 32768
    loud = int(np.flatnonzero(np.abs(pcm) > 0.02)[0])
    first_loud = int(np.flatnonzero(np.abs(utterance) > 0.02)[0])
    expected = (lead + first_loud / DEVICE_RATE - p.origin_s) * session_rate
    assert abs(loud - expected) <= 0.02 * session_rate
    speech = [e for e in events if isinstance(e, SpeechStarted | SpeechStopped)]
    assert [type(e) for e in speech] == [SpeechStarted, SpeechStopped]
    start, stop = speech
    assert abs(start.sample - expected) <= 0.12 * session_rate
    assert start.at == pytest.approx(T0 + p.origin_s + start.sample / session_rate, abs=1e-3)
    last_loud = int(np.flatnonzero(np.abs(utterance) > 0.02)[-1])
    end_expected = (lead + last_loud / DEVICE_RATE - p.origin_s) * session_rate
    assert abs(stop.sample - end_expected) <= 0.3 * session_rate
    assert p.vad_probability < 0.5
    assert p.in_rms_db < -100 and p.out_rms_db < -60
    p.close()


def test_echo_is_removed_and_telemetry_tracks_it(speech: SpeechFixtures) -> None:
    far16, rate = SpeechFixtures.load(
        speech.say("The meeting moved to three o'clock on Thursday afternoon.", "espeak")
    )
    scene = make_echo_scene(resample(far16, rate, DEVICE_RATE), DEVICE_RATE, 10.0)
    p = CapturePipeline(DspConfig(backend="hybrid"), DEVICE_RATE, 24000)
    p.set_assistant_speaking(True)
    events = _feed(p, scene.mic, scene.far)
    assert not [e for e in events if isinstance(e, SpeechStarted)]  # own voice never triggers
    assert p.erle_db is not None and p.erle_db > 35.0  # measured ≈ 60 dB
    assert p.in_rms_db > p.out_rms_db


def test_reconfigure_switches_backend_without_breaking_numbering() -> None:
    p = CapturePipeline(DspConfig(backend="speex"), DEVICE_RATE, 24000)
    silence = np.zeros(DEVICE_RATE, np.float32)
    first = _feed(p, silence, silence)
    p.reconfigure(DspConfig(backend="webrtc", vad_threshold=0.6))
    second = _feed(p, silence, silence)
    assert p.backend_name == "webrtc"
    firsts = [e.first_sample for e in first + second if isinstance(e, AudioChunk)]
    assert firsts == [i * 480 for i in range(len(firsts))]
    assert len(firsts) * 480 >= 2 * 24000 - 480 * 2


def test_barge_in_during_echo_is_detected_fast_and_only_then(speech: SpeechFixtures) -> None:
    far16, rate = SpeechFixtures.load(
        speech.say("The meeting moved to three o'clock on Thursday afternoon.", "espeak")
    )
    near16, _ = SpeechFixtures.load(speech.say("Stop, what time is it now?", "festival"))
    far, near = resample(far16, rate, DEVICE_RATE), resample(near16, rate, DEVICE_RATE)
    at = 10.0
    scene = make_echo_scene(far, DEVICE_RATE, 14.0, near, near_at_s=(at,))
    onset = scene.near_spans[0][0]
    p = CapturePipeline(DspConfig(), DEVICE_RATE, 24000)
    p.set_assistant_speaking(True)
    decided: list[tuple[SpeechStarted, int]] = []
    for i in range(0, len(scene.mic) - BLOCK + 1, BLOCK):
        for e in p.process(
            scene.mic[i : i + BLOCK], scene.far[i : i + BLOCK], T0 + i / DEVICE_RATE
        ):
            if isinstance(e, SpeechStarted):
                decided.append((e, i + BLOCK))
    p.close()
    assert len(decided) == 1  # the echo alone never started speech
    start, fed = decided[0]
    assert (fed - onset) / DEVICE_RATE <= 0.3  # target 300 ms; measured ≈ 120 ms
    stamp = p.origin_s + start.sample / 24000
    assert abs(stamp - onset / DEVICE_RATE) <= 0.1


def test_levels_for_the_meter_keep_the_talker_dynamics_the_agc_lifts(
    utterance: np.ndarray,
) -> None:
    """``AudioChunk.levels_db`` is measured before the AGC, contiguous and dated like the audio."""
    lead = 1.0
    start = int(lead * DEVICE_RATE)
    mic = np.zeros(start * 2 + len(utterance), np.float32)
    mic[start : start + len(utterance)] = 0.1 * utterance  # a quiet talker: the AGC lifts them
    runs = {}
    for agc in (False, True):
        p = CapturePipeline(DspConfig(agc=agc), DEVICE_RATE, 24000)
        chunks = [e for e in _feed(p, mic, np.zeros_like(mic)) if isinstance(e, AudioChunk)]
        p.close()
        with_levels = [c for c in chunks if c.levels_db]
        for a, b in zip(with_levels, with_levels[1:], strict=False):  # one contiguous track
            assert b.levels_at == pytest.approx(a.levels_at + len(a.levels_db) * 0.005, abs=1e-6)
        pcm = np.frombuffer(b"".join(c.pcm for c in chunks), "<i2").astype(np.float32) / 32768
        runs[agc] = (with_levels[0].levels_at, [v for c in with_levels for v in c.levels_db], pcm)
    (t_off, levels_off, pcm_off), (t_on, levels_on, pcm_on) = runs[False], runs[True]
    assert np.sqrt(np.mean(pcm_on**2)) > 2 * np.sqrt(np.mean(pcm_off**2))  # the AGC did lift
    assert t_on == t_off
    np.testing.assert_allclose(levels_on, levels_off)  # the levels did not follow it
    win = DEVICE_RATE // 200  # the same 5 ms windows, on the input
    mic_db = 10 * np.log10(np.maximum(np.mean(mic.reshape(-1, win) ** 2, axis=1), 1e-20))
    loud_in = T0 + 0.005 * int(np.flatnonzero(mic_db > -50.0)[0])
    loud_at = t_on + 0.005 * int(np.flatnonzero(np.asarray(levels_on) > -50.0)[0])
    assert loud_at == pytest.approx(loud_in, abs=0.006)  # dated where it was in the input
