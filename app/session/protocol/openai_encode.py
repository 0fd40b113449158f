"""Encoding half of the OpenAI Realtime codec: client events built from typed commands.

``encode_command`` turns a ``ClientCommand`` into its GA client event (without ``event_id``,
which ``OpenAICodec.payload`` adds); ``session_payload`` and ``turn_detection_payload`` build the
``session`` object of a ``session.update`` from ``SessionConfig``.

Thread: the session loop thread only (pure functions, no state).
"""

from __future__ import annotations

import base64
from typing import assert_never

from app.session import messages as m
from app.session.config import RetentionRatio, SessionConfig, TurnMode, VadKind


def turn_detection_payload(config: SessionConfig) -> dict[str, object] | None:
    """Return the GA ``audio.input.turn_detection`` object for ``config`` (None = client turns)."""
    if config.turn_mode is TurnMode.PUSH_TO_TALK or config.vad is VadKind.LOCAL:
        return None
    if config.vad is VadKind.SEMANTIC_VAD:
        sem = config.semantic_vad
        return {
            "type": "semantic_vad",
            "eagerness": sem.eagerness,
            "create_response": sem.create_response,
            "interrupt_response": sem.interrupt_response,
        }
    vad = config.server_vad
    payload: dict[str, object] = {
        "type": "server_vad",
        "threshold": vad.threshold,
        "prefix_padding_ms": vad.prefix_padding_ms,
        "silence_duration_ms": vad.silence_duration_ms,
        "create_response": vad.create_response,
        "interrupt_response": vad.interrupt_response,
    }
    if vad.idle_timeout_ms is not None:
        payload["idle_timeout_ms"] = vad.idle_timeout_ms
    return payload


def _truncation(value: str | RetentionRatio) -> object:
    if isinstance(value, str):
        return value
    payload: dict[str, object] = {"type": "retention_ratio", "retention_ratio": value.ratio}
    if value.post_instructions_tokens is not None:
        payload["token_limits"] = {"post_instructions": value.post_instructions_tokens}
    return payload


def session_payload(
    config: SessionConfig,
    tools: tuple[dict[str, object], ...] = (),
    instructions: str | None = None,
) -> dict[str, object]:
    """Return the GA ``session`` object of a ``session.update`` built from ``config``."""
    pcm = {"type": "audio/pcm", "rate": config.sample_rate}
    audio_in: dict[str, object] = {
        "format": {"type": "audio/pcm", "rate": config.input_rate()},
        "turn_detection": turn_detection_payload(config),
        "noise_reduction": (
            {"type": config.noise_reduction} if config.noise_reduction is not None else None
        ),
        "transcription": None,
    }
    if config.transcription is not None:
        transcription: dict[str, object] = {"model": config.transcription.model}
        if config.transcription.language:
            transcription["language"] = config.transcription.language
        if config.transcription.prompt:
            transcription["prompt"] = config.transcription.prompt
        audio_in["transcription"] = transcription
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": config.instructions if instructions is None else instructions,
        "audio": {"input": audio_in, "output": {"format": pcm, "voice": config.voice}},
        "tools": [dict(tool) for tool in tools] if config.tools_enabled else [],
        "tool_choice": "auto",
        "truncation": _truncation(config.truncation),
    }


def _message_item(command: m.AddMessage) -> dict[str, object]:
    part_type = "output_text" if command.role == "assistant" else "input_text"
    item: dict[str, object] = {
        "type": "message",
        "role": command.role,
        "content": [{"type": part_type, "text": command.text}],
    }
    if command.item_id is not None:
        item["id"] = command.item_id
    return item


def encode_command(command: m.ClientCommand) -> dict[str, object]:
    """Return the GA client event for ``command`` (no ``event_id``)."""
    match command:
        case m.ConfigureSession(config=config, tools=tools, instructions=instructions):
            return {
                "type": "session.update",
                "session": session_payload(config, tools, instructions),
            }
        case m.AppendAudio(pcm=pcm):
            audio = base64.b64encode(pcm).decode("ascii")
            return {"type": "input_audio_buffer.append", "audio": audio}
        case m.CommitInput():
            return {"type": "input_audio_buffer.commit"}
        case m.ClearInput():
            return {"type": "input_audio_buffer.clear"}
        case m.CreateResponse(instructions=instructions):
            if instructions is None:
                return {"type": "response.create"}
            return {"type": "response.create", "response": {"instructions": instructions}}
        case m.CancelResponse(response_id=response_id):
            if response_id is None:
                return {"type": "response.cancel"}
            return {"type": "response.cancel", "response_id": response_id}
        case m.TruncateItem(item_id=item_id, content_index=index, audio_end_ms=end_ms):
            return {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": index,
                "audio_end_ms": end_ms,
            }
        case m.DeleteItem(item_id=item_id):
            return {"type": "conversation.item.delete", "item_id": item_id}
        case m.AddMessage():
            return {"type": "conversation.item.create", "item": _message_item(command)}
        case m.AddFunctionOutput(call_id=call_id, output=output):
            item = {"type": "function_call_output", "call_id": call_id, "output": output}
            return {"type": "conversation.item.create", "item": item}
        case _:  # pragma: no cover - exhaustiveness for the type checker
            assert_never(command)
