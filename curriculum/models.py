"""Architectures behind one factory. Every model takes (N, C, H, W) float input and returns logits."""

from __future__ import annotations

import math

import torch
from torch import nn

from .errors import UserError


def mlp(in_shape, num_classes, width: int = 256, depth: int = 2) -> nn.Module:
    layers, fan_in = [nn.Flatten()], math.prod(in_shape)
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, num_classes))


def cnn(in_shape, num_classes, width: int = 16, hidden: int = 128) -> nn.Module:
    """Two conv-pool blocks and a dense head: no global pooling, so position matters."""
    c, h, w = in_shape
    return nn.Sequential(
        nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * (h // 4) * (w // 4), hidden), nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


def _conv_bn(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def cnn_gap(in_shape, num_classes, width: int = 32) -> nn.Module:
    """Three conv-BN blocks, then global average pooling: translation-invariant head."""
    c = in_shape[0]
    return nn.Sequential(
        *_conv_bn(c, width), nn.MaxPool2d(2),
        *_conv_bn(width, 2 * width), nn.MaxPool2d(2),
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


def create_model(name: str, in_shape, num_classes: int, init_seed: int, **kwargs) -> nn.Module:
    """Build `name` with weights drawn from `init_seed` alone, leaving the global RNG untouched."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return MODELS[name](tuple(in_shape), num_classes, **kwargs)


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
