"""Regression tests for defects found in review of the local engine's protocol session.

The session runs for real on an asyncio loop; only the engines at its edges are small fakes
(an energy-based VAD scorer, an instant recognizer that can be held, a silent voice).
"""

from __future__ import annotations

import base64

from tests.unit.local.local_session_fakes import Client, HeldRecognizer, pcm, run


def test_response_cancelled_before_its_task_ran_still_sends_created_and_done() -> None:
    """``response.done`` is always sent, even when the cancel arrives in the same read."""

    async def scenario(client: Client) -> None:
        await client.manual_turns()
        await client.send({"type": "response.create", "event_id": "evt_c"})
        await client.send({"type": "response.cancel", "event_id": "evt_x"})  # no yield between
        await client.until(lambda: "response.done" in client.types(), "response.done")

    client = run(scenario)
    created, done = client.of_type("response.created"), client.of_type("response.done")
    assert len(created) == 1 and len(done) == 1
    assert created[0]["response"]["id"] == done[0]["response"]["id"]
    assert done[0]["response"]["status"] == "cancelled"
    assert done[0]["response"]["status_details"]["reason"] == "client_cancelled"
    assert not client.of_type("error")
    assert client.types().index("response.created") < client.types().index("response.done")


def test_server_vad_turn_cancelled_by_new_speech_in_the_same_append_is_announced() -> None:
    """speech_stopped → response → speech_started in one append: created and done both arrive."""

    async def scenario(client: Client) -> None:
        # one append holding: speech, the closing silence, and new speech (server VAD default)
        joined = b"".join(
            base64.b64decode(pcm(ms, loud))
            for ms, loud in ((200, False), (600, True), (700, False), (600, True))
        )
        await client.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(joined).decode()}
        )
        await client.until(lambda: "response.done" in client.types(), "response.done")

    client = run(scenario)
    types = client.types()
    assert types.count("input_audio_buffer.speech_started") == 2
    assert types.count("response.created") == 1 and types.count("response.done") == 1
    # announced before the speech that cuts it, so a client never cancels it a second time
    second_start = len(types) - 1 - types[::-1].index("input_audio_buffer.speech_started")
    assert types.index("response.created") < second_start
    done = client.of_type("response.done")[0]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "turn_detected"


def test_cancelling_a_response_does_not_cancel_the_transcription_it_waited_for() -> None:
    """The user's item keeps its transcript when the response waiting for it is cut."""
    stt = HeldRecognizer("remind me to call Ana", held=True)

    async def scenario(client: Client) -> None:
        await client.manual_turns(transcription=True)
        await client.send({"type": "input_audio_buffer.append", "audio": pcm(600, True)})
        await client.send({"type": "input_audio_buffer.commit"})
        await client.send({"type": "response.create"})
        await client.until(lambda: "response.created" in client.types(), "response.created")
        await client.send({"type": "response.cancel"})
        await client.until(lambda: "response.done" in client.types(), "response.done")
        stt.release.set()
        await client.until(
            lambda: bool(client.of_type("conversation.item.input_audio_transcription.completed")),
            "the transcript of the committed item",
        )

    client = run(scenario, stt)
    completed = client.of_type("conversation.item.input_audio_transcription.completed")
    assert completed[0]["transcript"] == "remind me to call Ana"
    item_id = client.of_type("input_audio_buffer.committed")[0]["item_id"]
    assert completed[0]["item_id"] == item_id


def test_input_buffer_stays_bounded_while_server_vad_hears_only_silence() -> None:
    """Hands-free silence must not pile up until appends are refused as a full buffer."""
    lengths: list[int] = []

    async def scenario(client: Client) -> None:
        for _ in range(100):  # 20 s of silence in 200 ms appends
            await client.send({"type": "input_audio_buffer.append", "audio": pcm(200, False)})
            lengths.append(len(client.session.buffer))
        # a turn after the long silence is still segmented with its padding
        await client.send({"type": "input_audio_buffer.append", "audio": pcm(800, True)})
        await client.send({"type": "input_audio_buffer.append", "audio": pcm(800, False)})
        await client.until(
            lambda: "input_audio_buffer.committed" in client.types(), "the turn committed"
        )

    client = run(scenario)
    assert max(lengths) <= 3 * 48_000  # a few seconds at most, not the whole silence
    started = client.of_type("input_audio_buffer.speech_started")[0]
    assert 19_600 <= started["audio_start_ms"] <= 20_000  # 300 ms padding before 20 000 ms
    item_id = client.of_type("input_audio_buffer.committed")[0]["item_id"]
    track = client.session.conversation.audio[item_id]
    stopped = client.of_type("input_audio_buffer.speech_stopped")[0]["audio_end_ms"]
    assert abs(track.ms - (stopped - started["audio_start_ms"])) <= 2
    assert not client.of_type("error")
