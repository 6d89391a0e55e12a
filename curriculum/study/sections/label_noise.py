"""docs/results.md's section of issue 13's label-noise study: consensus pruning against the oracle and cleanlab."""

from __future__ import annotations

from ...analysis.verdicts import oracle_share
from ..plan import PEER_KEEP
from .common import Context, arm_metric, command_line, comparison_body, wall_minutes

HEADING = "## Label noise: consensus pruning against the oracle and cleanlab"
METRICS = {"test/acc_at_best_val": "test accuracy at the best validation point",
           "test/acc_final": "test accuracy at the end of training"}


def label_noise_section(ctx: Context) -> list[str]:
    """Mean ± std of each arm per noise setting, the share of the oracle's gain each filter captures, then each
    setting's comparison."""
    report = ctx.plan.report
    arms, filters = report["arms"], filter_arms(report["arms"])
    lines = [HEADING, "", f"Command: `{command_line(ctx)}`; wall time {wall_minutes(ctx):.0f} min.  ",
             f"Data: {report['data']} with each setting's noise (validation labels stay clean); "
             f"scores: {report.get('scores', 'the default ensemble')}; cleanlab: `find_label_issues` (defaults) on "
             "4-fold out-of-fold probabilities from the same cnn and total training as a 4-member ensemble "
             "(`scripts/cross_validation.py`), its kept examples trained on through the CSV importer "
             f"(`sampler.keep={PEER_KEEP}`); target: {report['target']}. Every arm takes "
             "the same steps. Share = the arm's mean paired gain over standard / the oracle's (seeds all three "
             "have).", ""]
    header = "| setting | " + " | ".join(arms) + " | " + " | ".join(f"share: {a}" for a in filters) + " |"
    for metric, meaning in METRICS.items():
        lines += [f"{meaning.capitalize()} (%, mean ± std over seeds):", "", header,
                  "|" + "---|" * (len(arms) + len(filters) + 1)]
        lines += [setting_row(ctx, study, metric) for study in ctx.plan.studies] + [""]
    for study in ctx.plan.studies:
        lines += [f"### {study}", "", comparison_body(ctx, study), ""]
    return lines


def filter_arms(arms: list[str]) -> list[str]:
    """The arms whose share of the oracle's gain the table gives: all but standard and the oracle."""
    return [a for a in arms if a not in ("standard", "oracle")]


def setting_row(ctx: Context, study: str, metric: str) -> str:
    """One setting: mean ± std of each arm, and the share of the oracle's gain each filter captures."""
    values = {arm: arm_metric(ctx, study, arm, metric) for arm in ctx.plan.report["arms"]}
    cells = [f"{100 * v.mean():.2f} ± {100 * v.std(ddof=1):.2f}" for v in values.values()]
    shares = [share_cell(*oracle_share(values["standard"], values["oracle"], values[a]))
              for a in filter_arms(list(values))]
    return f"| {study.removeprefix('label-noise-')} | " + " | ".join(cells + shares) + " |"


def share_cell(share: float | None, oracle_gain: float) -> str:
    return f"{100 * share:.0f}%" if share is not None else f"– (the oracle gains {100 * oracle_gain:+.2f} points)"
