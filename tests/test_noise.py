"""Label noise: symmetric exactly as before data.noise existed, pairwise to each class's look-alike, checked by the
properties a hand can verify (which label every flip gets, how many flip per class, which classes never flip)."""

import hashlib

import numpy as np
import pytest

from curriculum.data.datasets import DataConfig, load_data, training_settings
from curriculum.data.noise import PAIRWISE_MAPS, flip_labels, flip_pairwise, next_class_map, noise_map
from curriculum.errors import UserError

# Computed by the code before data.noise existed (commit bd5dcd1): symmetric noise must stay bit for bit.
OLD_FLIP_SHA = "f44f0d810f02d413"       # flip_labels(arange(1000) % 10, 0.3, 10, default_rng(1)): labels + mask

NOISY_SYNTHETIC = dict(name="synthetic", train_size=500, val_size=100, label_noise=0.2, seed=3)


def test_symmetric_noise_is_bit_for_bit_the_old_draw():
    noisy, mask = flip_labels(np.arange(1000) % 10, 0.3, 10, np.random.default_rng(1))
    assert hashlib.sha256(noisy.astype(np.int64).tobytes() + mask.tobytes()).hexdigest()[:16] == OLD_FLIP_SHA
    default, named = (load_data(cfg) for cfg in (DataConfig(**NOISY_SYNTHETIC),
                                                 DataConfig(**NOISY_SYNTHETIC, noise="symmetric")))
    assert default.fingerprint == named.fingerprint and int(default.noisy.sum()) == 100   # 20% of 500


# 10 classes of unequal sizes 10, 20, ..., 100 (N_c = 10 (c + 1)), in a shuffled order
LABELS = np.random.default_rng(5).permutation(np.repeat(np.arange(10), 10 * np.arange(1, 11)))


@pytest.mark.parametrize("dataset", sorted(PAIRWISE_MAPS))
@pytest.mark.parametrize("fraction", [0.2, 0.4])
def test_pairwise_flips_exactly_the_fraction_of_each_mapped_class_to_its_look_alike(dataset, fraction):
    mapping = PAIRWISE_MAPS[dataset]
    noisy, mask = flip_pairwise(LABELS, fraction, mapping, np.random.default_rng(0))
    assert (noisy[~mask] == LABELS[~mask]).all()
    assert (noisy[mask] == [mapping[c] for c in LABELS[mask]]).all()      # every flip is map[true label]
    for c in range(10):
        flipped = int(mask[LABELS == c].sum())
        n_c = 10 * (c + 1)
        assert flipped == (round(fraction * n_c) if c in mapping else 0), (c, flipped)   # unmapped never flip


def test_pairwise_draw_is_seeded_and_the_examples_chosen_in_a_class_do_not_depend_on_the_other_classes():
    a = flip_pairwise(LABELS, 0.3, {0: 6, 6: 0}, np.random.default_rng(7))
    b = flip_pairwise(LABELS, 0.3, {0: 6, 6: 0}, np.random.default_rng(7))
    c = flip_pairwise(LABELS, 0.3, {0: 6, 6: 0}, np.random.default_rng(8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and not np.array_equal(a[1], c[1])
    full = flip_pairwise(LABELS, 0.3, PAIRWISE_MAPS["fashion_mnist"], np.random.default_rng(7))
    in_0 = LABELS == 0
    assert np.array_equal(a[1][in_0], full[1][in_0])


def test_pairwise_on_six_labels_by_hand():
    # classes 0 and 2 have 2 examples each: round(0.5 * 2) = 1 of each flips (0 -> 1, 2 -> 0); class 1 is not mapped
    labels = np.array([0, 0, 1, 1, 2, 2])
    noisy, mask = flip_pairwise(labels, 0.5, {0: 1, 2: 0}, np.random.default_rng(0))
    assert mask[:2].sum() == 1 and not mask[2:4].any() and mask[4:].sum() == 1
    assert noisy[:2].tolist() in ([1, 0], [0, 1]) and noisy[2:4].tolist() == [1, 1]
    assert noisy[4:].tolist() in ([0, 2], [2, 0])
    noisy, mask = flip_pairwise(labels, 1.0, {0: 1, 2: 0}, np.random.default_rng(0))
    assert noisy.tolist() == [1, 1, 1, 1, 0, 0] and mask.tolist() == [True, True, False, False, True, True]


def test_the_maps_are_the_documented_ones():
    fmnist = PAIRWISE_MAPS["fashion_mnist"]
    assert {(0, 6), (6, 0), (2, 4), (4, 2), (7, 9), (9, 7)} <= set(fmnist.items())
    assert sorted(fmnist) == list(range(10)) and all(fmnist[fmnist[c]] == c for c in fmnist)   # complete, in pairs
    assert PAIRWISE_MAPS["cifar10"] == {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}          # Patrini et al. 2017
    assert PAIRWISE_MAPS["mnist"] == {2: 7, 3: 8, 5: 6, 6: 5, 7: 1}
    assert next_class_map(4) == {0: 1, 1: 2, 2: 3, 3: 0}
    assert noise_map("synthetic", 4) == noise_map("cifar100", 4) == next_class_map(4)
    assert noise_map("fashion_mnist", 10, {0: 6}) == {0: 6}                    # a given map wins


def test_pairwise_noise_on_a_dataset_without_a_map_sends_each_class_to_the_next():
    data = load_data(DataConfig(**NOISY_SYNTHETIC, noise="pairwise"))
    labels, true = data.train.y.numpy(), data.true_labels
    assert data.noisy.sum() == 100 and np.bincount(true[data.noisy]).tolist() == [25] * 4   # 125 per class
    assert (labels[data.noisy] == (true[data.noisy] + 1) % 4).all()
    assert (labels[~data.noisy] == true[~data.noisy]).all()


def test_noise_settings_are_part_of_the_fingerprint_only_when_not_symmetric():
    symmetric = load_data(DataConfig(**NOISY_SYNTHETIC)).fingerprint
    pairwise = load_data(DataConfig(**NOISY_SYNTHETIC, noise="pairwise")).fingerprint
    swapped = load_data(DataConfig(**NOISY_SYNTHETIC, noise="pairwise", noise_map={0: 1, 1: 0})).fingerprint
    assert len({symmetric, pairwise, swapped}) == 3
    clean = dict(NOISY_SYNTHETIC, label_noise=0.0)
    assert load_data(DataConfig(**clean, noise="pairwise")).fingerprint == load_data(DataConfig(**clean)).fingerprint


def test_train_tags_hold_every_data_setting_but_where_the_files_lie():
    base = {"name": "synthetic", "label_noise": 0.2, "seed": 0, "noise": "symmetric", "noise_map": None}
    where = {"root": "data", "download": True, "path": None, "cache_dir": None}
    assert training_settings({**base, **where}) == base
    assert training_settings({**base, "test_size": 0.2}) == base   # a decode setting of data=folder only
    folder = {**base, "name": "folder", "test_size": 0.2}
    assert training_settings({**folder, **where}) == folder


@pytest.mark.parametrize("settings, message", [
    ({"noise": "asymmetric"}, r"data.noise='asymmetric' is not a kind of label noise; choose one of symmetric, "
                              r"pairwise, instance"),
    ({"noise_map": {0: 1}}, r"data.noise_map is a setting of data.noise=pairwise, not data.noise=symmetric"),
    ({"noise": "instance", "noise_map": {0: 1}}, r"data.noise_map is a setting of data.noise=pairwise, not "
                                                r"data.noise=instance"),
    ({"noise": "pairwise", "noise_map": {0: 0}}, r"data.noise_map=\{0: 0\} maps class 0 to itself"),
    ({"noise": "pairwise", "noise_map": {"a": 1}}, r"data.noise_map=\{a: 1\} must map class numbers to class numbers"),
    ({"noise": "pairwise", "noise_map": [1, 2]}, r"data.noise_map=\[1, 2\] must map class numbers"),
    ({"noise": "pairwise", "noise_map": {}}, r"data.noise_map=\{\} is empty"),
])
def test_bad_noise_settings_are_refused_in_one_line(settings, message):
    with pytest.raises(UserError, match=message):
        DataConfig(name="synthetic", label_noise=0.2, **settings)


def test_a_map_naming_a_class_the_dataset_lacks_is_refused_once_the_classes_are_known():
    cfg = DataConfig(**NOISY_SYNTHETIC, noise="pairwise", noise_map={0: 6})
    with pytest.raises(UserError, match=r"data.noise_map=\{0: 6\} names class 6, but the dataset has classes 0 to 3"):
        load_data(cfg)
