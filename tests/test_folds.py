"""ensemble.folds=K: member k never trains on fold k % K, records the softmax of its held-out examples at every
checkpoint, and the score run averages those into out-of-fold probabilities (the last checkpoint's: what cleanlab
takes)."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import ctrl_c_at_step, random_stats

from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import Inputs, OptimConfig
from curriculum.errors import UserError
from curriculum.scoring import ensemble
from curriculum.scoring.derive import derive_score_run
from curriculum.scoring.dynamics import HeldOut, MemberDynamics, SplitDynamics, TrainPassRecorder, load_member, \
    predict_probs, save_member
from curriculum.scoring.ensemble import (
    EnsembleConfig,
    Member,
    RecordingConfig,
    fold_assignment,
    identity_differences,
    member_batches,
    member_identity,
    member_model,
    member_steps_per_epoch,
    reusable_member,
    shared_identity,
    train_member,
)
from curriculum.seeding import stream_seed
from curriculum.statistics import STATISTICS


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(name="synthetic", train_size=300, val_size=50))


def labels_of(data) -> np.ndarray:
    return data.train.y.numpy()


# ------------------------------------------------------------------------------------------------ the folds

def test_every_example_is_in_exactly_one_fold_and_each_class_is_split_evenly():
    labels = np.array([0] * 4 + [1] * 6 + [2] * 3)   # 13 examples
    fold = fold_assignment(labels, 2, seed=7)
    assert fold.shape == (13,) and set(fold) == {0, 1}
    # class 0: 4 -> 2 + 2; class 1: 6 -> 3 + 3; class 2: 3 -> 2 + 1 (the deal carries on: 10 dealt before it, so
    # fold 0 gets its 1st and 3rd); folds of 7 and 6
    assert [np.bincount(fold[labels == c], minlength=2).tolist() for c in range(3)] == [[2, 2], [3, 3], [2, 1]]
    assert np.bincount(fold).tolist() == [7, 6]


def test_the_folds_are_seeded_by_the_ensemble_seed_alone():
    labels = np.repeat(np.arange(4), 25)
    np.testing.assert_array_equal(fold_assignment(labels, 4, seed=3), fold_assignment(labels, 4, seed=3))
    assert not np.array_equal(fold_assignment(labels, 4, seed=3), fold_assignment(labels, 4, seed=4))
    # dealt from the seed's own stream: member 0 (seed 3 too) draws its order and init from other streams
    assert stream_seed(3, "folds") not in {stream_seed(3, s) for s in ("init", "order", "augment")}
    members = EnsembleConfig(size=4, folds=2, seed=3, models=("cnn", "mlp")).members()
    assert [(m.seed, m.holdout.fold, m.holdout.seed) for m in members] == [(3, 0, 3), (4, 1, 3), (5, 0, 3), (6, 1, 3)]
    # every member of the same fold holds out the same examples, whatever its architecture and seed
    assert np.array_equal(members[0].holdout.positions(labels), members[2].holdout.positions(labels))
    np.testing.assert_array_equal(members[1].holdout.positions(labels),
                                  np.flatnonzero(fold_assignment(labels, 2, seed=3) == 1))


def test_without_folds_the_members_are_todays():
    for folds in (None, 0):
        members = EnsembleConfig(size=3, folds=folds, seed=2).members()
        assert members == [Member(0, "cnn", 2), Member(1, "cnn", 3), Member(2, "cnn", 4)]
        assert all(m.holdout is None for m in members)


@pytest.mark.parametrize("settings, message", [
    ({"folds": 1}, r"ensemble.folds=1 must be at least 2 \(or null/0: no folds\)"),
    ({"folds": 2, "size": 3}, r"ensemble.size=3 must be a multiple of ensemble.folds=2.*ensemble.size=2"),
    ({"folds": 4, "size": 2}, r"ensemble.size=2 must be a multiple of ensemble.folds=4.*ensemble.size=4"),
    ({"folds": 2, "size": 4, "batched": True}, r"ensemble.batched=true .* use ensemble.batched=false"),
])
def test_fold_settings_that_cannot_work_stop_in_one_line(settings, message):
    with pytest.raises(UserError, match=message):
        EnsembleConfig(**settings)


def test_more_folds_than_examples_stop_in_one_line():
    with pytest.raises(UserError, match="ensemble.folds=4 is more than the 3 training examples"):
        fold_assignment(np.array([0, 1, 0]), 4, seed=0)


# ------------------------------------------------------------------------------------------------ the members

def test_a_member_with_folds_draws_only_outside_its_fold_a_permutation_each_epoch(data):
    member = EnsembleConfig(size=2, folds=2).members()[1]
    held_out = set(member.holdout.positions(labels_of(data)).tolist())
    assert len(held_out) == 150   # 300 examples in 2 folds of 150
    per_epoch = member_steps_per_epoch(member, data, 64)
    assert per_epoch == 2   # 150 kept // 64 = 2 full batches (today's 300 // 64 = 4)
    batches = member_batches(member, data, 64, per_epoch, torch.Generator().manual_seed(0))
    for _ in range(3):   # each epoch: 128 distinct positions, none held out
        epoch = torch.cat([next(batches) for _ in range(per_epoch)]).tolist()
        assert len(set(epoch)) == 128 and not held_out & set(epoch)


def test_member_steps_per_epoch_are_those_of_the_largest_fold_so_every_members_checkpoints_agree():
    small = load_data(DataConfig(name="synthetic", train_size=13, val_size=5))
    members = EnsembleConfig(size=3, folds=3).members()
    sizes = np.bincount(fold_assignment(labels_of(small), 3, seed=0)).tolist()
    assert sorted(sizes) == [4, 4, 5]   # 13 = 5 + 4 + 4
    # the members keep 8 or 9 examples; each takes (13 - 5) // 3 = 2 steps an epoch, the count of the member
    # that keeps the fewest: 9 // 3 = 3 would put the checkpoints inside epoch 1 of two members elsewhere
    assert [member_steps_per_epoch(m, small, 3) for m in members] == [2, 2, 2]
    assert member_steps_per_epoch(Member(0, "cnn", 0), small, 3) == 4   # no folds: 13 // 3


class DrawCounter(TrainPassRecorder):
    """recording.source=train, also keeping every position the training loop drew."""
    drawn: list = []

    def observe(self, step, idx, logits):
        DrawCounter.drawn.append(idx.clone())
        super().observe(step, idx, logits)


def test_training_pass_recording_never_draws_the_held_out_fold_and_records_it_with_clean_passes(data, monkeypatch):
    """The held-out examples are never drawn, so recording.source=train gives them a clean pass at every
    checkpoint: their values equal those of recording.source=eval (the same training)."""
    rec = RecordingConfig(epochs=2, batch_size=64, within_first_epoch=(0.5,))
    member = EnsembleConfig(size=2, folds=2, models=("mlp",)).members()[0]
    held_out = member.holdout.positions(labels_of(data))
    monkeypatch.setitem(ensemble.RECORDERS, "train", DrawCounter)
    DrawCounter.drawn = []
    free, _ = train_member(member, data, dataclasses.replace(rec, source="train"), OptimConfig())
    drawn = torch.cat(DrawCounter.drawn).numpy()
    assert len(drawn) == 2 * 2 * 64 and not np.isin(drawn, held_out).any()   # 2 epochs x 2 steps x 64
    clean, _ = train_member(member, data, rec, OptimConfig())
    np.testing.assert_array_equal(free.train.stats["correct"][:, held_out], clean.train.stats["correct"][:, held_out])
    for name in STATISTICS.keys() - {"correct"}:
        np.testing.assert_allclose(free.train.stats[name][:, held_out].astype(float),
                                   clean.train.stats[name][:, held_out].astype(float), atol=1e-5, err_msg=name)
    np.testing.assert_allclose(free.held_out.probs, clean.held_out.probs, atol=1e-6)


def test_the_held_out_softmax_is_recorded_for_exactly_the_held_out_positions_at_every_checkpoint(data, tmp_path):
    rec = RecordingConfig(epochs=2, batch_size=64, within_first_epoch=(0.5,))
    member = EnsembleConfig(size=2, folds=2, models=("mlp",), seed=4).members()[1]
    dyn, _ = train_member(member, data, rec, OptimConfig())
    expected = np.flatnonzero(fold_assignment(labels_of(data), 2, seed=4) == 1)
    assert dyn.held_out.fold == 1
    np.testing.assert_array_equal(dyn.held_out.positions, expected)
    assert dyn.held_out.probs.shape == (3, 150, 4) and dyn.held_out.probs.dtype == np.float32   # epochs 0.5, 1, 2
    np.testing.assert_allclose(dyn.held_out.probs.sum(2), 1, atol=1e-5)
    # each checkpoint's softmax is that checkpoint's network: its argmax is right exactly where `correct` says so
    right = dyn.held_out.probs.argmax(2) == labels_of(data)[expected]
    np.testing.assert_array_equal(right, dyn.train.stats["correct"][:, expected].astype(bool))
    assert not np.allclose(dyn.held_out.probs[0], dyn.held_out.probs[-1])
    final = member_model(member, data)   # the final network's softmax over those very examples
    final.load_state_dict(dyn.weights)
    x = data.train.x[torch.from_numpy(expected)]
    probs = predict_probs(final, x, Inputs(data.mean, data.std, "cpu", "fp32")).numpy()
    np.testing.assert_allclose(dyn.held_out.probs[-1], probs, atol=1e-6)
    back = load_member(save_member(tmp_path / "member-1.npz", dyn), data).held_out
    assert back.fold == 1 and np.array_equal(back.positions, expected)
    assert np.array_equal(back.probs, dyn.held_out.probs)


def test_a_folds_member_file_with_the_held_out_softmax_at_the_last_checkpoint_only_is_refused(tmp_path):
    """Folds members made before the softmax was kept at every checkpoint: a one-line refusal, not a wrong shape."""
    path = save_member(tmp_path / "member-0.npz", hand_member(0, 0, [[0.9, 0.1], [0.4, 0.6]]))
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files} | {"held_out_probs": z["held_out_probs"][-1]}
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(UserError, match=r"last checkpoint only; .*score again into a new out_dir"):
        load_member(path)


def test_a_member_without_folds_stores_nothing_new(data, tmp_path):
    rec = RecordingConfig(epochs=1, batch_size=128, within_first_epoch=())
    dyn, _ = train_member(Member(0, "mlp", 0), data, rec, OptimConfig())
    assert dyn.held_out is None
    with np.load(save_member(tmp_path / "member-0.npz", dyn)) as z:
        meta = json.loads(z["meta"].tobytes())
        assert not [k for k in z.files if "held_out" in k] and "held_out_fold" not in meta
        assert "folds" not in meta["identity"] and "held_out" not in meta["identity"]


# ------------------------------------------------------------------------------------------------ identities

def test_the_identity_holds_the_folds_and_the_held_out_positions(data):
    def identity(member):
        return member_identity(member, data, RecordingConfig(epochs=1), OptimConfig(), {}, [1.0])

    plain = identity(Member(0, "cnn", 0))
    two = [identity(m) for m in EnsembleConfig(size=2, folds=2).members()]
    three = identity(EnsembleConfig(size=3, folds=3).members()[0])
    assert [d.split(":")[0] for d in identity_differences(plain, two[0])] == ["folds", "held_out"]
    assert [d.split(":")[0] for d in identity_differences(two[0], two[1])] == ["held_out", "seed"]
    assert shared_identity(two[0]) == shared_identity(two[1])   # one ensemble: the members agree on the rest
    assert [d.split(":")[0] for d in identity_differences(two[0], three)] == ["folds", "held_out"]


def test_a_member_file_of_another_fold_or_mode_stops_the_score_run(data, tmp_path):
    rec = RecordingConfig(epochs=1, batch_size=128, within_first_epoch=())
    member = EnsembleConfig(size=2, folds=2, models=("mlp",)).members()[0]
    dyn, _ = train_member(member, data, rec, OptimConfig())
    path = save_member(tmp_path / "member-0.npz", dyn)
    assert reusable_member(path, dyn.identity)
    plain = member_identity(Member(0, "mlp", 0), data, rec, OptimConfig(), {}, dyn.checkpoints)
    with pytest.raises(UserError, match=r"folds: 2 -> 'missing'.*new out_dir"):
        reusable_member(path, plain)
    other_fold = dataclasses.replace(member, holdout=dataclasses.replace(member.holdout, fold=1))
    with pytest.raises(UserError, match=r"held_out: .*new out_dir"):
        reusable_member(path, member_identity(other_fold, data, rec, OptimConfig(), {}, dyn.checkpoints))


def test_an_interrupted_member_with_folds_resumes_to_identical_dynamics_and_held_out_softmax(data, tmp_path):
    rec = RecordingConfig(epochs=3, batch_size=64, within_first_epoch=(0.5,))
    member = EnsembleConfig(size=2, folds=2, models=("mlp",)).members()[1]
    whole, _ = train_member(member, data, rec, OptimConfig())
    resume = tmp_path / "resume.pt"
    with ctrl_c_at_step(5):   # epoch 3 of 2 steps each: after the epoch-2 resume state
        train_member(member, data, rec, OptimConfig(), resume_path=resume)
    resumed, _ = train_member(member, data, rec, OptimConfig(), resume_path=resume)
    for name in STATISTICS:
        np.testing.assert_array_equal(resumed.train.stats[name], whole.train.stats[name])
    np.testing.assert_array_equal(resumed.held_out.probs, whole.held_out.probs)


# ------------------------------------------------------------------------------------------------ the score run

def hand_member(k: int, fold: int | None, probs: list | None) -> MemberDynamics:
    """Member k of a hand-made ensemble of 10 examples (labels 0 1 0 1 ..., 2 classes of 5: the fewest confident
    learning takes), with checkpoints 0.5 and 1; with `fold`, it held out the positions of that fold (fold 0: the
    even positions, fold 1: the odd ones) and gave the first two of them `probs` at the last checkpoint, the other
    three [0.5, 0.5], and all five [1, 0] at the first checkpoint."""
    rng = np.random.default_rng(k)
    labels, none = np.arange(10) % 2, np.zeros(0, dtype=np.int64)
    identity = {"format": 3, "seed": k} | ({"folds": 2, "held_out": f"fold {fold}"} if fold is not None else {})
    held = None if fold is None else HeldOut(fold, np.arange(fold, 10, 2),
                                             np.array([[[1, 0]] * 5, probs + [[0.5, 0.5]] * 3], dtype=np.float32))
    return MemberDynamics(np.array([0.5, 1.0]), SplitDynamics(random_stats(rng, 2, 10), labels, np.arange(10)),
                          SplitDynamics.empty(2, none, none), "mlp", k, "hand", "fp", identity=identity,
                          held_out=held)


def test_the_out_of_fold_probabilities_are_the_mean_over_the_members_that_held_each_example_out(tmp_path):
    members = [hand_member(0, 0, [[0.9, 0.1], [0.4, 0.6]]),    # positions 0, 2 (and 4, 6, 8)
               hand_member(1, 1, [[0.2, 0.8], [0.6, 0.4]]),    # positions 1, 3 (and 5, 7, 9)
               hand_member(2, 0, [[0.7, 0.3], [0.2, 0.8]]),
               hand_member(3, 1, [[0.4, 0.6], [0.2, 0.8]])]
    paths = [save_member(tmp_path / f"member-{k}.npz", m) for k, m in enumerate(members)]
    run = derive_score_run(paths, None, 1.0)
    # position 0: (0.9 + 0.7) / 2 = 0.8; 1: (0.2 + 0.4) / 2 = 0.3; 2: (0.4 + 0.2) / 2 = 0.3; 3: (0.6 + 0.2) / 2 = 0.4
    np.testing.assert_allclose(run.oof_last, [[0.8, 0.2], [0.3, 0.7], [0.3, 0.7], [0.4, 0.6]] + [[0.5, 0.5]] * 6,
                               atol=1e-6)
    assert run.oof_probs.shape == (2, 10, 2) and run.oof_probs.dtype == np.float32
    np.testing.assert_array_equal(run.oof_probs[0], [[1, 0]] * 10)   # every member gave [1, 0] at the first
    assert run.frames["train"]["fold"].tolist() == [0, 1] * 5 and run.metas["train"]["folds"] == 2
    assert "consensus" in run.frames["train"] and "test" not in run.frames
    assert {"oof_confidence", "label_issue", "cl_keep", "suggested_label"} <= set(run.frames["train"])


def test_without_folds_there_are_no_out_of_fold_probabilities_nor_fold_column(tmp_path):
    paths = [save_member(tmp_path / f"member-{k}.npz", hand_member(k, None, None)) for k in range(2)]
    run = derive_score_run(paths, None, 1.0)
    assert run.oof_probs is None and "fold" not in run.frames["train"] and "folds" not in run.metas["train"]
