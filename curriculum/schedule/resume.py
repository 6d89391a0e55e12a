"""A target run's state at its last evaluation point, so that a `train` run killed at any moment and started again
with the same settings continues where it was and ends exactly as an uninterrupted run would.

The state holds tensors and plain types only (torch.load(..., weights_only=True) reads it): the model's and the
optimizer's state, the step, the evaluation history, which examples were seen, the seconds trained so far, the MLflow
run id, and the identity of the run that wrote it. The batch streams need no state of their own: PacedSampler and
shuffled_batches continue at a step by replaying their seeded draws, and nothing else draws random numbers after
initialisation. The file's name carries a hash of the identity, and a state is used only when the identity inside
equals the run's exactly."""

from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..dicts import identity_differences
from ..faults import reach
from ..progress import say
from ..io.files import atomic_write

STATE_FORMAT = 1  # the layout of the state; part of every identity, so a state of another layout is never read
KEYS = ("identity", "run_id", "step", "model", "optimizer", "seen", "history", "seconds")


def state_path(folder: str | Path, name: str, identity: dict) -> Path:
    """`folder/<name>-<16 hex digits of the identity's sha256>.pt`: the same settings find the same file."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return Path(folder) / f"{name}-{digest[:16]}.pt"


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
    """Everything the rest of the run depends on, written whole or not at all (atomic_write)."""
    state = {"identity": resume.identity, "run_id": resume.run_id, "step": step, "model": model.state_dict(),
             "optimizer": opt.state_dict(), "seen": seen, "history": history,
             "seconds": time.monotonic() - resume.clock}
    atomic_write(resume.path, lambda f: torch.save(state, f))
    reach("saved")


def load_state(path: Path, identity: dict, device: str | torch.device = "cpu") -> dict | None:
    """The state at `path` if it was made with exactly `identity`; None when there is none, and None with a line
    saying why when it does not load or was made with other settings (it is then replaced, never used)."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, weights_only=True, map_location=device)
        missing = [key for key in KEYS if key not in state]
        if missing or not isinstance(state["identity"], dict):
            raise KeyError(f"no {', '.join(missing or ['identity'])}")
    except Exception as err:  # truncated, foreign or of an older layout
        say(f"[resume] ignoring {path}: it does not load ({type(err).__name__}: {str(err)[:100]}); starting anew")
        return None
    if state["identity"] != identity:
        diff = identity_differences(state["identity"], identity)
        say(f"[resume] ignoring {path}: made with other settings ({'; '.join(diff[:3])}); starting anew")
        return None
    return state


def other_states(path: Path, identity: dict) -> list[str]:
    """Lines on the unfinished states of the same run name (sampler, pacing, seed) beside `path` that were made with
    other settings or code: such a run is not continued, and its state would otherwise be left there unseen."""
    name = path.name[:-len("-0123456789abcdef.pt")]
    lines = []
    for other in sorted(path.parent.glob(f"{name}-" + "?" * 16 + ".pt")):
        if other == path:
            continue
        try:
            found = torch.load(other, weights_only=True, map_location="cpu")["identity"]
            why = "; ".join(identity_differences(found, identity)[:3])
        except Exception as err:
            why = f"it does not load: {type(err).__name__}"
        lines.append(f"[resume] not continuing {other}, an unfinished run made otherwise ({why}): "
                     f"rerun with its settings to finish it, or delete it")
    return lines


def restore(resume: Resume, model, opt, seen: torch.Tensor, history: list[dict]) -> int:
    """Load the resume state into the run's fresh objects and return its step; all or nothing: 0, with the objects
    untouched and a line saying why, when it does not fit them."""
    state = resume.state
    try:
        probe = copy.deepcopy((model, opt))
        probe[0].load_state_dict(state["model"])
        probe[1].load_state_dict(state["optimizer"])
        if state["seen"].shape != seen.shape:
            raise ValueError(f"it marks {len(state['seen'])} examples as seen or not, the data has {len(seen)}")
        step = int(state["step"])
    except Exception as err:
        say(f"[resume] {resume.path} does not fit this run ({type(err).__name__}: {str(err)[:100]}); "
             f"training from step 0 in MLflow run {resume.run_id}")
        return 0
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    seen.copy_(state["seen"])
    history[:] = state["history"]
    return step


def discard_state(path: Path) -> None:
    """Remove a finished run's state and what killed writes left of it, so the same settings start a new run."""
    path.unlink(missing_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):  # atomic_write's temporary files
        leftover.unlink(missing_ok=True)
