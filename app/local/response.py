"""One response of the local engine, from ``response.created`` to ``response.done``.

The run decides what to do (the agent, or the optional chat endpoint), then streams a
``function_call`` item with argument deltas or an assistant message whose audio is synthesised
sentence by sentence and sent in deltas of at most 100 ms as soon as each sentence is ready.
Cancelling the task stops it at the next await (no delta after the cancel is handled); the run
then closes every open part and item and always sends ``response.done`` with status and reason.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from app.local import events as ev
from app.local.agent.engine import Agent, CallTool, Speak
from app.local.conversation import BYTES_PER_MS, Conversation
from app.local.events import JSON, new_id
from app.local.llm import ChatClient, ChatUnavailable
from app.local.presynth import PendingSynthesis
from app.local.timing import ResponseTiming, TimingSink
from app.local.tts import (
    StopSignal,
    Synthesizer,
    first_clause,
    split_sentences,
    synthesize_all,
    trim_leading_silence,
)
from app.local.usage import response_usage

log = logging.getLogger("app.local.response")

DELTA_BYTES = 4800  # 100 ms of pcm16 24 kHz
ARGUMENT_CHUNK = 8  # characters per function_call_arguments.delta
LLM_INTENTS = ("unknown", "how_are_you", "joke")  # answered by the chat endpoint when there is one
Send = Callable[[JSON], Awaitable[None]]


def split_audio(pcm: bytes, max_bytes: int = DELTA_BYTES) -> list[bytes]:
    """Split pcm16 audio into near-equal deltas of at most ``max_bytes`` (whole samples)."""
    if not pcm:
        return []
    count = -(-len(pcm) // max_bytes)
    size = -(-len(pcm) // count)
    size += size % 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


@dataclass
class ResponseParams:
    """Effective settings of one response (session defaults overridden by ``response.create``)."""

    modalities: list[str]
    tools: list[JSON]
    tool_choice: Any
    max_output_tokens: Any
    voice: Any
    speed: float
    in_conversation: bool
    metadata: Any = None
    context: list[JSON] | None = None  # explicit ``input`` (replaces the conversation)
    announce: str | None = None  # server-initiated speech (a timer went off)


@dataclass(eq=False)
class ResponseRun:
    """State of one response; ``run()`` is the task body."""

    params: ResponseParams
    send: Send
    conversation: Conversation
    agent: Agent
    tts: Callable[[], Synthesizer]
    llm: ChatClient | None = None
    prepare: Callable[[], Awaitable[None]] | None = None  # waits for pending transcripts
    executor: Executor | None = None  # where synthesis runs (None: the loop's default)
    id: str = field(default_factory=lambda: new_id("resp"))
    conversation_id: str = ""
    cancel_reason: str = "client_cancelled"
    output: list[JSON] = field(default_factory=list)
    produced_audio: bool = False
    announced: bool = False  # ``response.created`` was sent
    started: bool = False  # the task body runs: a task cancel now reaches its handler
    cancel_requested: bool = False  # cancelled before the task ran: ``run`` ends it at once
    stopping: bool = False  # a cancel was handled: not one more audio delta may leave
    timing: ResponseTiming = field(default_factory=ResponseTiming)
    sink: TimingSink | None = None  # receives the timing record when the run ends
    audio_bytes: int = 0  # output audio sent so far
    stop_synthesis: StopSignal = field(default_factory=StopSignal)  # aborts TTS in the executor
    presynth: PendingSynthesis | None = None  # the first clause, synthesised during the silence
    _open: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def shape(self, status: str, details: JSON | None = None) -> JSON:
        """The ``response`` object in its current state."""
        return {
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": details,
            "output": self.output,
            "conversation_id": self.conversation_id if self.params.in_conversation else None,
            "output_modalities": self.params.modalities,
            "max_output_tokens": self.params.max_output_tokens,
            "audio": {
                "output": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "voice": self.params.voice,
                }
            },
            "metadata": self.params.metadata,
            "usage": None,
        }

    async def announce(self) -> None:
        """Send ``response.created`` (and the rate limits); ``run`` does it if nobody did."""
        self.announced = True
        self.timing.mark("created")
        await self.send(ev.response_created(self.shape("in_progress")))
        await self.send(ev.rate_limits_updated())

    def cancel(self, task: asyncio.Task[None] | None, reason: str) -> None:
        """Cancel the run; it still ends with ``response.done`` (status ``cancelled``).

        A task cancelled before its first step never runs its body, so a run whose task has not
        started yet (or does not exist yet) is only flagged, and ``run`` ends it at once.
        """
        self.cancel_reason = reason
        self.stopping = True
        self.stop_synthesis.set()  # the voice thread is free for the next answer at once
        self.timing.mark("cancel_received")
        if self.started and task is not None:
            task.cancel()
        else:
            self.cancel_requested = True

    async def run(self) -> None:
        """Run the response to completion or cancellation; ``response.done`` is always sent."""
        self.started = True
        status, details = "completed", None
        # copied before this response's own items join the conversation
        context = self._context()
        try:
            if not self.announced:
                await self.announce()
            if self.cancel_requested:
                raise asyncio.CancelledError
            if self.prepare is not None:
                await self.prepare()
            self.timing.mark("transcript_ready")
            context = self._context()
            tools = self.params.tools if self.params.tool_choice != "none" else []
            decision: Speak | CallTool
            if self.params.announce is not None:
                decision = Speak(self.params.announce, "announcement")
            else:
                decision = self.agent.decide(context, tools)
            self.timing.mark("decided")
            if isinstance(decision, CallTool):
                await self._function_call(decision)
            else:
                status, details = await self._message(decision)
        except asyncio.CancelledError:
            status = "cancelled"
            details = {"type": "cancelled", "reason": self.cancel_reason}
            await self._close_open("incomplete")
        except Exception as exc:  # the response fails; the session lives on
            log.exception("response %s failed", self.id)
            status = "failed"
            details = {
                "type": "failed",
                "error": {
                    "type": "server_error",
                    "code": "engine_error",
                    "message": str(exc)[:200],
                },
            }
            await self._close_open("incomplete")
        done = self.shape(status, details)
        done["usage"] = response_usage(
            context, self.output, self.audio_bytes // BYTES_PER_MS, self.conversation
        )
        if self.presynth is not None:  # not used (e.g. a tool call, or cancelled before audio)
            self.presynth.drop()
            self.presynth = None
        await self.send(ev.response_done(done))
        self.timing.mark("done")
        if self.sink is not None:
            try:
                self.sink(self.timing.record(self.id, status))
            except Exception:  # a timing sink must never break a response
                log.exception("timing sink failed")

    def _context(self) -> list[JSON]:
        given = self.params.context
        return list(given if given is not None else self.conversation.items)

    async def _close_open(self, status: str) -> None:
        closers, self._open = self._open, []
        for close in reversed(closers):
            await close()

    async def _add_item(self, item: JSON) -> int:
        index = len(self.output)
        self.output.append(item)
        await self.send(ev.output_item_added(self.id, index, item))
        if self.params.in_conversation:
            previous = self.conversation.insert(item)
            await self.send(ev.conversation_item_added(item, previous))
        return index

    async def _finish_item(self, index: int, item: JSON, status: str) -> None:
        item["status"] = status
        await self.send(ev.output_item_done(self.id, index, item))
        if self.params.in_conversation and any(i is item for i in self.conversation.items):
            previous = self.conversation.previous_id(str(item["id"]))
            await self.send(ev.conversation_item_done(item, previous))

    async def _function_call(self, call: CallTool) -> None:
        item = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": new_id("call"),
            "name": call.name,
            "arguments": "",
        }
        index = await self._add_item(item)

        async def close_incomplete() -> None:
            await self._finish_item(index, item, "incomplete")

        self._open.append(close_incomplete)
        for start in range(0, len(call.arguments), ARGUMENT_CHUNK):
            delta = call.arguments[start : start + ARGUMENT_CHUNK]
            item["arguments"] += delta
            await self.send(
                ev.arguments_delta(self.id, str(item["id"]), index, str(item["call_id"]), delta)
            )
        self._open.remove(close_incomplete)
        await self.send(
            ev.arguments_done(
                self.id, str(item["id"]), index, str(item["call_id"]), call.name, call.arguments
            )
        )
        await self._finish_item(index, item, "completed")

    async def _sentences(self, speak: Speak) -> AsyncIterator[str]:
        first = True
        async for sentence in self._whole_sentences(speak):
            if first:
                first = False
                # The first sound waits for the whole first sentence: a short clause goes first.
                for piece in first_clause(sentence):
                    yield piece
            else:
                yield sentence

    async def _whole_sentences(self, speak: Speak) -> AsyncIterator[str]:
        if self.llm is not None and speak.intent in LLM_INTENTS:
            try:
                async for sentence in self.llm.sentences(self._chat_messages()):
                    yield sentence
                return
            except ChatUnavailable as exc:
                log.warning("chat endpoint unavailable, using the intent engine: %s", exc)
                yield "My language model is not reachable, so I'll keep it simple."
        for sentence in split_sentences(speak.text):
            yield sentence

    def _chat_messages(self) -> list[JSON]:
        from app.local.agent.engine import user_text

        messages: list[JSON] = []
        for item in (self.params.context or self.conversation.items)[-12:]:
            role = item.get("role")
            if item.get("type") != "message" or role not in ("user", "assistant", "system"):
                continue
            if role == "assistant":
                text = " ".join(
                    str(p.get("transcript") or p.get("text") or "")
                    for p in item.get("content") or []
                )
            else:
                text = user_text(item)
            if text:
                messages.append({"role": role, "content": text})
        return messages

    async def _message(self, speak: Speak) -> tuple[str, JSON | None]:
        audio = self.params.modalities != ["text"]
        item_id = new_id("item")
        item: JSON = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        index = await self._add_item(item)
        part_type, content_type = ("audio", "output_audio") if audio else ("text", "output_text")
        content: JSON = {"type": content_type, "transcript" if audio else "text": ""}
        item["content"].append(content)
        track = self.conversation.track(item_id)
        await self.send(ev.content_part_added(self.id, item_id, index, 0, {"type": part_type}))
        text_key = "transcript" if audio else "text"

        async def close(status: str = "incomplete") -> None:
            said = str(content[text_key])
            if audio:
                await self.send(ev.audio_done(self.id, item_id, index, 0))
                await self.send(ev.transcript_done(self.id, item_id, index, 0, said))
            else:
                await self.send(ev.text_done(self.id, item_id, index, 0, said))
            await self.send(
                ev.content_part_done(
                    self.id, item_id, index, 0, {"type": part_type, text_key: said}
                )
            )
            await self._finish_item(index, item, status)

        self._open.append(close)
        limit = self.params.max_output_tokens
        budget = limit if isinstance(limit, int) else None
        status: tuple[str, JSON | None] = ("completed", None)
        async for sentence in self._sentences(speak):
            if budget is not None:
                words = sentence.split()
                if len(words) > budget:
                    sentence = " ".join(words[:budget])
                    status = ("incomplete", {"type": "incomplete", "reason": "max_output_tokens"})
                budget -= len(words)
            delta = sentence if not content[text_key] else " " + sentence
            if not audio:
                content[text_key] += delta
                await self.send(ev.text_delta(self.id, item_id, index, 0, delta))
            else:
                await self._speak_sentence(sentence, delta, content, track, item_id, index)
            if status[0] == "incomplete":
                break
        self._open.remove(close)
        await close("completed" if status[0] == "completed" else "incomplete")
        return status

    async def _synthesize(self, sentence: str) -> list[bytes]:
        pending, self.presynth = self.presynth, None
        if pending is not None:
            ready = await pending.result()
            pending.drop()
            used = ready is not None and (ready.text, ready.speed) == (sentence, self.params.speed)
            self.timing.info["presynthesized"] = used
            if ready is not None and used:
                return ready.chunks
        tts = self.tts()
        return await asyncio.get_running_loop().run_in_executor(
            self.executor,
            lambda: synthesize_all(tts, sentence, self.params.speed, self.stop_synthesis),
        )

    async def _speak_sentence(
        self, sentence: str, delta: str, content: JSON, track: Any, item_id: str, index: int
    ) -> None:
        chunks = await self._synthesize(sentence)
        pcm = b"".join(chunks)
        if not track.pcm:  # the answer's first sound: the voice's padding is only a wait
            pcm = trim_leading_silence(pcm)
        self.timing.mark("tts_first_chunk")
        if self.stopping:  # cancelled while the executor finished this sentence
            raise asyncio.CancelledError
        content["transcript"] += delta
        track.spans.append((len(track.pcm) + len(pcm), sentence))
        await self.send(ev.transcript_delta(self.id, item_id, index, 0, delta))
        for piece in split_audio(pcm):
            if self.stopping:
                raise asyncio.CancelledError
            track.pcm.extend(piece)
            self.produced_audio = True
            self.audio_bytes += len(piece)
            b64 = base64.b64encode(piece).decode("ascii")
            await self.send(ev.audio_delta(self.id, item_id, index, 0, b64))
            self.timing.mark_delta()
