"""The sections of docs/results.md, each rendered from one study's outputs (a study plan names its `section`), and
results.md assembled from the sections made now and those the file already has."""

from __future__ import annotations

from . import agreement, cost, curriculum, label_noise, pruning
from .common import Context

SECTIONS = {  # name -> (heading, renderer), in the order of results.md; the first comes unheaded
    "curriculum": (None, curriculum.curriculum_section),
    "label-noise": (label_noise.HEADING, label_noise.label_noise_section),
    "pruning": (pruning.HEADING, pruning.pruning_section),
    "agreement": (agreement.HEADING, agreement.agreement_section),
    "cost": (cost.HEADING, cost.cost_section),
}


def check_section(name: str) -> None:
    from ...errors import UserError

    if name not in SECTIONS:
        raise UserError(f"section={name!r}; choose one of {', '.join(SECTIONS)}")


def outputs_ready(ctx: Context) -> bool:
    """Whether the study's comparisons and analyses are all in its out folder."""
    compared = all((ctx.out / f"compare-{s}" / "comparison.md").is_file() for s in ctx.plan.studies)
    return compared and all((ctx.out / f"analyze-{a}" / "agreement.csv").is_file() for a in ctx.plan.analyze)


def render(ctx: Context) -> list[str]:
    check_section(ctx.plan.section)
    return SECTIONS[ctx.plan.section][1](ctx)


def assemble(existing: str, sections: dict) -> str:
    """results.md from the sections made now (lists of lines, by name; None or absent: keep what `existing` has
    under the section's heading, or before every heading for the first)."""
    headed = {name: heading for name, (heading, _) in SECTIONS.items() if heading}
    first = next(iter(SECTIONS))
    found = sorted((existing.find(h), name) for name, h in headed.items() if h in existing)
    bounds = [0] + [at for at, _ in found] + [len(existing)]
    old = dict(zip([first] + [name for _, name in found], (existing[a:b] for a, b in zip(bounds, bounds[1:]))))
    lines = []
    for name in SECTIONS:
        section = sections.get(name) or old.get(name, "").rstrip("\n").splitlines()
        lines += ([""] if lines and section else []) + section
    return "\n".join(lines) + "\n"
