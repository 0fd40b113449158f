"""Tool registry and runner: async handlers with JSON-schema parameters, cancellable on barge-in.

Contract with the driver (``app/session/driver.py``):

- The driver calls :meth:`ToolRunner.start` only when a ``function_call`` item has *completed*
  (``response.output_item.done`` with ``status: "completed"``, or
  ``response.function_call_arguments.done``); incomplete calls of a cancelled response are never
  started. Starting the same ``call_id`` twice is ignored: nothing runs twice.
- Every started call ends in exactly one :class:`ToolResult` passed to ``on_done`` on the loop
  thread: done, failed (bad JSON, unknown tool, arguments not matching the schema, handler error,
  timeout) or cancelled. The driver sends ``output`` as ``function_call_output`` unless ``stale``.
- On barge-in the driver calls :meth:`ToolRunner.cancel_interruptible`; each cancelled call gets
  an explicit cancelled output at once. Non-interruptible calls keep running.
- :meth:`ToolRunner.mark_stale` flags calls whose answer would come too late (the turn moved on):
  their result is still reported, with ``stale=True``, and the driver never speaks it.
- A call is never retried automatically. (A failure is reported to the model, which may decide to
  call again; for a non-idempotent tool that is the model's explicit decision, not ours.)

Thread: everything here runs on the session loop thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.events import ToolCallUpdated, ToolStatus

log = logging.getLogger("app.session.tools")

ToolHandler = Callable[..., Awaitable[str | dict[str, Any]]]
"""An async callable taking the validated arguments as keyword arguments."""

CANCELLED_OUTPUT = json.dumps({"status": "cancelled", "reason": "user interrupted"})
"""The output sent for a call cancelled by a barge-in."""

MAX_DESCRIPTION_CHARS = 1024
"""Providers reject longer tool descriptions (``string_above_max_length``), then ignore
the instructions; the registry refuses them up front."""

_JSON_TYPES: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call.

    Attributes:
        name: function name (letters, digits, ``_`` and ``-``; at most 64 characters).
        description: what it does, for the model (at most 1024 characters).
        parameters: JSON schema of the arguments (an ``object`` schema).
        handler: async callable receiving the arguments as keyword arguments; returns the output
            text or a JSON-serialisable dict. It raises ``ValueError`` (e.g. ``SkillError``) with a
            user-safe message for bad input.
        idempotent: calling it twice has the same effect as once (reads, pure computation).
        interruptible: a barge-in may cancel it mid-run.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    handler: ToolHandler
    idempotent: bool
    interruptible: bool


@dataclass(frozen=True)
class ToolResult:
    """How one tool call ended.

    Attributes:
        call_id: the provider's call id.
        name: the tool name as the model sent it.
        output: text for ``function_call_output`` (JSON for errors and cancellations).
        status: ``DONE``, ``FAILED`` or ``CANCELLED``.
        stale: the call was marked stale; record it, never speak it.
    """

    call_id: str
    name: str
    output: str
    status: ToolStatus
    stale: bool


def _any_type(_value: object) -> bool:
    return True


def _error_output(message: str) -> str:
    return json.dumps({"status": "error", "error": message})


def validate_arguments(schema: Mapping[str, Any], value: object, path: str = "arguments") -> None:
    """Check ``value`` against a JSON schema, minimally.

    Covers ``type`` (one or a list), ``required``, ``properties``, ``additionalProperties: false``,
    ``enum`` and array ``items`` — what tool schemas use. Other keywords are ignored.

    Args:
        schema: the JSON schema.
        value: the decoded arguments.
        path: where we are, for the message.

    Raises:
        ValueError: naming the first mismatch (e.g. ``"arguments.value must be number"``).
    """
    expected = schema.get("type")
    if expected is not None:
        types = [expected] if isinstance(expected, str) else list(expected)
        if not any(_JSON_TYPES.get(t, _any_type)(value) for t in types):
            raise ValueError(f"{path} must be {' or '.join(types)}")
    if "enum" in schema and value not in schema["enum"]:
        raise ValueError(f"{path} must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                raise ValueError(f"{path}.{key} is required")
        for key, item in value.items():
            if key in properties:
                validate_arguments(properties[key], item, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                raise ValueError(f"{path}.{key} is not allowed")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            validate_arguments(schema["items"], item, f"{path}[{index}]")


class ToolRegistry:
    """The tools offered to the model, by name.

    Thread: filled before the session starts; read on the loop thread.
    """

    def __init__(self) -> None:
        self._specs: dict[str, ToolSpec] = {}

    def register(self, spec: ToolSpec) -> None:
        """Add a tool.

        Raises:
            ValueError: duplicate or malformed name, description over 1024 characters, or
                parameters that are not an ``object`` schema.
        """
        name_ok = 0 < len(spec.name) <= 64 and all(c.isalnum() or c in "_-" for c in spec.name)
        if not name_ok:
            raise ValueError(f"invalid tool name {spec.name!r}")
        if spec.name in self._specs:
            raise ValueError(f"tool {spec.name!r} is already registered")
        if len(spec.description) > MAX_DESCRIPTION_CHARS:
            raise ValueError(f"description of {spec.name!r} exceeds {MAX_DESCRIPTION_CHARS} chars")
        if spec.parameters.get("type") != "object":
            raise ValueError(f"parameters of {spec.name!r} must be an object schema")
        self._specs[spec.name] = spec

    def get(self, name: str) -> ToolSpec | None:
        """The tool called ``name``, or ``None``."""
        return self._specs.get(name)

    def names(self) -> list[str]:
        """Registered tool names, in registration order."""
        return list(self._specs)

    def schemas(self) -> list[dict[str, Any]]:
        """GA function tool definitions for ``session.update`` ``tools``."""
        return [
            {
                "type": "function",
                "name": spec.name,
                "description": spec.description,
                "parameters": dict(spec.parameters),
            }
            for spec in self._specs.values()
        ]


@dataclass
class _Call:
    call_id: str
    name: str
    spec: ToolSpec
    task: asyncio.Task[None]
    started_at: float
    cancelled: bool = False


class ToolRunner:
    """Runs tool calls as named asyncio tasks and reports each outcome exactly once.

    Args:
        registry: where tools are looked up.
        on_done: receives every :class:`ToolResult`, on the loop thread. It must not raise
            (exceptions are logged and swallowed).
        observer: receives :class:`app.events.ToolCallUpdated` on start and finish.
        timeout_s: a call running longer fails with a timeout output (interruptible or not).

    Thread: every method must be called on the session loop thread, with the loop running.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        on_done: Callable[[ToolResult], None],
        observer: Callable[[object], None] | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self._registry = registry
        self._on_done = on_done
        self._observer = observer
        self._timeout_s = timeout_s
        self._calls: dict[str, _Call] = {}
        self._seen: set[str] = set()
        self._stale: set[str] = set()

    def start(self, call_id: str, name: str, arguments_json: str) -> None:
        """Start a completed call. Never raises for bad input: that becomes a failed result.

        The result (also an immediate failure) is delivered later through ``on_done``, never
        from inside this method. A ``call_id`` already started is ignored.
        """
        loop = asyncio.get_running_loop()
        if call_id in self._seen:
            log.warning("tool call %s (%s) started twice; ignored", call_id, name)
            return
        self._seen.add(call_id)
        self._emit(ToolCallUpdated(call_id, name, ToolStatus.RUNNING, arguments_json))
        spec = self._registry.get(name)
        try:
            if spec is None:
                raise ValueError(f"unknown tool {name!r}")
            arguments = json.loads(arguments_json) if arguments_json.strip() else {}
            validate_arguments(spec.parameters, arguments)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            message = (
                "arguments are not valid JSON"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)
            )
            log.info("tool call %s (%s) rejected: %s", call_id, name, message)
            result = ToolResult(call_id, name, _error_output(message), ToolStatus.FAILED, False)
            loop.call_soon(self._finish, result)
            return
        task = loop.create_task(self._run(call_id, spec, arguments), name=f"tool:{name}:{call_id}")
        self._calls[call_id] = _Call(call_id, name, spec, task, time.monotonic())
        log.debug("tool call %s (%s) started", call_id, name)

    async def _run(self, call_id: str, spec: ToolSpec, arguments: dict[str, Any]) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                value = await spec.handler(**arguments)
            output = value if isinstance(value, str) else json.dumps(value)
            status = ToolStatus.DONE
        except asyncio.CancelledError:
            call = self._calls.pop(call_id, None)
            if call is not None and not call.cancelled:
                # Cancelled by someone else (shutdown): still report once.
                self._finish(self._result(call, CANCELLED_OUTPUT, ToolStatus.CANCELLED))
            raise
        except TimeoutError:
            output, status = (
                _error_output(f"timed out after {self._timeout_s:g} s"),
                ToolStatus.FAILED,
            )
        except ValueError as exc:
            output, status = _error_output(str(exc)), ToolStatus.FAILED
        except Exception as exc:
            log.exception("tool %s failed", spec.name)
            output = _error_output(f"internal error ({type(exc).__name__})")
            status = ToolStatus.FAILED
        call = self._calls.pop(call_id, None)
        if call is not None:
            self._finish(self._result(call, output, status))

    def _result(self, call: _Call, output: str, status: ToolStatus) -> ToolResult:
        return ToolResult(call.call_id, call.name, output, status, call.call_id in self._stale)

    def _finish(self, result: ToolResult) -> None:
        self._stale.discard(result.call_id)
        log.debug("tool call %s (%s) %s", result.call_id, result.name, result.status.value)
        self._emit(
            ToolCallUpdated(result.call_id, result.name, result.status, result=result.output)
        )
        try:
            self._on_done(result)
        except Exception:
            log.exception("tool result handler failed for %s", result.call_id)

    def _emit(self, event: ToolCallUpdated) -> None:
        if self._observer is not None:
            try:
                self._observer(event)
            except Exception:
                log.exception("tool observer failed")

    def cancel_interruptible(self) -> list[str]:
        """Cancel every running interruptible call (barge-in).

        Each gets a ``CANCELLED`` result with :data:`CANCELLED_OUTPUT`, reported before this
        returns. Non-interruptible calls keep running.

        Returns:
            The cancelled call ids.
        """
        cancelled: list[str] = []
        for call in list(self._calls.values()):
            if not call.spec.interruptible:
                continue
            call.cancelled = True
            call.task.cancel()
            del self._calls[call.call_id]
            cancelled.append(call.call_id)
            self._finish(self._result(call, CANCELLED_OUTPUT, ToolStatus.CANCELLED))
        return cancelled

    def mark_stale(self, call_ids: Iterable[str]) -> None:
        """Flag running calls as stale: their result is recorded with ``stale=True``."""
        self._stale.update(c for c in call_ids if c in self._calls)

    def running(self) -> list[str]:
        """Ids of calls still running, oldest first."""
        return [c.call_id for c in sorted(self._calls.values(), key=lambda c: c.started_at)]

    def is_interruptible(self, call_id: str) -> bool:
        """Whether the running call ``call_id`` would be cancelled by a barge-in."""
        call = self._calls.get(call_id)
        return call is not None and call.spec.interruptible

    async def aclose(self, timeout_s: float = 2.0) -> None:
        """Cancel every running call (interruptible or not) and wait for them (shutdown)."""
        calls = list(self._calls.values())
        for call in calls:
            call.task.cancel()
        if calls:
            await asyncio.wait([c.task for c in calls], timeout=timeout_s)
        # A task cancelled before its first step never reaches its own handler: report it here.
        for call in list(self._calls.values()):
            del self._calls[call.call_id]
            self._finish(self._result(call, CANCELLED_OUTPUT, ToolStatus.CANCELLED))
