"""Protocol gaps of the local engine: conversation.created, usage, idle timeout, timers, cancel.

The session runs for real on an asyncio loop with fake engines at its edges; every event it sends
is validated against the official ``openai`` realtime types.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openai.types.realtime import RealtimeResponseUsage, RealtimeServerEvent
from pydantic import TypeAdapter

from app.local.input_audio import IDLE_PROMPT
from app.local.tts import first_clause
from app.local.usage import text_tokens
from tests.unit.local.local_session_fakes import Client, HeldRecognizer, ToneVoice, pcm, run

SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
JSON = dict[str, Any]


def validated(client: Client) -> Client:
    for event in client.sent:
        SERVER_EVENT.validate_python(event)
    return client


async def ask_text(client: Client, text: str) -> None:
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )
    await client.send({"type": "response.create"})


def count(client: Client, kind: str) -> int:
    return client.types().count(kind)


async def answered(client: Client, n: int, what: str = "response.done") -> None:
    """Wait until the session sent its ``n``-th ``response.done``."""
    await client.until(lambda: count(client, "response.done") == n, what)


async def ptt_turn(client: Client) -> None:
    """A push-to-talk turn: 600 ms of speech appended and committed, one answer asked for."""
    await client.manual_turns()
    await client.send({"type": "input_audio_buffer.append", "audio": pcm(600, True)})
    await client.send({"type": "input_audio_buffer.commit"})
    await client.send({"type": "response.create"})
    await answered(client, 1)


async def text_turn(client: Client, text: str) -> None:
    """A typed turn on manual turn taking, waited on until its answer is done."""
    await client.manual_turns()
    await ask_text(client, text)
    await answered(client, 1)


def test_conversation_created_follows_session_created_with_the_response_conversation() -> None:
    async def scenario(client: Client) -> None:
        await text_turn(client, "what is 2 plus 2")

    client = validated(run(scenario))
    assert client.types()[:2] == ["session.created", "conversation.created"]
    conversation = client.of_type("conversation.created")[0]["conversation"]
    assert conversation["object"] == "realtime.conversation"
    done = client.of_type("response.done")[0]["response"]
    assert done["conversation_id"] == conversation["id"]


def test_response_done_reports_token_usage_for_audio_in_and_out() -> None:
    client = validated(run(ptt_turn, tts=ToneVoice(0.5)))
    usage = RealtimeResponseUsage.model_validate(
        client.of_type("response.done")[0]["response"]["usage"]
    )
    assert usage.input_token_details is not None and usage.output_token_details is not None
    assert usage.input_token_details.audio_tokens == 6  # 600 ms at one token per 100 ms
    assert usage.output_token_details.audio_tokens == 10  # 500 ms at one token per 50 ms
    assert usage.output_token_details.text_tokens and usage.output_token_details.text_tokens > 0
    assert usage.input_tokens == 6 + (usage.input_token_details.text_tokens or 0)
    assert usage.total_tokens == (usage.input_tokens or 0) + (usage.output_tokens or 0)


def test_usage_is_reported_for_a_cancelled_response_too() -> None:
    async def scenario(client: Client) -> None:
        await client.manual_turns()
        await ask_text(client, "hello")
        await client.send({"type": "response.cancel"})
        await answered(client, 1)

    client = validated(run(scenario))
    done = client.of_type("response.done")[0]["response"]
    assert done["status"] == "cancelled"
    assert done["usage"]["input_tokens"] == text_tokens("hello")


async def vad_session(client: Client, idle_timeout_ms: int | None) -> None:
    await client.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {
                    "input": {
                        "turn_detection": {
                            "type": "server_vad",
                            "idle_timeout_ms": idle_timeout_ms,
                        }
                    }
                },
            },
        }
    )


async def append(client: Client, ms: int, loud: bool, chunk_ms: int = 100) -> None:
    for _ in range(ms // chunk_ms):
        await client.send({"type": "input_audio_buffer.append", "audio": pcm(chunk_ms, loud)})


def test_idle_timeout_commits_the_silence_and_prompts_the_user() -> None:
    async def scenario(client: Client) -> None:
        await vad_session(client, 1000)
        await append(client, 1500, False)  # no answer yet: nothing to time out from
        assert count(client, "input_audio_buffer.timeout_triggered") == 0
        await ask_text(client, "what is 2 plus 2")
        await answered(client, 1, "first answer")
        await append(client, 600, False)
        assert count(client, "input_audio_buffer.timeout_triggered") == 0
        await append(client, 1200, False)
        await answered(client, 2, "the idle prompt")

    client = validated(run(scenario, tts=ToneVoice(0.3)))
    assert count(client, "input_audio_buffer.timeout_triggered") == 1
    timeout = client.of_type("input_audio_buffer.timeout_triggered")[0]
    # counted from when the first answer's audio (0.3 s) would have finished playing
    assert timeout["audio_start_ms"] >= 1500 + 300
    assert 1000 <= timeout["audio_end_ms"] - timeout["audio_start_ms"] <= 1100
    types = client.types()
    at = types.index("input_audio_buffer.timeout_triggered")
    committed = client.of_type("input_audio_buffer.committed")
    assert committed and committed[-1]["item_id"] == timeout["item_id"]
    assert types.index("input_audio_buffer.committed", at) < types.index("response.created", at)
    prompt = client.of_type("response.done")[1]["response"]
    assert prompt["status"] == "completed"
    assert prompt["output"][0]["content"][0]["transcript"] == IDLE_PROMPT


def test_speech_disarms_the_idle_timeout() -> None:
    async def scenario(client: Client) -> None:
        await vad_session(client, 1000)
        await ask_text(client, "what is 2 plus 2")
        await answered(client, 1, "first answer")
        await append(client, 800, False)
        await append(client, 400, True)  # the user speaks before the timeout
        await append(client, 800, False)
        await answered(client, 2, "the turn's answer")

    client = validated(run(scenario))
    assert count(client, "input_audio_buffer.speech_started") == 1
    assert count(client, "input_audio_buffer.timeout_triggered") == 0


def test_idle_timeout_off_by_default() -> None:
    async def scenario(client: Client) -> None:
        await vad_session(client, None)
        await ask_text(client, "hello")
        await answered(client, 1, "answer")
        await append(client, 3000, False)

    client = validated(run(scenario))
    assert count(client, "input_audio_buffer.timeout_triggered") == 0
    assert count(client, "response.done") == 1


def test_timer_announcements_go_on_after_one_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    failures: list[str] = []

    async def scenario(client: Client) -> None:
        session = client.session
        real_start = session._start_response

        async def flaky(overrides: JSON, announce: str | None = None) -> None:
            if not failures:
                failures.append(str(announce))
                raise RuntimeError("announcement broke")
            await real_start(overrides, announce)

        monkeypatch.setattr(session, "_start_response", flaky)
        timers = session.agent.memory.timers
        timers.add(1.0, session.agent.mono() - 1.0, "tea")
        await client.until(lambda: bool(failures), "the first announcement", timeout=5)
        timers.add(1.0, session.agent.mono() - 1.0, "pasta")
        await answered(client, 1, "the second")

    client = validated(run(scenario))
    assert "tea" in failures[0]
    said = client.of_type("response.done")[0]["response"]["output"][0]["content"][0]
    assert "pasta" in said["transcript"]


def test_cancel_lets_no_audio_delta_out_and_done_follows_at_once() -> None:
    records: list[JSON] = []
    marks: dict[str, int] = {}

    async def scenario(client: Client) -> None:
        third = asyncio.Event()

        def watch(event: JSON) -> None:
            if event["type"] == "response.output_audio.delta":
                marks["deltas"] = marks.get("deltas", 0) + 1
                if marks["deltas"] == 3:
                    third.set()

        client.watch = watch
        client.yield_on_audio = True  # a socket that makes the sender wait between deltas
        await client.manual_turns()
        await ask_text(client, "what can you do")
        async with asyncio.timeout(5):
            await third.wait()
        marks["cancel_at"] = len(client.sent)
        await client.send({"type": "response.cancel"})
        marks["returned_at"] = len(client.sent)

    client = validated(run(scenario, tts=ToneVoice(3.0), timing_sink=records.append))
    after = client.types()[marks["cancel_at"] :]
    assert "response.output_audio.delta" not in after
    # the cancel handler returns only once response.done was sent
    assert after[-1] == "response.done" and marks["returned_at"] == len(client.sent)
    assert client.of_type("response.done")[0]["response"]["status"] == "cancelled"
    assert marks["deltas"] < 30  # one sentence alone is 30 deltas
    (record,) = records
    assert record["status"] == "cancelled"
    assert record["cancel_to_last_delta_ms"] < 0  # the last delta left before the cancel
    assert record["cancel_to_done_ms"] >= 0


def test_timing_record_of_a_turn_has_every_stage_in_order() -> None:
    records: list[JSON] = []

    run(ptt_turn, tts=ToneVoice(0.5), timing_sink=records.append)
    (record,) = records
    ms = record["ms"]
    assert record["from_turn_end"] is True and record["status"] == "completed"
    order = ["created", "transcript_ready", "decided", "tts_first_chunk", "first_delta"]
    assert [ms[k] for k in order] == sorted(ms[k] for k in order)
    assert ms["first_delta"] <= ms["last_delta"] <= ms["done"]


def test_first_clause_goes_first_only_in_long_sentences() -> None:
    assert first_clause("It's 3:05 PM.") == ["It's 3:05 PM."]
    long = "Sure, I can help with the time, the date, timers, arithmetic and unit conversions."
    assert first_clause(long) == [
        "Sure, I can help with the time,",
        "the date, timers, arithmetic and unit conversions.",
    ]
    no_comma = "I can tell you the time and the date and set timers for you today"
    assert first_clause(no_comma) == [no_comma]


def test_text_tokens_estimate() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcd") == 1
    assert text_tokens("abcde") == 2


def test_answer_start_is_voiced_during_the_silence_without_side_effects() -> None:
    """Hands-free: the first clause is synthesised before the turn ends, and used."""
    records: list[JSON] = []
    timers: list[int] = []

    async def scenario(client: Client) -> None:
        await append(client, 200, False)
        await append(client, 600, True)
        await append(client, 800, False)
        await answered(client, 1, "the answer")
        timers.append(len(client.session.agent.memory.timers.active()))

    client = validated(
        run(
            scenario,
            stt=HeldRecognizer("set a timer for ten minutes"),
            tts=ToneVoice(0.2),
            timing_sink=records.append,
        )
    )
    (record,) = records
    assert record["speculated"] is True and record["presynthesized"] is True
    assert timers == [1]  # the speculative answer set no timer of its own
    said = client.of_type("response.done")[0]["response"]["output"][0]["content"][0]
    assert "10 minutes" in said["transcript"] or "ten minutes" in said["transcript"]
    # the audio of the first piece was sent as usual
    assert count(client, "response.output_audio.delta") >= 2


def test_push_to_talk_turn_has_no_speculative_audio() -> None:
    """Without a closing silence there is nothing to voice ahead of the turn end."""
    records: list[JSON] = []

    run(ptt_turn, tts=ToneVoice(0.2), timing_sink=records.append)
    (record,) = records
    assert record["speculated"] is False and "presynthesized" not in record
