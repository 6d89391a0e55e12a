"""Deterministic crash points for the kill tests: with CURRICULUM_DIE_AT=<point>:<n> the process sends itself
SIGKILL the n-th time it reaches `point` ("step", "record", "write"). Unset, this costs one string compare."""

import os
import signal

_SPEC = os.environ.get("CURRICULUM_DIE_AT", "")
_seen: dict[str, int] = {}


def reach(point: str) -> None:
    if not _SPEC:
        return
    name, _, count = _SPEC.partition(":")
    if name == point:
        _seen[point] = _seen.get(point, 0) + 1
        if _seen[point] == int(count or 1):
            os.kill(os.getpid(), signal.SIGKILL)
