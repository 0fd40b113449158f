"""Optional chat endpoint: tokens stream into speech; unreachable falls back; cancel mid-stream."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.local.llm import ChatClient
from app.local.models import EngineModels
from app.local.server import LocalEngineServer
from tests.integration.local_engine_client import EngineClient, transcript_of

TOKENS = ["Paris ", "is ", "the ", "capital ", "of ", "France. ", "It ", "is ", "lovely."]

# loads the pocketsphinx model and runs espeak-ng: light, but real engines
pytestmark = pytest.mark.slow


class ChatEndpoint:
    """A real HTTP server on 127.0.0.1 speaking the chat-completions SSE stream."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.hold_after = len(TOKENS)
        self.requests: list[dict] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers["Content-Length"])
                endpoint.requests.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i, token in enumerate(TOKENS):
                    if i == endpoint.hold_after and not endpoint.release.wait(30):
                        return
                    chunk = {"choices": [{"delta": {"content": token}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def endpoint() -> Iterator[ChatEndpoint]:
    ep = ChatEndpoint()
    yield ep
    ep.close()


def start(url: str) -> LocalEngineServer:
    srv = LocalEngineServer(
        models=EngineModels(stt="sphinx", tts="espeak-ng"), llm=ChatClient(url, model="tiny")
    ).start()
    assert srv.models.wait(60)
    return srv


def ask(srv: LocalEngineServer, text: str) -> list[dict]:
    with EngineClient(srv.url, srv.token) as c:
        c.until("session.created")
        c.ptt_session()
        c.say_text(text)
        c.send({"type": "response.create"})
        return c.until("response.done")


def test_open_questions_stream_from_the_chat_endpoint(endpoint: ChatEndpoint) -> None:
    srv = start(endpoint.url)
    try:
        events = ask(srv, "What is the capital of France?")
        assert transcript_of(events) == "Paris is the capital of France. It is lovely."
        sentences = [
            e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"
        ]
        assert sentences == ["Paris is the capital of France.", " It is lovely."]
        sent = endpoint.requests[0]
        assert sent["stream"] is True and sent["model"] == "tiny"
        assert sent["messages"][-1] == {"role": "user", "content": "What is the capital of France?"}
        # skills still come from the intent engine
        assert transcript_of(ask(srv, "what is 6 times 7")) == "That's 42."
    finally:
        srv.stop()


def test_unreachable_endpoint_falls_back_with_a_notice() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    srv = start(f"http://127.0.0.1:{dead}/v1")
    try:
        said = transcript_of(ask(srv, "tell me about the moon"))
        assert said.startswith("My language model is not reachable")
        assert "I can't help with that yet" in said
    finally:
        srv.stop()


def test_cancel_while_waiting_for_tokens(endpoint: ChatEndpoint) -> None:
    endpoint.hold_after = 6  # the first sentence, then the endpoint stalls
    srv = start(endpoint.url)
    try:
        with EngineClient(srv.url, srv.token) as c:
            c.until("session.created")
            c.ptt_session()
            c.say_text("What is the capital of France?")
            c.send({"type": "response.create"})
            c.until("response.output_audio_transcript.delta")
            c.send({"type": "response.cancel"})
            events = c.until("response.done", timeout=5)
            assert events[-1]["response"]["status"] == "cancelled"
            assert transcript_of(c.events) == "Paris is the capital of France."
    finally:
        srv.stop()
