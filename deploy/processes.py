"""Whether a local process still runs: the store's stale run slots and the demo's embedded hosts ask the same
question, answered once here. A zombie (exited, not yet reaped) does not count; where ``/proc`` is missing, a
signal 0 answers (a zombie then counts as running)."""

from __future__ import annotations

import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return not Path("/proc").is_dir()
    return stat.rpartition(")")[2].split()[0] != "Z"
