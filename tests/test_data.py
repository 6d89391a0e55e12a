import numpy as np
import pytest
from conftest import FASHION_MNIST

from curriculum.data.datasets import DataConfig, load_data
from curriculum.data.noise import flip_labels
from curriculum.data.splits import stratified_order
from curriculum.errors import UserError


def test_every_prefix_of_a_stratified_order_holds_the_classes_in_proportion():
    labels = np.repeat([0, 1, 2], [500, 300, 200])
    order = stratified_order(labels, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(1000))
    for prefix in (10, 50, 100, 333):
        counts = np.bincount(labels[order[:prefix]], minlength=3)
        np.testing.assert_allclose(counts / prefix, [0.5, 0.3, 0.2], atol=1.5 / prefix + 1e-9)


def test_flip_labels_flips_exactly_the_fraction_and_always_to_another_class():
    labels = np.arange(1000) % 10
    noisy, mask = flip_labels(labels, 0.3, 10, np.random.default_rng(1))
    assert mask.sum() == 300
    assert (noisy[mask] != labels[mask]).all() and (noisy[~mask] == labels[~mask]).all()
    assert set(np.unique(noisy[mask])) == set(range(10))


def test_subset_split_and_noise_depend_only_on_the_data_seed():
    a = load_data(DataConfig(name="synthetic", train_size=500, val_size=100, label_noise=0.2, seed=3))
    b = load_data(DataConfig(name="synthetic", train_size=500, val_size=100, label_noise=0.2, seed=3))
    c = load_data(DataConfig(name="synthetic", train_size=500, val_size=100, label_noise=0.2, seed=4))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert np.array_equal(a.noisy, b.noisy) and a.noisy.sum() == 100
    assert not set(a.train.index.tolist()) & set(a.val.index.tolist())
    clean = load_data(DataConfig(name="synthetic", train_size=500, val_size=100, seed=3))
    assert np.array_equal(a.val.y, clean.val.y) and np.array_equal(a.true_labels, clean.train.y)  # noise: train only
    assert np.array_equal(np.bincount(a.true_labels), [125] * 4)  # stratified


@pytest.mark.parametrize("settings, message", [
    ({"name": "imagenet"}, "unknown dataset data='imagenet'; choose one of fashion_mnist"),
    ({"name": "synthetic", "label_noise": 1.5}, r"data.label_noise=1.5 is out of range"),
    ({"name": "synthetic", "label_noise": -0.1}, r"data.label_noise=-0.1 is out of range"),
])
def test_a_bad_dataset_name_or_noise_fails_when_the_config_is_built(settings, message):
    with pytest.raises(UserError, match=message):
        DataConfig(**settings)


@pytest.mark.parametrize("cfg, message", [
    (DataConfig(name="synthetic", train_size=1990, val_size=20), r"exceeds the 2000 training examples"),
    (DataConfig(name="mnist", root="/nonexistent", download=False), r"MNIST is not in /nonexistent/ and could not be downloaded"),
])
def test_data_that_cannot_be_loaded_fails_with_a_message_naming_the_value(cfg, message):
    with pytest.raises(UserError, match=message):
        load_data(cfg)


@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_is_found_in_the_debian_folder_without_copying():
    data = load_data(DataConfig(name="fashion_mnist", root="/nonexistent", train_size=1000, val_size=100,
                                download=False))
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert len(data.test) == 10000 and data.train.x.dtype.is_floating_point is False
    assert np.bincount(data.train.y.numpy()).tolist() == [100] * 10


def test_random_labels_control_replaces_every_label_by_a_uniform_draw():
    data = load_data(DataConfig(name="synthetic", train_size=1600, val_size=0, random_labels=True))
    labels = data.train.y.numpy()
    assert np.array_equal(data.noisy, labels != data.true_labels)
    assert 0.7 < data.noisy.mean() < 0.8  # 3/4 of uniform draws miss the true class of 4
    assert np.bincount(labels, minlength=4).min() > 300
