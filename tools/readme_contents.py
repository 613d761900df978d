"""The README's table of contents, made from its ``##`` and ``###`` headings (``python -m tools.readme_contents
--write README.md`` rewrites the part between the markers; ``tests/test_readme.py`` checks it is current)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

BEGIN, END = "<!-- contents:begin -->", "<!-- contents:end -->"
_HEADING = re.compile(r"^(#{2,3}) (.+?)\s*$")


def anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title.strip().lower()))


def headings(text: str) -> list[tuple[int, str]]:
    """``(level, title)`` of every ``##``/``###`` heading after the contents, outside code blocks."""
    after = text.split(END, 1)[1] if END in text else text
    found, fenced = [], False
    for line in after.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := _HEADING.match(line)):
            found.append((len(m.group(1)), m.group(2)))
    return found


def contents(text: str) -> str:
    return "\n".join(f"{'  ' * (level - 2)}- [{title}](#{anchor(title)})" for level, title in headings(text))


def write(path: Path) -> None:
    text = path.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    path.write_text(text[:start] + "\n" + contents(text) + "\n" + text[end:])


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:2] != ["--write"] or len(sys.argv) != 3:
        sys.exit("usage: python -m tools.readme_contents --write README.md")
    write(Path(sys.argv[2]))
