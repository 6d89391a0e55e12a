"""The public Python API (curriculum.load_scores, ordering, make_pacing, PacedSampler): hand-worked orderings and
batches, sharding across ranks, resuming, one-line errors, a user's own DataLoader drawing exactly what `train`
draws, and the README's example run as written."""

import hashlib
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import run_readme_example
from torch.utils.data import DataLoader, TensorDataset

import curriculum
from curriculum.io.scorefile import write_scores

# 8 examples with dataset indices 100-107, two classes. Easy first by consensus, unbalanced: 101 (1.0), 100 (0.9),
# 102 (0.8), 104 (0.7), 106 (0.6), 107 (0.3), 103 (0.2), 105 (0.1). Balanced, each class keeps its own sequence
# (class 0: 101, 100, 102, 103; class 1: 104, 106, 107, 105) and the two alternate, class 0 first as its head comes
# first: 101, 104, 100, 106, 102, 107, 103, 105.
FRAME = pd.DataFrame({"index": np.arange(100, 108), "label": [0, 0, 0, 0, 1, 1, 1, 1],
                      "consensus": [0.9, 1.0, 0.8, 0.2, 0.7, 0.1, 0.6, 0.3]})
BALANCED = [101, 104, 100, 106, 102, 107, 103, 105]


def test_ordering_is_easy_first_class_balanced_and_hard_is_its_exact_reverse():
    assert curriculum.ordering(FRAME).tolist() == BALANCED
    assert curriculum.ordering(FRAME, balanced=False).tolist() == [101, 100, 102, 104, 106, 107, 103, 105]
    assert curriculum.ordering(FRAME, order="anti").tolist() == BALANCED[::-1]
    assert sorted(curriculum.ordering(FRAME, order="random", seed=4).tolist()) == list(range(100, 108))


def test_stratified_ordering_deals_evenly_from_score_strata_and_leaves_the_hardest_last():
    # drop_hardest=0.25: 103 (0.2) and 105 (0.1) last, easiest first. Two strata of width 0.35 over [0.3, 1.0]:
    # {101, 100, 102, 104} (0.7-1.0) and {106, 107} (0.6, 0.3). Two rounds take both of the small stratum.
    order = curriculum.ordering(FRAME, order="stratified", balanced=False, strata=2, drop_hardest=0.25).tolist()
    assert {106, 107} <= set(order[:4]) and set(order[4:6]) <= {101, 100, 102, 104} and order[6:] == [103, 105]
    with pytest.raises(curriculum.UserError, match=r"^strata=2.5 must be a whole number"):
        curriculum.ordering(FRAME, order="stratified", strata=2.5)


def test_ordering_breaks_ties_by_the_larger_margin():
    # 100 and 102 tie at 0.9; margins 0.5 and 3.0 put 102 first
    frame = FRAME.assign(consensus=[0.9, 1.0, 0.9, 0.2, 0.7, 0.1, 0.6, 0.3],
                         margin=[0.5, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert curriculum.ordering(frame, balanced=False).tolist()[:3] == [101, 102, 100]


# Step pacing a=0.75, b=0.25 over T=4 steps of batch 2 on the ordering 1, 4, 0, 6, 2, 7, 3, 5: steps 0 and 1 draw
# from g(1) = g(2) = 0.25 (t < aT = 3), 2 examples, so their batch is exactly {1, 4}; steps 2 and 3 from all 8.
ORDER = np.array([1, 4, 0, 6, 2, 7, 3, 5])


def _sampler(**kw) -> curriculum.PacedSampler:
    return curriculum.PacedSampler(ORDER, curriculum.make_pacing("step", a=0.75, b=0.25), 4, 2, seed=7, **kw)


def test_a_step_pacing_gives_the_hand_worked_prefixes_and_batches():
    sampler = _sampler()
    assert [sampler.prefix_size(s) for s in range(4)] == [2, 2, 8, 8] and len(sampler) == 4
    batches = [b.tolist() for b in sampler]
    assert [sorted(b) for b in batches[:2]] == [[1, 4], [1, 4]]
    assert all(len(set(b)) == 2 for b in batches)
    assert [b.tolist() for b in sampler] == batches   # built from a seed: every iteration starts afresh


def test_two_ranks_take_disjoint_halves_of_every_steps_batch():
    whole = [b.tolist() for b in _sampler()]
    ranks = [[b.tolist() for b in _sampler(num_replicas=2, rank=r)] for r in (0, 1)]
    assert all(len(r) == 4 and all(len(b) == 1 for b in r) for r in ranks)
    assert [a + b for a, b in zip(*ranks)] == whole          # rank 0 the first half, rank 1 the second
    assert [sorted(a + b) for a, b in zip(*ranks)][:2] == [[1, 4], [1, 4]]


@pytest.mark.parametrize("start", [0, 1, 3, 4])
def test_resuming_at_a_step_yields_the_tail_of_an_uninterrupted_iteration(start):
    whole = [b.tolist() for b in _sampler(num_replicas=2, rank=1)]
    resumed = _sampler(num_replicas=2, rank=1)
    resumed.set_step(start)
    assert len(resumed) == 4 - start and [b.tolist() for b in resumed] == whole[start:]
    assert [b.tolist() for b in _sampler(num_replicas=2, rank=1, start=start)] == whole[start:]


def test_bad_sharding_is_one_line():
    with pytest.raises(curriculum.UserError, match=r"^rank=2 must be in \[0, num_replicas=2\)$"):
        _sampler(num_replicas=2, rank=2)
    with pytest.raises(curriculum.UserError, match=r"^batch_size=2 must divide evenly among num_replicas=3"):
        _sampler(num_replicas=3, rank=0)
    with pytest.raises(curriculum.UserError, match=r"start=5 must be a step in \[0, total_steps=4\]"):
        _sampler().set_step(5)


def test_bad_orderings_are_one_line():
    with pytest.raises(curriculum.UserError, match=r"^order='easiest' must be one of consensus, anti, random, "
                                                   r"stratified$"):
        curriculum.ordering(FRAME, order="easiest")
    with pytest.raises(curriculum.UserError, match=r"^score='margin' is not a column of the scores; choose one of "
                                                   r"consensus$"):
        curriculum.ordering(FRAME, score="margin")
    with pytest.raises(curriculum.UserError, match="no easy-to-hard direction"):
        curriculum.ordering(FRAME.assign(variability=0.1), score="variability")
    with pytest.raises(curriculum.UserError, match=r"^balanced=True needs labels: pass labels="):
        curriculum.ordering(np.array([0.5, 0.2]), "margin")
    with pytest.raises(curriculum.UserError, match=r"^an array of scores needs score= naming its kind"):
        curriculum.ordering(np.array([0.5, 0.2]), balanced=False)


def test_the_apis_earlier_order_names_say_the_new_ones():
    with pytest.raises(curriculum.UserError, match=r"^order='hard' is order='anti' now, as train's sampler= names it"):
        curriculum.ordering(FRAME, order="hard")


def test_an_array_of_scores_orders_its_positions():
    # margins of 6 examples (higher = easier), labels 0 0 0 1 1 1: unbalanced 1 (3.0), 4 (2.0), 0 (1.0), 5 (0.5),
    # 2 (-1.0), 3 (-2.0); balanced, class 0 (1, 0, 2) and class 1 (4, 5, 3) alternate, class 0's head first
    margin, labels = np.array([1.0, 3.0, -1.0, -2.0, 2.0, 0.5]), np.array([0, 0, 0, 1, 1, 1])
    assert curriculum.ordering(margin, "margin", balanced=False).tolist() == [1, 4, 0, 5, 2, 3]
    assert curriculum.ordering(margin, "margin", labels=labels).tolist() == [1, 4, 0, 5, 2, 3]
    assert curriculum.ordering(-margin, "loss", labels=labels, order="anti").tolist() == [3, 2, 5, 0, 4, 1]
    assert curriculum.ordering_positions(margin, "margin", balanced=False).tolist() == [1, 4, 0, 5, 2, 3]
    with pytest.raises(curriculum.UserError, match=r"labels of shape \(2,\) for 6 scores"):
        curriculum.ordering(margin, "margin", labels=[0, 1])


def test_load_scores_reads_a_parquet_a_run_dir_and_a_csv_and_checks_labels(tmp_path):
    labels = np.zeros(108, dtype=np.int64)
    labels[104:] = 1
    write_scores(tmp_path / "scores.parquet", FRAME, {"dataset": "hand", "fingerprint": "0"})
    FRAME.drop(columns="label").to_csv(tmp_path / "s.csv", index=False)
    for spec in (tmp_path / "scores.parquet", tmp_path, str(tmp_path / "s.csv")):
        frame = curriculum.load_scores(spec, labels=labels)
        assert frame["index"].tolist() == list(range(100, 108)) and frame["label"].tolist() == FRAME["label"].tolist()
    labels[103] = 1
    with pytest.raises(curriculum.UserError, match=r"made for other labels: 1 of 8 labels disagree \(first at index "
                                                   r"103\)"):
        curriculum.load_scores(tmp_path, labels=labels)
    with pytest.raises(curriculum.UserError, match="indices outside the 100 labels given"):
        curriculum.load_scores(tmp_path, labels=labels[:100])


def test_load_scores_finds_a_score_run_by_its_mlflow_run_id(tmp_path, store):
    from curriculum.io.tracking import Tracker

    write_scores(tmp_path / "scores.parquet", FRAME, {"dataset": "hand", "fingerprint": "0"})
    track = Tracker(store, "curriculum")
    tags = {"stage": "score", "scores": "complete", "scores_path": tmp_path / "scores.parquet"}
    with track.run("score", tags) as rid:   # a score run as `score` tags it: its scores file is found by the tag
        pass
    assert curriculum.load_scores(rid, tracking_uri=store)["consensus"].tolist() == FRAME["consensus"].tolist()
    with pytest.raises(curriculum.UserError, match=f"scores={'0' * 32}: no such MLflow run"):
        curriculum.load_scores("0" * 32, tracking_uri=store)


def test_a_users_dataloader_draws_what_train_draws_for_the_same_seed(monkeypatch):
    from curriculum.data.datasets import DataConfig, load_data
    from curriculum.engine import OptimConfig
    from curriculum.schedule import target
    from curriculum.schedule.sampler import make_ordering
    from curriculum.scoring.scores import orientation

    data = load_data(DataConfig(name="synthetic", train_size=64, val_size=16))
    n, y = len(data.train), data.train.y.numpy()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"index": np.arange(n), "label": y, "consensus": rng.integers(0, 5, n) / 4,
                          "margin": rng.normal(size=n)})
    seed, batch, epochs = 3, 8, 2
    pacing = curriculum.make_pacing("linear", a=0.5, b=0.25)

    drawn_by_train = []   # the CLI's target run, with each step's indices recorded on their way to the engine
    marking = target._marking
    monkeypatch.setattr(target, "_marking", lambda batches, seen: (drawn_by_train.append(i.tolist()) or i
                                                                   for i in marking(batches, seen)))
    cli_order = make_ordering("consensus", orientation(frame["consensus"].to_numpy(), "consensus"), y, seed,
                              True, frame["margin"].to_numpy())
    target.train_target(data, target.TargetConfig(arch="mlp", epochs=epochs, batch_size=batch, seed=seed),
                        OptimConfig(), cli_order, pacing)

    order = curriculum.ordering(frame, seed=seed)
    assert order.tolist() == cli_order.tolist()
    steps = epochs * (n // batch)
    x = data.train.x.float().flatten(1) / 255
    dataset = TensorDataset(torch.arange(n), x, data.train.y)
    model = torch.nn.Linear(x.shape[1], data.num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    drawn = []
    for idx, xb, yb in DataLoader(dataset, batch_sampler=curriculum.PacedSampler(order, pacing, steps, batch,
                                                                                 seed=seed)):
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad(), loss.backward(), opt.step()
        drawn.append(idx.tolist())
    assert len(drawn) == steps == 16 and drawn == drawn_by_train
    halves = [[idx.tolist() for idx, _, _ in DataLoader(dataset, batch_sampler=curriculum.PacedSampler(
        order, pacing, steps, batch, seed=seed, num_replicas=2, rank=r))] for r in (0, 1)]
    assert [a + b for a, b in zip(*halves)] == drawn_by_train


def test_the_docs_example_of_a_curriculum_in_your_own_code_runs_as_written(tmp_path, capsys):
    run_readme_example("## A curriculum in your own training code", tmp_path, "docs/your-data.md")
    assert re.search(r"^48 steps, last loss \d", capsys.readouterr().out, re.MULTILINE)


def test_the_readme_python_example_runs_as_written(tmp_path, capsys):
    run_readme_example("## From Python", tmp_path)
    printed = capsys.readouterr().out
    assert "consensus" in printed and "margin" in printed and printed.rstrip().endswith("36")


# A folds score run by hand: 6 examples, 2 classes, 5 times over (30 rows; dataset indices 100-129), so every class
# has the 5 examples confident learning needs. c (labelled 0) looks like 1, f (labelled 1) looks like 0.
#           a           b           c           d           e           f
OOF = np.tile([[.9, .1], [.6, .4], [.3, .7], [.2, .8], [.1, .9], [.8, .2]], (5, 1))
FOLDS_FRAME = pd.DataFrame({"index": np.arange(100, 130), "label": np.tile([0, 0, 0, 1, 1, 1], 5),
                            "consensus": np.tile([1.0, 0.75, 0.0, 1.0, 1.0, 0.0], 5),
                            "margin": np.tile([2.0, 0.5, -1.0, 1.5, 3.0, -2.0], 5)})
FOLDS_META = {"dataset": "hand", "fingerprint": "0", "folds": 4, "ensemble": [{}, {}], "checkpoints": [1, 2]}


def folds_run(tmp_path, meta=FOLDS_META):
    """A folds run's folder as `score` writes it: oof_probs.npy first, then scores.parquet with the npy's sha256."""
    np.save(tmp_path / "oof_probs.npy", OOF)
    sha256 = hashlib.sha256((tmp_path / "oof_probs.npy").read_bytes()).hexdigest()
    write_scores(tmp_path / "scores.parquet", FOLDS_FRAME, meta | {"oof_probs_sha256": sha256})
    return tmp_path


def test_find_label_issues_is_confident_learning_on_a_folds_runs_out_of_fold_probabilities(tmp_path):
    # t0 = (.9 + .6 + .3) / 3 = .6, t1 = (.8 + .9 + .2) / 3 = .633. Confident: a 0, b 0 (.6 reaches .6), c 1 (.7),
    # d 1, e 1, f 0 (.8): joint 5 x [[2, 1], [1, 2]], calibrated [[1/3, 1/6], [1/6, 1/3]]: share 1/3, 30/6 = 5 per
    # pair: the 5 c (p1 - p0 = .4, the largest among class 0) and the 5 f (p0 - p1 = .6).
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # accuracy 4/6 against chance 1/2: no warning
        issues, share, method = curriculum.find_label_issues(folds_run(tmp_path))
    assert issues.tolist() == np.tile([False, False, True, False, False, True], 5).tolist()
    assert share == pytest.approx(1 / 3) and method == "confident learning"
    # least likely correct first: every f (p of its label .2; normalized margin .2 - .8 = -.6) before every c
    # (.3; .3 - .7 = -.4), each in row order
    ranked = [105, 111, 117, 123, 129, 102, 108, 114, 120, 126]
    frame = curriculum.load_scores(tmp_path)
    for by in ("self_confidence", "normalized_margin", "margin"):   # margins: f -2.0, c -1.0
        assert curriculum.find_label_issues(frame, return_indices_ranked_by=by).issues.tolist() == ranked


def test_find_label_issues_takes_probabilities_and_labels_as_cleanlab_does():
    """The same hand-worked case as arrays: the same flags and share; ranked, the positions (its dataset indices)."""
    labels = FOLDS_FRAME["label"].to_numpy()
    issues, share, method = curriculum.find_label_issues(OOF, labels)
    assert issues.tolist() == np.tile([False, False, True, False, False, True], 5).tolist()
    assert share == pytest.approx(1 / 3) and method == "confident learning"
    ranked = curriculum.find_label_issues(OOF, labels, return_indices_ranked_by="self_confidence").issues
    assert ranked.tolist() == [5, 11, 17, 23, 29, 2, 8, 14, 20, 26]
    with pytest.raises(curriculum.UserError, match=r"probabilities \(N, classes\) and labels= \(N,\).*no labels"):
        curriculum.find_label_issues(OOF)
    with pytest.raises(curriculum.UserError, match="ranks by a score run's margin column; rank probabilities by"):
        curriculum.find_label_issues(OOF, labels, return_indices_ranked_by="margin")


def test_find_label_issues_refuses_probabilities_it_cannot_match_to_the_rows(tmp_path):
    frame = curriculum.load_scores(folds_run(tmp_path))
    with pytest.raises(curriculum.UserError, match="not those of .* in its order"):
        curriculum.find_label_issues(frame.sort_values("margin"))
    with pytest.raises(curriculum.UserError, match="oof_probs.npy is not from the run that wrote"):
        curriculum.find_label_issues(folds_run(tmp_path, FOLDS_META | {"folds": None}))
    with pytest.raises(curriculum.UserError, match="return_indices_ranked_by='rank' must be None or one of"):
        curriculum.find_label_issues(tmp_path, return_indices_ranked_by="rank")


def test_find_label_issues_refuses_probabilities_the_scores_were_not_written_with(tmp_path):
    # a run killed between its two writes: the npy of another run, same shape and the same rows
    folds_run(tmp_path)
    np.save(tmp_path / "oof_probs.npy", OOF[:, ::-1])
    with pytest.raises(curriculum.UserError, match=r"^.*oof_probs.npy is not the file .*scores.parquet was written "
                                                   r"with \(its sha256 differs\); score again"):
        curriculum.find_label_issues(tmp_path)


# What the same folds run wrote into scores.parquet, read back without oof_probs.npy: oof_confidence is OOF's p of
# the given label (a .9, b .6, c .3, d .8, e .9, f .2). The flags and the share are the file's, not recomputed and
# not the histogram's (which would flag c and f at 1/3, with its warning): here only f, at 0.2 as the meta says.
CL_META = FOLDS_META | {"label_issues": {"method": "confident learning", "estimated_share": 0.2, "warning": None}}
CL_FRAME = FOLDS_FRAME.assign(oof_confidence=np.tile([.9, .6, .3, .8, .9, .2], 5),
                              label_issue=np.tile([0, 0, 0, 0, 0, 1], 5).astype(np.int8))


def test_without_oof_probs_find_label_issues_reads_confident_learnings_columns_and_estimate(tmp_path):
    write_scores(tmp_path / "scores.parquet", CL_FRAME, CL_META)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # neither the histogram's caveat nor a chance warning (the meta has none)
        issues, share, method = curriculum.find_label_issues(tmp_path)
        ranked = curriculum.find_label_issues(tmp_path, return_indices_ranked_by="self_confidence").issues
    assert issues.tolist() == np.tile([False] * 5 + [True], 5).tolist()
    assert share == 0.2 and method == "confident learning"
    assert ranked.tolist() == [105, 111, 117, 123, 129]   # every f has oof_confidence .2: row order
    # two flagged rows ranked: row 1 (oof_confidence .6, margin 0.5) and row 2 (.3, margin -1.0)
    flags = [0, 1, 1] + [0] * 27
    write_scores(tmp_path / "scores.parquet", CL_FRAME.assign(label_issue=np.int8(flags)), CL_META)
    for by, expected in (("self_confidence", [102, 101]), ("margin", [102, 101])):
        assert curriculum.find_label_issues(tmp_path, return_indices_ranked_by=by).issues.tolist() == expected
    with pytest.raises(curriculum.UserError, match=r"^return_indices_ranked_by=normalized_margin needs "
                                                   r"oof_probs.npy"):
        curriculum.find_label_issues(tmp_path, return_indices_ranked_by="normalized_margin")


def test_without_folds_find_label_issues_flags_the_lowest_margins_at_the_histograms_share_and_warns(tmp_path):
    # consensus from 2 members x 2 checkpoints (L = 4): levels 0, 1/4, 1/2, 3/4, 1 hold 10, 0, 0, 5, 15 of 30
    # (shares 1/3, 0, 0, 1/6, 1/2); floor = median share of levels 1..2 = 0; excess in levels 0..1 = 1/3.
    # round(1/3 x 30) = 10 flagged: the lowest margins, the 5 f (-2.0) and the 5 c (-1.0)
    write_scores(tmp_path / "scores.parquet", FOLDS_FRAME, FOLDS_META | {"folds": None})
    with pytest.warns(UserWarning, match="misses class-conditional and instance-dependent noise"):
        issues, share, method = curriculum.find_label_issues(tmp_path / "scores.parquet")
    assert issues.tolist() == np.tile([False, False, True, False, False, True], 5).tolist()
    assert share == pytest.approx(1 / 3) and method == "consensus histogram"
    with pytest.raises(curriculum.UserError, match="self_confidence needs out-of-fold probabilities"):
        curriculum.find_label_issues(tmp_path, return_indices_ranked_by="self_confidence")
    with pytest.raises(curriculum.UserError, match="needs a score run"):
        curriculum.find_label_issues(FOLDS_FRAME)   # a frame not from load_scores: no meta
