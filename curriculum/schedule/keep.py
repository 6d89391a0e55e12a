"""Which training examples a target run may draw (`sampler.keep`): all of them, only those whose label was not
flipped (`clean`: the oracle of a label-noise study, which no real filter can beat), those `pacing.end=auto` would
keep (`auto`: consensus filtering without the curriculum, composed by the run plan, plan.py), or those a scores
column keeps (e.g. cleanlab's kept examples imported from a CSV). The run still takes the steps of the whole
training set, so the arms of a study stay compute-matched. Pure functions of the noise mask and the scores frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..arms import KEEP_KEYWORDS
from ..errors import UserError

ALL, CLEAN = KEEP_KEYWORDS
AUTO = "auto"


def needs_scores(keep: str) -> bool:
    """`auto` and a scores column need the scores; `all` and `clean` do not."""
    return keep not in KEEP_KEYWORDS


def kept_positions(keep: str, noisy: np.ndarray, frame: pd.DataFrame | None = None) -> np.ndarray | None:
    """Sorted training positions a run may draw, or None for all of them. `clean`: where `noisy` (the flip mask)
    is false, refused for data without injected noise; a column of 0 and 1: where it is 1. (`auto` is the run
    plan's: plan.auto_kept.)"""
    if keep == ALL:
        return None
    if keep == CLEAN:
        if not np.any(noisy):
            raise UserError("sampler.keep=clean (the oracle) trains only on the examples whose label was not "
                            "flipped, but no label was flipped here: set data.label_noise (and data.noise)")
        return np.flatnonzero(~np.asarray(noisy, dtype=bool))
    if frame is None or keep not in frame:
        have = ", ".join(c for c in (frame if frame is not None else []) if c not in ("index", "label", "path"))
        raise UserError(f"sampler.keep={keep!r} is neither all, clean nor a column of the scores"
                        + (f" (they have {have})" if have else ""))
    values = pd.to_numeric(frame[keep], errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        raise UserError(f"sampler.keep={keep!r}: the column holds {int(np.isnan(values).sum())} missing or "
                        f"non-numeric values; it must say for every example whether to keep it (1) or not (0)")
    if not np.isin(values, (0, 1)).all():
        raise UserError(f"sampler.keep={keep!r}: the column must say 1 (keep) or 0 (drop) for every example, but it "
                        f"holds other values (e.g. {values[~np.isin(values, (0, 1))][0]:g}); is it a score column?")
    return np.flatnonzero(values == 1)


def restrict(ordering: np.ndarray, kept: np.ndarray | None) -> np.ndarray:
    """The ordering with the positions not kept taken out, the rest in their order."""
    return ordering if kept is None else ordering[np.isin(ordering, kept)]
