"""Tool calls of the conversation: started when their item completes, answered after the response.

A call starts as soon as its item is complete (``response.function_call_arguments.done``, or the
completed ``function_call`` items of ``response.done`` when the server sent no arguments event);
starting the same ``call_id`` twice is a no-op, so nothing runs twice and nothing is retried.

A *live* call belongs to a response nobody interrupted. Its output is held until that response is
done; then the driver sends every held output and one ``response.create`` (``ResponseGate``).
A barge-in makes every running call dead: interruptible ones are cancelled (an explicit cancelled
output is sent), the others are marked stale. Outputs of dead calls are sent as soon as they exist,
so the conversation records them, but no response is ever created for them: they are never
spoken.

When the connection ends, every unanswered call belongs to a server conversation that is gone:
the next connection's conversation does not know its call item (tool items are never replayed),
so an output sent there is an error. Such calls are cancelled when interruptible, marked stale
otherwise, and their results are recorded (``dropped``, the runner's ``ToolCallUpdated``) but
never sent. This holds for a resumed Gemini session too: its answer would be spoken in a turn the
user already left.

Thread: the session loop thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.session import messages as m
from app.session.collaborators import ToolResultLike, ToolRunnerLike

log = logging.getLogger("app.session.tools")

NO_TOOLS_OUTPUT = '{"error": "tools are not available"}'


class ToolCalls:
    """Bookkeeping between the provider's function calls and the tool runner.

    Args:
        send: queues a client command on the current connection.
    """

    def __init__(self, send: Callable[[m.ClientCommand], None]) -> None:
        self._send = send
        self.runner: ToolRunnerLike | None = None
        self._response_of: dict[str, str] = {}
        self._live: set[str] = set()
        self._held: list[m.AddFunctionOutput] = []
        self._unanswered: set[str] = set()
        self._gone: set[str] = set()
        self.started: list[str] = []
        """Call ids started this session, in order (for tests and logs)."""
        self.dropped: list[str] = []
        """Calls whose result came after their connection ended: recorded, never sent."""

    def start(self, response_id: str, call_id: str, name: str, arguments: str) -> None:
        """Start a completed call of ``response_id`` (ignored when already started)."""
        if call_id in self._response_of:
            return
        self._response_of[call_id] = response_id
        self.started.append(call_id)
        if self.runner is None:
            self._held.append(m.AddFunctionOutput(call_id, NO_TOOLS_OUTPUT))
            return
        self._live.add(call_id)
        self._unanswered.add(call_id)
        log.info("tool call %s (%s) started", call_id, name)
        self.runner.start(call_id, name, arguments)

    def calls_of(self, response_id: str) -> list[str]:
        """Ids of the calls started for ``response_id``."""
        return [c for c, r in self._response_of.items() if r == response_id]

    def on_result(self, result: ToolResultLike) -> bool:
        """Route one finished call; True when its output is held for the follow-up response."""
        self._unanswered.discard(result.call_id)
        if result.call_id in self._gone:
            self._gone.discard(result.call_id)
            self.dropped.append(result.call_id)
            log.info(
                "tool call %s ended after its connection closed: recorded, not sent",
                result.call_id,
            )
            return False
        live = result.call_id in self._live and not result.stale
        self._live.discard(result.call_id)
        output = m.AddFunctionOutput(result.call_id, result.output)
        if live:
            self._held.append(output)
        else:
            log.info(
                "tool call %s ended after the turn moved on: recorded, not spoken", result.call_id
            )
            self._send(output)
        return live

    @property
    def idle(self) -> bool:
        """Whether no live call is still running."""
        return not self._live

    def take_outputs(self) -> list[m.AddFunctionOutput]:
        """The held outputs (to send now, right before the follow-up ``response.create``)."""
        held, self._held = self._held, []
        return held

    def interrupt(self) -> None:
        """A barge-in: every running call is dead; interruptible ones are cancelled now.

        Outputs already held are sent as records (the function call items exist on the server
        and must not dangle), without a response.
        """
        dead = sorted(self._live)
        self._live.clear()
        for output in self.take_outputs():
            self._send(output)
        if self.runner is None or not dead:
            return
        running = [c for c in self.runner.running() if c in dead]
        self.runner.mark_stale(running)
        cancelled = self.runner.cancel_interruptible()
        log.info("barge-in: tool calls %s cancelled, %s left to finish", cancelled, running)

    def withdraw(self, call_ids: tuple[str, ...]) -> None:
        """The provider withdrew calls (Gemini ``toolCallCancellation``): never speak them.

        Running ones are marked stale (their results are recorded, not answered); no follow-up
        response is created for them.
        """
        withdrawn = [c for c in call_ids if c in self._live]
        self._live.difference_update(withdrawn)
        self._held = [o for o in self._held if o.call_id not in call_ids]
        if self.runner is not None and withdrawn:
            self.runner.mark_stale([c for c in self.runner.running() if c in withdrawn])
        log.info("tool calls %s withdrawn by the provider", list(call_ids))

    def connection_ended(self) -> None:
        """The connection closed: no unanswered call can be answered on any later one."""
        self._held.clear()
        self._live.clear()
        gone, self._unanswered = self._unanswered, set()
        self._gone |= gone
        if self.runner is None or not gone:
            return
        running = [c for c in self.runner.running() if c in gone]
        self.runner.mark_stale(running)
        cancelled = self.runner.cancel_interruptible()
        log.info(
            "connection closed: tool calls %s cancelled, %s left to finish", cancelled, running
        )

    def reset(self) -> None:
        """The connection is gone: nothing held can be sent; running calls become dead."""
        self._live.clear()
        self._held.clear()
