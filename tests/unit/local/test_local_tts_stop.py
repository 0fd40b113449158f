"""StopSignal and synthesize_all with engines that can only stop between chunks."""

from __future__ import annotations

from collections.abc import Iterator

from app.local.tts import StopSignal, synthesize_all


class CountingVoice:
    """Three chunks per text; sets ``stop_after`` 's signal once that many were yielded."""

    name = "counting"

    def __init__(self, stop: StopSignal | None = None, stop_after: int = 99) -> None:
        self.stop, self.stop_after, self.yielded = stop, stop_after, 0

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[bytes]:
        for _ in range(3):
            self.yielded += 1
            yield b"\x01\x00" * 10
            if self.stop is not None and self.yielded >= self.stop_after:
                self.stop.set()


def test_callbacks_run_once_and_late_registration_runs_at_once() -> None:
    stop, calls = StopSignal(), []
    stop.on_set(lambda: calls.append("early"))
    assert not stop.is_set() and calls == []
    stop.set()
    stop.set()
    stop.on_set(lambda: calls.append("late"))
    assert stop.is_set() and calls == ["early", "late"]


def test_synthesis_without_stop_returns_every_chunk() -> None:
    assert len(synthesize_all(CountingVoice(), "x", 1.0, StopSignal())) == 3


def test_synthesis_stops_between_chunks() -> None:
    stop = StopSignal()
    voice = CountingVoice(stop, stop_after=1)
    assert len(synthesize_all(voice, "x", 1.0, stop)) == 1
    assert voice.yielded == 2  # the engine was not pulled to the end


def test_synthesis_stopped_before_it_began_returns_nothing() -> None:
    stop = StopSignal()
    stop.set()
    assert synthesize_all(CountingVoice(), "x", 1.0, stop) == []
