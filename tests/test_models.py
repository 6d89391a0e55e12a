import pytest
import torch

from curriculum.ensemble import EnsembleConfig
from curriculum.errors import UserError
from curriculum.models import MODELS, count_flops, create_model


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_every_model_maps_images_to_logits(name, shape):
    model = create_model(name, shape, 10, init_seed=0)
    assert model(torch.zeros(2, *shape)).shape == (2, 10)


@pytest.mark.parametrize("name", list(MODELS))
def test_initialisation_depends_only_on_its_seed_and_leaves_the_global_rng_alone(name):
    state = torch.random.get_rng_state()
    a, b, c = (create_model(name, (1, 28, 28), 10, init_seed=s) for s in (1, 1, 2))
    assert torch.equal(torch.random.get_rng_state(), state)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_flop_count_of_a_linear_layer_by_hand():
    assert count_flops(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5)), (1, 3, 4)) == 2 * 12 * 5


def test_mixed_ensemble_cycles_architectures_and_shards_split_members():
    ens = EnsembleConfig(size=5, models=("cnn", "mlp"), shard=1, num_shards=2, seed=10)
    assert [(m.k, m.arch, m.seed) for m in ens.members()] == [
        (0, "cnn", 10), (1, "mlp", 11), (2, "cnn", 12), (3, "mlp", 13), (4, "cnn", 14)]
    assert [m.k for m in ens.my_members()] == [1, 3]
    with pytest.raises(UserError, match="unknown model 'vit'"):
        create_model("vit", (1, 28, 28), 10, init_seed=0)
