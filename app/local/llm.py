"""Optional OpenAI-compatible chat endpoint (llama.cpp server, Ollama…) streamed token by token.

``ChatClient.sentences`` posts ``/v1/chat/completions`` with ``stream: true`` and yields complete
sentences as the tokens arrive, so speech starts after the first sentence. The HTTP exchange runs
on a worker thread (``http.client`` handles chunked streaming); the loop only awaits a queue.
``ChatUnavailable`` is raised when the endpoint cannot be reached before any text came back.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

log = logging.getLogger("app.local.llm")

_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s+|$)(.*)$", re.S)
_DONE = object()


class ChatUnavailable(RuntimeError):
    """The chat endpoint could not be used (unreachable, HTTP error, bad reply)."""


class ChatClient:
    """Streams chat completions from an OpenAI-compatible endpoint.

    Args:
        url: base URL, e.g. ``http://127.0.0.1:8080/v1``.
        model: the model name to send.
        api_key: optional bearer token (never logged).
        timeout_s: connect and read timeout.
        system: system prompt prepended to the messages.
    """

    def __init__(
        self,
        url: str,
        model: str = "local",
        api_key: str | None = None,
        timeout_s: float = 10.0,
        system: str = "Answer in one or two short spoken sentences.",
    ) -> None:
        parsed = urllib.parse.urlsplit(url.rstrip("/"))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("chat endpoint URL must be http(s)://host[:port]/path")
        self._parsed = parsed
        self.model = model
        self._key = api_key
        self._timeout = timeout_s
        self._system = system

    def __repr__(self) -> str:
        return f"ChatClient({self._parsed.scheme}://{self._parsed.netloc}{self._parsed.path})"

    def _stream(self, messages: list[dict[str, Any]], put: Any, stop: threading.Event) -> None:
        parsed = self._parsed
        cls = (
            http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
        )
        conn = cls(parsed.hostname or "", parsed.port, timeout=self._timeout)
        system = {"role": "system", "content": self._system}
        body = json.dumps({"model": self.model, "stream": True, "messages": [system, *messages]})
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        try:
            path = (parsed.path or "") + "/chat/completions"
            conn.request("POST", path, body=body, headers=headers)
            reply = conn.getresponse()
            if reply.status != 200:
                raise ChatUnavailable(f"chat endpoint answered HTTP {reply.status}")
            while not stop.is_set():
                line = reply.readline()
                if not line:
                    break
                text = line.decode("utf-8", "replace").strip()
                if not text.startswith("data:"):
                    continue
                data = text[5:].strip()
                if data == "[DONE]":
                    break
                choice = (json.loads(data).get("choices") or [{}])[0]
                token = (choice.get("delta") or {}).get("content")
                if token:
                    put(token)
            put(_DONE)
        except (OSError, ValueError, http.client.HTTPException, ChatUnavailable) as exc:
            put(exc if isinstance(exc, ChatUnavailable) else ChatUnavailable(str(exc)))
        finally:
            conn.close()

    async def tokens(self, messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        """Yield the reply token by token (raises ``ChatUnavailable`` on failure)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def put(value: object) -> None:
            if stop.is_set():
                return
            try:
                loop.call_soon_threadsafe(queue.put_nowait, value)
            except RuntimeError:
                pass  # the loop closed while the endpoint was still talking

        worker = threading.Thread(
            target=self._stream, args=(messages, put, stop), daemon=True, name="chat-stream"
        )
        worker.start()
        try:
            while True:
                value = await queue.get()
                if value is _DONE:
                    return
                if isinstance(value, ChatUnavailable):
                    raise value
                yield str(value)
        finally:
            stop.set()

    async def sentences(self, messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        """Yield the reply sentence by sentence as tokens arrive."""
        pending = ""
        async for token in self.tokens(messages):
            pending += token
            while (match := _SENTENCE.match(pending)) is not None:
                yield match.group(1).strip()
                pending = match.group(2)
        if pending.strip():
            yield pending.strip()
