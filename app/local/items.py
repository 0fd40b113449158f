"""Checking what clients send: items for ``conversation.item.create`` and ``response.create``.

Client items are validated and normalised into the stored GA shape (``object: realtime.item``,
an id, a status); a ``response.create`` is turned into effective :class:`ResponseParams`.
"""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any

from app.local.conversation import Conversation, ConversationError
from app.local.events import JSON, new_id
from app.local.response import ResponseParams

_USER_PARTS = ("input_text", "input_audio", "input_image")


class ItemError(ConversationError):
    """An invalid item in a client event."""


def normalize_item(raw: JSON) -> JSON:
    """A validated copy of a client item; user audio is returned under ``_audio`` (bytes)."""
    item = copy.deepcopy(raw)
    kind = item.get("type")
    item_id = item.get("id")
    if item_id is not None and (not isinstance(item_id, str) or not 0 < len(item_id) <= 64):
        raise ItemError("item.id must be a string of 1-64 characters.", "invalid_value", "item.id")
    item["id"] = item_id or new_id("item")
    item["object"] = "realtime.item"
    item.setdefault("status", "completed")
    if kind == "message":
        _check_message(item)
    elif kind == "function_call":
        for key in ("name", "arguments"):
            if not isinstance(item.get(key), str):
                raise ItemError(f"item.{key} must be a string.", "invalid_type", f"item.{key}")
        item.setdefault("call_id", new_id("call"))
    elif kind == "function_call_output":
        for key in ("call_id", "output"):
            if not isinstance(item.get(key), str):
                raise ItemError(f"item.{key} must be a string.", "invalid_type", f"item.{key}")
    else:
        raise ItemError(
            "item.type must be 'message', 'function_call' or 'function_call_output'.",
            "invalid_value",
            "item.type",
        )
    return item


def _check_message(item: JSON) -> None:
    role = item.get("role")
    content = item.get("content")
    if role not in ("user", "assistant", "system"):
        raise ItemError(
            "item.role must be user, assistant or system.", "invalid_value", "item.role"
        )
    if (
        not isinstance(content, list)
        or not content
        or not all(isinstance(p, dict) for p in content)
    ):
        raise ItemError(
            "item.content must be a non-empty list of parts.", "invalid_value", "item.content"
        )
    allowed = {"user": _USER_PARTS, "system": ("input_text",), "assistant": ("output_text",)}[role]
    for i, part in enumerate(content):
        if part.get("type") not in allowed:
            raise ItemError(
                f"Invalid content type '{part.get('type')}' for a {role} message; "
                f"expected one of {', '.join(allowed)}.",
                "invalid_value",
                f"item.content[{i}].type",
            )
        if part["type"] in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            raise ItemError(
                "text parts need a string 'text'.", "invalid_type", f"item.content[{i}].text"
            )
        if part["type"] == "input_audio":
            audio = part.pop("audio", None)
            if audio is not None:
                try:
                    item["_audio"] = base64.b64decode(str(audio), validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise ItemError(
                        "Invalid base64 audio.", "invalid_value", f"item.content[{i}].audio"
                    ) from exc
            part.setdefault("transcript", None)


def response_params(session: JSON, overrides: JSON, conversation: Conversation) -> ResponseParams:
    """Effective parameters of a response: the session's, overridden by ``response.create``."""
    audio_out = ((session.get("audio") or {}).get("output")) or {}
    out_override = ((overrides.get("audio") or {}).get("output")) or {}
    modalities = overrides.get("output_modalities") or session.get("output_modalities") or ["audio"]
    if modalities not in (["audio"], ["text"]):
        raise ItemError(
            "output_modalities must be ['audio'] or ['text'].",
            "invalid_value",
            "response.output_modalities",
        )
    tools = overrides.get("tools", session.get("tools")) or []
    if not isinstance(tools, list):
        raise ItemError("tools must be a list.", "invalid_type", "response.tools")
    limit = overrides.get("max_output_tokens", session.get("max_output_tokens", "inf"))
    if limit != "inf" and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ItemError(
            "max_output_tokens must be 1-4096 or 'inf'.",
            "invalid_value",
            "response.max_output_tokens",
        )
    context = None
    if overrides.get("input") is not None:
        context = _resolve_input(overrides["input"], conversation)
    speed = audio_out.get("speed") or 1.0
    return ResponseParams(
        modalities=list(modalities),
        tools=tools,
        tool_choice=overrides.get("tool_choice", session.get("tool_choice", "auto")),
        max_output_tokens=limit,
        voice=out_override.get("voice") or audio_out.get("voice") or "marin",
        speed=float(speed) if isinstance(speed, int | float) else 1.0,
        in_conversation=overrides.get("conversation", "auto") != "none",
        metadata=overrides.get("metadata"),
        context=context,
    )


def _resolve_input(raw: Any, conversation: Conversation) -> list[JSON]:
    if not isinstance(raw, list):
        raise ItemError("response.input must be a list of items.", "invalid_type", "response.input")
    items: list[JSON] = []
    for entry in raw:
        if isinstance(entry, dict) and entry.get("type") == "item_reference":
            items.append(conversation.get(str(entry.get("id"))))
        elif isinstance(entry, dict):
            normalized = normalize_item(entry)
            normalized.pop("_audio", None)
            items.append(normalized)
        else:
            raise ItemError(
                "response.input entries must be objects.", "invalid_type", "response.input"
            )
    return items
