"""The conversation of one session: ordered items, their audio, and truncation.

Items are kept in the GA wire shape (``object: realtime.item``). Audio bytes are stored beside
the items so ``conversation.item.added`` never carries audio while ``retrieve`` can return it.
For assistant audio the store also keeps the produced milliseconds and the sentence boundaries,
so a truncate is validated against what was really produced and the unheard text is dropped.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field

from app.local.events import JSON

BYTES_PER_MS = 48  # pcm16 mono at 24 kHz


class ConversationError(ValueError):
    """A request about an item the conversation cannot honour (code and param for ``error``)."""

    def __init__(self, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.param = param


@dataclass
class AudioTrack:
    """Audio of one item's content part plus, for assistant audio, what text each span said."""

    pcm: bytearray = field(default_factory=bytearray)
    spans: list[tuple[int, str]] = field(default_factory=list)  # (end byte, sentence)

    @property
    def ms(self) -> int:
        """Milliseconds of audio stored."""
        return len(self.pcm) // BYTES_PER_MS


class Conversation:
    """Ordered items with audio. Thread: the session's event loop only."""

    def __init__(self) -> None:
        self.items: list[JSON] = []
        self.audio: dict[str, AudioTrack] = {}

    def index(self, item_id: str) -> int:
        """Position of ``item_id`` or raise ``ConversationError``."""
        for i, item in enumerate(self.items):
            if item.get("id") == item_id:
                return i
        raise ConversationError(
            f"Item with item_id '{item_id}' does not exist.", "item_not_found", "item_id"
        )

    def get(self, item_id: str) -> JSON:
        """The item with ``item_id`` (raises ``ConversationError``)."""
        return self.items[self.index(item_id)]

    def previous_id(self, item_id: str) -> str | None:
        """Id of the item before ``item_id`` (None at the start)."""
        i = self.index(item_id)
        return str(self.items[i - 1]["id"]) if i > 0 else None

    def insert(self, item: JSON, previous_item_id: str | None = None) -> str | None:
        """Insert ``item`` after ``previous_item_id`` (``"root"``: first; None: last).

        Returns:
            The id of the item now before it (None at the start).
        """
        if any(existing.get("id") == item["id"] for existing in self.items):
            raise ConversationError(
                f"Item with id '{item['id']}' already exists.", "item_already_exists", "item.id"
            )
        if previous_item_id is None:
            self.items.append(item)
        elif previous_item_id == "root":
            self.items.insert(0, item)
        else:
            try:
                position = self.index(previous_item_id) + 1
            except ConversationError as exc:
                raise ConversationError(str(exc), exc.code, "previous_item_id") from exc
            self.items.insert(position, item)
        return self.previous_id(str(item["id"]))

    def delete(self, item_id: str) -> None:
        """Remove an item and its audio."""
        del self.items[self.index(item_id)]
        self.audio.pop(item_id, None)

    def track(self, item_id: str) -> AudioTrack:
        """The audio track of ``item_id`` (created empty on first use)."""
        return self.audio.setdefault(item_id, AudioTrack())

    def with_audio(self, item_id: str) -> JSON:
        """A copy of the item with its audio (base64) in the audio part, for ``retrieve``."""
        item = copy.deepcopy(self.get(item_id))
        track = self.audio.get(item_id)
        if track is not None:
            for part in item.get("content") or []:
                if part.get("type") in ("input_audio", "output_audio"):
                    part["audio"] = base64.b64encode(bytes(track.pcm)).decode("ascii")
        return item

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """Cut an assistant item's audio at ``audio_end_ms`` and drop the unheard transcript."""
        item = self.get(item_id)
        content = item.get("content") or []
        if item.get("role") != "assistant" or item.get("type") != "message":
            raise ConversationError(
                "Only model output audio messages can be truncated", "unsupported_content_type"
            )
        if not 0 <= content_index < len(content) or content[content_index].get("type") != (
            "output_audio"
        ):
            raise ConversationError(
                "Only model output audio messages can be truncated",
                "unsupported_content_type",
                "content_index",
            )
        track = self.track(item_id)
        if audio_end_ms > track.ms:
            raise ConversationError(
                f"Audio content of {track.ms}ms is already shorter than {audio_end_ms}ms",
                "invalid_value",
                "audio_end_ms",
            )
        cut = audio_end_ms * BYTES_PER_MS
        heard: list[str] = []
        start = 0
        for end, sentence in track.spans:
            if end <= cut:
                heard.append(sentence)
            elif start < cut:
                words = sentence.split()
                keep = int(len(words) * (cut - start) / max(1, end - start))
                heard.append(" ".join(words[:keep]))
            start = end
        del track.pcm[cut:]
        track.spans = [(min(end, cut), s) for (end, s) in track.spans if end <= cut]
        content[content_index]["transcript"] = " ".join(h for h in heard if h)
