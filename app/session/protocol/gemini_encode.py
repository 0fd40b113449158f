"""Client frames for Gemini Live: the encoding half of ``GeminiCodec``.

Audio goes out at the session's input rate as ``realtimeInput.audio``; with activity detection
off, the first audio of a turn is preceded by ``activityStart`` and a commit becomes
``activityEnd``. Typed user turns are ``realtimeInput.text`` on Gemini 3 and ``clientContent``
before it; tool outputs are ``toolResponse``. There is no truncate, cancel, delete, clear or
mid-connection update: those commands produce no frame.

Thread: the session loop thread only.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from typing import Any, assert_never

from app.session import messages as m
from app.session.config import SessionConfig
from app.session.protocol.gemini_setup import is_gemini_3, manual_activity

log = logging.getLogger("app.session.protocol")


class GeminiEncoder:
    """Builds client frames; mixed into ``GeminiCodec``, which shares its turn state.

    The decoder sets ``_rid`` (the open response) and learns calls (``_call_names``,
    ``_open_calls``, ``_cancelled``); the encoder marks client-side cuts (``_client_cut``), an
    open activity (``_activity_open``) and an awaited response (``_awaiting``).
    """

    _config: SessionConfig
    _rid: str | None
    _client_cut: bool
    _activity_open: bool
    _awaiting: bool
    _call_names: dict[str, str]
    _open_calls: set[str]
    _cancelled: set[str]

    def payloads(self, command: m.ClientCommand) -> list[dict[str, Any]]:
        """Return the client frames for ``command`` (often none: Gemini has no such message)."""
        match command:
            case m.ConfigureSession():
                return []  # applied by the next connection's setup (the driver renews)
            case m.AppendAudio(pcm=pcm):
                frames: list[dict[str, Any]] = []
                if manual_activity(self._config) and not self._activity_open:
                    self._activity_open = True
                    self._client_cut = self._client_cut or self._rid is not None
                    frames.append({"realtimeInput": {"activityStart": {}}})
                data = base64.b64encode(pcm).decode("ascii")
                mime = f"audio/pcm;rate={self._config.input_rate()}"
                frames.append({"realtimeInput": {"audio": {"data": data, "mimeType": mime}}})
                return frames
            case m.CommitInput():
                if not self._activity_open:
                    return []
                self._activity_open = False
                return [{"realtimeInput": {"activityEnd": {}}}]
            case m.CreateResponse():
                self._awaiting = True
                return []
            case m.ClearInput() | m.CancelResponse() | m.TruncateItem() | m.DeleteItem():
                return []
            case m.AddMessage(role=role, text=text):
                return self._message(role, text)
            case m.AddFunctionOutput(call_id=call_id, output=output):
                return self._tool_response(call_id, output)
            case _:  # pragma: no cover - exhaustiveness for the type checker
                assert_never(command)

    def _message(self, role: str, text: str) -> list[dict[str, Any]]:
        gemini_3 = is_gemini_3(self._config.model)
        if role == "user" and gemini_3:
            return [{"realtimeInput": {"text": text}}]
        if gemini_3:
            # 3.x closes the connection (1007) on mid-session clientContent.
            log.info("a %s note cannot reach a Gemini 3 session; dropped", role)
            return []
        self._client_cut = self._client_cut or self._rid is not None
        wire_role = "model" if role == "assistant" else "user"
        turn = {"role": wire_role, "parts": [{"text": text}]}
        return [{"clientContent": {"turns": [turn], "turnComplete": role == "user"}}]

    def _tool_response(self, call_id: str, output: str) -> list[dict[str, Any]]:
        if call_id in self._cancelled:
            return []  # the server withdrew the call; a late answer has no place to go
        self._open_calls.discard(call_id)
        try:
            value: object = json.loads(output)
        except ValueError:
            value = output
        if isinstance(value, dict) and value.get("status") in ("error", "cancelled"):
            response: dict[str, Any] = {"error": value}
        else:
            response = {"output": value}
        reply: dict[str, Any] = {"id": call_id, "response": response}
        if call_id in self._call_names:
            reply["name"] = self._call_names[call_id]
        return [{"toolResponse": {"functionResponses": [reply]}}]

    @staticmethod
    def event_type(payload: Mapping[str, Any]) -> str:
        """A short label for counting sent frames (``realtimeInput.audio``, ``toolResponse``…)."""
        key = next(iter(payload), "")
        inner = payload.get(key)
        if key == "realtimeInput" and isinstance(inner, dict) and inner:
            return f"{key}.{next(iter(inner))}"
        return key
