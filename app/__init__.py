"""VoxDesk core: audio engine, realtime session, local engine, settings. Never imports Qt."""

__version__ = "0.1.0"
