"""A target run's state at its last evaluation point, so that a `train` run killed at any moment and started again
with the same settings continues where it was and ends exactly as an uninterrupted run would.

The state (curriculum/checkpoint.py: named by a hash of the run's identity, used only on an exact match, restored all
or nothing) holds the model's and the optimizer's state, the step, the evaluation history, which examples were seen,
the seconds trained so far and the MLflow run id. The batch streams need no state of their own: PacedSampler and
shuffled_batches continue at a step by replaying their seeded draws, and nothing else draws random numbers after
initialisation. A state made with other settings is not used: the run starts anew and says so."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import checkpoint
from ..dicts import identity_differences
from ..faults import reach

STATE_FORMAT = 1  # the layout of the state; part of every identity, so a state of another layout is never read
KEYS = ("run_id", "step", "model", "optimizer", "seen", "history", "seconds")
POLICY = checkpoint.Policy(anew="starting anew")   # other settings: a line, and a new run


@dataclass
class Resume:
    """Where a target run keeps its state, the identity it is keyed by, its MLflow run, and the state it continues
    from (None: from the start)."""
    path: Path
    identity: dict
    run_id: str
    state: dict | None = None
    clock: float = field(default_factory=time.monotonic)  # time.monotonic() at which the run had trained 0 seconds


def save_state(resume: Resume, step: int, model, opt, seen: torch.Tensor, history: list[dict]) -> None:
    """Everything the rest of the run depends on, written whole or not at all."""
    checkpoint.save_state(resume.path, resume.identity, run_id=resume.run_id, step=step, model=model.state_dict(),
                          optimizer=opt.state_dict(), seen=seen, history=history,
                          seconds=time.monotonic() - resume.clock)
    reach("saved")


def load_state(path: Path, identity: dict, device: str | torch.device = "cpu") -> dict | None:
    """The state at `path` if it was made with exactly `identity` (checkpoint.load_state: else None, with a line)."""
    return checkpoint.load_state(path, identity, POLICY, KEYS, device)


def restore(resume: Resume, model, opt, seen: torch.Tensor, history: list[dict]) -> int:
    """Load the resume state into the run's fresh objects and return its step; all or nothing: 0, with the objects
    untouched and a line saying why, when it does not fit them."""
    objects = {"model": model, "optimizer": opt, "seen": seen, "history": history}
    if not checkpoint.restore(resume.state, objects, resume.path, f"training from step 0 in MLflow run {resume.run_id}"):
        return 0
    return int(resume.state["step"])


def other_states(path: Path, identity: dict) -> list[str]:
    """Lines on the unfinished states of the same run name (sampler, pacing, seed) beside `path` that were made with
    other settings or code: such a run is not continued, and its state would otherwise be left there unseen."""
    name = path.name[:-len(f"-{'0' * checkpoint.HASH_DIGITS}.pt")]
    lines = []
    for other in sorted(path.parent.glob(f"{name}-" + "?" * checkpoint.HASH_DIGITS + ".pt")):
        if other == path:
            continue
        try:
            why = "; ".join(identity_differences(checkpoint.read_state(other)["identity"], identity)[:3])
        except Exception as err:
            why = f"it does not load: {type(err).__name__}"
        lines.append(f"[resume] not continuing {other}, an unfinished run made otherwise ({why}): "
                     f"rerun with its settings to finish it, or delete it")
    return lines
