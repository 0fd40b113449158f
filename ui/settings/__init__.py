"""The settings dialog, generated from ``app.settings.schema.REGISTRY``; one module per page."""

from __future__ import annotations
