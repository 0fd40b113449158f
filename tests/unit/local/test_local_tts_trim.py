"""An answer starts with its first sound: the voice's leading padding is trimmed, once."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np

from app.local.tts import LEAD_IN_MS, OUTPUT_RATE, trim_leading_silence
from tests.unit.local.local_session_fakes import Client, run

PAD_MS = 40


def _padded(pad_ms: float, tone_ms: float) -> bytes:
    pad = np.zeros(int(OUTPUT_RATE * pad_ms / 1000), np.int16)
    n = int(OUTPUT_RATE * tone_ms / 1000)
    tone = (np.sin(np.arange(n) * 0.05) * 3000).astype(np.int16)
    return np.concatenate([pad, tone]).astype("<i2").tobytes()


def _lead_ms(pcm: bytes) -> float:
    x = np.frombuffer(pcm, "<i2")
    return float(np.flatnonzero(np.abs(x) > 32768 * 10 ** (-50 / 20))[0]) * 1000 / OUTPUT_RATE


def test_trim_keeps_a_short_lead_in_and_leaves_quiet_audio_alone() -> None:
    trimmed = trim_leading_silence(_padded(PAD_MS, 100))
    assert LEAD_IN_MS - 0.1 <= _lead_ms(trimmed) <= LEAD_IN_MS + 0.1
    assert trim_leading_silence(_padded(2, 100)) == _padded(2, 100)  # less padding than the lead-in
    quiet = b"\x00\x00" * 480
    assert trim_leading_silence(quiet) == quiet
    assert trim_leading_silence(b"") == b""


class PaddedVoice:
    """Every sentence starts with PAD_MS of silence, like piper's output."""

    name = "fake padded tts"

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[bytes]:
        yield _padded(PAD_MS, 300)


def test_the_first_audio_of_an_answer_starts_at_its_first_sound() -> None:
    async def scenario(client: Client) -> None:
        await client.manual_turns()
        await client.send({"type": "response.create", "event_id": "evt_r"})
        await client.until(lambda: "response.done" in client.types(), "response.done")

    client = run(scenario, tts=PaddedVoice())  # type: ignore[arg-type]
    deltas = client.of_type("response.output_audio.delta")
    assert deltas, client.types()
    first_item = deltas[0]["item_id"]
    pcm = b"".join(base64.b64decode(d["delta"]) for d in deltas if d["item_id"] == first_item)
    assert _lead_ms(pcm) <= LEAD_IN_MS + 0.1
    done = client.of_type("response.done")[0]
    assert done["response"]["status"] == "completed"
