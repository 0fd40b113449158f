"""Token-ish usage of one local response, for ``response.done``.

The local engine has no tokenizer; it reports estimates shaped like the real service's usage:
text at one token per 4 characters, input audio at one token per 100 ms and output audio at one
token per 50 ms (the real service's audio token rates are of that order). Input counts what the
response was given as context; output counts what it produced.
"""

from __future__ import annotations

from typing import Any

from app.local.conversation import Conversation

JSON = dict[str, Any]
CHARS_PER_TOKEN = 4
INPUT_AUDIO_MS_PER_TOKEN = 100
OUTPUT_AUDIO_MS_PER_TOKEN = 50


def text_tokens(text: str) -> int:
    """Estimated tokens of ``text``."""
    return -(-len(text) // CHARS_PER_TOKEN) if text else 0


def _item_text(item: JSON) -> str:
    kind = item.get("type")
    if kind == "function_call":
        return f"{item.get('name') or ''} {item.get('arguments') or ''}".strip()
    if kind == "function_call_output":
        return str(item.get("output") or "")
    parts = []
    for part in item.get("content") or []:
        if isinstance(part, dict):
            value = part.get("text") or part.get("transcript")
            if isinstance(value, str):
                parts.append(value)
    return " ".join(parts)


def _item_audio_ms(item: JSON, conversation: Conversation) -> int:
    item_id = item.get("id")
    if not isinstance(item_id, str) or item_id not in conversation.audio:
        return 0
    return conversation.audio[item_id].ms


def response_usage(
    context: list[JSON], output: list[JSON], output_audio_ms: int, conversation: Conversation
) -> JSON:
    """The ``usage`` object of ``response.done`` (validates as ``RealtimeResponseUsage``)."""
    in_text = in_audio = 0
    for item in context:
        audio_ms = _item_audio_ms(item, conversation) if item.get("role") == "user" else 0
        if audio_ms:
            in_audio += -(-audio_ms // INPUT_AUDIO_MS_PER_TOKEN)
        else:
            in_text += text_tokens(_item_text(item))
    out_text = sum(text_tokens(_item_text(item)) for item in output)
    out_audio = -(-output_audio_ms // OUTPUT_AUDIO_MS_PER_TOKEN)
    return {
        "total_tokens": in_text + in_audio + out_text + out_audio,
        "input_tokens": in_text + in_audio,
        "output_tokens": out_text + out_audio,
        "input_token_details": {
            "text_tokens": in_text,
            "audio_tokens": in_audio,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }
