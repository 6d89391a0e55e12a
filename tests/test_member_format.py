"""Member files of format 3 carry one array per statistic of curriculum.statistics. A file of any other format
(1: before el2n, 2: before loss), or one without a statistic this code records, is refused in one line saying to
score again into a new out_dir, both when loading it and when a score run finds it in its out_dir."""

import json

import numpy as np
import pytest
from conftest import random_stats

from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import OptimConfig
from curriculum.errors import UserError
from curriculum.scoring.derive import derive_score_run
from curriculum.scoring.dynamics import FORMAT_VERSION, MemberDynamics, SplitDynamics, load_member, save_member
from curriculum.scoring.ensemble import Member, RecordingConfig, member_identity, reusable_member
from curriculum.statistics import STATISTICS

# The identity of member 0 (cnn, seed 0) on synthetic data with 20% symmetric noise (train_size 500, val_size 100,
# seed 3), checkpoints 0.5 and 1: every setting that shapes its dynamics, each key always present.
IDENTITY = {"arch": "cnn", "augment": {"name": "none", "pad": 0}, "batch_size": 128, "checkpoints": [0.5, 1.0],
            "data": "07ccea5a3dc62eb1", "epochs": 2, "format": 3, "model_kwargs": {}, "ood": {},
            "optim": {"lr": 0.05, "momentum": 0.9, "nesterov": True, "schedule": "cosine", "warmup": 0.03,
                      "weight_decay": 0.0005},
            "precision": "fp32", "seed": 0, "source": "eval",
            "statistics": ["correct", "margin", "prob", "el2n", "loss"], "test": True}


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(name="synthetic", train_size=500, val_size=100, label_noise=0.2, seed=3))


def identity(data):
    return member_identity(Member(0, "cnn", 0), data, RecordingConfig(), OptimConfig(), None, [0.5, 1.0])


def member(data) -> MemberDynamics:
    rng = np.random.default_rng(0)

    def split(s):
        return SplitDynamics(random_stats(rng, 2, len(s)), s.y.numpy(), s.index.numpy())

    return MemberDynamics(np.array([0.5, 1.0]), split(data.train), split(data.test), "cnn", 0, data.name,
                          data.fingerprint, identity=identity(data))


def rewrite(path, version: int, drop: str = "") -> None:
    """Turn a member file into one of format `version`, without the arrays of statistic `drop`."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if not drop or k not in (drop, f"test_{drop}")}
    meta = json.loads(arrays["meta"].tobytes())
    meta["format"] = meta["identity"]["format"] = version
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_a_members_identity_holds_every_setting_that_shapes_its_dynamics(data):
    assert FORMAT_VERSION == 3
    assert identity(data) == IDENTITY


def test_a_member_file_holds_every_statistic_and_derives_every_score(tmp_path, data):
    paths = [save_member(tmp_path / f"member-{k}.npz", member(data)) for k in range(2)]
    with np.load(paths[0]) as z:
        assert {name for name in STATISTICS} <= set(z.files) and json.loads(z["meta"].tobytes())["format"] == 3
    frame = derive_score_run(paths, data, 1.0).frames["train"]
    assert {"consensus", "el2n", "margin"} <= set(frame)


@pytest.mark.parametrize("version, drop", [(1, "el2n"), (2, ""), (4, ""), (3, "el2n")])
def test_a_member_file_of_another_format_is_refused_in_one_line(tmp_path, data, version, drop):
    path = save_member(tmp_path / "member-0.npz", member(data))
    rewrite(path, version, drop)
    found = f"format {version}" + (f" without {drop}" if drop else "")
    with pytest.raises(UserError, match=rf"has {found}; this curriculum reads format 3 .*score again into a new out_dir"):
        load_member(path)


def test_a_score_run_stops_at_a_member_file_of_another_format_instead_of_overwriting_it(tmp_path, data):
    path = save_member(tmp_path / "member-0.npz", member(data))
    assert reusable_member(path, identity(data))
    rewrite(path, 2)
    before = path.read_bytes()
    with pytest.raises(UserError, match=r"has format 2; .*score again into a new out_dir"):
        reusable_member(path, identity(data))
    assert path.read_bytes() == before
