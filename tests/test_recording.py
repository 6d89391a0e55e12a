"""Recording learning dynamics: from clean passes, or from the training forward pass at no extra cost."""

import dataclasses

import numpy as np
import pytest
import torch

from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import OptimConfig
from curriculum.errors import UserError
from curriculum.scoring.derive import scores_frame
from curriculum.scoring.dynamics import save_member
from curriculum.scoring.ensemble import (
    Member,
    RecordingConfig,
    member_identity,
    reusable_member,
    train_member,
)


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(name="synthetic", train_size=300, val_size=50))


def test_training_pass_recording_of_a_frozen_model_is_the_clean_pass(data):
    """With lr ~ 0 the training-pass logits are the clean ones (mlp: train and eval mode agree), so both sources
    must record the same values, including at checkpoints inside epoch 1 and for the examples an epoch drops
    (300 examples, batch 128: 44 left out per epoch), which the training-pass recorder fills with a clean pass."""
    frozen = OptimConfig(lr=1e-12, weight_decay=0.0)
    rec = RecordingConfig(epochs=2, batch_size=128, within_first_epoch=(0.5,))
    member = Member(0, "mlp", 3)
    clean, _ = train_member(member, data, rec, frozen)
    free, history = train_member(member, data, dataclasses.replace(rec, source="train"), frozen)
    assert free.source == "train" and clean.source == "eval"
    np.testing.assert_array_equal(free.train.correct, clean.train.correct)
    np.testing.assert_allclose(free.train.margin.astype(float), clean.train.margin.astype(float), atol=2e-3)
    np.testing.assert_allclose(free.train.prob.astype(float), clean.train.prob.astype(float), atol=2e-3)
    np.testing.assert_array_equal(free.test.correct, clean.test.correct)
    assert all(h["record/seconds"] > 0 for h in history)


def test_training_pass_recording_differs_from_clean_when_the_model_learns(data):
    """With real learning, training-pass values lag the clean ones (they precede later updates): the two
    sources must not silently coincide."""
    rec = RecordingConfig(epochs=2, batch_size=64, within_first_epoch=())
    clean, _ = train_member(Member(0, "mlp", 1), data, rec, OptimConfig())
    free, _ = train_member(Member(0, "mlp", 1), data, dataclasses.replace(rec, source="train"), OptimConfig())
    assert not np.array_equal(free.train.margin, clean.train.margin)
    np.testing.assert_array_equal(free.test.margin, clean.test.margin)  # the test split is always a clean pass


def test_member_recorded_with_another_source_is_refused_and_never_mixed(tmp_path, data):
    rec = RecordingConfig(epochs=1, batch_size=128, within_first_epoch=())
    dyn, _ = train_member(Member(0, "mlp", 0), data, rec, OptimConfig())
    other, _ = train_member(Member(1, "mlp", 1), data, dataclasses.replace(rec, source="train"), OptimConfig())
    a, b = save_member(tmp_path / "member-0.npz", dyn), save_member(tmp_path / "member-1.npz", other)
    assert reusable_member(a, member_identity(Member(0, "mlp", 0), data, rec, OptimConfig(), {}, dyn.checkpoints))
    train_rec = dataclasses.replace(rec, source="train")
    with pytest.raises(UserError, match="source: 'eval' -> 'train'.*new out_dir"):
        reusable_member(a, member_identity(Member(0, "mlp", 0), data, train_rec, OptimConfig(), {}, dyn.checkpoints))
    with pytest.raises(UserError, match="other settings.*source: 'eval' -> 'train'"):
        scores_frame([a, b], data, "train", 1.0)


def test_unknown_recording_source_is_refused():
    with pytest.raises(UserError, match="recording.source='logits' must be one of eval, train"):
        RecordingConfig(source="logits")


def test_example_stats_by_hand():
    from curriculum.engine import example_stats

    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]])
    correct, margin, prob, el2n = example_stats(logits, torch.tensor([0, 2]))
    assert correct.tolist() == [True, False]
    assert margin.tolist() == [1.5, -2.0]
    assert prob[0].item() == pytest.approx(np.exp(2) / (np.exp(2) + np.exp(0.5) + np.exp(-1)))


def test_el2n_by_hand():
    """EL2N = ||softmax(logits) - onehot(label)||_2 (Paul et al. 2021). Equal logits over 3 classes: softmax 1/3 each,
    so sqrt((1 - 1/3)^2 + 2 (1/3)^2) = sqrt(6)/3; two classes with logits ln 3 and 0: softmax 3/4, 1/4, so label 0
    gives sqrt(2) / 4 and label 1 gives 3 sqrt(2) / 4."""
    from curriculum.engine import example_stats

    logits = torch.tensor([[0.0, 0.0, 0.0]])
    assert example_stats(logits, torch.tensor([0]))[3].item() == pytest.approx(np.sqrt(6) / 3)   # 0.8165
    two = torch.tensor([[np.log(3.0), 0.0], [np.log(3.0), 0.0]])
    el2n = example_stats(two, torch.tensor([0, 1]))[3]
    assert el2n.tolist() == pytest.approx([np.sqrt(2) / 4, 3 * np.sqrt(2) / 4], rel=1e-6)
    confident = example_stats(torch.tensor([[100.0, 0.0, 0.0]]), torch.tensor([1]))[3]
    assert confident.item() == pytest.approx(np.sqrt(2), rel=1e-6)   # all mass on a wrong class: the maximum


def test_interrupted_training_pass_recording_resumes_to_identical_dynamics(tmp_path, data, monkeypatch):
    """A member recorded from the training pass and stopped mid-epoch continues from its last epoch end to
    exactly the uninterrupted result."""
    import curriculum.engine

    rec = RecordingConfig(epochs=3, batch_size=64, within_first_epoch=(0.5,), source="train")
    member = Member(0, "cnn", 5)
    whole, _ = train_member(member, data, rec, OptimConfig())
    steps = {"n": 0}

    def die_at_step_10(point):
        steps["n"] += point == "step"
        if steps["n"] == 10:  # epoch 3 of 4 steps each: after the epoch-2 resume state
            raise KeyboardInterrupt

    monkeypatch.setattr(curriculum.engine, "reach", die_at_step_10)
    resume = tmp_path / "resume.pt"
    with pytest.raises(KeyboardInterrupt):
        train_member(member, data, rec, OptimConfig(), resume_path=resume)
    assert resume.is_file()
    monkeypatch.undo()
    resumed, _ = train_member(member, data, rec, OptimConfig(), resume_path=resume)
    for split in ("train", "test"):
        for field in ("correct", "margin", "prob"):
            np.testing.assert_array_equal(getattr(getattr(resumed, split), field), getattr(getattr(whole, split), field))
