"""What a run costs, in example-passes: one forward and backward pass of one example through the network being
trained. Training counts its steps x batch; a recording pass (a clean forward pass, no gradient) counts
RECORDING_SHARE of a training pass per example, since a backward pass costs about twice a forward. A train run
that reads scores is charged their score run's cost shared over AMORTISED_OVER runs (a score run serves many)."""

from __future__ import annotations

RECORDING_SHARE = 1 / 3   # a forward pass against forward + backward
AMORTISED_OVER = 5        # train runs a score run's cost is shared by, in `cost/amortised_example_passes`


def training_passes(steps: int, batch_size: int) -> int:
    return int(steps) * int(batch_size)


def recording_passes(checkpoints: int, examples: int) -> float:
    """`examples` recorded by a clean pass at each of `checkpoints`."""
    return RECORDING_SHARE * int(checkpoints) * int(examples)


def amortised(target: float, scoring: float, runs: int = AMORTISED_OVER) -> float:
    """A train run's passes plus its share of the scoring."""
    return float(target) + float(scoring) / runs


def run_costs(target: float, scoring: float | None) -> dict:
    """The cost metrics of a train run: its own passes and, when its scores say what they cost (None: no scores,
    or an imported file that does not), the scoring's and the amortised sum."""
    costs = {"cost/example_passes": float(target)}
    if scoring is not None:
        costs |= {"cost/scoring_example_passes": float(scoring),
                  "cost/amortised_example_passes": amortised(target, scoring)}
    return costs


def passes_to_reach(history: list[dict], target: float, batch_size: int, metric: str = "val/acc") -> float | None:
    """Example-passes a run took until its first evaluation with `metric` at least `target` (None: never): the
    cost at which it reaches an accuracy, chosen on validation. `history`: the run's evaluations (step, metric)."""
    for row in history:
        if row.get(metric, float("-inf")) >= target:
            return float(training_passes(row["step"], batch_size))
    return None
