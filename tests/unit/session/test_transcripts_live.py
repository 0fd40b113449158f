import json
from pathlib import Path

import pytest

from app.events import TranscriptLine
from app.metrics import LatencyMeter
from app.session.transcripts import Transcript, TranscriptStore, split_heard


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


WALL0 = 1_741_100_000.0  # an arbitrary wall-clock epoch


@pytest.fixture
def store(tmp_path: Path) -> TranscriptStore:
    s = TranscriptStore(tmp_path / "data" / "transcripts.sqlite3")
    yield s  # type: ignore[misc]
    s.close()


def make(store: TranscriptStore | None) -> tuple[Transcript, list[TranscriptLine], Clock]:
    seen: list[TranscriptLine] = []
    clock = Clock()

    def observer(event: object) -> None:
        assert isinstance(event, TranscriptLine)
        seen.append(event)

    transcript = Transcript(store, observer, clock=clock, wall_clock=lambda: WALL0 + clock.now)
    return transcript, seen, clock


@pytest.mark.parametrize(
    ("text", "fraction", "heard", "unheard"),
    [
        ("The quick brown fox jumps", 0.5, "The quick", "brown fox jumps"),
        ("The quick brown fox jumps", 0.6, "The quick brown", "fox jumps"),
        ("The quick brown fox jumps", 0.0, "", "The quick brown fox jumps"),
        ("The quick brown fox jumps", 1.0, "The quick brown fox jumps", ""),
        ("The quick brown fox jumps", 7.0, "The quick brown fox jumps", ""),
        ("The quick brown fox jumps", 0.2, "The", "quick brown fox jumps"),
        ("Supercalifragilistic", 0.4, "", "Supercalifragilistic"),
        ("", 0.5, "", ""),
    ],
)
def test_split_heard_cuts_at_word_boundaries(
    text: str, fraction: float, heard: str, unheard: str
) -> None:
    assert split_heard(text, fraction) == (heard, unheard)


def test_deltas_stream_and_done_replaces(store: TranscriptStore) -> None:
    transcript, seen, _ = make(store)
    transcript.user_delta("u1", "Hel", started_at=99.0)
    transcript.user_delta("u1", "lo there")
    transcript.user_done("u1", " Hello there. ")
    assert [(e.text, e.final) for e in seen] == [
        ("Hel", False),
        ("Hello there", False),
        ("Hello there.", True),
    ]
    transcript.user_delta("u1", " late")  # after done: ignored
    assert transcript.lines()[0].text == "Hello there."


def test_lines_ordered_by_speech_start_not_arrival() -> None:
    transcript, _, clock = make(None)
    transcript.user_started("u1", 50.0)
    clock.now = 52.0
    transcript.assistant_delta("a1", "Sure, ")
    clock.now = 53.0
    # The user's transcription completes after the assistant started answering.
    transcript.user_done("u1", "Can you help?")
    transcript.user_started("u2", 60.0)
    transcript.user_delta("u2", "Thanks")
    assert [line.item_id for line in transcript.lines()] == ["u1", "a1", "u2"]


def test_completed_lines_are_persisted_at_once(store: TranscriptStore) -> None:
    transcript, _, _ = make(store)
    transcript.user_delta("u1", "partial", started_at=90.0)
    assert store.lines(transcript.session_id) == []  # deltas are not persisted
    transcript.user_done("u1", "complete question")
    transcript.assistant_delta("a1", "An answer")
    transcript.assistant_done("a1", "An answer.")
    # A second store on the same file (like after a crash) sees both lines.
    reopened = TranscriptStore(store_path(store))
    lines = reopened.lines(transcript.session_id)
    reopened.close()
    assert [(ln.role, ln.text, ln.final) for ln in lines] == [
        ("user", "complete question", True),
        ("assistant", "An answer.", True),
    ]


def store_path(store: TranscriptStore) -> str:
    return str(store._db.execute("PRAGMA database_list").fetchone()[2])


def test_truncation_splits_heard_and_unheard_by_audio_time(store: TranscriptStore) -> None:
    transcript, seen, _ = make(store)
    text = "One two three four five six seven eight nine ten"
    transcript.assistant_delta("a1", text)
    transcript.assistant_audio("a1", 2000.0)
    transcript.assistant_truncated("a1", heard_ms=1000.0)
    last = seen[-1]
    assert (last.text, last.unheard) == ("One two three four five", "six seven eight nine ten")
    assert last.interrupted and last.final
    # Deltas and the done event for the cancelled response arrive later: all unheard.
    transcript.assistant_delta("a1", " eleven")
    transcript.assistant_done("a1", text + " eleven twelve")
    final = transcript.lines()[0]
    assert final.text == "One two three four five"
    assert final.unheard == "six seven eight nine ten eleven twelve"
    [stored] = store.lines(transcript.session_id)
    assert (stored.text, stored.unheard, stored.interrupted) == (final.text, final.unheard, True)


def test_truncation_with_explicit_total_and_all_heard() -> None:
    transcript, _, _ = make(None)
    transcript.assistant_delta("a1", "alpha beta gamma delta")
    transcript.assistant_truncated("a1", heard_ms=500.0, total_ms=2000.0)
    assert transcript.lines()[0].text == "alpha"
    transcript.assistant_delta("a2", "all of it")
    transcript.assistant_audio("a2", 800.0)
    transcript.assistant_truncated("a2", heard_ms=900.0)
    line = transcript.lines()[1]
    assert (line.text, line.unheard, line.interrupted) == ("all of it", "", True)


def test_truncation_before_any_text_uses_speaking_rate() -> None:
    transcript, _, _ = make(None)
    transcript.assistant_truncated("a1", heard_ms=1000.0)  # ~15 characters heard
    assert transcript.lines()[0].text == ""
    transcript.assistant_done("a1", "Twelve times seven is eighty-four, and that is all.")
    line = transcript.lines()[0]
    assert line.text == "Twelve times"
    assert line.unheard == "seven is eighty-four, and that is all."


def test_user_failed_keeps_partial_text(store: TranscriptStore) -> None:
    transcript, seen, _ = make(store)
    transcript.user_delta("u1", "mumble")
    transcript.user_failed("u1")
    assert seen[-1].final and seen[-1].text == "mumble"
    assert store.lines(transcript.session_id)[0].text == "mumble"


def test_broken_observer_and_store_do_not_break_the_transcript(
    store: TranscriptStore, caplog: pytest.LogCaptureFixture
) -> None:
    def observer(_event: object) -> None:
        raise RuntimeError("gui gone")

    transcript = Transcript(store, observer)
    store.close()
    transcript.user_done("u1", "still works")
    assert transcript.lines()[0].text == "still works"
    assert "could not persist" in caplog.text and "observer failed" in caplog.text


def test_export_markdown_and_json(store: TranscriptStore) -> None:
    transcript, _, clock = make(store)
    transcript.user_started("u1", 100.0)
    transcript.user_done("u1", "What is 2*3?")
    clock.now = 101.0
    transcript.assistant_delta("a1", "It is six. Anything else you need?")
    transcript.assistant_audio("a1", 3000.0)
    transcript.assistant_truncated("a1", heard_ms=1000.0)
    meter = LatencyMeter()
    meter.mark("t1", "speech_end", 10.0)
    meter.mark("t1", "onset", 10.42)
    transcript.save_latency(meter.snapshot())

    md = store.export_markdown(transcript.session_id)
    assert md.startswith("# VoxDesk conversation, ")
    assert "**You** (" in md and "): What is 2\\*3?" in md
    assert (
        "**Assistant** (" in md and "It is six. ~~Anything else you need?~~ *(interrupted)*" in md
    )
    assert "| Voice-to-voice | 420 | 420 | 420 | 420 | 1 |" in md
    assert "| Mic → uplink | – | – | – | – | 0 |" in md

    data = json.loads(store.export_json(transcript.session_id))
    assert data["session_id"] == transcript.session_id
    assert [(ln["role"], ln["text"], ln["unheard"]) for ln in data["lines"]] == [
        ("user", "What is 2*3?", ""),
        ("assistant", "It is six.", "Anything else you need?"),
    ]
    v2v = next(s for s in data["latency"]["segments"] if s["segment"] == "voice_to_voice")
    assert v2v["p50_ms"] == pytest.approx(420.0)
    assert data["latency"]["turns"] == [{"turn_id": "t1", "voice_to_voice": 420.0}]


def test_export_without_latency_and_unknown_session(store: TranscriptStore) -> None:
    transcript, _, _ = make(store)
    transcript.user_done("u1", "hi")
    assert "No latency measured." in store.export_markdown(transcript.session_id)
    assert json.loads(store.export_json(transcript.session_id))["latency"] is None
    assert store.sessions()[0][0] == transcript.session_id
    with pytest.raises(KeyError):
        store.export_json("nope")


def test_memory_only_transcript_has_no_session() -> None:
    transcript, seen, _ = make(None)
    transcript.assistant_done("a1", "hello")
    transcript.save_latency(LatencyMeter().snapshot())
    assert transcript.session_id == "" and seen[-1].final
