"""Composition root: builds the core's parts from settings and owns their threads."""
