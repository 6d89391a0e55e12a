"""Settings are defined once (the dataclass schemas in curriculum/config.py) and checked by the dataclass they build."""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from curriculum.cli import CONF_DIR
from curriculum.config import compose_config, schemas
from curriculum.errors import UserError
from curriculum.schedule.pacing import PacingConfig, linear, pacing_config
from curriculum.data.augment import AugmentConfig
from curriculum.data.datasets import DataConfig
from curriculum.data.splits import split_sizes
from curriculum.engine import OptimConfig
from curriculum.schedule.target import EvalConfig
from curriculum.scoring.ensemble import EnsembleConfig, RecordingConfig


def schema_defaults(schema) -> dict:
    """key -> default of a schema (a dataclass or an instance such as a ModelConfig)."""
    if not isinstance(schema, type):
        return {f.name: getattr(schema, f.name) for f in fields(schema)}
    out = {}
    for f in fields(schema):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def restated(settings: dict, defaults: dict, prefix: str = "") -> list[str]:
    """Keys of `settings` whose value equals the schema's default (nested dataclass defaults included)."""
    found = []
    for key, value in settings.items():
        if key not in defaults:
            continue
        default = defaults[key]
        if is_dataclass(default):
            found += restated(value or {}, schema_defaults(default), f"{prefix}{key}.")
        elif value == default:
            found.append(f"{prefix}{key}")
    return found


def schema_of(path: Path):
    """The schema a conf/ YAML file extends, read from its defaults list (None for experiment presets, which
    override several groups at once)."""
    entries = yaml.safe_load(path.read_text()).get("defaults", [])
    extends = next((e for e in entries if isinstance(e, str) and "schema/" in e), None)
    return extends and schemas()[extends.split("schema/", 1)[1].split("@", 1)[0]]


def test_no_yaml_file_restates_a_default_of_its_schema():
    files = sorted(CONF_DIR.glob("*/*.yaml")) + sorted(CONF_DIR.glob("*.yaml"))
    assert len(files) > 20
    offenders = []
    for path in files:
        if path.parent.name == "experiment":
            continue
        settings = {k: v for k, v in yaml.safe_load(path.read_text()).items()
                    if k not in ("defaults", "hydra", "name")}  # name: which option the file is, said in each
        offenders += [f"{path.relative_to(CONF_DIR)}: {key}" for key in
                      restated(settings, schema_defaults(schema_of(path)))]
    assert offenders == []


def test_a_yaml_file_that_restated_a_default_would_be_caught():
    defaults = schema_defaults(PacingConfig)
    assert restated({"name": "linear", "a": 0.5, "b": 0.3}, defaults) == ["a"]


def test_the_command_line_defaults_are_the_dataclasses_defaults():
    score, train = compose_config("score"), compose_config("train")
    assert score.epochs == RecordingConfig().epochs == 2                 # once 4 in Python and 2 in the YAML
    assert score.data.val_size is train.data.val_size is DataConfig().val_size is None   # a tenth, at most 5000:
    assert split_sizes(DataConfig(train_size=20000), 60000) == (20000, 5000)           # fashion_mnist's 5000
    assert train.pacing.a == 0.5 and train.pacing.b == 0.2               # PacingConfig's, through conf/pacing/linear
    assert linear(50, 100) == 1.0 and linear(0, 100) == pytest.approx(0.2)  # the function's defaults are the same


def test_each_group_is_its_dataclass_and_the_top_level_keys_reach_it():
    score = compose_config("score", ["lr=0.1", "seed=3", "epochs=5", "batch_size=64", "model=mlp", "augment=crop",
                                     "ensemble.size=3", "recording.quorum=0.5"])
    assert OmegaConf.to_object(score.optim) == OptimConfig(lr=0.1)
    assert OmegaConf.to_object(score.ensemble) == EnsembleConfig(size=3, models=("mlp",), seed=3)
    assert OmegaConf.to_object(score.recording) == RecordingConfig(epochs=5, batch_size=64, precision="auto",
                                                                   quorum=0.5, augment=AugmentConfig("crop"))
    train = compose_config("train", ["lr=0.2", "eval.per_epoch=0.5"])
    assert OmegaConf.to_object(train.optim).lr == 0.2 and OmegaConf.to_object(train.eval) == EvalConfig(0.5, 256)
    with pytest.raises(UserError, match="recording.source='bad' must be one of eval, train"):
        OmegaConf.to_object(compose_config("score", ["recording.source=bad"]).recording)


def test_pacing_settings_are_checked_by_their_family_schema():
    paced = pacing_config({"name": "root", "a": 0.2, "b": 0.5, "end": "auto", "preset": "gentle"})
    assert paced.end == "auto" and paced.params == {"a": 0.2, "b": 0.5}
    assert paced.function()(0, 10) == pytest.approx(0.5)   # b at the start
    assert pacing_config({"name": "linear", "end": "0.9"}).end == 0.9
    with pytest.raises(UserError, match=r"pacing.name=exp_stairs takes start, inc, step, not a, b"):
        pacing_config({"name": "exp_stairs", "a": 0.5, "b": 0.2})
    with pytest.raises(UserError, match=r"pacing.end=1.5 must be a fraction in \(0, 1\] or auto"):
        pacing_config({"name": "linear", "end": 1.5})
    with pytest.raises(UserError, match=r"unknown pacing 'cubic'"):
        pacing_config({"name": "cubic"})


def test_compose_config_works_inside_a_running_hydra_app_and_leaves_it_as_it_was():
    """The study command composes train's config (study/plan.py) while its own Hydra app runs: that must work, and
    the app's Hydra must be the same afterwards (a resumed study once stopped here: GlobalHydra already initialized)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from curriculum.cli import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        assert compose_config("train", ["sampler=standard", "seed=3"]).seed == 3
        assert GlobalHydra.instance().is_initialized()
        assert compose("train", overrides=["sampler=standard", "seed=4"]).seed == 4   # the app's own Hydra still works


def test_a_model_target_alone_chooses_the_custom_group_and_tags_name_the_source_only_off_its_default():
    from curriculum.commands.common import arch_of, model_tag
    from curriculum.config import compose_config
    from curriculum.overrides import with_model_group

    assert with_model_group(["model._target_=pkg.Net", "epochs=1"]) == ["model=custom", "model._target_=pkg.Net",
                                                                         "epochs=1"]
    assert with_model_group(["model=custom", "model._target_=pkg.Net"]) == ["model=custom", "model._target_=pkg.Net"]
    assert with_model_group(["model=mlp"]) == ["model=mlp"]
    plain = compose_config("train", ["model=cnn"])
    assert model_tag(plain) == {"name": "cnn", "kwargs": {"width": 16, "hidden": 128}}   # as before sources existed
    torchvision = compose_config("train", ["model=torchvision", "model.name=mobilenet_v3_small"])
    assert arch_of(torchvision) == "torchvision/mobilenet_v3_small"
    assert model_tag(torchvision) == {"name": "mobilenet_v3_small", "kwargs": {}, "source": "torchvision"}
    score = compose_config("score", with_model_group(["model._target_=pkg.Net"]))
    assert list(score.ensemble.models) == ["custom/pkg.Net"]   # the ensemble's default models follow the model
