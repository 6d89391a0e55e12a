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


# ------------------------------------------------------------------------------------------------ other sources

class TinyNet(torch.nn.Module):
    """A user's own module, as model=custom calls it: num_classes=, in_channels= and its own keyword arguments."""

    def __init__(self, num_classes, in_channels, width=4):
        super().__init__()
        self.conv = torch.nn.Conv2d(in_channels, width, 3)
        self.head = torch.nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.conv(x).mean((2, 3)))


def test_the_arch_string_names_the_source_and_the_model():
    from curriculum.models import ModelConfig, model_arch

    assert model_arch("curriculum", "cnn") == "cnn"
    assert model_arch("torchvision", "resnet18") == "torchvision/resnet18"
    assert model_arch("custom", "custom", "pkg.Net") == "custom/pkg.Net"
    assert ModelConfig("resnet18", source="timm").arch == "timm/resnet18"
    with pytest.raises(UserError, match="model=custom needs model._target_="):
        ModelConfig("custom", source="custom")
    with pytest.raises(UserError, match="model._target_=pkg.Net is your own module: .* not with model=cnn"):
        ModelConfig("cnn", {"width": 16, "hidden": 128}, _target_="pkg.Net")
    with pytest.raises(UserError, match="model.source='keras' must be one of"):
        ModelConfig("x", source="keras")


@pytest.mark.parametrize("shape", [(1, 12, 12), (3, 32, 32)])
def test_a_torchvision_network_takes_the_datas_channels_and_classes(shape):
    from curriculum.models import ChannelAdapter

    model = create_model("torchvision/resnet18", shape, 7, init_seed=0)
    assert isinstance(model, ChannelAdapter) == (shape[0] != 3)   # 1x1 conv to 3 channels only when needed
    assert model(torch.zeros(2, *shape)).shape == (2, 7)
    again = create_model("torchvision/resnet18", shape, 7, init_seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))


@pytest.mark.parametrize("arch, message", [
    ("torchvision/vit_b_16", r"model torchvision/vit_b_16 does not take images of 1x28x28 \(AssertionError"),
    ("torchvision/resnet_nope", r"'resnet_nope' is not a torchvision classification model"),
    ("custom/no_such_module.Net", r"model._target_='no_such_module.Net' cannot be imported"),
    ("custom/torch.nn.Linear", r"model._target_=torch.nn.Linear does not take num_classes="),
    ("custom/torch.nn.Identity", r"returns Tensor \(2, 1, 28, 28\) for 2 images; it must return logits"),
    ("keras/resnet", r"unknown model 'keras/resnet'"),
])
def test_a_model_that_does_not_fit_is_one_line(arch, message):
    with pytest.raises(UserError, match=message):
        create_model(arch, (1, 28, 28), 10, init_seed=0)


def test_a_users_own_module_is_built_with_its_keyword_arguments():
    model = create_model("custom/test_models.TinyNet", (2, 9, 9), 3, init_seed=0, width=6)
    assert isinstance(model, TinyNet) and model.conv.in_channels == 2 and model.conv.out_channels == 6
    assert model(torch.zeros(4, 2, 9, 9)).shape == (4, 3)


def test_timm_networks_are_built_and_without_timm_it_is_one_line(monkeypatch):
    timm = pytest.importorskip("timm", reason="the optional timm extra is not installed")
    model = create_model("timm/resnet18", (1, 12, 12), 5, init_seed=0)
    assert model.conv1.in_channels == 1 and model(torch.zeros(2, 1, 12, 12)).shape == (2, 5)
    assert timm.is_model("resnet18")
    monkeypatch.setitem(__import__("sys").modules, "timm", None)   # as if not installed
    with pytest.raises(UserError, match=r"model=timm needs timm: pip install 'curriculum\[timm\]'"):
        create_model("timm/resnet18", (1, 12, 12), 5, init_seed=0)


def test_an_ensemble_may_mix_sources_and_names_an_unknown_one():
    ens = EnsembleConfig(size=2, models=("cnn", "torchvision/resnet18"))
    assert [m.arch for m in ens.members()] == ["cnn", "torchvision/resnet18"]
    with pytest.raises(UserError, match=r"unknown model 'vit'; .*\(in ensemble.models\)"):
        EnsembleConfig(size=2, models=("cnn", "vit"))


def test_the_examples_network_is_a_custom_model(monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "examples"))
    model = create_model("custom/my_net.MyNet", (1, 28, 28), 10, init_seed=0, width=8)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10) and model.head.in_features == 16
