"""``voxdesk bench <name> [--quick] [--json FILE]``: dispatch to ``app.bench.<name>.run(args)``."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHES = ("audio", "engine", "startup", "e2e")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the bench name and the options every bench understands."""
    parser.add_argument("name", choices=BENCHES, help="which benchmark to run")
    parser.add_argument(
        "--quick", action="store_true", help="shorter run (well under 2 minutes), fewer trials"
    )
    parser.add_argument("--json", metavar="FILE", help="write the flat JSON result object here")
    parser.add_argument(
        "--no-docs",
        action="store_true",
        help="do not update the bench's section of docs/benchmarks.md",
    )
    parser.add_argument(
        "--provider",
        choices=("local",),
        default="local",
        help="engine the e2e bench talks to (the embedded local engine)",
    )


def run(args: argparse.Namespace) -> int:
    """Import ``app.bench.<name>`` lazily and run it; its exit code is returned."""
    try:
        module = importlib.import_module(f"app.bench.{args.name}")
    except ImportError as exc:
        print(f"voxdesk bench {args.name}: not available in this build ({exc})", file=sys.stderr)
        return 2
    code: int = module.run(args)
    return code
