"""The ``voxdesk`` command line.

No argument starts the GUI. Each subcommand lives in the module that owns the feature and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this module only dispatches, importing the
feature lazily so ``voxdesk --version`` stays instant and a broken optional part cannot stop the
others from working.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app import __version__

# subcommand -> (module, help). Modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "devices": ("app.audio.devices_cli", "list audio devices (the default is marked)"),
    "doctor": ("app.doctor", "check what VoxDesk needs on this machine and print the fix"),
    "serve": ("app.local.serve", "run the embedded local realtime engine on its own"),
    "talk": ("app.runtime.talk", "talk from a terminal (push-to-talk with space, or --text)"),
    "bench": ("app.bench.cli", "run a benchmark (audio, engine, startup, e2e)"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="voxdesk", description="VoxDesk desktop voice assistant.")
    parser.add_argument("--version", action="version", version=f"voxdesk {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", help="settings file to use instead of the default"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        module = _load(module_name)
        if module is not None:
            module.add_arguments(sub)
    return parser


def _load(module_name: str) -> Any:
    """Import a command module, or return None when it is not available in this build."""
    try:
        return importlib.import_module(module_name)
    except ImportError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``voxdesk`` console script."""
    args = build_parser().parse_args(argv)
    from app.log import setup_logging
    from app.settings.store import SettingsStore

    store = SettingsStore(Path(args.config)) if args.config else SettingsStore.default()
    # Never raises: a corrupt file is moved aside and reported through these notices.
    args.startup_notices = store.load()
    args.settings_store = store
    setup_logging(verbosity=args.verbose, level=store.current.get_str("log.level"))
    for notice in args.startup_notices:
        if args.command is not None:  # the GUI shows them itself, in its notice area
            print(f"voxdesk: {notice.text}", file=sys.stderr)
    if args.command is None:
        # The GUI lives in ui/ (Qt). The core never imports it statically; this lazy import is the
        # one place the console script hands over to it.
        gui = importlib.import_module("ui.application")
        gui_code: int = gui.main(args)
        return gui_code
    module = _load(args._module)
    if module is None:
        print(
            f"voxdesk {args.command}: this command is not available in this build.", file=sys.stderr
        )
        return 2
    code: int = module.run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
