"""The one exception type every skill raises for bad input."""

from __future__ import annotations


class SkillError(ValueError):
    """A skill could not answer; the message is safe to show or speak to the user as is.

    Messages are short, plain sentences that say what was wrong ("I can't divide by zero.").
    They never contain secrets: skills only see the text they were given.
    """
