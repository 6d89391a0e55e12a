"""Augmentation: the crop and flip on hand-made images, per-step draws that depend only on (seed, step), and the
training loop applying it to training batches only."""

import pytest
import torch

from curriculum.data.augment import AugmentConfig, Augment, batch_transform, crop, flip
from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import OptimConfig
from curriculum.errors import UserError
from curriculum.schedule.target import TargetConfig, train_target
from curriculum.scoring.ensemble import Member, RecordingConfig, member_identity, train_member

IMAGE = torch.tensor([[[[1, 2], [3, 4]]]], dtype=torch.uint8)   # (1, 1, 2, 2)


@pytest.mark.parametrize("dy, dx, expected", [
    (1, 1, [[1, 2], [3, 4]]),   # offset = pad: the image itself
    (0, 0, [[0, 0], [0, 1]]),   # window at the top-left of the padded 4x4: one row and column of zeros
    (2, 2, [[4, 0], [0, 0]]),   # bottom-right
    (0, 2, [[0, 0], [2, 0]]),   # top-right
    (2, 1, [[3, 4], [0, 0]]),   # shifted up by one row
])
def test_crop_cuts_the_window_at_the_offset_of_the_zero_padded_image(dy, dx, expected):
    out = crop(IMAGE, 1, torch.tensor([dy]), torch.tensor([dx]))
    assert out.dtype == torch.uint8 and out[0, 0].tolist() == expected


def test_crop_takes_each_example_at_its_own_offset_and_keeps_every_channel():
    x = torch.stack([IMAGE[0], IMAGE[0] * 10]).repeat(1, 3, 1, 1)        # (2, 3, 2, 2): two examples, three channels
    out = crop(x, 1, torch.tensor([1, 0]), torch.tensor([1, 0]))
    assert out[0, 2].tolist() == [[1, 2], [3, 4]] and out[1, 1].tolist() == [[0, 0], [0, 10]]


def test_flip_mirrors_left_right_only_the_chosen_examples():
    x = torch.cat([IMAGE, IMAGE])
    out = flip(x, torch.tensor([True, False]))
    assert out[0, 0].tolist() == [[2, 1], [4, 3]] and out[1, 0].tolist() == [[1, 2], [3, 4]]


def test_each_steps_draws_depend_only_on_the_seed_and_the_step():
    x = torch.arange(64, dtype=torch.uint8).view(1, 1, 8, 8).repeat(200, 1, 1, 1)
    aug = Augment(AugmentConfig("flip_crop", pad=2), seed=7)
    assert torch.equal(aug(x, 5), Augment(AugmentConfig("flip_crop", pad=2), seed=7)(x, 5))  # a resumed run
    assert not torch.equal(aug(x, 5), aug(x, 6))
    assert not torch.equal(aug(x, 5), Augment(AugmentConfig("flip_crop", pad=2), seed=8)(x, 5))
    flipped = (aug(x, 3)[:, 0, 2:6, 2:6] == x[:, 0, 2:6, 2:6].flip(-1)).all((1, 2)).float().mean()
    assert 0.0 < flipped < 1.0    # some examples flipped and others not (with the crop's own shifts on top)


def test_crop_offsets_cover_every_shift_of_the_padding():
    x = torch.zeros(2000, 1, 3, 3, dtype=torch.uint8)
    x[:, 0, 1, 1] = 1                                         # one bright centre pixel: where it lands is the shift
    out = Augment(AugmentConfig("crop", pad=1), seed=0)(x, 0)
    where = {tuple(torch.nonzero(o[0]).flatten().tolist()) for o in out}
    assert where == {(r, c) for r in range(3) for c in range(3)}   # the 9 offsets of pad 1, each drawn


def test_auto_is_flip_crop_for_cifar_and_none_elsewhere_and_bad_settings_are_one_line():
    assert AugmentConfig().resolved("cifar10") == AugmentConfig("flip_crop", 4)
    assert AugmentConfig().resolved("fashion_mnist") == AugmentConfig("none", 0)
    assert batch_transform(AugmentConfig("none"), 0) is None
    with pytest.raises(UserError, match="augment='rotate' must be one of none, crop, flip_crop or auto"):
        AugmentConfig("rotate")
    with pytest.raises(UserError, match="augment.pad=-1 must be at least 0"):
        AugmentConfig("crop", pad=-1)


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(name="synthetic", train_size=400, val_size=100))


def test_a_member_trained_with_augmentation_is_another_member():
    data = load_data(DataConfig(name="synthetic", train_size=200, val_size=0))
    member = Member(0, "cnn", 0)
    plain = member_identity(member, data, RecordingConfig(), OptimConfig(), {}, [1.0])
    cropped = member_identity(member, data, RecordingConfig(augment=AugmentConfig("crop")), OptimConfig(), {}, [1.0])
    assert plain["augment"] == {"name": "none", "pad": 0}
    assert cropped["augment"] == {"name": "crop", "pad": 4}


def test_the_target_trains_on_augmented_batches_and_evaluates_on_the_stored_images(data, monkeypatch):
    calls = []
    original = Augment.__call__

    def spy(self, x, step):
        calls.append((step, len(x)))
        return original(self, x, step)

    monkeypatch.setattr(Augment, "__call__", spy)
    cfg = TargetConfig(arch="mlp", epochs=1, batch_size=50, augment=AugmentConfig("crop", pad=2))
    cropped = train_target(data, cfg, OptimConfig()).history
    assert calls == [(step, 50) for step in range(8)]                 # every training step, nothing else
    plain = train_target(data, TargetConfig(arch="mlp", epochs=1, batch_size=50), OptimConfig()).history
    assert cropped[-1]["train/loss"] != plain[-1]["train/loss"]
    again = train_target(data, cfg, OptimConfig()).history
    assert again == cropped                                            # reproducible from the seed


def test_recording_from_the_training_pass_is_refused_when_batches_are_augmented():
    data = load_data(DataConfig(name="synthetic", train_size=200, val_size=0))
    rec = RecordingConfig(epochs=1, batch_size=50, source="train", augment=AugmentConfig("crop"))
    with pytest.raises(UserError, match="recording.source=train records the training forward pass, which sees "
                                        "augmented images"):
        train_member(Member(0, "mlp", 0), data, rec, OptimConfig())
    train_member(Member(0, "mlp", 0), data, RecordingConfig(epochs=1, batch_size=50, source="train"), OptimConfig())
