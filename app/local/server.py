"""The local engine's WebSocket server: OpenAI Realtime protocol on ``/v1/realtime``.

Binds 127.0.0.1 on a free port by default and requires a per-run bearer token (compared in
constant time; a missing or wrong token gets HTTP 401, logged without the token). Each connection
gets its own :class:`RealtimeSession`; one client's failure never touches another. Run it on a
background thread with ``start()``/``stop()`` or inside an existing loop with
``start_async()``/``stop_async()``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import threading
import urllib.parse
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from app.events import Observer
from app.local.events import JSON
from app.local.llm import ChatClient
from app.local.models import EngineModels
from app.local.session import RealtimeSession
from app.local.timing import TimingSink

log = logging.getLogger("app.local.server")

PATH = "/v1/realtime"
MAX_FRAME_BYTES = 32 * 1024 * 1024  # a 15 MiB append is ~20 MiB of base64 JSON
START_TIMEOUT_S = 30.0


class LocalEngineServer:
    """The embedded OpenAI-Realtime-compatible server.

    Args:
        host: interface to bind (loopback unless the caller explicitly allows remote clients).
        port: TCP port; 0 picks a free one (read it back from ``.port``).
        token: bearer token clients must send; a random one is made when None.
        models: shared engines; default ``EngineModels()`` (whisper + piper), loaded in the
            background as soon as the server starts.
        llm: optional chat endpoint for open questions.
        observer: receives ``ModelLoadProgress`` when ``models`` is created here.
        timing_sink: receives every response's stage timings (``voxdesk serve --timings``).

    Thread: ``start``/``stop`` from any thread (not from the server's own loop);
    ``start_async``/``stop_async`` inside a running loop.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        models: EngineModels | None = None,
        llm: ChatClient | None = None,
        observer: Observer | None = None,
        timing_sink: TimingSink | None = None,
    ) -> None:
        self.host = host
        self.token = token or secrets.token_urlsafe(24)
        self._owns_models = models is None
        self.models = models or EngineModels(observer=observer)
        self.llm = llm
        self.timing_sink = timing_sink
        self._requested_port = port
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self.sessions: set[RealtimeSession] = set()

    def __repr__(self) -> str:
        return f"LocalEngineServer(url={self.url!r}, token=<hidden>)"

    @property
    def port(self) -> int:
        """The bound port (0 before the server started)."""
        if self._server is None:
            return 0
        sockets = list(self._server.sockets)
        return int(sockets[0].getsockname()[1]) if sockets else 0

    @property
    def url(self) -> str:
        """``ws://host:port/v1/realtime``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}{PATH}"

    # --- lifecycle ------------------------------------------------------------------------

    async def start_async(self) -> None:
        """Start listening in the running loop, then begin loading models.

        Listening comes first: the native loaders can hold the GIL for long stretches, and the
        address must be known (and printed by ``voxdesk serve``) without waiting for them.
        """
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            process_request=self._check_request,
            max_size=MAX_FRAME_BYTES,
            compression=None,
        )
        log.info("local engine listening on %s", self.url)
        self.models.start_loading()

    async def stop_async(self) -> None:
        """Close every connection and stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def start(self) -> LocalEngineServer:
        """Run the server on a background thread; returns once it is listening."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._stopped = asyncio.Event()
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # reported to the caller of start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_until_complete(self._stopped.wait())
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=main, name="local-engine", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise TimeoutError("the local engine did not start in time")
        if failure:
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background server and wait for its thread."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._owns_models:
            self.models.close(timeout)

    # --- connections ----------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        offered = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not offered:
            for proto in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
                proto = proto.strip()
                if proto.startswith("openai-insecure-api-key."):
                    offered = proto.removeprefix("openai-insecure-api-key.")
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urllib.parse.urlsplit(request.path).path.rstrip("/")
        if path != PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found: use /v1/realtime\n")
        if not self._authorized(request):
            has_header = "Authorization" in request.headers
            log.warning(
                "rejected connection from %s: %s bearer token",
                connection.remote_address,
                "wrong" if has_header else "missing",
            )
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid or missing bearer token\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        query = urllib.parse.parse_qs(
            urllib.parse.urlsplit(ws.request.path if ws.request else "").query
        )
        models = query.get("model") or []
        model = models[0] if models else None

        async def send(event: JSON) -> None:
            try:
                await ws.send(json.dumps(event))
            except ConnectionClosed:
                pass  # the client left; its session is being closed

        session = RealtimeSession(
            send, self.models, model=model, llm=self.llm, timing_sink=self.timing_sink
        )
        self.sessions.add(session)
        try:
            await session.start()
            async for message in ws:
                await session.handle(message)
        except ConnectionClosed:
            pass
        except Exception:  # one session's bug must not reach the server or other sessions
            log.exception("session crashed")
        finally:
            self.sessions.discard(session)
            await session.close()

    def session_count(self) -> int:
        """How many clients are connected."""
        return len(self.sessions)
