"""Architectures behind one factory. Every model takes (N, C, H, W) float input and returns logits."""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .errors import UserError


def mlp(in_shape, num_classes, width: int = 256, depth: int = 2) -> nn.Module:
    layers, fan_in = [nn.Flatten()], math.prod(in_shape)
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, num_classes))


class MaxPool2x2(nn.MaxPool2d):
    """2x2 max-pooling, stride 2. Without autograd (recording and evaluation passes) it is two elementwise
    maxima over strided views: bitwise the same values, ~2x faster than the pooling kernel on channels-last CPU
    tensors. Training keeps the kernel, whose backward is the fast one."""

    def __init__(self):
        super().__init__(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or x.dim() != 4 or x.shape[-1] % 2 or x.shape[-2] % 2:
            return super().forward(x)
        rows = torch.maximum(x[:, :, 0::2], x[:, :, 1::2])
        return torch.maximum(rows[:, :, :, 0::2], rows[:, :, :, 1::2])


def cnn(in_shape, num_classes, width: int = 16, hidden: int = 128) -> nn.Module:
    """Two conv-pool blocks and a dense head: no global pooling, so position matters.
    Pooling comes before the ReLU: the same function (max and ReLU commute) with the ReLU and its backward on
    a quarter of the values."""
    c, h, w = in_shape
    return nn.Sequential(
        nn.Conv2d(c, width, 3, padding=1), MaxPool2x2(), nn.ReLU(inplace=True),
        nn.Conv2d(width, 2 * width, 3, padding=1), MaxPool2x2(), nn.ReLU(inplace=True),
        nn.Flatten(), nn.Linear(2 * width * (h // 4) * (w // 4), hidden), nn.ReLU(inplace=True),
        nn.Linear(hidden, num_classes),
    )


def _conv_bn(cin, cout, pool: bool = False):
    """conv-BN-ReLU, with an optional 2x2 max-pool placed before the ReLU (same function, less work)."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            *([MaxPool2x2()] if pool else []), nn.ReLU(inplace=True)]


def cnn_gap(in_shape, num_classes, width: int = 32) -> nn.Module:
    """Three conv-BN blocks, then global average pooling: translation-invariant head."""
    c = in_shape[0]
    return nn.Sequential(
        *_conv_bn(c, width, pool=True),
        *_conv_bn(width, 2 * width, pool=True),
        *_conv_bn(2 * width, 4 * width),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_classes),
    )


def resnet18(in_shape, num_classes) -> nn.Module:
    """torchvision's ResNet-18 in its CIFAR form: 3x3 stem, stride 1, no max-pool."""
    from torchvision.models import resnet18 as tv_resnet18

    model = tv_resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_shape[0], 64, 3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


MODELS = {"mlp": mlp, "cnn": cnn, "cnn_gap": cnn_gap, "resnet18": resnet18}


def check_model(name: str) -> None:
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


def default_kwargs(name: str) -> dict:
    """The keyword arguments of MODELS[name] (after in_shape and num_classes) with their defaults."""
    check_model(name)
    return {p.name: p.default for p in list(inspect.signature(MODELS[name]).parameters.values())[2:]}


@dataclass(frozen=True)
class ModelConfig:
    """The `model` group's schema: a network of MODELS and its keyword arguments. The command line's schema for each
    network holds its function's defaults (curriculum/config.py), so that model.kwargs.width=64 names a known key."""
    name: str                                   # a key of MODELS
    kwargs: dict = field(default_factory=dict)  # keyword arguments of MODELS[name]; the function's defaults otherwise

    def __post_init__(self):
        allowed = default_kwargs(self.name)
        unknown = [k for k in self.kwargs if k not in allowed]
        if unknown:
            raise UserError(f"model.kwargs.{unknown[0]} is not a parameter of model={self.name}; its parameters are "
                            f"{', '.join(allowed) or 'none'}")


def create_model(name: str, in_shape, num_classes: int, init_seed: int, **kwargs) -> nn.Module:
    """Build `name` with weights drawn from `init_seed` alone, leaving the global RNG untouched.
    Conv weights are channels-last, as the engine's inputs are: oneDNN's fast convolution layout on CPU
    (the default cnn trains ~1.4x faster than in NCHW) and tensor-core friendly on GPU."""
    check_model(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return MODELS[name](tuple(in_shape), num_classes, **kwargs).to(memory_format=torch.channels_last)


def count_flops(model: nn.Module, in_shape) -> int:
    """Multiply-adds x 2 of one forward pass for one example, counted over Conv2d and Linear layers."""
    flops = 0

    def hook(module, inputs, output):
        nonlocal flops
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            flops += 2 * k * output[0].numel()
        elif isinstance(module, nn.Linear):
            flops += 2 * module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *in_shape, device=next(model.parameters()).device))
    model.train(was_training)
    for h in handles:
        h.remove()
    return flops
