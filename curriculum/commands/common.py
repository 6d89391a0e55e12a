"""Unpacking the pieces of config that several commands share."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..data.augment import AugmentConfig
from ..data.datasets import DataConfig
from ..engine import OptimConfig
from ..errors import UserError
from ..io.tracking import Tracker, git_commit
from ..progress import say as say  # re-exported: the commands' one way to print a line
from ..schedule.plan import PlanSettings
from ..schedule.sampler import SamplerConfig


# A group's node is its dataclass (curriculum/config.py), which OmegaConf.to_object builds and __post_init__ checks.
def data_config(cfg: DictConfig) -> DataConfig:
    return OmegaConf.to_object(cfg.data)


def augment_config(cfg: DictConfig) -> AugmentConfig:
    return OmegaConf.to_object(cfg.augment)


def optim_config(cfg: DictConfig) -> OptimConfig:
    return OmegaConf.to_object(cfg.optim)   # its lr is the top-level key `lr` (config.LINKS)


def arch_of(cfg: DictConfig) -> str:
    """The `model` group's arch string (curriculum.models): cnn, torchvision/resnet18, custom/pkg.Net, ..."""
    return OmegaConf.to_object(cfg.model).arch


def model_tag(cfg: DictConfig) -> dict:
    """The model settings a train run is tagged with; the source keys only off their defaults, so that the tags of
    this package's models read as before they existed."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    defaults = {"source": "curriculum", "_target_": None}
    return {key: value for key, value in model.items() if key not in defaults or defaults[key] != value}


def tracker(cfg: DictConfig) -> Tracker:
    return Tracker(str(cfg.mlflow.tracking_uri), str(cfg.mlflow.experiment))


def writable_dir(path: str | Path, key: str = "out_dir") -> Path:
    """`path`, created if needed; one line naming the setting `key` when it cannot be created or written."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{key}={str(path)!r} cannot be created ({err.strerror}); choose a writable {key}") from None
    if not os.access(path, os.W_OK):
        raise UserError(f"{key}={str(path)!r} is not writable; choose a writable {key}")
    return path


def log_inputs(track: Tracker, run_id: str, cfg: DictConfig, data) -> None:
    """Resolved config as params and as config.yaml, the code version, and the training data as a dataset input."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    where = resolved["data"].get("path") or resolved["data"].get("root") or ""
    track.log_dataset(run_id, data.name, data.fingerprint, len(data.train), str(where))
    track.log_params(run_id, resolved)
    track.client.log_text(run_id, OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
    track.set_tags(run_id, {"git_commit": git_commit()})



def plan_settings(cfg: DictConfig) -> PlanSettings:
    """The ordering settings of a train config (the `sampler` and `pacing` groups), checked: what a run's plan and
    its arm tag are made from (schedule/plan.py)."""
    return PlanSettings(SamplerConfig(**OmegaConf.to_container(cfg.sampler, resolve=True)),
                        OmegaConf.to_container(cfg.pacing, resolve=True))
