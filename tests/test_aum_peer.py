"""Our `margin` score is the area under the margin (Pleiss et al. 2020) as the `aum` package computes it: the mean over
measurements of the assigned-class logit minus the largest other logit. Same hand-made logits fed to both."""

import numpy as np
import pandas as pd
import pytest
import torch

from curriculum.scoring.scores import derive_scores
from curriculum.statistics import STATISTICS, example_stats

aum = pytest.importorskip("aum", reason="the peer package `aum` (pip install -e '.[dev]')")

LABELS = torch.tensor([0, 1, 2])
# (members, checkpoints, examples, classes); the margin of each, by hand, on the right
LOGITS = torch.tensor([
    [[[1, 2, 3], [6, 5, 4], [0, 0, 0]],          # member 0: margins -2, -1, 0
     [[2, 1, 0], [1, 4, 2], [0, 1, 3]],          #            1,  2, 2
     [[4, 1, 0], [0, 5, 1], [1, 0, 4]]],         #            3,  4, 3   -> AUM 2/3, 5/3, 5/3
    [[[0, 3, 0], [0, 2, 0], [1, 1, 1.5]],        # member 1: -3,  2, 0.5
     [[1, 0, 0], [2, 1, 0], [0, 0, 2]],          #            1, -1, 2
     [[3, 0, 1], [0, 3, 0], [0, 1, 2.5]]],       #            2,  3, 1.5 -> AUM 0, 4/3, 4/3
])
EXPECTED = [1 / 3, 3 / 2, 3 / 2]                 # mean over the two members' AUMs


def our_margin() -> np.ndarray:
    """The margin column as `score` makes it: example_stats per checkpoint, stored as float16, then derive_scores."""
    members = []
    for member in LOGITS:
        per_checkpoint = [example_stats(logits, LABELS) for logits in member]
        members.append({name: torch.stack([c[name] for c in per_checkpoint]).numpy().astype(s.storage.dtype)
                        for name, s in STATISTICS.items()})                                              # (C, N)
    return derive_scores(members, np.array([0.5, 1.0, 2.0]))["margin"]


def peer_aum(tmp_path) -> np.ndarray:
    """The same logits through aum's AUMCalculator: one update per member and checkpoint (every example measured
    equally often, so its mean over all measurements is the mean over members of each member's AUM)."""
    calculator = aum.AUMCalculator(str(tmp_path), compressed=True)
    for member in LOGITS:
        for logits in member:
            calculator.update(logits, LABELS, [0, 1, 2])
    calculator.finalize()
    values = pd.read_csv(tmp_path / "aum_values.csv").set_index("sample_id")["aum"]
    return values.loc[[0, 1, 2]].to_numpy()


def test_our_margin_score_equals_the_aum_package_on_the_same_logits(tmp_path):
    ours, theirs = our_margin(), peer_aum(tmp_path)
    np.testing.assert_allclose(theirs, EXPECTED, rtol=1e-6)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)   # margins of halves are exact in float16
