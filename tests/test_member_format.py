"""Member files of format 2 carry el2n. A file of format 1 (before el2n) still loads and gives scores without the
el2n column, but is never reused by a score run (the format is part of the member identity); a newer format is
refused in one line."""

import json

import numpy as np
import pytest

from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import OptimConfig
from curriculum.errors import UserError
from curriculum.scoring.derive import derive_score_run
from curriculum.scoring.dynamics import FORMAT_VERSION, MemberDynamics, SplitDynamics, load_member, save_member
from curriculum.scoring.ensemble import Member, RecordingConfig, member_identity, reusable_member

# The identity member_identity gave before data.noise and el2n (commit bd5dcd1) for member 0 (cnn, seed 0) on
# synthetic data with 20% symmetric noise (train_size 500, val_size 100, seed 3), checkpoints 0.5 and 1.
OLD_IDENTITY = {"arch": "cnn", "batch_size": 128, "checkpoints": [0.5, 1.0], "data": "41aba1f52bdd23e5", "epochs": 2,
                "format": 1, "model_kwargs": {}, "optim": {"lr": 0.05, "momentum": 0.9, "nesterov": True,
                                                          "schedule": "cosine", "warmup": 0.03, "weight_decay": 0.0005},
                "precision": "fp32", "seed": 0, "source": "eval"}


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(name="synthetic", train_size=500, val_size=100, label_noise=0.2, seed=3))


def identity(data):
    return member_identity(Member(0, "cnn", 0), data, RecordingConfig(), OptimConfig(), None, [0.5, 1.0])


def member(data) -> MemberDynamics:
    rng = np.random.default_rng(0)

    def split(s):
        shape = (2, len(s))
        return SplitDynamics(rng.random(shape) < 0.5, rng.normal(size=shape).astype(np.float16),
                             rng.random(shape).astype(np.float16), (rng.random(shape) * 1.4).astype(np.float16),
                             s.y.numpy(), s.index.numpy())

    return MemberDynamics(np.array([0.5, 1.0]), split(data.train), split(data.test), "cnn", 0, data.name,
                          data.fingerprint, identity=identity(data))


def rewrite(path, version: int) -> None:
    """Turn a member file into one of format `version`: format 1 has no el2n arrays."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if version >= 2 or not k.endswith("el2n")}
    meta = json.loads(arrays["meta"].tobytes())
    meta["format"] = meta["identity"]["format"] = version
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_a_symmetric_runs_member_identity_changed_only_by_the_format_bump(data):
    assert FORMAT_VERSION == 2
    assert identity(data) == {**OLD_IDENTITY, "format": 2}


def test_a_format_1_member_file_loads_without_el2n_and_its_scores_have_no_el2n_column(tmp_path, data):
    paths = [save_member(tmp_path / f"member-{k}.npz", member(data)) for k in range(2)]
    assert "el2n" in derive_score_run(paths, data, 1.0).frames["train"]
    for path in paths:
        rewrite(path, 1)
    assert load_member(paths[0], data).train.el2n is None
    frame = derive_score_run(paths, data, 1.0).frames["train"]
    assert "el2n" not in frame and "margin" in frame


def test_a_format_1_member_file_is_never_reused_by_a_score_run(tmp_path, data):
    path = save_member(tmp_path / "member-0.npz", member(data))
    assert reusable_member(path, identity(data))
    rewrite(path, 1)
    with pytest.raises(UserError, match=r"made with other settings \(format: 1 -> 2\); score into a new out_dir"):
        reusable_member(path, identity(data))


def test_a_member_file_of_a_newer_format_is_refused_in_one_line(tmp_path, data):
    path = save_member(tmp_path / "member-0.npz", member(data))
    rewrite(path, 3)
    with pytest.raises(UserError, match=r"has format 3, newer than this curriculum reads \(2\); upgrade curriculum"):
        load_member(path)
