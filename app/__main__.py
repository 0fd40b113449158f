"""``python -m app`` runs the ``voxdesk`` command line."""

import sys

from app.cli import main

sys.exit(main())
