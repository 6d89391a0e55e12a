"""A dependency-free progress line: rewritten in place on a terminal, one line every few seconds in logs."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total_steps: int, steps_per_epoch: int, stream=None, every: float | None = None):
        self.label, self.total, self.per_epoch = label, total_steps, max(1, steps_per_epoch)
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every if every is not None else (0.5 if self.tty else 10.0)
        self.start = self.next = time.monotonic()
        self.next += self.every

    def due(self) -> bool:
        return time.monotonic() >= self.next

    def update(self, step: int, loss: float, acc: float, extra: str = "") -> None:
        now = time.monotonic()
        self.next = now + self.every
        epoch = step / self.per_epoch
        rate = step / max(now - self.start, 1e-9)
        eta = (self.total - step) / max(rate, 1e-9)
        line = (f"{self.label} epoch {epoch:5.2f}/{self.total / self.per_epoch:.0f} step {step}/{self.total} "
                f"loss {loss:.3f} acc {acc:.3f} {rate:.0f} steps/s eta {eta:.0f}s{extra}")
        self.stream.write(("\r" + line + "\033[K") if self.tty else line + "\n")
        self.stream.flush()

    def close(self, summary: str) -> None:
        elapsed = time.monotonic() - self.start
        self.stream.write(("\r" if self.tty else "") + f"{self.label} {summary} ({elapsed:.1f}s)" +
                          ("\033[K\n" if self.tty else "\n"))
        self.stream.flush()


def say(message: str) -> None:
    """Progress and results go to stderr, so stdout stays free for piping."""
    print(message, file=sys.stderr, flush=True)
