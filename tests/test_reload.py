"""analyze reloads the data a score run saw from the settings its scores keep, and the members' final weights from
beside their dynamics: each is used only on an exact match, and each refusal is a line in the report."""

import json

import pytest
import torch

from curriculum.commands.analyze import reload_data
from curriculum.data.datasets import DataConfig, load_data, reload_settings
from curriculum.scoring.dynamics import MemberDynamics, SplitDynamics, load_weights, save_weights, weights_path


def stored(cfg: DataConfig) -> dict:
    """The settings as a scores file keeps them: through JSON."""
    return json.loads(json.dumps(reload_settings(cfg)))


def test_data_settings_survive_the_scores_file_even_with_a_noise_map():
    cfg = DataConfig(name="synthetic", noise="pairwise", label_noise=0.2, noise_map={0: 2, 2: 0})
    data, notes = reload_data({"data": stored(cfg), "fingerprint": load_data(cfg).fingerprint})
    assert notes == [] and data.fingerprint == load_data(cfg).fingerprint


@pytest.mark.parametrize("meta, note", [
    ({}, "made before `score` kept the data settings"),
    ({"data": stored(DataConfig(name="synthetic")) | {"colour": 1}, "fingerprint": "x"}, "hold colour, which"),
    ({"data": stored(DataConfig(name="synthetic")), "fingerprint": "0123456789abcdef"}, "are no longer those"),
    ({"data": stored(DataConfig(name="arrays", path="/nowhere.npz")), "fingerprint": "x"}, "cannot be loaded"),
])
def test_data_that_cannot_be_reloaded_exactly_is_a_note_not_an_error(meta, note):
    data, notes = reload_data(meta)
    assert data is None and len(notes) == 1 and note in notes[0]


def member(identity: dict) -> MemberDynamics:
    empty = SplitDynamics.empty(1, [0], [0])
    return MemberDynamics([1.0], empty, empty, "mlp", 0, "synthetic", "f", identity=identity,
                          weights={"w": torch.ones(2)})


def test_weights_are_used_only_with_the_dynamics_they_were_saved_with(tmp_path):
    path = tmp_path / "member-0.npz"
    assert "is missing" in load_weights(path, {"seed": 0})[1]
    save_weights(path, member({"seed": 0}), {})
    spec, why = load_weights(path, {"seed": 0})
    assert why == "" and spec["kwargs"] == {"width": 256, "depth": 2} and spec["state_dict"]["w"].tolist() == [1, 1]
    assert "saved by another run" in load_weights(path, {"seed": 1})[1]
    weights_path(path).write_bytes(b"not a torch file")
    assert "is unreadable" in load_weights(path, {"seed": 0})[1]
