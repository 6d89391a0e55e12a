"""data.noise=instance: the flip rule on hand-made probabilities, a noise model that never sees the examples it labels
and gives the same probabilities whatever the thread count, and (on real Fashion-MNIST) flips to look-alike classes."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import FASHION_MNIST

from curriculum.data import datasets, noise_model
from curriculum.data.datasets import DataConfig, load_data
from curriculum.data.noise import flip_instance
from curriculum.data.noise_model import cross_fit_plan, enough_outside, pool_factor
from curriculum.errors import UserError

# 5 examples, 3 classes. The most probable wrong class and its probability (the given class never counts):
LABELS = np.array([0, 0, 1, 2, 1])
PROBS = np.array([[0.5, 0.3, 0.2],     # 0: wrong 0.3 (class 1), 0.2           -> class 1, 0.3
                  [0.2, 0.4, 0.4],     # 1: wrong 0.4 (1), 0.4 (2), equal      -> the lower class 1, 0.4
                  [0.6, 0.3, 0.1],     # 2: wrong 0.6 (0) above its own 0.3    -> class 0, 0.6
                  [0.1, 0.1, 0.8],     # 3: wrong 0.1 (0), 0.1 (1)             -> class 0, 0.1
                  [0.4, 0.2, 0.4]])    # 4: wrong 0.4 (0), 0.4 (2)             -> class 0, 0.4
# Ranked: example 2 (0.6), then 1 and 4 (0.4 each: the seeded permutation decides), then 0 (0.3), then 3 (0.1).


@pytest.mark.parametrize("fraction, flipped, new_labels", [
    (0.2, [2], [0, 0, 0, 2, 1]),                 # round(0.2 * 5) = 1: the most confusable only
    (0.6, [1, 2, 4], [0, 1, 0, 2, 0]),           # round(0.6 * 5) = 3: both of the tie
    (0.8, [0, 1, 2, 4], [1, 1, 0, 2, 0]),        # round(0.8 * 5) = 4
])
def test_the_most_confusable_examples_flip_to_their_most_probable_wrong_class(fraction, flipped, new_labels):
    noisy, mask = flip_instance(LABELS, fraction, PROBS, np.random.default_rng(0))
    assert np.flatnonzero(mask).tolist() == flipped and noisy.tolist() == new_labels


def test_a_tie_between_examples_is_broken_by_the_seeded_permutation_and_rounding_hides_last_bits():
    # round(0.4 * 5) = 2: example 2, then whichever of 1 and 4 (both 0.4) the permutation of the rng ranks first
    winners = set()
    for seed in range(8):
        rank = np.random.default_rng(seed).permutation(5)        # the draw flip_instance makes
        expected = 1 if rank[1] < rank[4] else 4
        wobbled = PROBS.copy()
        wobbled[1 if expected == 4 else 4, 1 if expected == 4 else 0] += 1e-12   # the loser a BLAS-bit higher
        for probs in (PROBS, wobbled):
            _, mask = flip_instance(LABELS, 0.4, probs, np.random.default_rng(seed))
            assert np.flatnonzero(mask).tolist() == sorted([2, expected]), (seed, probs)
        winners.add(expected)
    assert winners == {1, 4}


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.9])
def test_exactly_round_fraction_n_flip_and_the_mask_is_labels_that_changed(fraction):
    labels = np.arange(37) % 5
    probs = np.random.default_rng(1).dirichlet(np.ones(5), size=37)
    noisy, mask = flip_instance(labels, fraction, probs, np.random.default_rng(2))
    assert mask.sum() == int(round(fraction * 37)) and np.array_equal(mask, noisy != labels)


def test_pooling_leaves_at_most_256_features():
    # Fashion-MNIST 1x28x28 = 784: 2x2 -> 196; CIFAR 3x32x32 = 3072: 3x3 -> 3*10*10 = 300 > 256, 4x4 -> 192;
    # 1x12x12 = 144 needs none; 1x16x16 = 256 needs none
    assert [pool_factor(s) for s in [(1, 28, 28), (3, 32, 32), (1, 12, 12), (1, 16, 16)]] == [2, 4, 1, 1]


def test_the_cross_fit_halves_are_disjoint_stratified_and_each_is_labelled_by_the_other(monkeypatch):
    labels = np.repeat([0, 1, 2], [6, 4, 3])                  # 13 examples
    monkeypatch.setattr(noise_model, "FIT_CAP", 5)
    plan = cross_fit_plan(labels, np.random.default_rng(0))
    (fit_a, label_a), (fit_b, label_b) = plan
    assert sorted([*label_a, *label_b]) == list(range(13))    # every example labelled once
    for fit_on, label in plan:
        assert not set(fit_on) & set(label) and len(fit_on) == 5      # never fit on what it labels; capped at 5
    assert set(fit_a) <= set(label_b) and set(fit_b) <= set(label_a)
    for c, n_c in enumerate([6, 4, 3]):                        # a class splits 3/3, 2/2, 2/1 (or 1/2)
        assert sorted([(labels[label_a] == c).sum(), (labels[label_b] == c).sum()]) == [n_c // 2, n_c - n_c // 2]


def test_the_outside_pool_needs_1000_examples_and_20_of_every_class():
    assert enough_outside(np.arange(1000) % 4, 4) and not enough_outside(np.arange(999) % 4, 4)
    assert not enough_outside(np.r_[np.zeros(1000, int), np.full(19, 1)], 2)     # class 1 has 19
    assert not enough_outside(np.arange(2000) % 3, 4)                             # class 3 has none


INSTANCE = dict(name="synthetic", train_size=500, val_size=100, label_noise=0.2, noise="instance", seed=3)


def test_the_noise_model_never_sees_the_training_subset_or_the_validation_split(monkeypatch):
    seen = {}

    def spy(x_train, y_train, x_outside, y_outside, *args):
        seen["outside"] = x_outside
        return noise_model.noise_model_probabilities(x_train, y_train, x_outside, y_outside, *args)

    monkeypatch.setattr(datasets, "noise_model_probabilities", spy)
    data = load_data(DataConfig(**INSTANCE))
    rows = {x.tobytes() for x in np.concatenate([data.train.x.numpy(), data.val.x.numpy()])}
    assert len(seen["outside"]) == 2000 - 500 - 100                     # synthetic has 2000
    assert not rows & {x.tobytes() for x in seen["outside"]}
    assert "trained on 1400 examples outside the training subset" in data.noise_model
    assert data.noisy.sum() == 100 and np.array_equal(data.noisy, data.train.y.numpy() != data.true_labels)


def test_with_every_example_in_training_the_noise_model_is_cross_fitted_and_says_so():
    data = load_data(DataConfig(**dict(INSTANCE, train_size=None)))           # 1900 train, nothing outside
    assert data.noise_model.startswith("instance noise model cross-fitted on two halves of the training subset")
    assert data.noisy.sum() == round(0.2 * 1900)


def test_instance_noise_is_deterministic_and_in_the_fingerprint_with_its_recipe(monkeypatch):
    a, b = load_data(DataConfig(**INSTANCE)), load_data(DataConfig(**INSTANCE))
    assert np.array_equal(a.train.y.numpy(), b.train.y.numpy()) and a.fingerprint == b.fingerprint
    others = {load_data(DataConfig(**dict(INSTANCE, noise=kind))).fingerprint for kind in ("symmetric", "pairwise")}
    assert a.fingerprint not in others
    monkeypatch.setattr(datasets, "RECIPE", dict(noise_model.RECIPE, version=2))
    assert load_data(DataConfig(**INSTANCE)).fingerprint != a.fingerprint    # a new recipe is other data
    clean = dict(INSTANCE, label_noise=0.0)
    clean_instance = load_data(DataConfig(**clean))
    clean_symmetric = load_data(DataConfig(**{**clean, "noise": "symmetric"}))
    assert clean_instance.fingerprint == clean_symmetric.fingerprint and clean_instance.noise_model == ""


def test_instance_noise_works_with_data_classes_and_data_arrays(tmp_path):
    kept = load_data(DataConfig(**INSTANCE, classes=[0, 2, 3]))
    assert set(kept.train.y.numpy()) <= {0, 1, 2} and kept.noisy.sum() == 100
    x = np.random.default_rng(0).integers(0, 256, size=(60, 8, 8), dtype=np.uint8)
    y = np.arange(60) % 3
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:6], y_test=y[:6])
    data = load_data(DataConfig(name="arrays", path=str(tmp_path / "d.npz"), val_size=0, label_noise=0.1,
                                noise="instance"))
    assert "cross-fitted" in data.noise_model and data.noisy.sum() == 6               # round(0.1 * 60)


def test_a_single_training_example_cannot_be_cross_fitted():
    with pytest.raises(UserError, match="data.noise=instance needs at least 2 training examples"):
        load_data(DataConfig(**dict(INSTANCE, train_size=1, val_size=1999)))


THREADS_SCRIPT = """
import hashlib, numpy as np
from curriculum.data.noise_model import train_and_label
rng = np.random.default_rng(0)
y = np.arange(1200) % 4
x = rng.integers(0, 256, size=(1200, 1, 16, 16), dtype=np.uint8) // (1 + y[:, None, None, None])
print(hashlib.sha256(train_and_label(x[:600], y[:600], x[600:], 4).tobytes()).hexdigest())
"""


def test_the_noise_model_gives_the_same_bits_on_one_thread_and_on_two():
    # 600 x 256 x 4 products, above the size at which OpenBLAS may split one over threads; by hand, 2,000 x 256 x 4
    # gave the same bits too
    def run(threads):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        return subprocess.run([sys.executable, "-c", THREADS_SCRIPT], env=env, capture_output=True, text=True,
                              check=True).stdout
    assert run("1") == run("2")


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_on_fashion_mnist_flipped_t_shirts_become_look_alikes_not_trousers():
    data = load_data(DataConfig(name="fashion_mnist", root="/nonexistent", train_size=5000, label_noise=0.2,
                                noise="instance", download=False))
    new = data.train.y.numpy()[data.noisy & (data.true_labels == 0)]     # the flipped T-shirts' labels
    look_alike = np.isin(new, [6, 2, 3]).mean()                          # Shirt, Pullover, Dress
    assert data.noise_model.startswith("instance noise model trained on 5000 examples outside")
    assert look_alike > 0.8 and (new == 1).mean() < 0.05, np.bincount(new, minlength=10)
