"""Data augmentation on the device, per example: a random crop after zero padding (the image keeps its size) and
a horizontal flip, drawn from the run's own generator and applied to uint8 batches inside the training loop.
Recording and evaluation passes never see it: they read the stored images."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..distributed import Ranks
from ..errors import UserError
from ..seeding import step_seed

AUGMENTS = ("none", "crop", "flip_crop")
AUTO = {"cifar10": "flip_crop", "cifar100": "flip_crop"}   # augment=auto: the literature's recipe; none elsewhere


@dataclass(frozen=True)
class AugmentConfig:
    name: str = "auto"     # none | crop | flip_crop | auto (flip_crop for CIFAR, none otherwise)
    pad: int = 4           # pixels of zero padding on each side before the random crop

    def __post_init__(self):
        if self.name not in (*AUGMENTS, "auto"):
            raise UserError(f"augment={self.name!r} must be one of {', '.join(AUGMENTS)} or auto")
        if self.pad < 0:
            raise UserError(f"augment.pad={self.pad} must be at least 0 (pixels on each side)")

    def resolved(self, dataset: str) -> "AugmentConfig":
        """`auto` replaced by the dataset's default, so identities and tags name what actually ran."""
        name = AUTO.get(dataset, "none") if self.name == "auto" else self.name
        return AugmentConfig(name, self.pad if name != "none" else 0)

    def check_image(self, shape: tuple[int, ...]) -> None:
        """A crop padded by as much as the image is wide can cut out nothing but padding."""
        if self.name in ("crop", "flip_crop") and self.pad >= min(shape[-2:]):
            raise UserError(f"augment.pad={self.pad} is not smaller than the {shape[-2]}x{shape[-1]} images; a crop "
                            f"could hold only padding: use a pad below {min(shape[-2:])} (4 for 32x32 is usual)")

    def identity(self) -> dict:
        """{"augment": settings}, as member and run identities and train runs' tags hold them (resolve first)."""
        return {"augment": asdict(self)}


def crop(x: torch.Tensor, pad: int, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Example b of x (B, C, H, W) cut at rows dy[b].. and columns dx[b].. of itself padded by `pad` zeros;
    offsets in [0, 2 pad], pad pad keeps the image as it is."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad)).permute(0, 2, 3, 1)                      # (B, H+2p, W+2p, C)
    rows = dy[:, None] + torch.arange(h, device=x.device)                             # (B, H)
    cols = dx[:, None] + torch.arange(w, device=x.device)                             # (B, W)
    out = padded[torch.arange(b, device=x.device)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)                                                     # (B, C, H, W)


def flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Example b of x (B, C, H, W) mirrored left-right where mask[b]."""
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


class Augment:
    """The training loop's batch transform: step s's flips and offsets are drawn from a generator seeded by
    (seed, s) on the batch's device, so they depend on nothing but the run's seed and the step: a resumed run
    draws what an uninterrupted one would, and no other random stream shifts."""

    def __init__(self, cfg: AugmentConfig, seed: int, ranks: Ranks = Ranks()):
        assert cfg.name != "auto", "resolve augment=auto with AugmentConfig.resolved first"
        self.cfg, self.seed, self.ranks = cfg, seed, ranks

    def __call__(self, x: torch.Tensor, step: int) -> torch.Tensor:
        """x: this rank's share of the step's batch; the draws are made for the whole batch and the share's taken,
        so several processes augment each example as one process would."""
        n, device = len(x) * self.ranks.world, x.device
        generator = torch.Generator(device=device).manual_seed(step_seed(self.seed, step))
        if self.cfg.name == "flip_crop":
            x = flip(x, self.ranks.share(torch.rand(n, generator=generator, device=device) < 0.5))
        if self.cfg.name in ("crop", "flip_crop") and self.cfg.pad > 0:
            dy, dx = torch.randint(0, 2 * self.cfg.pad + 1, (2, n), generator=generator, device=device)
            x = crop(x, self.cfg.pad, self.ranks.share(dy), self.ranks.share(dx))
        return x


def batch_transform(cfg: AugmentConfig, seed: int, ranks: Ranks = Ranks()):
    """The training loop's `augment` hook for `cfg` (None when nothing is augmented); `seed`: the run's stream
    seed for augmentation (seeding.stream_seed); `ranks`: whose share of each step's batch it transforms."""
    return None if cfg.name == "none" else Augment(cfg, seed, ranks)
