"""The run plan (schedule/plan.py) on a hand-made frame whose orderings, kept sets, ends and arm names are worked
out by hand below."""

import numpy as np
import pandas as pd
import pytest

from curriculum.commands.export import EXPORT_NAMES
from curriculum.errors import UserError
from curriculum.schedule.plan import WHOLE, PlanSettings, Scores, arm_of, auto_dropped, make_plan, plan_needs_scores
from curriculum.schedule.sampler import SamplerConfig

# 8 examples, two classes; consensus from 2 members x 2 checkpoints (L = 4 levels of 1/4).
# Histogram over the levels 0, 1/4, 1/2, 3/4, 1: positions {2, 7}, {5}, {6}, {1, 3}, {0, 4}: shares .25, .125, .125,
# .25, .25. The floor is the median share of levels L/4..L/2 = 1..2: .125; above it in the lower half (levels 0, 1)
# is .25 - .125 = .125 mislabelled, so pacing.end=auto is .875: ceil(.875 x 8) = 7 examples.
# Easy first, ties by the larger margin: 4 (1, 3.0), 0 (1, 2.0), 1 (3/4, .5), 3 (3/4, .1), 6, 5, 2 (0, -1), 7 (0, -2).
# Balanced: class 0 keeps 0, 1, 3, 2 and class 1 keeps 4, 6, 5, 7; each prefix takes them in turn, the class whose
# example comes first in the unbalanced order first in each round: 4, 0 | 1, 6 | 3, 5 | 2, 7.
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
FRAME = pd.DataFrame({"index": np.arange(8), "label": LABELS,
                      "consensus": [1.0, 0.75, 0.0, 0.75, 1.0, 0.25, 0.5, 0.0],
                      "margin": [2.0, 0.5, -1.0, 0.1, 3.0, -0.5, 0.4, -2.0],
                      "peer": [1, 1, 0, 1, 1, 1, 1, 0]})   # a kept column (e.g. cleanlab's): drops 2 and 7
SCORES = Scores(FRAME, {"ensemble": [{}, {}], "checkpoints": [1, 2]}, sha256="ab" * 32, path="hand.parquet")
BALANCED = [4, 0, 1, 6, 3, 5, 2, 7]
NOISY = np.array([False, False, True, False, False, False, False, True])
LINEAR = {"name": "linear", "a": 0.5, "b": 0.2, "end": 1.0, "preset": None}


def plan(sampler: str, end=1.0, **sampler_settings):
    settings = PlanSettings(SamplerConfig(name=sampler, **sampler_settings), LINEAR | {"end": end})
    return make_plan(settings, SCORES, LABELS, NOISY, seed=0)


def test_consensus_with_auto_end_orders_balanced_easy_first_and_keeps_the_estimated_clean_share():
    p = plan("consensus", end="auto")
    assert p.ordering.tolist() == BALANCED and p.kept is None
    assert p.end == pytest.approx(0.875) and p.prefix().tolist() == BALANCED[:7]
    assert p.name == "consensus/linear@end=auto" and p.column == "consensus" and p.pacing(0, 10) == pytest.approx(0.2)
    assert len(p.notes) == 1 and p.notes[0].startswith(
        "pacing.end=auto: the consensus histogram suggests 0.125 of the labels are wrong; the ordering's first 0.875 "
        "is used")
    assert p.notes[0].endswith("this estimate misses class-conditional and instance-dependent noise (look-alike "
                               "classes, ambiguous images); score with ensemble.folds=4 for the confident-learning one")
    assert plan("consensus", balanced=False).ordering.tolist() == [4, 0, 1, 3, 6, 5, 2, 7]


def test_anti_is_the_exact_reverse_and_its_end_keeps_the_hardest_half():
    p = plan("anti", end=0.5)
    assert p.ordering.tolist() == BALANCED[::-1] and p.prefix().tolist() == [7, 2, 5, 3]
    assert p.name == "anti/linear@end=0.5"


def test_a_kept_column_restricts_the_ordering_and_refuses_auto_end():
    p = plan("consensus", keep="peer")
    assert p.kept.tolist() == [0, 1, 3, 4, 5, 6] and p.ordering.tolist() == [4, 0, 1, 6, 3, 5]
    assert p.end == 1.0 and p.name == "consensus/linear[sampler.keep=peer]"
    with pytest.raises(UserError, match=r"^pacing.end=auto estimates the clean share of all the training examples, "
                                        r"but sampler.keep=peer already keeps only some"):
        plan("consensus", end="auto", keep="peer")


def test_standard_keeps_what_auto_pruning_keeps_or_the_oracles_clean_examples():
    auto = plan("standard", keep="auto")
    assert auto.ordering is None and auto.kept.tolist() == [0, 1, 2, 3, 4, 5, 6]   # all but 7, the last of 8
    assert auto.end == 1.0 and auto.name == "standard[sampler.keep=auto]" and auto.pacing is None
    assert auto.arm == {"sampler": "standard", "keep": "auto", "scores": "ab" * 32}
    oracle = plan("standard", keep="clean")
    assert oracle.kept.tolist() == [0, 1, 3, 4, 5, 6] and oracle.name == "oracle"
    assert oracle.arm == {"sampler": "standard", "keep": "clean"}
    assert auto_dropped(FRAME["consensus"], FRAME["margin"], LABELS, SCORES.meta).tolist() == [False] * 7 + [True]


def test_the_arm_is_known_from_the_settings_alone():
    settings = PlanSettings(SamplerConfig(name="consensus"), LINEAR | {"end": "auto"})
    arm = {"sampler": "consensus", "pacing": "linear", "function": "linear", "params": {"a": 0.5, "b": 0.2},
           "end": "auto", "score": "consensus", "balanced": True, "ties": "margin", "keep": "all"}
    assert arm_of(settings) == arm
    assert make_plan(settings, SCORES, LABELS, NOISY, 0).arm == arm | {"scores": "ab" * 32}


def test_which_settings_read_scores():
    def needs(sampler, end=1.0, keep="all"):
        return plan_needs_scores(PlanSettings(SamplerConfig(name=sampler, keep=keep), LINEAR | {"end": end}))

    assert not needs("standard") and not needs("standard", keep="clean") and not needs("random")
    assert needs("standard", keep="auto") and needs("random", end="auto") and needs("stratified") and needs("anti")


def test_auto_end_needs_consensus_and_a_scored_setting_needs_scores():
    with pytest.raises(UserError, match=r"^pacing.end=auto estimates the clean share from consensus scores, but the "
                                        r"ordering uses 'margin' from hand.parquet"):
        plan("consensus", end="auto", score="margin")
    with pytest.raises(UserError, match="sampler=consensus needs scores"):
        make_plan(PlanSettings(SamplerConfig(name="consensus"), LINEAR), None, LABELS, NOISY, 0)
    assert make_plan(PlanSettings(SamplerConfig(name="standard")), None, LABELS, NOISY, 0).name == "standard"


# The same frame from a folds score run: confident learning's estimate in the meta says 0.25 of the labels are wrong,
# all of them in class 0: the estimated joint Q = [[.25, .25], [0, .5]], so class 0 keeps N x Q[0][0] = 2 of its 4
# and class 1 all 4 (6 in all, end .75). Each class keeps its first examples in the ordering: class 0's are 0, 1
# (then 3, 2), class 1's 4, 6, 5, 7; the kept ones go first, in the ordering's order: 4, 0, 1, 6, 5, 7 | 3, 2.
CONFIDENT = Scores(FRAME, SCORES.meta | {"label_issues": {"method": "confident learning", "estimated_share": 0.25,
                                                          "estimated_joint": [[0.25, 0.25], [0.0, 0.5]],
                                                          "warning": None}}, sha256="ab" * 32, path="hand.parquet")
KEPT_FIRST = [4, 0, 1, 6, 5, 7]


def confident_plan(sampler: str, end=1.0, scores=CONFIDENT, **sampler_settings):
    settings = PlanSettings(SamplerConfig(name=sampler, **sampler_settings), LINEAR | {"end": end})
    return make_plan(settings, scores, LABELS, NOISY, seed=0)


def test_auto_end_uses_confident_learnings_estimate_when_the_scores_carry_one():
    p = confident_plan("consensus", end="auto")
    assert p.end == pytest.approx(0.75) and p.prefix().tolist() == KEPT_FIRST
    assert p.ordering.tolist() == KEPT_FIRST + [3, 2]
    assert p.notes == ("pacing.end=auto: confident learning on out-of-fold probabilities estimates 0.250 of the "
                       "labels are wrong; each class keeps as many of its first examples in the ordering as it is "
                       "estimated to hold correctly labelled",)
    # the estimate does not come from the ordering column, so any scored ordering may use it: by margin, balanced,
    # 4 (3.0), 0 (2.0) | 1 (.5), 6 (.4) | 3 (.1), 5 (-.5) | 2, 7: class 0 keeps 0, 1 and class 1 all four again
    assert confident_plan("consensus", end="auto", score="margin").prefix().tolist() == KEPT_FIRST
    # hard first (anti): class 0's first two are 2, 3 and class 1 keeps all: 7, 2 | 5, 3 | 6 | 4 (1 and 0 last)
    assert confident_plan("anti", end="auto").prefix().tolist() == [7, 2, 5, 3, 6, 4]


def test_keep_auto_and_exports_keep_auto_use_the_confident_estimate_too():
    assert confident_plan("standard", keep="auto").kept.tolist() == [0, 1, 4, 5, 6, 7]   # KEPT_FIRST, sorted
    export = PlanSettings(SamplerConfig(name="consensus"), WHOLE | {"end": "auto"}, EXPORT_NAMES)
    plan_ = make_plan(export, CONFIDENT, LABELS, NOISY, seed=0)
    assert plan_.end == pytest.approx(0.75) and plan_.notes[0].startswith("keep=auto: confident learning")
    dropped = auto_dropped(FRAME["consensus"], FRAME["margin"], LABELS, CONFIDENT.meta)
    assert np.flatnonzero(dropped).tolist() == [2, 3]   # class 0's last two in the ordering


def test_the_confident_estimates_warning_is_said_and_a_bad_estimate_refused():
    warned = Scores(FRAME, {"label_issues": CONFIDENT.meta["label_issues"] | {"warning": "barely above chance"}})
    assert confident_plan("consensus", end="auto", scores=warned).notes[1] == "pacing.end=auto: barely above chance"
    broken = Scores(FRAME, {"label_issues": {"estimated_share": None}})
    with pytest.raises(UserError, match=r"^pacing.end=auto: the scores' confident-learning estimate is None"):
        confident_plan("consensus", end="auto", scores=broken)


def test_a_folds_runs_columns_order_and_keep_through_the_usual_settings():
    # oof_confidence is a score, higher = easier: unbalanced, 3 (.9), 0 (.8), 5 (.7), 1 (.6), 4 (.5), 6 (.4), 7 (.2),
    # 2 (.1); cl_keep (1 - label_issue) is a kept column: it drops the flagged 2 and 7
    frame = FRAME.assign(oof_confidence=[0.8, 0.6, 0.1, 0.9, 0.5, 0.7, 0.4, 0.2],
                         cl_keep=np.array([1, 1, 0, 1, 1, 1, 1, 0], dtype=np.int8))
    scores = Scores(frame, SCORES.meta, path="hand.parquet")
    by_confidence = confident_plan("consensus", score="oof_confidence", balanced=False, scores=scores)
    assert by_confidence.ordering.tolist() == [3, 0, 5, 1, 4, 6, 7, 2]
    assert confident_plan("standard", keep="cl_keep", scores=scores).kept.tolist() == [0, 1, 3, 4, 5, 6]
