"""Identities and resume states, shared by the scoring members and the target runs.

An identity is everything that shapes a run's results, as plain JSON values with sorted keys and a format number. A
file made by a run carries its identity and is used only by a run of exactly the same identity. A resume state is
such a file holding tensors and plain types only (torch.load(..., weights_only=True) reads it), named by a hash of the
identity, written whole or not at all, and restored into a run's fresh objects all or nothing. What differs between
members and targets is a `Policy`: what a state made with other settings does, and what the lines say."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_write
from .dicts import identity_differences
from .errors import UserError
from .progress import say

HASH_DIGITS = 16   # of the identity's sha256 in a state file's name


def make_identity(format: int, **parts) -> dict:
    """`parts` and the format number as plain JSON values (tuples become lists, other objects their str), keys
    sorted: two identities are the same settings exactly when they compare equal."""
    return json.loads(json.dumps({"format": format, **parts}, sort_keys=True, default=str))


def identity_hash(identity: dict) -> str:
    """The first HASH_DIGITS hex digits of the sha256 of the identity's sorted JSON."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:HASH_DIGITS]


def state_path(folder: str | Path, name: str, identity: dict) -> Path:
    """`folder/<name>-<identity hash>.pt`: the same settings find the same file."""
    return Path(folder) / f"{name}-{identity_hash(identity)}.pt"


def check_identity(where: Path, found: dict, expected: dict, redo: str) -> None:
    """Stop with one line naming the differing keys when `where` was made with other settings than `expected`;
    `redo` says how to go on (e.g. "score into a new out_dir, or delete it to redo it")."""
    diff = identity_differences(found, expected)
    if diff:
        raise UserError(f"{where} was made with other settings ({'; '.join(diff[:4])}"
                        f"{'; ...' if len(diff) > 4 else ''}); {redo}")


@dataclass(frozen=True)
class Policy:
    """How a kind of run treats its saved states. `redo`: a state made with other settings stops the run with this
    advice (check_identity); None: it is ignored with a line and the run starts anew. `anew` ends every line of a
    state not used (e.g. "starting anew")."""
    anew: str
    redo: str | None = None


def save_state(path: Path, identity: dict, **state) -> None:
    """`state` (tensors and plain types) with its identity, written whole or not at all."""
    atomic_write(path, lambda f: torch.save({"identity": identity, **state}, f))


def read_state(path: Path, device: str | torch.device = "cpu") -> dict:
    """The state at `path`, raising when it does not load or carries no identity."""
    state = torch.load(path, weights_only=True, map_location=device)
    if not isinstance(state, dict) or not isinstance(state.get("identity"), dict):
        raise KeyError("no identity")
    return state


def load_state(path: Path, identity: dict, policy: Policy, keys: tuple[str, ...] = (),
               device: str | torch.device = "cpu") -> dict | None:
    """The state at `path` if it was made with exactly `identity` and holds `keys`; None when there is none, and None
    with a line saying why when it does not load (truncated, foreign, incomplete) or, unless the policy stops the
    run, when it was made with other settings (it is then replaced, never used)."""
    if not path.is_file():
        return None
    try:
        state = read_state(path, device)
    except Exception as err:
        say(f"[resume] ignoring {path}: it does not load ({type(err).__name__}: {str(err)[:100]}); {policy.anew}")
        return None
    if state["identity"] != identity:
        if policy.redo is not None:
            check_identity(path, state["identity"], identity, policy.redo)
        diff = identity_differences(state["identity"], identity)
        say(f"[resume] ignoring {path}: made with other settings ({'; '.join(diff[:3])}); {policy.anew}")
        return None
    missing = [key for key in keys if key not in state]
    if missing:
        say(f"[resume] ignoring {path}: it does not load (KeyError: 'no {', '.join(missing)}'); {policy.anew}")
        return None
    return state


def check_state_identity(path: Path, identity: dict, policy: Policy) -> None:
    """Stop (check_identity) when the state at `path` was made with other settings, before anything else runs; a state
    that does not load is left for load_state to ignore."""
    if not path.is_file():
        return
    try:
        found = read_state(path)["identity"]
    except Exception:
        return
    check_identity(path, found, identity, policy.redo)


def restore(state: dict, objects: dict, path: Path, anew: str) -> bool:
    """Load `state[key]` into each of `objects` (key -> a module or optimizer, a torch.Generator, a tensor or numpy
    array filled in place, a list replaced in place, or a dict of these), all or nothing: every value is loaded into
    copies first. False, with the objects untouched and a line ending in `anew`, when the state does not fit them."""
    try:
        for key, obj in objects.items():
            _load(_probe(obj), state[key], key)
    except Exception as err:
        say(f"[resume] {path} does not fit this run ({type(err).__name__}: {str(err)[:100]}); {anew}")
        return False
    for key, obj in objects.items():
        _load(obj, state[key], key)
    return True


def _probe(obj):
    """A throwaway copy of `obj` to load into first (a generator copies only its device)."""
    if isinstance(obj, torch.Generator):
        return torch.Generator(obj.device)
    return copy.deepcopy(obj)


def _load(obj, value, key: str) -> None:
    """Load one saved value into `obj`, in place."""
    if isinstance(obj, dict):
        for name, inner in obj.items():
            _load(inner, value[name], f"{key}.{name}")
    elif isinstance(obj, torch.Generator):
        obj.set_state(value.cpu())
    elif isinstance(obj, (torch.Tensor, np.ndarray)):
        if tuple(value.shape) != tuple(obj.shape):
            raise ValueError(f"{key} has shape {tuple(value.shape)}, expected {tuple(obj.shape)}")
        obj[...] = value if isinstance(obj, torch.Tensor) else value.cpu().numpy()
    elif isinstance(obj, list):
        obj[:] = value
    else:
        obj.load_state_dict(value)


def discard_state(path: Path) -> None:
    """Remove a finished run's state and what killed writes left of it, so the same settings start a new run."""
    path.unlink(missing_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):  # atomic_write's temporary files
        leftover.unlink(missing_ok=True)
