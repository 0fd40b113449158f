"""The local engine's offline agent: understands everyday requests and answers in sentences."""

from app.local.agent.engine import Agent, CallTool, Speak

__all__ = ["Agent", "CallTool", "Speak"]
