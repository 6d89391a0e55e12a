"""Architectures behind one factory. Every model takes (N, C, H, W) float input and returns logits.

A model is named by its `arch` string: a key of MODELS (this package's), `torchvision/NAME` (a classification
constructor of torchvision.models), `timm/NAME` (timm.create_model; the optional `timm` extra) or `custom/PATH` (the
user's own nn.Module class or function at the dotted PATH, called with num_classes= and in_channels=)."""

from __future__ import annotations

import importlib
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
SOURCES = ("curriculum", "torchvision", "timm", "custom")   # model.source: where model.name is looked up


class ChannelAdapter(nn.Sequential):
    """A learned 1x1 convolution from the data's channels to the 3 a torchvision network takes, then the network."""

    def __init__(self, channels: int, net: nn.Module):
        super().__init__(nn.Conv2d(channels, 3, 1), net)


def torchvision_model(name: str, in_shape, num_classes: int, **kwargs) -> nn.Module:
    """torchvision.models.get_model(name, weights=None, num_classes=...), behind a ChannelAdapter unless the data
    has 3 channels: the network as torchvision defines it (stem, pooling), at the data's image size."""
    import torchvision.models

    if name not in torchvision.models.list_models(module=torchvision.models):
        raise UserError(f"model.name={name!r} is not a torchvision classification model; choose one of "
                        f"torchvision.models.list_models(module=torchvision.models), e.g. resnet18, mobilenet_v3_small")
    net = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kwargs)
    return net if in_shape[0] == 3 else ChannelAdapter(in_shape[0], net)


def timm_model(name: str, in_shape, num_classes: int, **kwargs) -> nn.Module:
    """timm.create_model(name, pretrained=False, num_classes=..., in_chans=the data's channels)."""
    try:
        import timm
    except ImportError:
        raise UserError("model=timm needs timm: pip install 'curriculum[timm]' (or pip install timm)") from None
    if not timm.is_model(name):
        raise UserError(f"model.name={name!r} is not a timm model; see timm.list_models(), e.g. resnet18")
    return timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_shape[0], **kwargs)


def custom_model(path: str, in_shape, num_classes: int, **kwargs) -> nn.Module:
    """The user's own model: the class or function at the dotted `path`, called as
    path(num_classes=..., in_channels=the data's channels, **model.kwargs)."""
    module_name, _, attribute = path.rpartition(".")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as err:
        raise UserError(f"model._target_={path!r} cannot be imported ({type(err).__name__}: {err}); give "
                        f"package.module.ClassName of a module on PYTHONPATH") from None
    try:
        return factory(num_classes=num_classes, in_channels=in_shape[0], **kwargs)
    except TypeError as err:
        raise UserError(f"model._target_={path} does not take num_classes=, in_channels= and model.kwargs "
                        f"({err})") from None


BUILDERS = {"torchvision": torchvision_model, "timm": timm_model, "custom": custom_model}


def model_arch(source: str, name: str, target: str | None = None) -> str:
    """The arch string of a `model` config: name for this package's models, else source/name (custom: source/target)."""
    if source not in SOURCES:
        raise UserError(f"model.source={source!r} must be one of {', '.join(SOURCES)}")
    if source == "custom":
        if not target:
            raise UserError("model=custom needs model._target_=package.module.ClassName (your nn.Module)")
        return f"custom/{target}"
    return name if source == "curriculum" else f"{source}/{name}"


def check_model(name: str) -> None:
    source = name.split("/", 1)[0] if "/" in name else "curriculum"
    if source not in SOURCES or (source == "curriculum" and name not in MODELS):
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}, torchvision/NAME, timm/NAME "
                        f"or custom/package.module.ClassName")


def default_kwargs(name: str) -> dict:
    """The keyword arguments of MODELS[name] (after in_shape and num_classes) with their defaults; {} for models of
    other sources (whatever model.kwargs holds goes to their constructor)."""
    check_model(name)
    if name not in MODELS:
        return {}
    return {p.name: p.default for p in list(inspect.signature(MODELS[name]).parameters.values())[2:]}


@dataclass(frozen=True)
class ModelConfig:
    """The `model` group's schema: a network and its keyword arguments. The command line's schema for each network
    of MODELS holds its function's defaults (curriculum/config.py), so that model.kwargs.width=64 names a known key;
    model=torchvision, model=timm and model=custom pass model.kwargs to the constructor as they are."""
    name: str                                   # a key of MODELS, or a torchvision / timm model's name
    kwargs: dict = field(default_factory=dict)  # keyword arguments of the network; MODELS' defaults otherwise
    source: str = "curriculum"                  # curriculum | torchvision | timm | custom
    _target_: str | None = None                 # model=custom: package.module.ClassName of your nn.Module

    def __post_init__(self):
        if self._target_ and self.source != "custom":
            raise UserError(f"model._target_={self._target_} is your own module: give it alone or with model=custom, "
                            f"not with model={self.name if self.source == 'curriculum' else self.source}")
        if self.source != "curriculum":
            model_arch(self.source, self.name, self._target_)
            return
        allowed = default_kwargs(self.name)
        unknown = [k for k in self.kwargs if k not in allowed]
        if unknown:
            raise UserError(f"model.kwargs.{unknown[0]} is not a parameter of model={self.name}; its parameters are "
                            f"{', '.join(allowed) or 'none'}")

    @property
    def arch(self) -> str:
        return model_arch(self.source, self.name, self._target_)


def create_model(name: str, in_shape, num_classes: int, init_seed: int, **kwargs) -> nn.Module:
    """Build arch `name` with weights drawn from `init_seed` alone, leaving the global RNG untouched.
    Conv weights are channels-last, as the engine's inputs are: oneDNN's fast convolution layout on CPU
    (the default cnn trains ~1.4x faster than in NCHW) and tensor-core friendly on GPU. A model of another source
    is checked to take the data's images (one forward pass of zeros), else one line says it does not."""
    check_model(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        if name in MODELS:
            return MODELS[name](tuple(in_shape), num_classes, **kwargs).to(memory_format=torch.channels_last)
        source, _, rest = name.partition("/")
        model = BUILDERS[source](rest, tuple(in_shape), num_classes, **kwargs)
    check_fits(model, name, tuple(in_shape), num_classes)
    return model.to(memory_format=torch.channels_last)


def check_fits(model: nn.Module, name: str, in_shape: tuple, num_classes: int) -> None:
    """One forward pass of two zero images in eval mode: logits (2, num_classes), or a one-line error."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, *in_shape))
    except Exception as err:   # a network's own error for a too-small image or a wrong channel count
        raise UserError(f"model {name} does not take images of {'x'.join(map(str, in_shape))} "
                        f"({type(err).__name__}: {str(err).splitlines()[0][:120]}); choose another model or resize "
                        f"the images (data.image_size)") from None
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, num_classes):
        raise UserError(f"model {name} returns {type(out).__name__} {tuple(getattr(out, 'shape', ()))} for 2 "
                        f"images; it must return logits of shape (batch, {num_classes})")


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
