"""curriculum: rank training examples by how early and how consistently an ensemble learns them,
then train easy-to-hard against compute-matched controls.

From your own training code (docs/your-data.md, "A curriculum in your own training code"): load_scores ->
ordering -> make_pacing -> PacedSampler, the batch sampler a DataLoader takes; `train` uses the same objects. ScoreRecorder: scores from your
own training loop (docs/your-data.md, "Scores from your own training loop"). find_label_issues: a score run's
likely label errors and the estimated share of wrong labels (cleanlab's find_label_issues, from the run)."""

import importlib

__version__ = "0.1.0"

# public name -> module that defines it; imported on first use, so `python -m curriculum` (whose first lines check
# the overrides and answer --help) does not wait for torch and pandas
_PUBLIC = {"load_scores": "api", "ordering": "api", "ordering_positions": "api", "find_label_issues": "api",
           "make_pacing": "schedule.pacing",
           "PACINGS": "schedule.pacing", "PacedSampler": "schedule.pacing", "ScoreRecorder": "recorder",
           "UserError": "errors"}
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'curriculum' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
