"""Beside the table: the one-response-in-flight gate and the truncation point of a barge-in.

``ResponseGate`` holds back a ``response.create`` while another response is requested or active;
``truncate_at`` computes the ``audio_end_ms`` of the truncate after a barge-in. Both are pure and
used by ``app.session.turn_actions`` and ``app.session.conversation``.

Thread: the session loop thread only.
"""

from __future__ import annotations


def truncate_at(played_ms: float, received_ms: int, response_done: bool) -> int | None:
    """Return ``audio_end_ms`` for a truncate after a barge-in, or ``None`` to skip it.

    Clamped to the audio actually received (pitfall 1); skipped when nothing was heard
    (pitfall 2) and when everything was heard of a finished response (pitfall 3).
    """
    end = min(int(played_ms), received_ms)
    if end <= 0:
        return None
    if response_done and end >= received_ms:
        return None
    return end


class ResponseGate:
    """At most one response in flight; a create asked for while one is busy waits for its done.

    ``in flight`` means requested (``response.create`` sent, ``response.created`` not seen yet)
    or active (created, ``response.done`` not seen yet). Responses the server starts on its own
    (server VAD) count as active too.
    """

    def __init__(self) -> None:
        self.requested = False
        self.active: str | None = None
        self.deferred = False
        self._orphan_next = False

    @property
    def busy(self) -> bool:
        """Whether a response is requested or active."""
        return self.requested or self.active is not None

    def request(self) -> bool:
        """Ask for a response; True means send ``response.create`` now, False that it waits."""
        if self.busy:
            self.deferred = True
            return False
        self.requested = True
        return True

    def abandon(self) -> None:
        """The user moved on: drop a waiting create; a requested one is cancelled on arrival."""
        self.deferred = False
        self._orphan_next = self._orphan_next or self.requested

    def created(self, response_id: str) -> bool:
        """Record ``response.created``; True means it is an abandoned one to cancel at once."""
        orphan = self._orphan_next and self.requested
        if self.requested:
            self.requested = False
            self._orphan_next = False
        self.active = response_id
        return orphan

    def done(self, response_id: str) -> bool:
        """Record ``response.done``; True means send the waiting ``response.create`` now."""
        if self.active != response_id:
            return False
        self.active = None
        if self.deferred and not self.requested:
            self.deferred = False
            self.requested = True
            return True
        return False

    def reset(self) -> None:
        """Forget everything (the connection is gone)."""
        self.requested = False
        self.active = None
        self.deferred = False
        self._orphan_next = False
