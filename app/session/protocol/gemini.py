"""Sans-I/O codec for the Gemini Live API (BidiGenerateContent) onto the provider-neutral messages.

Gemini has no response ids, no ``response.created`` and no speech-start event, so the codec keeps
a little turn state and synthesises what the core expects from the OpenAI codec: the first model
output of a turn opens a response (``ResponseCreated``), ``generationComplete`` / ``turnComplete``
close it (``ResponseDone``; ``cancelled`` after ``interrupted``), ``interrupted`` in hands-free is
the server's barge-in (``UserSpeechStarted``), and the next response closes that user turn
(``UserSpeechStopped``). ``toolCall`` closes the response with its calls; the follow-up audio after
``toolResponse`` opens the next one. The newest resumable ``sessionResumptionUpdate`` handle is
kept across connections and sent in the next ``setup``; ``goAway`` becomes ``SessionEnding``.

Client side: audio goes out at 16 kHz (``audio/pcm;rate=16000``); with activity detection off,
the first audio of a turn is preceded by ``activityStart`` and a commit becomes ``activityEnd``.
There is no truncate, cancel, delete or mid-connection update: those commands produce no frame
(the driver renews the connection to apply new settings; the repair note replaces the truncate).

Malformed frames (bad JSON, wrong types, invalid base64, absurd sizes) are counted, logged and
dropped, never raised. Thread: the session loop thread only.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections import Counter
from typing import Any

from app.session import messages as m
from app.session.config import SessionConfig
from app.session.errors import ErrorCategory, Failure, classify_close, redact
from app.session.protocol.gemini_encode import GeminiEncoder
from app.session.protocol.gemini_fields import (
    IGNORED_KEYS,
    MalformedFrame,
    parse_duration,
)
from app.session.protocol.gemini_fields import audio_rate as _audio_rate
from app.session.protocol.gemini_fields import field as _field
from app.session.protocol.gemini_fields import flag as _flag
from app.session.protocol.gemini_fields import obj as _obj
from app.session.protocol.gemini_fields import objects as _list
from app.session.protocol.gemini_fields import pcm as _pcm
from app.session.protocol.gemini_fields import string as _str
from app.session.protocol.gemini_setup import (
    GEMINI_OUTPUT_RATE,
    gemini_headers,
    gemini_url,
    manual_activity,
    setup_message,
)

log = logging.getLogger("app.session.protocol")

_GOOGLE_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{10,}")
_AUTH_STATUSES = {"401", "403", "UNAUTHENTICATED", "PERMISSION_DENIED"}


class GeminiCodec(GeminiEncoder):
    """Stateful translator between Gemini Live frames and the typed session messages.

    Args:
        config: the session settings (turn mode, model, input rate).
        max_frame_bytes: largest accepted server frame.

    Attributes:
        malformed: count of rejected frames by reason.
        unknown: count of unknown message kinds seen.
        configure_in_band: settings cannot change mid-connection (the driver renews instead).
        truncates: the provider cannot truncate heard audio (the repair note replaces it).
        cancels: the provider cannot cancel a response; a cut-off one runs to its end.
    """

    configure_in_band = False
    truncates = False
    cancels = False

    def __init__(self, config: SessionConfig, max_frame_bytes: int = 8 * 1024 * 1024) -> None:
        self._config = config
        self._max_frame_bytes = max_frame_bytes
        self._ids = itertools.count(1)
        self.malformed: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()
        self._handle: str | None = None
        self._handle_used = False
        self._started = False
        self._call_names: dict[str, str] = {}
        self._open_calls: set[str] = set()  # asked for, not answered yet
        self._cancelled: set[str] = set()
        self._reset_turns()

    def _reset_turns(self) -> None:
        self._rid: str | None = None
        self._item = ""
        self._text: list[str] = []
        self._audio = False
        self._interrupted = False
        self._turn_pending = False  # a response was closed, the server's turnComplete is due
        self._awaiting = False  # the core asked for a response
        self._client_cut = False  # our own frame cut the active generation
        self._user_speaking = False  # a synthesised speech start has no stop yet
        self._user_item: str | None = None
        self._user_text: list[str] = []
        self._activity_open = False

    # ------------------------------------------------------------------ connection

    @property
    def resumes(self) -> bool:
        """Whether the next connection resumes the server-side session (a handle is held)."""
        return self._handle is not None

    @property
    def response_active(self) -> bool:
        """Whether a (synthesised) response is open."""
        return self._rid is not None

    def url(self, config: SessionConfig) -> str:
        """The WebSocket address."""
        return gemini_url(config)

    def headers(self, config: SessionConfig, secret: str | None) -> dict[str, str]:
        """Handshake headers: the key travels in ``x-goog-api-key``."""
        return gemini_headers(secret)

    def handshake(
        self, configure: m.ConfigureSession, seed: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Frames before ``setupComplete``: the ``setup`` (resuming when a handle is held)."""
        self._config = configure.config
        self._reset_turns()
        self._started = False
        self._handle_used = self._handle is not None
        return [
            setup_message(
                configure.config,
                configure.tools,
                configure.instructions,
                self._handle,
                seed_history=bool(seed),
            )
        ]

    def after_start(
        self, configure: m.ConfigureSession, seed: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Frames after ``setupComplete``: the kept context as one ``clientContent`` seed."""
        turns: list[dict[str, Any]] = []
        for payload in seed:
            item = payload.get("item")
            if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
                continue
            parts = [p for p in item.get("content", ()) if isinstance(p, dict)]
            text = "".join(str(part.get("text", "")) for part in parts)
            if text.strip():
                role = "model" if item["role"] == "assistant" else "user"
                turns.append({"role": role, "parts": [{"text": text}]})
        if not turns:
            return []
        return [{"clientContent": {"turns": turns, "turnComplete": False}}]

    def close_failure(self, code: int | None, reason: str) -> Failure:
        """Classify a close frame; Gemini reports every error this way (B.8)."""
        detail = redact(_GOOGLE_KEY.sub("[redacted]", f"closed {code}: {reason}"))
        lowered = reason.lower()
        if "api key" in lowered or "unauthenticated" in lowered or "permission" in lowered:
            return Failure(ErrorCategory.AUTHENTICATION, detail)
        if self._handle_used and not self._started and code in (1007, 1008):
            log.warning("the server refused to resume the session; starting a new one")
            self._handle = None
            self._handle_used = False
            return Failure(ErrorCategory.SERVER, detail)
        return Failure(classify_close(code), detail)

    # ------------------------------------------------------------------ decoding

    def decode_all(self, frame: str | bytes) -> list[m.ServerEvent]:
        """Return the typed events of one server frame (text or binary); none when rejected."""
        try:
            if len(frame) > self._max_frame_bytes:
                raise MalformedFrame(f"frame of {len(frame)} bytes exceeds the limit")
            try:
                data = json.loads(frame)
            except (ValueError, UnicodeDecodeError) as exc:
                raise MalformedFrame("not JSON") from exc
            if not isinstance(data, dict):
                raise MalformedFrame("not a JSON object")
            return self._dispatch(data)
        except MalformedFrame as exc:
            reason = str(exc)
            self.malformed[reason] += 1
            if self.malformed[reason] == 1 or self.malformed[reason] % 100 == 0:
                count = self.malformed[reason]
                log.warning("rejected malformed server frame (%s), %d so far", reason, count)
            return []

    def decode(self, frame: str | bytes) -> m.ServerEvent | None:
        """The first event of :meth:`decode_all` (for callers that expect one)."""
        events = self.decode_all(frame)
        return events[0] if events else None

    def _dispatch(self, data: dict[str, object]) -> list[m.ServerEvent]:
        events: list[m.ServerEvent] = []
        if _field(data, "setupComplete") is not None:
            setup = _obj(data, "setupComplete") or {}
            self._started = True
            events.append(m.SessionStarted(_str(setup, "sessionId") or "", False, None))
        elif (content := _obj(data, "serverContent")) is not None:
            self._server_content(content, events)
        elif (call := _obj(data, "toolCall")) is not None:
            self._tool_call(call, events)
        elif (cancel := _obj(data, "toolCallCancellation")) is not None:
            ids = _field(cancel, "ids") or []
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise MalformedFrame("toolCallCancellation.ids is not a list of strings")
            self._cancelled.update(ids)
            events.append(m.FunctionCallsCancelled(tuple(ids)))
        elif (away := _obj(data, "goAway")) is not None:
            events.append(m.SessionEnding(parse_duration(_field(away, "timeLeft"))))
        elif (update := _obj(data, "sessionResumptionUpdate")) is not None:
            handle = _str(update, "newHandle")
            if _flag(update, "resumable") and handle:
                self._handle = handle
        elif "error" in data or "code" in data:
            events.append(self._error(data))
        elif not any(_field(data, key) is not None for key in IGNORED_KEYS):
            kind = ",".join(sorted(data))[:80]
            self.unknown[kind] += 1
            if self.unknown[kind] == 1:
                log.info("ignoring unknown server message %r", kind)
        return events

    def _error(self, data: dict[str, object]) -> m.ServerError:
        error = _obj(data, "error") if isinstance(data.get("error"), dict) else data
        assert error is not None
        code = str(error.get("status") or error.get("code") or "")
        kind = "authentication_error" if code in _AUTH_STATUSES else "server_error"
        message = _GOOGLE_KEY.sub("[redacted]", str(error.get("message", "")))[:500]
        return m.ServerError(kind, code or None, message, None, None)

    def _server_content(self, content: dict[str, object], events: list[m.ServerEvent]) -> None:
        # Validate everything first: a malformed frame must not leave half-applied state.
        audio: list[bytes] = []
        for part in _list(_obj(content, "modelTurn") or {}, "parts"):
            inline = _obj(part, "inlineData")
            if inline is None:
                continue  # text parts are thoughts in AUDIO mode; the transcript is separate
            mime = _str(inline, "mimeType")
            if mime is not None and not mime.startswith("audio/pcm"):
                continue
            if _audio_rate(mime) != GEMINI_OUTPUT_RATE:
                raise MalformedFrame("audio part has an unexpected rate")
            audio.append(_pcm(_str(inline, "data") or ""))
        out_text = _str(_obj(content, "outputTranscription") or {}, "text") or ""
        user = _obj(content, "inputTranscription") or {}
        user_text = _str(user, "text") or ""
        user_finished = _flag(user, "finished")
        interrupted = _flag(content, "interrupted")
        generation_complete = _flag(content, "generationComplete")
        turn_complete = _flag(content, "turnComplete")

        if user_text or user_finished:
            item = self._open_user_item()
            if user_text:
                self._user_text.append(user_text)
                events.append(m.UserTranscriptDelta(item, user_text))
            if user_finished:
                self._close_user_item(events)
        if interrupted:
            self._on_interrupted(events)
        if (audio or out_text) and not (self._rid is not None and self._interrupted):
            rid, item = self._ensure_response(events)
            for pcm in audio:
                if pcm:
                    self._audio = True
                    events.append(m.AudioDelta(rid, item, 0, pcm))
            if out_text:
                self._text.append(out_text)
                events.append(m.AssistantTranscriptDelta(rid, item, out_text))
        if generation_complete and self._rid is not None and not self._interrupted:
            self._finish(events, "completed", None)
        if turn_complete:
            self._on_turn_complete(events)

    def _open_user_item(self) -> str:
        if self._user_item is None:
            self._user_item = f"gem_user_{next(self._ids)}"
            self._user_text = []
        return self._user_item

    def _close_user_item(self, events: list[m.ServerEvent]) -> None:
        item, self._user_item = self._user_item, None
        if item is None:
            return
        text = "".join(self._user_text)
        self._user_text = []
        events.append(m.UserTranscriptDone(item, text))
        events.append(m.ItemAdded(item, "message", "user", text, None, True))

    def _on_interrupted(self, events: list[m.ServerEvent]) -> None:
        if self._rid is not None:
            self._interrupted = True
        # The server cancels the calls of the turn it cut (toolCallCancellation follows); an
        # answer sent in between would reach a call that no longer exists.
        self._cancelled.update(self._open_calls)
        self._open_calls.clear()
        # With detection off, interrupted only echoes our activityStart (pitfall 12); after our
        # own clientContent it echoes that cut.
        if manual_activity(self._config) or self._client_cut or self._user_speaking:
            return
        self._close_user_item(events)
        self._user_speaking = True
        events.append(m.UserSpeechStarted(self._open_user_item(), -1))

    def _ensure_response(self, events: list[m.ServerEvent]) -> tuple[str, str]:
        if self._rid is None:
            if self._user_speaking:
                self._user_speaking = False
                events.append(m.UserSpeechStopped(self._open_user_item(), -1))
            index = next(self._ids)
            self._rid, self._item = f"gem_resp_{index}", f"gem_item_{index}"
            self._text, self._audio, self._interrupted = [], False, False
            self._awaiting = self._turn_pending = self._client_cut = False
            events.append(m.ResponseCreated(self._rid))
            events.append(m.OutputItemAdded(self._rid, self._item, "message"))
        return self._rid, self._item

    def _finish(
        self,
        events: list[m.ServerEvent],
        status: str,
        reason: str | None,
        calls: tuple[m.FunctionCall, ...] = (),
    ) -> None:
        rid, item = self._rid, self._item
        assert rid is not None
        self._rid = None
        self._turn_pending = True
        text = "".join(self._text)
        if self._audio:
            events.append(m.AudioDone(rid, item, 0))
        if text:
            events.append(m.AssistantTranscriptDone(rid, item, text))
            events.append(m.ItemAdded(item, "message", "assistant", text, None, True))
        events.append(m.ResponseDone(rid, status, reason, calls))

    def _on_turn_complete(self, events: list[m.ServerEvent]) -> None:
        if self._rid is not None:
            if self._interrupted:
                reason = "client_cancelled" if self._client_cut else "turn_detected"
                self._finish(events, "cancelled", reason)
            else:
                self._finish(events, "completed", None)
        elif not self._turn_pending and self._awaiting:
            # An empty turn (e.g. silence after activityEnd) still answers the request.
            self._ensure_response(events)
            self._finish(events, "completed", None)
        self._turn_pending = False
        self._client_cut = False
        if not self._user_speaking:
            self._close_user_item(events)

    def _tool_call(self, call: dict[str, object], events: list[m.ServerEvent]) -> None:
        parsed: list[tuple[str, str, str]] = []
        for entry in _list(call, "functionCalls"):
            name = _str(entry, "name")
            if not name:
                raise MalformedFrame("function call without a name")
            args = _field(entry, "args")
            if args is not None and not isinstance(args, dict):
                raise MalformedFrame("function call args is not an object")
            call_id = _str(entry, "id") or f"gem_call_{next(self._ids)}"
            parsed.append((call_id, name, json.dumps(args or {})))
        if not parsed:
            return
        rid, _ = self._ensure_response(events)
        calls: list[m.FunctionCall] = []
        for call_id, name, arguments in parsed:
            self._call_names[call_id] = name
            self._open_calls.add(call_id)
            item = f"gem_fc_{call_id}"
            events.append(m.FunctionArgumentsDone(rid, item, call_id, name, arguments))
            calls.append(m.FunctionCall(item, call_id, name, arguments))
        self._finish(events, "completed", None, tuple(calls))
