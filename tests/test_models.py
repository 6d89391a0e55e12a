import pytest
import torch

from curriculum.errors import UserError
from curriculum.models import MODELS, count_flops, create_model
from curriculum.scoring.ensemble import EnsembleConfig


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


def test_inference_max_pool_is_bitwise_the_pooling_kernel():
    from curriculum.models import MaxPool2x2

    x = torch.randn(3, 5, 12, 10).contiguous(memory_format=torch.channels_last)
    x[0, 0, :4, :4] = 1.0  # ties, as on an image's constant background
    with torch.no_grad():
        fast = MaxPool2x2()(x)
    assert torch.equal(fast, torch.nn.functional.max_pool2d(x, 2))
    odd = torch.randn(1, 2, 5, 5)
    with torch.no_grad():
        assert torch.equal(MaxPool2x2()(odd), torch.nn.functional.max_pool2d(odd, 2))


def test_cnn_with_pooling_before_relu_is_the_textbook_conv_relu_pool_network():
    """Same outputs and the same gradients as conv-ReLU-pool, so the reordering is only a speed-up."""
    from torch import nn

    model = create_model("cnn", (1, 28, 28), 10, init_seed=3)
    conv1, conv2, fc1, fc2 = (m for m in model if isinstance(m, (nn.Conv2d, nn.Linear)))
    textbook = nn.Sequential(conv1, nn.ReLU(), nn.MaxPool2d(2), conv2, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             fc1, nn.ReLU(), fc2)
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    grads = []
    for net in (model, textbook):
        net.zero_grad()
        out = net(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        grads.append((out.detach(), [p.grad.clone() for p in net.parameters()]))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-6)
    for a, b in zip(grads[0][1], grads[1][1]):
        assert torch.allclose(a, b, atol=1e-6)


def test_allocator_tuning_is_idempotent_and_training_still_runs():
    import platform

    from curriculum.runtime import tune_allocator

    assert tune_allocator() == tune_allocator()
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert tune_allocator() is True  # in effect on glibc (this machine and CI)
    model = create_model("cnn", (1, 28, 28), 10, init_seed=0)
    model(torch.randn(4, 1, 28, 28)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
