"""Every experiment preset runs, for a few steps, on synthetic arrays of the shape of the dataset it names (no CIFAR
files here): the preset's model, augmentation and optimiser settings are what the run used."""

import json

import mlflow
import numpy as np
import pytest
from conftest import ROOT, run_cli

from curriculum.config import compose_config

PRESETS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
SHAPES = {"cifar10": (3, 32, 32), "fashion_mnist": (1, 28, 28)}   # (C, H, W) of each preset's dataset; 10 classes


def synthetic_arrays(path, shape, classes=10, n_train=48, n_test=20, seed=0):
    """Random uint8 images of `shape` (NCHW) with balanced labels, as data=arrays reads them."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[f"x_{split}"] = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
        arrays[f"y_{split}"] = np.arange(n) % classes
    np.savez(path, **arrays)
    return path


def test_the_presets_include_the_literature_recipe_and_the_readme_study():
    assert {"cifar10_resnet18", "cifar10_resnet18_members", "fmnist_default"} <= set(PRESETS)
    cfg = compose_config("train", ["+experiment=cifar10_resnet18"])
    assert (cfg.data.name, cfg.model.name, cfg.augment.name, cfg.epochs, cfg.batch_size, cfg.lr) == \
        ("cifar10", "resnet18", "flip_crop", 200, 128, 0.1)
    assert (cfg.optim.momentum, cfg.optim.nesterov, cfg.optim.weight_decay, cfg.optim.schedule) == \
        (0.9, False, 5e-4, "cosine")
    assert compose_config("score", ["+experiment=cifar10_resnet18_members"]).epochs == 15
    named = compose_config("train", ["+experiment=fmnist_default"])
    assert named == compose_config("train", ["augment=none"])   # the defaults (auto is none here), named


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_scores_and_trains_a_few_steps_on_data_of_its_shape(tmp_path, store, preset):
    cfg = compose_config("train", [f"+experiment={preset}"])
    npz = synthetic_arrays(tmp_path / "data.npz", SHAPES[cfg.data.name])
    small = [f"+experiment={preset}", "data=arrays", f"data.path={npz}", "data.val_size=10", "epochs=1",
             "batch_size=8", "device=cpu", f"mlflow.tracking_uri={store}"]
    run_cli("score", *small, "ensemble.size=1", f"out_dir={tmp_path / 'score'}")
    run_cli("train", *small, "sampler=standard")
    mlflow.set_tracking_uri(store)
    train = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'train'").iloc[0]
    tag = json.loads(train["tags.training"])
    assert (tag["model"]["name"], tag["lr"], tag["optim"]["nesterov"]) == (cfg.model.name, cfg.lr, cfg.optim.nesterov)
    augmented = cfg.augment.name != "none"
    assert tag["augment"]["name"] == (cfg.augment.name if augmented else "none")   # every training tag names it
    assert train["metrics.steps"] == 4                                 # (48 - 10 val) // 8 steps of one epoch
