"""The chat grammar: message text in, a typed :data:`~commands.command.Command` or a :class:`CommandError` out (pure).

Design:

- ``dispatch``  :func:`parse`: Slack text to words (:mod:`commands.tokens`), the first word picks a parser;
  an unknown word gets "did you mean ...?" or the closest command.
- ``deploys``   ``deploy``/``deploy!``, ``rollback``/``roll back``, ``run TASK``: the words that start runs.
- ``control``   ``cancel``, ``lock``, ``unlock``, ``approve``, ``reject``.
- ``reads``     ``status``, ``history``, ``where can I deploy``, ``help``.
- ``places``    ``[APP] ENV[/TARGET]`` against the config (:class:`~commands.vocabulary.GrammarContext`), and the
  errors that list what the config offers.
- ``checks``    refs (git's ``check-ref-format`` rules), run and release ids, free-text reasons.

Every name is checked against the config and every word against its rule: a command carries nothing unchecked.
Nothing is ever silently ignored. :func:`parse` raises only :class:`CommandError`.
"""

from commands.grammar.checks import RELEASE, RUN_ID, reason_problem
from commands.grammar.dispatch import parse

__all__ = ["RELEASE", "RUN_ID", "parse", "reason_problem"]
