"""curriculum: rank training examples by how early and how consistently an ensemble learns them,
then train easy-to-hard against compute-matched controls.

From your own training code (README, "From your own training code"): load_scores -> ordering -> make_pacing ->
PacedSampler, the batch sampler a DataLoader takes; `train` uses the same objects."""

__version__ = "0.1.0"

from .api import load_scores, ordering  # noqa: E402
from .errors import UserError  # noqa: E402
from .schedule.pacing import PACINGS, PacedSampler, make_pacing  # noqa: E402

__all__ = ["load_scores", "ordering", "make_pacing", "PACINGS", "PacedSampler", "UserError"]
