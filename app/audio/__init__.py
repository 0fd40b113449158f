"""The audio engine: device I/O, the real-time callback, playback and the DSP pipeline.

Nothing here imports Qt. Entry point for the runtime: ``app.audio.engine.AudioEngine``.
Submodules are imported explicitly (this package imports nothing eagerly, so ``voxdesk devices``
stays light).
"""
