"""The use cases: an allowed command in, calls on the engine and the store, a typed reply out.

:class:`ChatService` (in :mod:`commands.usecases.service`) is the facade the bot talks to; each concern is a
small service of its own module here, given its collaborators when the facade builds it:

- ``permissions``  who is asking (user ID plus groups) and what the policy decides for them now
- ``audit``        the audit lines, in one place
- ``board``        the runs chat started that are running, and who holds an environment
- ``locks``        ``lock``, ``unlock``, the refusal a lock causes, the lock after a rollback
- ``pauses``       the gate between batches and the Continue/Abort answer
- ``execution``    one run under the supervisor: the engine call, the end reported, the next started
- ``queueing``     the line for busy environments: positions, start next, move on a timer (runs elsewhere)
- ``admission``    start now, queue or refuse as busy; recheck an approved deploy
- ``approving``    ask for approval, approve/reject (one path, compare-and-set), expiry, pick-up
- ``requests``     ``deploy``, ``rollback``, ``run TASK`` and the "roll back" button
- ``cancels``      cancel a request wherever it is
- ``reads``        ``status``, ``history``, ``where can I deploy``, ``help``
- ``previews``     previews per branch: a push or a deleted branch (webhooks), ``preview``, ``teardown``,
                   ``previews``, and their time to live

The sentences they say are in :mod:`commands.reply_texts`.
"""

from commands.usecases.service import ChatService

__all__ = ["ChatService"]
