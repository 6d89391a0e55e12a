"""Deterministic crash points for the kill tests: with CURRICULUM_DIE_AT=<point>:<n>[:<signal>] the process sends
itself SIGKILL (or the named signal, e.g. INT for a Ctrl-C) the n-th time it reaches `point`: "step" (after an
optimizer step), "record" (between a checkpoint's passes), "write" (an atomic write's file is complete, not yet
renamed), "saved" (a train run's state was written), "logged" (a train run's metrics are logged, the run not yet
finished). Unset, this costs one environment lookup.
The variable is read at each call, not at import, so a test can set it after importing the package."""

import os
import signal

_seen: dict[str, int] = {}   # times each point was reached in this process


def reach(point: str) -> None:
    spec = os.environ.get("CURRICULUM_DIE_AT", "")
    if not spec:
        return
    name, count, sig = (spec.split(":") + ["", ""])[:3]
    if name == point:
        _seen[point] = _seen.get(point, 0) + 1
        if _seen[point] == int(count or 1):
            os.kill(os.getpid(), getattr(signal, f"SIG{sig or 'KILL'}"))
