"""Base64 PCM16 audio in server frames: validated decoding shared by the protocol codecs.

``decode_pcm16`` checks the size before decoding (an absurd frame is never decoded), rejects
invalid base64 and an odd byte count, and raises ``Pcm16Error``; each codec wraps that in its own
malformed-frame error with the same message.

Thread: any (pure function, no state).
"""

from __future__ import annotations

import base64
import binascii


class Pcm16Error(ValueError):
    """Base64 PCM16 text that cannot be trusted (the message is safe to log)."""


def decode_pcm16(text: str, max_bytes: int, what: str) -> bytes:
    """PCM16 bytes of base64 ``text``, at most about ``max_bytes`` long.

    Args:
        text: the base64 text from the frame.
        max_bytes: the largest decoded size accepted; the text is checked before decoding
            (``max_bytes * 4 // 3 + 4`` characters at most).
        what: what the audio is called in error messages (e.g. ``"audio delta"``).

    Raises:
        Pcm16Error: ``"<what> is absurdly large"``, ``"<what> is not valid base64"`` or
            ``"<what> has an odd byte count"``.
    """
    if len(text) > max_bytes * 4 // 3 + 4:
        raise Pcm16Error(f"{what} is absurdly large")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Pcm16Error(f"{what} is not valid base64") from exc
    if len(data) % 2:
        raise Pcm16Error(f"{what} has an odd byte count")
    return data
