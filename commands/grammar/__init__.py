"""The chat grammar: message text in, a typed :data:`~commands.command.Command` or a :class:`CommandError` out (pure).

Design:

- ``dispatch``  :func:`parse`: Slack text to words (:mod:`commands.tokens`), the first word picks a parser;
  an unknown word gets "did you mean ...?" or the closest command. ``parse(text, context, slash=True)`` reads
  the text Slack sends after the ``/deploy`` slash command (no command word: a deploy).
- ``deploys``   ``deploy``/``deploy!``, ``rollback``/``roll back``/``rollback!``: the words that ship or bring back
  a release.
- ``tasks``     ``run TASK`` and hubot-deploy's ``deploy:TASK``.
- ``control``   ``cancel``, ``lock``, ``unlock``, ``approve``, ``reject``.
- ``reads``     ``status``, ``history`` (and hubot-deploy's ``deploys``), ``where can I deploy``, ``help``.
- ``places``    ``[APP] ENV[/TARGET]`` against the config (:class:`~commands.vocabulary.GrammarContext`), and the
  errors that list what the config offers.
- ``checks``    refs (git's ``check-ref-format`` rules), run and release ids, free-text reasons, and the
  second-factor code hubot-deploy users type at the end (refused).

hubot-deploy's phrases are aliases, never a second grammar: ``deploy APP/REF to ENV/ROLE``, ``deploy! APP to
ENV``, ``deploys APP in ENV``, ``deploy:TASK APP to ENV`` read as shipbot's own commands, and where hubot-deploy
would fall back to a default environment shipbot asks which one.

Every name is checked against the config and every word against its rule: a command carries nothing unchecked.
Nothing is ever silently ignored. :func:`parse` raises only :class:`CommandError`.
"""

from commands.grammar.checks import RELEASE, RUN_ID, reason_problem
from commands.grammar.dispatch import parse

__all__ = ["RELEASE", "RUN_ID", "parse", "reason_problem"]
