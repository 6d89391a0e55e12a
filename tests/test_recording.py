"""Recording learning dynamics: from clean passes, or from the training forward pass at no extra cost."""

import dataclasses

import numpy as np
import pytest
from conftest import ctrl_c_at_step

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
from curriculum.statistics import STATISTICS


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
    np.testing.assert_array_equal(free.train.stats["correct"], clean.train.stats["correct"])
    for name in STATISTICS.keys() - {"correct"}:   # every float statistic, the same logits give the same values
        np.testing.assert_allclose(free.train.stats[name].astype(float), clean.train.stats[name].astype(float),
                                   atol=2e-3, err_msg=name)
    np.testing.assert_array_equal(free.test.stats["correct"], clean.test.stats["correct"])
    assert all(h["record/seconds"] > 0 for h in history)


def test_training_pass_recording_differs_from_clean_when_the_model_learns(data):
    """With real learning, training-pass values lag the clean ones (they precede later updates): the two
    sources must not silently coincide."""
    rec = RecordingConfig(epochs=2, batch_size=64, within_first_epoch=())
    clean, _ = train_member(Member(0, "mlp", 1), data, rec, OptimConfig())
    free, _ = train_member(Member(0, "mlp", 1), data, dataclasses.replace(rec, source="train"), OptimConfig())
    assert not np.array_equal(free.train.stats["margin"], clean.train.stats["margin"])
    for name in STATISTICS:   # the test split is always a clean pass
        np.testing.assert_array_equal(free.test.stats[name], clean.test.stats[name])


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


def test_interrupted_training_pass_recording_resumes_to_identical_dynamics(tmp_path, data):
    """A member recorded from the training pass and stopped mid-epoch continues from its last epoch end to
    exactly the uninterrupted result."""
    rec = RecordingConfig(epochs=3, batch_size=64, within_first_epoch=(0.5,), source="train")
    member = Member(0, "cnn", 5)
    whole, _ = train_member(member, data, rec, OptimConfig())
    resume = tmp_path / "resume.pt"
    with ctrl_c_at_step(10):   # epoch 3 of 4 steps each: after the epoch-2 resume state
        train_member(member, data, rec, OptimConfig(), resume_path=resume)
    assert resume.is_file()
    resumed, _ = train_member(member, data, rec, OptimConfig(), resume_path=resume)
    for split in ("train", "test"):
        for name in STATISTICS:
            np.testing.assert_array_equal(getattr(resumed, split).stats[name], getattr(whole, split).stats[name])
