"""Near-miss suggestions ("did you mean `staging`?") and safe echoing of what the user typed (pure).

Distance is the optimal-string-alignment edit distance (insert, delete, substitute, swap two neighbours), so
``stagin``, ``satging`` and ``stagign`` all land on ``staging``. A suggestion is offered only within a budget
that grows with the word (1 edit up to 4 letters, 2 up to 8, then 3), so ``hello`` is not "corrected" to an
environment. :func:`closest` ignores the budget when the caller wants the nearest thing whatever it is.

:func:`shown` is how any user text gets back into a reply: trimmed to 40 characters, with everything that could
format, link or mention in Slack (``< > & ` * _ ~ |``), control characters and the like replaced by ``?``.
"""

from __future__ import annotations

from collections.abc import Iterable

_UNSAFE = set("<>&`*_~|\\")
MAX_SHOWN = 40


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance between ``a`` and ``b``."""
    if a == b:
        return 0
    rows = len(a) + 1
    cols = len(b) + 1
    d = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        d[i][0] = i
    for j in range(cols):
        d[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def budget(word: str) -> int:
    """How many edits still count as a typo of ``word``."""
    if len(word) <= 4:
        return 1
    if len(word) <= 8:
        return 2
    return 3


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to ``word`` (ties go to the first listed), or ``None`` when there are none."""
    best: tuple[int, str] | None = None
    for candidate in candidates:
        score = distance(word.lower()[:64], candidate.lower())
        if best is None or score < best[0]:
            best = (score, candidate)
    return None if best is None else best[1]


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The nearest candidate if it is close enough to be a typo of ``word``, else ``None``."""
    options = list(candidates)
    best = closest(word, options)
    if best is None or best.lower() == word.lower():
        return None
    if distance(word.lower()[:64], best.lower()) <= budget(best):
        return best
    return None


def shown(text: str) -> str:
    """``text`` made safe to echo inside backticks in Slack: no markup, no control characters, 40 chars max."""
    out = []
    for ch in text:
        if ch in _UNSAFE or not ch.isprintable():
            out.append("?")
        else:
            out.append(ch)
    safe = "".join(out)
    if len(safe) > MAX_SHOWN:
        safe = safe[: MAX_SHOWN - 1] + "…"
    return safe or "?"
