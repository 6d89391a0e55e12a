"""Deterministic crash points for the kill tests: with CURRICULUM_DIE_AT=<point>:<n>[:<signal>] the process sends
itself SIGKILL (or the named signal, e.g. INT for a Ctrl-C) the n-th time it reaches `point` ("step", "record",
"write"). Unset, this costs one environment lookup.
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
