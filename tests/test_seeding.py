"""Targets never share a random stream with the scoring members whose dynamics built their ordering."""

import torch

from curriculum.data.datasets import DataConfig, load_data
from curriculum.schedule.target import TargetConfig, target_model
from curriculum.scoring.ensemble import EnsembleConfig, member_model


def _flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.state_dict().values()])


def test_a_targets_initial_weights_differ_from_every_members_for_seeds_0_to_7():
    data = load_data(DataConfig(name="synthetic"))
    members = [_flat(member_model(m, data))
               for seed in range(8) for m in EnsembleConfig(size=4, seed=seed).members()]
    for seed in range(8):
        target = _flat(target_model(TargetConfig(seed=seed), data))
        assert all(not torch.equal(target, w) for w in members), f"target seed {seed} starts from a member's weights"


def test_members_of_one_ensemble_start_from_different_weights():
    data = load_data(DataConfig(name="synthetic"))
    weights = [_flat(member_model(m, data)) for m in EnsembleConfig(size=4, seed=0).members()]
    assert all(not torch.equal(weights[i], weights[j]) for i in range(4) for j in range(i + 1, 4))
