"""Shared base64 PCM16 decoding and the malformed-frame errors each codec wraps it in."""

from __future__ import annotations

import base64

import pytest

from app.session.protocol import gemini_fields, openai_decode
from app.session.protocol.gemini_fields import MalformedFrame
from app.session.protocol.openai_decode import MalformedEvent
from app.session.protocol.pcm16 import Pcm16Error, decode_pcm16


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_valid_base64_pcm16_decodes_to_its_bytes() -> None:
    data = bytes(range(256)) * 4
    assert decode_pcm16(b64(data), 4096, "audio") == data
    assert decode_pcm16("", 4096, "audio") == b""


def test_an_odd_byte_count_is_rejected() -> None:
    with pytest.raises(Pcm16Error, match=r"^audio has an odd byte count$"):
        decode_pcm16(b64(b"abc"), 4096, "audio")


@pytest.mark.parametrize("text", ["***", "AAA", "AA AA", "AAAA\n", "=AAA"])
def test_invalid_base64_is_rejected(text: str) -> None:
    with pytest.raises(Pcm16Error, match=r"^audio is not valid base64$"):
        decode_pcm16(text, 4096, "audio")


def test_the_limit_is_checked_on_the_text_before_decoding() -> None:
    limit = 300  # bytes: at most 300 * 4 // 3 + 4 = 404 characters of base64
    at_limit = b"\x00\x01" * (limit // 2)
    assert decode_pcm16(b64(at_limit), limit, "audio") == at_limit
    # Over the limit even though it is not valid base64: the size check comes first.
    with pytest.raises(Pcm16Error, match=r"^audio is absurdly large$"):
        decode_pcm16("*" * 405, limit, "audio")
    with pytest.raises(Pcm16Error, match=r"^audio is absurdly large$"):
        decode_pcm16(b64(b"\x00" * 306), limit, "audio")
    # At the limit the text is decoded (and here rejected as base64, not for its size).
    with pytest.raises(Pcm16Error, match=r"^audio is not valid base64$"):
        decode_pcm16("*" * 404, limit, "audio")


def test_pcm16_error_is_a_value_error() -> None:
    assert issubclass(Pcm16Error, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%%%", "audio part is not valid base64"),
        (b64(b"\x01"), "audio part has an odd byte count"),
        ("A" * (gemini_fields.MAX_AUDIO_BYTES * 4 // 3 + 8), "audio part is absurdly large"),
    ],
)
def test_gemini_wraps_the_failure_in_its_own_error(text: str, message: str) -> None:
    with pytest.raises(MalformedFrame) as info:
        gemini_fields.pcm(text)
    assert type(info.value) is MalformedFrame
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("***", "audio delta is not valid base64"),
        (b64(b"abc"), "audio delta has an odd byte count"),
        (
            "A" * (openai_decode.MAX_AUDIO_DELTA_BYTES * 4 // 3 + 8),
            "audio delta is absurdly large",
        ),
    ],
)
def test_openai_wraps_the_failure_in_its_own_error(text: str, message: str) -> None:
    parse = openai_decode.PARSERS["response.output_audio.delta"]
    frame: dict[str, object] = {
        "type": "response.output_audio.delta",
        "response_id": "r",
        "item_id": "i",
        "delta": text,
    }
    with pytest.raises(MalformedEvent) as info:
        parse(frame)
    assert type(info.value) is MalformedEvent
    assert str(info.value) == message
