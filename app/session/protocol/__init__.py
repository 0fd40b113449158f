"""Sans-I/O provider codecs: server JSON to typed events, typed commands to client JSON."""
