"""Realtime conversation session: provider codecs, the barge-in state machine and the driver.

``app.session`` never imports Qt or the audio engine; the runtime wires it to both through
``app.ports.PlaybackSink`` and an observer callable.
"""
