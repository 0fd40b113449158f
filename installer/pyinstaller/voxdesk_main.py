"""Entry script of the frozen ``voxdesk`` executable: the same command line as the script."""

from __future__ import annotations

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
