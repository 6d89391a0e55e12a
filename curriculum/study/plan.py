"""A study plan (one conf/studies/<name>.yaml): its score runs, studies of arms, analyses and results section;
and which train runs it still needs, found by the `arm` and `training` tags `train` would give them."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

PEER_KEEP = "cleanlab_keep"   # the column of cleanlab's verdicts (cross_validation.kept_csv), for sampler.keep


@dataclass
class Study:
    """One study tag: its arms trained on one score run with shared train settings."""
    scores: str = ""                              # the plan's score run its arms train with (a key of `scores`)
    train: list[str] = field(default_factory=list)   # train overrides every arm shares (data, target, epochs)
    arms: list[str] = field(default_factory=list)    # each arm's train overrides, space-separated; the plan's seeds
    side_arms: list[str] = field(default_factory=list)   # as arms, with at most side_seeds seeds each


@dataclass
class StudyPlan:
    """conf/studies/<name>.yaml: what `python -m curriculum study study=<name>` runs and renders."""
    section: str = ""                             # the results.md section rendered (curriculum.study.sections.SECTIONS)
    scores: dict[str, list[str]] = field(default_factory=dict)   # score run name -> score overrides (score-<name>/)
    peer: bool = False                            # also cleanlab's verdicts of each score run (cv-<name>.csv), which
                                                  # arms with sampler.keep=cleanlab_keep train on
    studies: dict[str, Study] = field(default_factory=dict)     # study tag -> its arms (compare-<tag>/)
    analyze: list[str] = field(default_factory=list)   # score runs analyzed every time (analyze-<name>/)
    reanalyze_stale: bool = False                 # also analyze every score-* in out whose analysis is older
    min_seeds: int = 0                            # arms get at least this many seeds, whatever seeds= says
    side_seeds: int = 3                           # the most seeds a side arm gets
    report: dict = field(default_factory=dict)    # settings of the section only (e.g. the pruning table's rows)


@dataclass(frozen=True)
class TrainCall:
    """One `train -m` call: an arm's missing seeds."""
    study: str
    overrides: tuple[str, ...]                    # the study's train overrides, then the arm's
    scores: str                                   # the score run's name, or cv-<name>.csv for cleanlab's verdicts
    seeds: tuple[int, ...]


def load_plan(conf_dir: Path, name: str) -> StudyPlan:
    """conf/studies/<name>.yaml checked against the StudyPlan schema."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from ..errors import UserError

    path = conf_dir / "studies" / f"{name}.yaml"
    if not path.is_file():
        found = sorted(p.stem for p in (conf_dir / "studies").glob("*.yaml"))
        raise UserError(f"study={name!r}: no {path}; choose one of {', '.join(found)}")
    loaded = OmegaConf.load(path)
    loaded.pop("defaults", None)
    try:
        plan = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(StudyPlan), loaded))
    except OmegaConfBaseException as err:
        raise UserError(f"{path}: {str(err).splitlines()[0]} (the keys: StudyPlan in curriculum/study/plan.py)") from None
    unknown = {tag: s.scores for tag, s in plan.studies.items() if s.scores not in plan.scores}
    if unknown:
        raise UserError(f"{path}: studies {unknown} train with score runs the plan does not make; "
                        f"its score runs: {', '.join(plan.scores)}")
    return plan


def arm_seeds(plan: StudyPlan, seeds: int, side: bool) -> int:
    """How many seeds an arm gets: seeds= (at least min_seeds), side arms at most side_seeds."""
    n = max(plan.min_seeds, seeds)
    return min(n, plan.side_seeds) if side else n


def arm_scores(study: Study, arm: list[str]) -> str:
    """The scores an arm trains with: cleanlab's verdicts for the peer arm, else its study's score run."""
    if f"sampler.keep={PEER_KEEP}" in arm:
        return f"cv-{study.scores}.csv"
    return f"score-{study.scores}"


def arms(plan: StudyPlan, seeds: int):
    """(study tag, study, arm overrides, number of seeds) of every arm of the plan."""
    for tag, study in plan.studies.items():
        for side, listed in ((False, study.arms), (True, study.side_arms)):
            for arm in listed:
                yield tag, study, arm.split(), arm_seeds(plan, seeds, side)


def missing_runs(plan: StudyPlan, seeds: int, done, extra_train: list[str] = ()) -> list[TrainCall]:
    """The train calls the plan still needs: each arm's seeds that `done(study, overrides, scores)` does not have
    (`scores`: what the arm trains with, as arm_scores names it)."""
    calls = []
    for tag, study, arm, n in arms(plan, seeds):
        overrides, scores = (*study.train, *arm, *extra_train), arm_scores(study, arm)
        missing = tuple(sorted(set(range(n)) - done(tag, list(overrides), scores)))
        if missing:
            calls.append(TrainCall(tag, overrides, scores, missing))
    return calls


def train_tags(overrides: list[str]) -> tuple[dict, str]:
    """The `arm` tag (without the scores' checksum) and the `training` tag that `train` with these overrides would
    give its runs, without training: the one place the study knows how train tags."""
    arm, training = composed_tags(tuple(overrides))
    return json.loads(arm), training


@functools.lru_cache(maxsize=None)
def composed_tags(overrides: tuple[str, ...]) -> tuple[str, str]:
    """train_tags as JSON, composed once per overrides (a plan asks for the same arm when it plans and renders)."""
    from ..commands.common import plan_settings
    from ..commands.train import target_config, training_tag
    from ..config import compose_config
    from ..engine import resolve_device
    from ..schedule.plan import arm_of

    cfg = compose_config("train", [*overrides, "device=auto"])
    arm = arm_of(plan_settings(cfg))   # known from the settings alone: no scores' checksum
    training = training_tag(cfg, target_config(cfg, resolve_device("auto")))
    return json.dumps(arm), json.dumps(training, sort_keys=True)


def arm_name_of(overrides: list[str]) -> str:
    """The name compare gives the arm train makes with these overrides."""
    from ..arms import arm_name

    return arm_name(train_tags(overrides)[0])


def done_seeds(runs: pd.DataFrame, study: str, overrides: list[str], scores_sha256: str | None = None) -> set[int]:
    """Seeds of this arm with a finished run in `runs` (the store's runs, as mlflow.search_runs gives them): those
    train runs of `study` whose `arm` tag (read as compare reads it) and `training` tag are what `train` with these
    overrides would give, so an interrupted study resumes. With `scores_sha256`, a run of an arm that reads its
    scores counts only when trained on the scores of that checksum (not on an earlier score run's)."""
    from ..arms import arm_definition, old_runs_message, tags_are_current
    from ..errors import UserError

    if runs.empty or not {"tags.arm", "tags.study", "tags.stage"} <= set(runs):
        return set()
    want, training = train_tags(overrides)

    def same_arm(arm: dict) -> bool:
        found = arm_definition(arm)
        scores = found.pop("scores", None)
        wanted = {k: v for k, v in arm_definition(want).items() if k != "scores"}
        return found == wanted and (scores_sha256 is None or scores in (None, scores_sha256))

    ours = runs[(runs["tags.study"] == study) & (runs["tags.stage"] == "train") & (runs["status"] == "FINISHED")]
    if ours.empty:   # (an empty string column cannot be and-ed with a bool one below)
        return set()
    current = [isinstance(a, str) and isinstance(t, str) and tags_are_current(json.loads(a), json.loads(t))
               for a, t in zip(ours["tags.arm"], ours["tags.training"])]
    if not all(current):
        raise UserError(old_runs_message(current.count(False), study, "the study's store",
                                         ours["run_id"].iloc[current.index(False)]))
    mask = ours["tags.arm"].map(lambda tag: same_arm(json.loads(tag)))
    mask &= ours["tags.training"] == training
    return set(ours.loc[mask, "tags.seed"].astype(int))
