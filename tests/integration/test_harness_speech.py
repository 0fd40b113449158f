"""The speech-fixture generator, for real: every voice speaks, at the asked rate, and is cached."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from app.harness.signals import rms
from app.harness.speech import VOICES, SpeechFixtures

pytestmark = pytest.mark.slow

SENTENCE = "Please set a timer for ten minutes."


@pytest.mark.parametrize("voice", VOICES)
def test_each_voice_produces_speech_of_plausible_length(voice: str, tmp_path: Path) -> None:
    fixtures = SpeechFixtures(tmp_path / "cache")
    path = fixtures.say(SENTENCE, voice=voice, rate=16000)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
    samples, rate = fixtures.load(path)
    seconds = len(samples) / rate
    # Seven words: roughly 1-5 s for any of these synthesisers.
    assert 1.0 < seconds < 5.0, seconds
    assert rms(samples) > 0.01
    assert float(abs(samples).max()) < 1.0


def test_clips_are_cached_by_text_voice_and_rate(tmp_path: Path) -> None:
    fixtures = SpeechFixtures(tmp_path / "cache")
    first = fixtures.say("Hello there.", rate=16000)
    stamp = first.stat().st_mtime_ns
    assert fixtures.say("Hello there.", rate=16000) == first
    assert first.stat().st_mtime_ns == stamp  # not regenerated
    other_rate = fixtures.say("Hello there.", rate=24000)
    other_text = fixtures.say("Goodbye.", rate=16000)
    assert len({first, other_rate, other_text}) == 3
    assert fixtures.load(other_rate)[1] == 24000
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        p.name for p in (first, other_rate, other_text)
    )


def test_unknown_voice_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown voice"):
        SpeechFixtures(tmp_path).say("hi", voice="nope")


def test_default_cache_honours_the_environment(speech: SpeechFixtures) -> None:
    import os

    assert speech.cache_dir == Path(os.environ["VOXDESK_FIXTURE_CACHE"])
