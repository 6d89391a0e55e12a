"""Batched members (ensemble.batched=true) compute what training the members one by one computes."""

import numpy as np
import pytest
from conftest import run_cli

from curriculum.data.augment import AugmentConfig
from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import OptimConfig
from curriculum.errors import UserError
from curriculum.scoring.batched import train_members_batched
from curriculum.scoring.ensemble import Member, RecordingConfig, train_member
from curriculum.statistics import STATISTICS


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(name="synthetic", train_size=600, val_size=50))


@pytest.mark.parametrize("arch, augment", [("cnn", "none"), ("mlp", "none"), ("cnn", "flip_crop")])
def test_batched_members_match_members_trained_one_by_one(data, arch, augment):
    rec = RecordingConfig(epochs=2, batch_size=64, within_first_epoch=(0.5,), augment=AugmentConfig(augment, pad=2))
    members = [Member(0, arch, 11), Member(1, arch, 12), Member(2, arch, 13)]
    together = train_members_batched(members, data, rec, OptimConfig())
    for member, (dyn, history) in zip(members, together):
        alone, alone_history = train_member(member, data, rec, OptimConfig())
        for split in ("train", "test"):
            a, b = getattr(dyn, split), getattr(alone, split)
            assert (a.stats["correct"] == b.stats["correct"]).mean() > 0.995   # one on the decision boundary may flip
            for name in STATISTICS.keys() - {"correct"}:
                np.testing.assert_allclose(a.stats[name].astype(float), b.stats[name].astype(float), atol=1e-3,
                                           err_msg=name)   # margin measured: 1.5e-5
        assert [h["step"] for h in history] == [h["step"] for h in alone_history]
        assert dyn.weights.keys() == alone.weights.keys()                # member j's own slice, as a state_dict
        for key, value in dyn.weights.items():
            np.testing.assert_allclose(value.numpy(), alone.weights[key].numpy(), atol=1e-3)
        assert history[-1]["train/loss"] == pytest.approx(alone_history[-1]["train/loss"], rel=1e-3)


def test_batched_members_refuse_batchnorm_and_mixed_architectures(data):
    rec = RecordingConfig(epochs=1, batch_size=64, within_first_epoch=())
    with pytest.raises(UserError, match="BatchNorm"):
        train_members_batched([Member(0, "cnn_gap", 0)], data, rec, OptimConfig())
    with pytest.raises(UserError, match="one architecture"):
        train_members_batched([Member(0, "cnn", 0), Member(1, "mlp", 1)], data, rec, OptimConfig())


@pytest.mark.slow
def test_score_with_batched_members_matches_the_sequential_run_and_logs_each_member(tmp_path, store):
    import mlflow
    import pandas as pd


    args = ["score", "data=synthetic", "epochs=2", "ensemble.size=3", "device=cpu", f"mlflow.tracking_uri={store}"]
    run_cli(*args, f"out_dir={tmp_path / 'seq'}", cwd=tmp_path)
    run_cli(*args, "ensemble.batched=true", f"out_dir={tmp_path / 'batched'}", cwd=tmp_path)
    seq, bat = (pd.read_parquet(tmp_path / name / "scores.parquet") for name in ("seq", "batched"))
    assert (seq["consensus"] == bat["consensus"]).mean() > 0.99
    np.testing.assert_allclose(bat["margin"], seq["margin"], atol=1e-2)
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'score_member'")
    assert len(runs) == 6 and runs["metrics.test/acc_final"].notna().all()


def test_batched_members_stop_with_one_line_when_the_loss_diverges(data):
    rec = RecordingConfig(epochs=1, batch_size=64, within_first_epoch=())
    with pytest.raises(UserError, match="non-finite"):
        train_members_batched([Member(0, "mlp", 0), Member(1, "mlp", 1)], data, rec, OptimConfig(lr=1e6))


def test_batched_recording_runs_in_eval_mode_like_the_one_by_one_path(data):
    """A member with dropout: the recording pass must be the clean eval-mode pass that predict() makes."""
    import torch
    from torch import nn

    from curriculum.engine import Inputs, predict
    from curriculum.scoring.batched import StackedMembers, predict_stacked

    torch.manual_seed(0)
    models = [nn.Sequential(nn.Flatten(), nn.Linear(144, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 4))
              for _ in range(2)]
    inputs = Inputs(data.mean, data.std, "cpu")
    stacked = StackedMembers(models)
    together = predict_stacked(stacked, data.test.x, data.test.y, inputs)   # name -> (K, N)
    for j, model in enumerate(models):
        alone = predict(model.train(), data.test.x, data.test.y, inputs)
        for name in STATISTICS.keys() - {"correct"}:
            torch.testing.assert_close(together[name][j], alone[name], atol=1e-5, rtol=1e-5, msg=name)


def test_mean_loss_gives_each_stacked_member_the_cross_entropy_of_its_own_batch():
    import math

    import torch

    from curriculum.engine import mean_loss

    # member 0: logits [0, 0] for class 0 -> ln 2; member 1: logits [ln 3, 0] for class 0 -> -ln(3/4) = ln(4/3)
    logits = torch.tensor([[[0.0, 0.0]], [[math.log(3), 0.0]]])        # (K=2, B=1, classes=2)
    y = torch.tensor([[0], [0]])
    assert mean_loss(logits, y).tolist() == pytest.approx([math.log(2), math.log(4 / 3)])
    # one model: the batch mean, as F.cross_entropy gives it: (ln 2 + ln(4/3)) / 2
    assert mean_loss(logits[:, 0], y[:, 0]).item() == pytest.approx((math.log(2) + math.log(4 / 3)) / 2)


def test_stacked_members_with_dropout_train_with_their_own_masks():
    """A custom model with Dropout: vmap's training pass draws each member's own mask (not one error)."""
    import torch
    from torch import nn

    from curriculum.scoring.batched import StackedMembers

    torch.manual_seed(0)
    models = [nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 2)) for _ in range(2)]
    for model in models:   # the same weights, so the outputs differ only by their masks
        model.load_state_dict(models[0].state_dict())
    stacked = StackedMembers(models).train()
    out = stacked(torch.ones(16, 8), shared=True)   # (K, B, classes)
    assert out.shape == (2, 16, 2) and not torch.equal(out[0], out[1])
