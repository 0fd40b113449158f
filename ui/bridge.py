"""The one place where core events become Qt signals and Qt actions become core commands.

The core (``app/runtime``) is reached only through the :class:`CoreFacade` protocol. Core observers
run on core threads (session loop, audio engine); :class:`Bridge` re-emits what they report as
queued Qt signals, so every slot runs on the GUI thread. Commands go the other way through
:meth:`Bridge.post`, which is safe to call from any thread (hotkey backends call it from theirs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from PySide6.QtCore import QObject, Signal, Slot

from app.events import (
    AssistantState,
    ConnectionChanged,
    ModelLoadProgress,
    NoticeCategory,
    NoticeLevel,
    SessionStateChanged,
    ToolCallUpdated,
    TranscriptLine,
    UserNotice,
)
from app.runtime.commands import (
    ApplySettings,
    Command,
    Interrupt,
    PushToTalkPressed,
    PushToTalkReleased,
    SendText,
    SetMicMuted,
    SetTurnMode,
)

log = logging.getLogger("ui")

_NOTICE_BACKLOG = 20


@runtime_checkable
class CoreFacade(Protocol):
    """What the GUI needs from the core; ``app/runtime`` implements it.

    Optional extras the GUI uses when present (looked up with ``getattr``, controls are disabled
    with a tooltip when absent): ``run_audio_self_test()``, ``play_test_tone()``,
    ``list_devices()``, ``memory``, ``test_connection(provider)``,
    ``set_loop_exception_handler(handler)``.

    Attributes:
        settings_store: the ``app.settings.store.SettingsStore`` the dialog reads from.
        secrets: the ``app.secrets.SecretStore`` the Keys page writes to.
    """

    settings_store: Any
    secrets: Any

    def submit(self, command: Command) -> None:
        """Post a command. Thread: any; never blocks."""

    def subscribe(self, observer: Callable[[object], None]) -> None:
        """Register an observer of core events. It is called from core threads."""

    def telemetry(self) -> object:
        """The latest audio telemetry snapshot (levels, echo attenuation, VAD probability)."""

    def latency(self) -> object:
        """The latest ``LatencySnapshot`` of ``app.metrics.latency``."""


class Bridge(QObject):
    """Turns core events into GUI-thread signals and GUI actions into core commands.

    Thread: lives on the GUI thread. :meth:`observe` and :meth:`post` may be called from any
    thread; every other method only from the GUI thread.

    Signals:
        sig_state_changed(SessionStateChanged): the barge-in state machine moved.
        sig_transcript_updated(TranscriptLine): a transcript line changed.
        sig_tool_call_updated(ToolCallUpdated): a tool call started or finished.
        sig_connection_changed(ConnectionChanged): the provider link changed.
        sig_notice_posted(UserNotice): the core has something to tell the user.
        sig_model_progress(ModelLoadProgress): background model loading advanced.
        sig_command_posted(object): a command was submitted (from any thread, delivered queued).
    """

    sig_state_changed = Signal(object)
    sig_transcript_updated = Signal(object)
    sig_tool_call_updated = Signal(object)
    sig_connection_changed = Signal(object)
    sig_notice_posted = Signal(object)
    sig_model_progress = Signal(object)
    sig_command_posted = Signal(object)
    _sig_event_received = Signal(object)

    def __init__(self, core: CoreFacade, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._core = core
        self._state = SessionStateChanged(AssistantState.DISCONNECTED, "starting")
        self._connection: ConnectionChanged | None = None
        self._progress: dict[str, ModelLoadProgress] = {}
        self._notices: list[UserNotice] = []
        self._replayed = False
        self.hotkey_status = ""
        """What the global-hotkey backend said about itself (shown on the Hotkeys page)."""
        self._sig_event_received.connect(self._on_core_event_received)
        core.subscribe(self.observe)

    @property
    def core(self) -> CoreFacade:
        """The facade this bridge talks to."""
        return self._core

    @property
    def state(self) -> AssistantState:
        """The last assistant state seen. Thread: GUI."""
        return self._state.state

    @property
    def connection(self) -> ConnectionChanged | None:
        """The last connection change seen, if any. Thread: GUI."""
        return self._connection

    def observe(self, event: object) -> None:
        """Receive one core event. Thread: any; never blocks (the emission is queued)."""
        self._sig_event_received.emit(event)

    def replay(self) -> None:
        """Re-emit the cached state, connection, progress and notices for a newly built view.

        Notices that arrived before the main window existed are kept (up to a small backlog) and
        replayed here, once. Thread: GUI.
        """
        self.sig_state_changed.emit(self._state)
        if self._connection is not None:
            self.sig_connection_changed.emit(self._connection)
        for progress in self._progress.values():
            self.sig_model_progress.emit(progress)
        notices, self._notices = self._notices, []
        self._replayed = True
        for notice in notices:
            self.sig_notice_posted.emit(notice)

    @Slot(object)
    def _on_core_event_received(self, event: object) -> None:
        if isinstance(event, SessionStateChanged):
            self._state = event
            self.sig_state_changed.emit(event)
        elif isinstance(event, TranscriptLine):
            if event.final:
                log.debug(
                    "transcript %s %s final interrupted=%s: %s",
                    event.role,
                    event.item_id,
                    event.interrupted,
                    event.text,
                )
            self.sig_transcript_updated.emit(event)
        elif isinstance(event, ToolCallUpdated):
            self.sig_tool_call_updated.emit(event)
        elif isinstance(event, ConnectionChanged):
            self._connection = event
            self.sig_connection_changed.emit(event)
        elif isinstance(event, ModelLoadProgress):
            self._progress[event.component] = event
            self.sig_model_progress.emit(event)
        elif isinstance(event, UserNotice):
            if not self._replayed:
                self._notices = [*self._notices, event][-_NOTICE_BACKLOG:]
            self.sig_notice_posted.emit(event)
        else:
            log.debug("bridge: ignoring core event %s", type(event).__name__)

    def post(self, command: Command) -> None:
        """Submit a command to the core. Thread: any; never blocks.

        A core that refuses the command (raises) is reported as a notice, never as a crash of
        the widget that posted it.
        """
        try:
            self._core.submit(command)
        except Exception as exc:  # the GUI must survive a core that is shutting down
            log.warning("bridge: %s was refused: %s", type(command).__name__, exc)
            self.observe(
                UserNotice(
                    NoticeLevel.WARNING,
                    NoticeCategory.GENERAL,
                    f"VoxDesk could not do that right now ({type(exc).__name__}).",
                )
            )
            return
        self.sig_command_posted.emit(command)

    def press_to_talk(self) -> None:
        """Post :class:`PushToTalkPressed`. Thread: any."""
        self.post(PushToTalkPressed())

    def release_to_talk(self, at: float | None = None) -> None:
        """Post :class:`PushToTalkReleased` (``at``: when it went up, monotonic). Thread: any."""
        self.post(PushToTalkReleased(at))

    def interrupt(self) -> None:
        """Post :class:`Interrupt`; the state machine decides what it means. Thread: any."""
        self.post(Interrupt())

    def send_text(self, text: str) -> None:
        """Post a typed user turn (blank text is ignored). Thread: any."""
        if text.strip():
            self.post(SendText(text.strip()))

    def set_turn_mode(self, mode: str) -> None:
        """Post :class:`SetTurnMode` (``"push_to_talk"`` or ``"hands_free"``). Thread: any."""
        self.post(SetTurnMode(mode))

    def set_mic_muted(self, muted: bool) -> None:
        """Post :class:`SetMicMuted`. Thread: any."""
        self.post(SetMicMuted(muted))

    def apply_settings(self, changes: dict[str, object]) -> None:
        """Post :class:`ApplySettings` with validated changes (nothing is posted when empty)."""
        if changes:
            self.post(ApplySettings(dict(changes)))

    def optional(self, name: str) -> Any | None:
        """An optional facade extra (e.g. ``run_audio_self_test``), or None when absent."""
        return getattr(self._core, name, None)
