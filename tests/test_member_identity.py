"""A member file or resume state is reused only when everything that shapes its dynamics is the same."""

import copy
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from conftest import fresh_store, run_cli

from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import OptimConfig, make_optimizer
from curriculum.scoring.dynamics import Recorder
from curriculum.scoring.ensemble import (
    EnsembleConfig,
    RecordingConfig,
    identity_differences,
    member_identity,
    member_model,
    resume_member,
)
from curriculum.seeding import torch_generator

TINY = ["data=synthetic", "epochs=1", "ensemble.size=2", "device=cpu", "recording.within_first_epoch=[0.5]"]


@pytest.fixture(scope="module")
def scored_once(tmp_path_factory):
    """One finished TINY score run (its out_dir and MLflow store), made once for the tests that score again over it."""
    folder = tmp_path_factory.mktemp("scored")
    run_cli("score", *TINY, f"out_dir={folder / 'score'}", f"mlflow.tracking_uri={fresh_store(folder)}")
    return folder


def copy_of(scored: Path, tmp_path: Path) -> tuple[Path, str]:
    """A copy of the shared score run in tmp_path: (its out_dir, its store's URI)."""
    shutil.copytree(scored / "score", tmp_path / "score")
    shutil.copyfile(scored / "mlflow.db", tmp_path / "mlflow.db")
    return tmp_path / "score", f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.mark.parametrize("changed", ["lr=0.1", "batch_size=64", "optim.weight_decay=0", "model.kwargs.hidden=64",
                                     "epochs=2", "optim.schedule=linear", "recording.source=train",
                                     "augment=crop", "ensemble.folds=2"])
def test_rescoring_into_an_out_dir_with_other_settings_stops_with_one_line_naming_the_setting(tmp_path, scored_once,
                                                                                             changed):
    out, store = copy_of(scored_once, tmp_path)
    before = (out / "scores.parquet").read_bytes()
    mlflow.set_tracking_uri(store)
    runs_before = len(mlflow.search_runs(experiment_names=["curriculum"]))
    proc = run_cli("score", *TINY, changed, f"out_dir={out}", f"mlflow.tracking_uri={store}", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert lines[-1].startswith("error:") and "out_dir" in lines[-1] and "Traceback" not in proc.stderr
    key = changed.split("=")[0].split(".")[-1]
    assert key in lines[-1] or (key == "epochs" and "checkpoints" in lines[-1])
    assert (out / "scores.parquet").read_bytes() == before
    assert len(mlflow.search_runs(experiment_names=["curriculum"])) == runs_before   # stopped before any run


def test_rescoring_with_the_same_settings_skips_every_member(tmp_path, scored_once):
    out, store = copy_of(scored_once, tmp_path)
    again = run_cli("score", *TINY, f"out_dir={out}", f"mlflow.tracking_uri={store}")
    assert again.stderr.count("is complete: skipped") == 2


def _member_objects(data):
    member = EnsembleConfig(size=1).members()[0]
    model = member_model(member, data)
    opt = make_optimizer(model.parameters(), OptimConfig())
    gen = torch_generator(0, "order")
    recorder = Recorder(np.array([1.0]), data, member.arch, member.seed)
    return member, model, opt, gen, recorder


def test_a_resume_state_that_fails_to_load_midway_leaves_the_fresh_objects_untouched(tmp_path):
    data = load_data(DataConfig(name="synthetic"))
    member, model, opt, gen, recorder = _member_objects(data)
    identity = member_identity(member, data, RecordingConfig(epochs=1), OptimConfig(), {}, [1.0])
    # a state whose model and optimizer load but whose dynamics arrays have the wrong shape
    trained = copy.deepcopy(model)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)
    state = {"identity": identity, "step": 5, "model": trained.state_dict(), "optimizer": opt.state_dict(),
             "generator": gen.get_state(), "history": [],
             "arrays": {f"{s}_{f}": torch.zeros(3, 3) for s in ("train", "test") for f in ("correct", "margin", "prob")}}
    path = tmp_path / "state.pt"
    torch.save(state, path)
    fresh = copy.deepcopy(model.state_dict())
    assert resume_member(path, identity, model, opt, gen, recorder) == (0, [])
    assert all(torch.equal(fresh[k], v) for k, v in model.state_dict().items())


def test_a_resume_state_made_with_other_settings_stops_with_the_differing_keys(tmp_path):
    data = load_data(DataConfig(name="synthetic"))
    member, model, opt, gen, recorder = _member_objects(data)
    old = member_identity(member, data, RecordingConfig(epochs=1), OptimConfig(lr=0.05), {}, [1.0])
    new = member_identity(member, data, RecordingConfig(epochs=1), OptimConfig(lr=0.1), {}, [1.0])
    path = tmp_path / "state.pt"
    torch.save({"identity": old, "step": 1}, path)
    with pytest.raises(ValueError, match=r"optim\.lr.*0\.05.*0\.1.*new out_dir"):
        resume_member(path, new, model, opt, gen, recorder)


def test_the_data_fingerprint_changes_with_image_content_alone(monkeypatch):
    from curriculum.data import datasets as data_module

    a = load_data(DataConfig(name="synthetic"))
    assert load_data(DataConfig(name="synthetic")).fingerprint == a.fingerprint

    def one_pixel_changed(cfg):
        xtr, ytr, xte, yte = data_module.synthetic(cfg)
        xtr[int(a.train.index[0]), 0, 0, 0] ^= 1   # a training image the subset keeps; names, labels unchanged
        return xtr, ytr, xte, yte

    monkeypatch.setitem(data_module.LOADERS, "synthetic", one_pixel_changed)
    assert load_data(DataConfig(name="synthetic")).fingerprint != a.fingerprint


def test_precision_is_a_setting_resolved_per_device_and_part_of_the_member_identity():
    from dataclasses import replace

    from curriculum.engine import resolve_precision

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("auto", cpu) == "fp32" and resolve_precision("auto", gpu) == "bf16"
    assert resolve_precision("fp32", gpu) == "fp32"
    with pytest.raises(ValueError, match="precision=bf16 needs a GPU"):
        resolve_precision("bf16", cpu)
    with pytest.raises(ValueError, match="precision='fp16' must be one of auto, fp32, bf16"):
        resolve_precision("fp16", cpu)
    data = load_data(DataConfig(name="synthetic"))
    member, rec = EnsembleConfig(size=1).members()[0], RecordingConfig(epochs=1)
    fp32 = member_identity(member, data, rec, OptimConfig(), {}, [1.0])
    bf16 = member_identity(member, data, replace(rec, precision="bf16"), OptimConfig(), {}, [1.0])
    assert [d.split(":")[0] for d in identity_differences(fp32, bf16)] == ["precision"]


def test_a_resume_state_from_other_settings_stops_the_score_run_before_any_mlflow_run(tmp_path, store):
    data = load_data(DataConfig(name="synthetic", train_size=1600, val_size=200))
    member = EnsembleConfig(size=1).members()[0]
    rec = RecordingConfig(epochs=1, within_first_epoch=(0.5,))
    old = member_identity(member, data, rec, OptimConfig(lr=0.05), {"width": 16, "hidden": 128}, [0.5, 1.0])
    (tmp_path / "score" / "dynamics").mkdir(parents=True)
    torch.save({"identity": old, "step": 12}, tmp_path / "score" / "dynamics" / ".member-0.resume.pt")
    proc = run_cli("score", *TINY, "lr=0.1", f"out_dir={tmp_path / 'score'}", f"mlflow.tracking_uri={store}",
                   check=False)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("error:")
    assert "optim.lr: 0.05 -> 0.1" in proc.stderr and "resume.pt" in proc.stderr
    mlflow.set_tracking_uri(store)
    assert len(mlflow.search_runs(experiment_names=["curriculum"])) == 0
