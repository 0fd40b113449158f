"""Where benches publish: each owns one marked section of ``docs/benchmarks.md``."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def replace_section(section: str, body: str, path: Path = DOCS) -> None:
    """Replace only the text between ``<!-- section:begin -->`` and ``<!-- section:end -->``.

    Raises:
        ValueError: ``path`` has no such section (the markers are never invented).
    """
    begin, end = f"<!-- {section}:begin -->", f"<!-- {section}:end -->"
    text = path.read_text(encoding="utf-8")
    if begin not in text or end not in text:
        raise ValueError(f"{path} has no {begin} … {end} section")
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    replaced = pattern.sub(lambda _m: f"{begin}\n{body}\n{end}", text, count=1)
    path.write_text(replaced, encoding="utf-8")
