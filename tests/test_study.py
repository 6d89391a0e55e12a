"""Study plans (conf/studies/*.yaml) and their runner, without training: which runs a plan still needs, given a
store with hand-logged runs; the arms' names as compare gives them; results.md's sections rendered from files."""

import json
import os

import pandas as pd
import pytest

from curriculum.cli import CONF_DIR
from curriculum.io.tracking import Tracker
from curriculum.study.plan import (Study, StudyPlan, TrainCall, arm_name_of, done_seeds, load_plan, missing_runs,
                                   train_tags)
from curriculum.study.runner import store_runs
from curriculum.study.sections import SECTIONS, assemble
from curriculum.study.sections.agreement import ensembles, same_ensembles_once
from curriculum.study.sections.common import Context
from curriculum.study.sections.label_noise import HEADING as NOISE_HEADING
from curriculum.study.sections.label_noise import label_noise_section, share_cell
from curriculum.study.sections.pruning import HEADING as PRUNING_HEADING
from curriculum.study.sections.pruning import scoring_cost_line, scoring_passes, selection_overrides

TINY = StudyPlan(section="label-noise", scores={"s": ["data=synthetic"]}, side_seeds=1, studies={
    "tiny": Study(scores="s", train=["data=synthetic", "epochs=1"], arms=["sampler=standard", "sampler=random"],
                  side_arms=["sampler=standard sampler.keep=cleanlab_keep"])})


def log_finished(track: Tracker, study: str, overrides: list[str], seed: int, scores: str | None = "abc") -> None:
    """A finished run tagged as `train` with these overrides would tag it, on scores of checksum `scores` (None:
    an arm that reads no scores, whose tag has no checksum)."""
    arm, training = train_tags(overrides)
    checksum = {} if scores is None else {"scores": scores}
    tags = {"stage": "train", "study": study, "seed": str(seed), "arm": json.dumps(arm | checksum),
            "training": training}
    with track.run("hand", tags):
        pass


def test_a_plan_trains_only_the_seeds_its_store_does_not_have(store):
    track = Tracker(store, "curriculum")
    log_finished(track, "tiny", ["data=synthetic", "epochs=1", "sampler=standard"], 0)
    log_finished(track, "tiny", ["data=synthetic", "epochs=1", "sampler=standard"], 1)
    log_finished(track, "tiny", ["data=synthetic", "epochs=2", "sampler=random"], 0)    # other training settings
    log_finished(track, "other", ["data=synthetic", "epochs=1", "sampler=random"], 1)   # another study
    runs = store_runs(store)
    calls = missing_runs(TINY, 2, lambda study, o, scores: done_seeds(runs, study, o))
    assert calls == [
        TrainCall("tiny", ("data=synthetic", "epochs=1", "sampler=random"), "score-s", (0, 1)),
        TrainCall("tiny", ("data=synthetic", "epochs=1", "sampler=standard", "sampler.keep=cleanlab_keep"),
                  "cv-s.csv", (0,))]                                             # a side arm: 1 seed, cleanlab's CSV
    quick = missing_runs(TINY, 2, lambda study, o, scores: done_seeds(runs, study, o), ["epochs=2"])
    assert [c.seeds for c in quick][:2] == [(0, 1), (1,)]       # epochs=2 after the study's: standard anew, random 0 done


def test_runs_trained_on_other_scores_than_the_study_has_now_are_not_done(store):
    """A study resumed after its score run was redone: the arms that read the scores train again on the new ones
    (their runs on the old ones would be another arm in compare); standard training reads none and stays done."""
    plan = StudyPlan(studies={"t": Study(scores="s", train=["data=synthetic", "epochs=1"],
                                         arms=["sampler=standard", "sampler=consensus"])})
    track = Tracker(store, "curriculum")
    for seed, scores in ((0, "old"), (1, "new")):
        log_finished(track, "t", ["data=synthetic", "epochs=1", "sampler=consensus"], seed, scores)
        log_finished(track, "t", ["data=synthetic", "epochs=1", "sampler=standard"], seed, None)
    runs = store_runs(store)
    calls = missing_runs(plan, 2, lambda study, o, scores: done_seeds(runs, study, o, {"score-s": "new"}[scores]))
    assert [(c.overrides[-1], c.seeds) for c in calls] == [("sampler=consensus", (0,))]
    assert done_seeds(runs, "t", ["data=synthetic", "epochs=1", "sampler=consensus"]) == {0, 1}   # unchecked


def test_a_comparison_logged_under_the_study_is_not_taken_for_a_train_run_of_an_earlier_version(store):
    """compare logs a run tagged with the study (no arm, no training tag): a study resumed after its first
    comparison once stopped here, calling it a train run of an earlier version."""
    track = Tracker(store, "curriculum")
    log_finished(track, "tiny", ["data=synthetic", "epochs=1", "sampler=standard"], 0)
    with track.run("compare-tiny", {"stage": "compare", "study": "tiny"}):
        pass
    assert done_seeds(store_runs(store), "tiny", ["data=synthetic", "epochs=1", "sampler=standard"]) == {0}


def test_an_empty_store_needs_every_seed_and_at_least_min_seeds():
    plan = StudyPlan(min_seeds=3, studies={"t": Study(scores="s", arms=["sampler=standard"])})
    assert missing_runs(plan, 1, lambda study, o, scores: set())[0].seeds == (0, 1, 2)
    assert done_seeds(pd.DataFrame(), "t", ["sampler=standard"]) == set()


def test_every_plan_loads_and_renders_a_known_section():
    for path in sorted((CONF_DIR / "studies").glob("*.yaml")):
        plan = load_plan(CONF_DIR, path.stem)
        assert plan.section in SECTIONS and plan.studies or plan.analyze
        assert all(study.scores in plan.scores for study in plan.studies.values())


def test_an_unknown_study_names_the_known_ones():
    from curriculum.errors import UserError

    with pytest.raises(UserError, match="study='nope'.*choose one of agreement, cost, curriculum, label-noise, pruning"):
        load_plan(CONF_DIR, "nope")


def test_a_plan_with_an_unknown_key_is_one_line_naming_the_file(tmp_path):
    from curriculum.errors import UserError

    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "typo.yaml").write_text("section: pruning\nstudys: {}\n")
    with pytest.raises(UserError, match=r"typo.yaml: Key 'studys' not in 'StudyPlan'"):
        load_plan(tmp_path, "typo")
    (tmp_path / "studies" / "orphan.yaml").write_text("scores: {a: []}\nstudies: {t: {scores: b}}\n")
    with pytest.raises(UserError, match=r"orphan.yaml: studies \{'t': 'b'\} train with score runs the plan does not "
                                        r"make; its score runs: a"):
        load_plan(tmp_path, "orphan")


def test_the_label_noise_arms_are_named_as_compare_names_them():
    """report.arms is how the section finds each arm in compare's table: train's tag for those overrides must be
    named exactly so, or the study would fail after all its training."""
    plan = load_plan(CONF_DIR, "label-noise")
    for study in plan.studies.values():
        assert [arm_name_of(arm.split()) for arm in study.arms] == plan.report["arms"]


def test_the_pruning_selections_are_named_as_compare_names_them_and_are_arms_of_the_study():
    plan = load_plan(CONF_DIR, "pruning")
    names = {s: arm_name_of(selection_overrides(s, 0.3, plan.report)) for s in plan.report["selections"]}
    assert names == {"random": "random/static@end=0.3", "easiest (consensus)": "consensus/static@end=0.3",
                     "hardest (consensus)": "anti/static@end=0.3", "hardest (EL2N)": "anti/static@end=0.3[sampler.score=el2n]",
                     "stratified (consensus)": "stratified/static@end=0.3"}
    epochs = plan.studies[plan.report["equal_epochs"]].arms
    for fraction in plan.report["fractions"]:
        for selection in plan.report["selections"]:
            assert " ".join(selection_overrides(selection, fraction, plan.report)) in epochs


def test_results_keep_the_section_of_a_part_not_run_now():
    old = "# Study\n\nold curriculum\n\n" + NOISE_HEADING + "\n\nold noise\n"
    noise_only = assemble(old, {"curriculum": None, "label-noise": [NOISE_HEADING, "", "new"]})
    assert noise_only == "# Study\n\nold curriculum\n\n" + NOISE_HEADING + "\n\nnew\n"
    curriculum_only = assemble(old, {"curriculum": ["# Study", "", "new"], "label-noise": None})
    assert curriculum_only == "# Study\n\nnew\n\n" + NOISE_HEADING + "\n\nold noise\n"
    assert assemble("", {"curriculum": ["# S"], "label-noise": None}) == "# S\n"


def test_results_keep_every_other_part_when_the_pruning_part_is_written():
    old = f"# Study\n\nold curriculum\n\n{NOISE_HEADING}\n\nold noise\n"
    pruned = assemble(old, {"pruning": [PRUNING_HEADING, "", "new"]})
    assert pruned == old + f"\n{PRUNING_HEADING}\n\nnew\n"
    again = assemble(pruned, {"label-noise": [NOISE_HEADING, "", "newer"]})
    assert again == (f"# Study\n\nold curriculum\n\n{NOISE_HEADING}\n\nnewer\n\n"
                     f"{PRUNING_HEADING}\n\nnew\n")


def test_the_scoring_cost_counts_member_epochs_and_recorded_passes_by_hand(tmp_path):
    """2 members x 2 epochs x 10 examples = 40 training passes; 2 members x 3 checkpoints x 10 train = 60 and x 4
    test = 24 recorded passes; consensus takes 2 x 3 + 1 = 7 values."""
    from curriculum.io.scorefile import write_scores

    meta = {"ensemble": [{"arch": "cnn", "source": "eval"}] * 2, "checkpoints": [0.5, 1.0, 2.0]}
    write_scores(tmp_path / "scores.parquet", pd.DataFrame({"index": range(10), "label": 0, "consensus": 1.0}), meta)
    write_scores(tmp_path / "test_scores.parquet", pd.DataFrame({"index": range(4), "label": 0, "consensus": 1.0}), meta)
    cost = scoring_passes(tmp_path)
    assert cost == {"n": 10, "trained": 40, "recorded_train": 60, "recorded_test": 24, "levels": 7}
    # 40 + 60 / 3 = 60 training-pass equivalents; 6 epochs x 0.5 x 10 = 30 saved per run: repaid after 2.0 runs
    assert "after 2.0 training runs (1.3 with" in scoring_cost_line(cost, 6)


def test_every_analyzed_ensemble_gives_its_last_test_row_and_members(tmp_path):
    from curriculum.io.scorefile import write_scores

    agreement = pd.DataFrame({"split": ["train", "test", "test"], "mean_acc": [0.9, 0.7, 0.8], "tpa": [0.8, 0.5, 0.6],
                              "tpa_independent": [0.7, 0.4, 0.45]})
    for name, archs in (("mixed", ["cnn", "mlp", "cnn"]), ("lone", ["cnn"]), ("stale", ["mlp"])):
        write_scores(tmp_path / f"score-{name}" / "scores.parquet", pd.DataFrame({"index": [0], "label": [0]}),
                     {"ensemble": [{"arch": a} for a in archs], "checkpoints": [1.0]})
        (tmp_path / f"analyze-{name}").mkdir()
        agreement.to_csv(tmp_path / f"analyze-{name}" / "agreement.csv", index=False)
    (tmp_path / "analyze-orphan").mkdir()                                  # no score run beside it: left out
    agreement.to_csv(tmp_path / "analyze-orphan" / "agreement.csv", index=False)
    os.utime(tmp_path / "analyze-stale" / "agreement.csv", (0, 0))          # older than its scores: left out
    table = ensembles(tmp_path).set_index("ensemble")
    assert table.index.tolist() == ["lone", "mixed"]
    assert table.loc["mixed", "members"] == "2 cnn + 1 mlp"
    assert table.loc["mixed", ["mean_acc", "tpa", "tpa_independent"]].tolist() == [0.8, 0.6, 0.45]   # the last test row


def test_two_score_runs_of_the_same_ensemble_count_once_under_both_names():
    table = pd.DataFrame({"ensemble": ["noisy", "other", "noise-0.4"], "members": ["4 cnn"] * 3,
                          "size": 4, "fingerprint": ["f", "f", "f"], "mean_acc": [0.8, 0.9, 0.8], "tpa": [0.7, 0.8, 0.7],
                          "tpa_independent": [0.4, 0.5, 0.4]})
    once = same_ensembles_once(table)
    assert once["ensemble"].tolist() == ["noisy = noise-0.4", "other"] and "fingerprint" not in once


def test_the_label_noise_section_renders_from_a_hand_made_out_folder(tmp_path):
    """standard [.80, .82], oracle [.90, .92], the filter [.85, .86]: means 81.00, 91.00, 85.50 and a 45% share."""
    arms = {"standard": [.80, .82], "oracle": [.90, .92], "consensus/linear@end=auto": [.85, .86]}
    compare_dir = tmp_path / "compare-label-noise-x"
    compare_dir.mkdir()
    pd.DataFrame({"arm": list(arms), "run_ids": [f"{a}-0,{a}-1" for a in arms]}).to_csv(compare_dir / "comparison.csv")
    (compare_dir / "comparison.md").write_text("# Study\n\nintro\n\n| arm | n |\n")
    (tmp_path / "command-label-noise.txt").write_text("python -m curriculum study study=label-noise\n")
    runs = pd.DataFrame([{"run_id": f"{a}-{s}", "tags.seed": str(s), "tags.study": "label-noise-x",
                          "metrics.test/acc_at_best_val": v[s], "metrics.test/acc_final": v[s], "tags.out_dir": None,
                          "tags.mlflow.parentRunId": None, "start_time": pd.Timestamp(60 * s, unit="s"),
                          "end_time": pd.Timestamp(60 * s + 600, unit="s")} for a, v in arms.items() for s in (0, 1)])
    plan = StudyPlan(section="label-noise", studies={"label-noise-x": Study(scores="s")},
                     report={"arms": list(arms), "data": "D", "target": "T"})
    lines = label_noise_section(Context("label-noise", plan, tmp_path, runs, tmp_path))
    assert lines[2] == "Command: `python -m curriculum study study=label-noise`; wall time 11 min.  "
    row = "| x | 81.00 ± 1.41 | 91.00 ± 1.41 | 85.50 ± 0.71 | 45% |"
    assert lines.count(row) == 2 and "intro\n\n| arm | n |" in lines   # compare's table, untitled
    assert share_cell(None, 0.0) == "– (the oracle gains +0.00 points)"


def test_the_families_section_renders_its_verdict_from_the_typed_value():
    from test_verdicts import families_table

    from curriculum.study.sections.agreement import families_lines, representation_lines

    families = families_table()
    verdict = families_lines(families, ["ensemble.size=9"])[-2]
    assert verdict.startswith("Holds only in part here: ") and verdict.count("against 0.") == 2   # kappa and cka
    assert verdict.endswith("; not by spearman.")
    assert representation_lines(families.reset_index())[-2].startswith("Does not hold here by linear CKA: ")


def test_the_subspace_match_renders_its_table_figure_and_verdict_from_a_hand_made_out_folder(tmp_path):
    """Two cnn pairs whose conv1 matches 0.25 and 0.35 at epsilon 0.5 (mean 0.30) and penultimate 0.40; a cnn-mlp
    pair at 0.10. Every same-family layer is below half at the most lenient epsilon: holds; the CKA of the hand-made
    families table is 0.9 (cnn) and 0.8 (mlp), at or above half, so the measures disagree."""
    from test_verdicts import families_table

    from curriculum.study.sections.agreement import MATCH_FIGURE, subspace_lines

    rows = [(0, 1, "cnn", "cnn", "conv1", 0.5, 0.25), (0, 1, "cnn", "cnn", "conv1", 0.2, 0.0),
            (2, 3, "cnn", "cnn", "conv1", 0.5, 0.35), (2, 3, "cnn", "cnn", "conv1", 0.2, 0.1),
            (0, 1, "cnn", "cnn", "penultimate", 0.5, 0.4), (0, 1, "cnn", "cnn", "penultimate", 0.2, 0.1),
            (0, 4, "cnn", "mlp", "penultimate", 0.5, 0.1), (0, 4, "cnn", "mlp", "penultimate", 0.2, 0.0)]
    table = pd.DataFrame([{"member_a": i, "member_b": j, "family_a": a, "family_b": b,
                           "kind": "same family" if a == b else "across families", "layer": layer, "width_a": 16,
                           "width_b": 16, "samples": 1000, "dead_a": 0, "dead_b": 0, "epsilon": eps,
                           "matched_a": 0, "matched_b": 0, "share": share}
                          for i, j, a, b, layer, eps, share in rows]).sort_values(["member_a", "member_b", "epsilon"])
    folder = tmp_path / "analyze-families"
    folder.mkdir()
    table.to_csv(folder / "subspace_match.csv", index=False)
    (folder / "subspace_match.png").write_bytes(b"\x89PNG")
    ctx = Context("agreement", StudyPlan(section="agreement"), tmp_path, pd.DataFrame(), tmp_path)
    lines = subspace_lines(ctx, families_table())
    assert "| cnn – cnn | conv1 | 16 | 1000 | 2 | 0.000 | 0.0500 ± 0.0707 | 0.3000 ± 0.0707 | – | 0.8000 |" in lines
    assert "| cnn – cnn | penultimate | 16 | 1000 | 1 | 0.000 | 0.1000 | 0.4000 | 0.9000 | 0.8000 |" in lines
    assert "| cnn – mlp | penultimate | 16 | 1000 | 1 | 0.000 | 0.0000 | 0.1000 | 0.7000 | 0.6000 |" in lines
    assert (tmp_path / MATCH_FIGURE).read_bytes() == b"\x89PNG"
    assert lines[-2].startswith("Holds here by the subspace match: even at ε=0.5, the most lenient here, differently "
                                "seeded members of one family match 30% to 40% of a layer's neurons, 2 of 2 layers "
                                "below half; their penultimate layers match 40% where linear CKA gives 0.80 "
                                "to 0.90, so the two measures disagree")
    assert subspace_lines(Context("agreement", StudyPlan(), tmp_path / "none", pd.DataFrame(), tmp_path),
                          families_table())[0].startswith("No subspace match")


def test_the_pruning_section_renders_from_a_hand_made_out_folder(tmp_path, monkeypatch):
    """Every selection at 80.00 ± 1.00 and +1.00 [+0.00, +2.00] against random; all the data 90.00 ± 0.50. The
    arms are named by their overrides here (compare's names are tested above)."""
    from curriculum.io.scorefile import write_scores
    from curriculum.study.sections import pruning

    monkeypatch.setattr(pruning, "arm_name_of", lambda overrides: "random/" + " ".join(overrides)
                        if overrides[0] == "sampler=random" else " ".join(overrides))
    plan = load_plan(CONF_DIR, "pruning")
    for study in plan.studies:
        names = [pruning.arm_name_of(arm.split()) for arm in plan.studies[study].arms]
        names = ["standard" if name == "sampler=standard" else name for name in names]
        table = pd.DataFrame({"arm": names, "n": 3, "test@best_val_mean": 0.8, "test@best_val_std": 0.01,
                              "vs_random": 0.01, "vs_random_lo": 0.0, "vs_random_hi": 0.02})
        table.loc[table["arm"] == "standard", ["test@best_val_mean", "test@best_val_std"]] = [0.9, 0.005]
        (tmp_path / f"compare-{study}").mkdir()
        table.to_csv(tmp_path / f"compare-{study}" / "comparison.csv", index=False)
        (tmp_path / f"compare-{study}" / "comparison.md").write_text(f"# {study}\n\n{study} table\n")
    meta = {"ensemble": [{"arch": "cnn", "source": "eval"}] * 2, "checkpoints": [1.0, 2.0]}
    write_scores(tmp_path / "score-pruning" / "scores.parquet", pd.DataFrame({"index": range(10), "label": 0}), meta)
    runs = pd.DataFrame({"run_id": ["a"], "tags.study": ["pruning-steps"], "tags.mlflow.parentRunId": [None],
                         "start_time": [pd.Timestamp(0, unit="s")], "end_time": [pd.Timestamp(120, unit="s")]})
    lines = pruning.pruning_section(Context("pruning", plan, tmp_path, runs, tmp_path))
    assert lines[2] == "Command: `(not recorded)`; wall time 2 min.  "
    assert "| random | 80.00 ± 1.00 | 80.00 ± 1.00 | 80.00 ± 1.00 | 80.00 ± 1.00 | 80.00 ± 1.00 |" in lines
    assert "| random | – | – | – | – | – |" in lines                       # random against itself
    assert "| hardest (EL2N) | " + " | ".join(["+1.00 [+0.00, +2.00]"] * 5) + " |" in lines
    assert "All the data (`standard`): 90.00 ± 0.50 (3 seeds)." in lines and "pruning-steps table" in lines


def test_a_store_with_runs_of_an_earlier_version_is_one_line_not_a_traceback():
    # an arm tag written before every tag named sampler.keep: resuming must say so, not raise KeyError 'keep'
    from curriculum.errors import UserError

    old = json.dumps({"sampler": "random", "pacing": "linear", "function": "linear", "params": {"a": 0.5, "b": 0.2},
                      "end": "1", "score": "consensus", "balanced": True, "ties": "margin", "scores": "abc"})
    runs = pd.DataFrame({"tags.study": ["tiny"], "tags.stage": ["train"], "status": ["FINISHED"], "tags.arm": [old],
                         "tags.training": ["{}"], "tags.seed": ["0"], "run_id": ["r0"]})
    with pytest.raises(UserError, match="earlier version of curriculum.*run r0.*new MLflow store"):
        done_seeds(runs, "tiny", ["data=synthetic", "epochs=1", "sampler=random"])


def test_done_seeds_of_a_study_with_no_finished_runs_in_a_store_that_has_others():
    """A store whose runs are all of other studies, or killed, as mlflow.search_runs gives it (pyarrow strings): no
    seed is done (a resumed study once stopped here: 'and' of an empty string column with a bool one)."""
    import pandas as pd

    from curriculum.study.plan import done_seeds

    text = "string[pyarrow]"
    runs = pd.DataFrame({"tags.study": pd.Series(["other", "mine"], dtype=text),
                         "tags.stage": pd.Series(["train", "train"], dtype=text),
                         "status": pd.Series(["FINISHED", "KILLED"], dtype=text),
                         "tags.arm": pd.Series(['{"sampler": "standard", "keep": "all"}'] * 2, dtype=text),
                         "tags.training": pd.Series(["{}", "{}"], dtype=text),
                         "tags.seed": pd.Series(["0", "0"], dtype=text)})
    assert done_seeds(runs, "mine", ["sampler=standard", "data=synthetic"]) == set()
