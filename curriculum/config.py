"""The command line's settings, each with its type and default defined once, as Hydra structured configs.

A config group's schema is the dataclass its command builds (`data` -> DataConfig, `optim` -> OptimConfig, score's
`recording` -> RecordingConfig, ...), which checks itself in __post_init__; the commands build it with
OmegaConf.to_object. The settings at the top of a command's config get their defaults from the dataclass they feed
(`epochs` of score -> RecordingConfig.epochs), and where that dataclass is a group's, its key follows the top-level
one (LINKS). The YAML files in conf/ extend these schemas and
state only what differs from them; `python -m curriculum <command> --cfg job` prints every setting. Nothing here runs
at import time: the command line calls register_configs() before Hydra composes a config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, OmegaConf

from .analysis.subspace_match import MatchConfig
from .data.augment import AugmentConfig
from .data.datasets import DataConfig
from .engine import OptimConfig
from .models import MODELS, ModelConfig, default_kwargs, model_arch
from .overrides import with_model_group
from .schedule.pacing import ExpStairsPacingConfig, PacingConfig, StaticPacingConfig
from .schedule.sampler import SamplerConfig
from .schedule.target import EvalConfig, TargetConfig
from .scoring.ensemble import EnsembleConfig, RecordingConfig
from .study.plan import StudyPlan

OUT_DIR = "${hydra:runtime.output_dir}"   # each run's own folder (hydra.run.dir in conf/<command>.yaml)
LATEST = "latest"                          # scores: the newest complete score run in the MLflow store
STUDY = "default"
RESUME_DIR = "outputs/train/resume"        # relative to the working folder, as Hydra's outputs/ are

ARCH = "${model_arch:${model.source},${model.name},${model._target_}}"   # the `model` group's arch string

# Keys typed at the top of a command's line (lr, seed, epochs, batch_size, precision, the model and augment groups)
# that the dataclass of a group holds too: there the key follows the top-level one, so that each group's node is its
# dataclass whole (commands build it with OmegaConf.to_object) while the command line stays `lr=0.1`.
LINKS = {
    "score": {"optim.lr": "${lr}", "ensemble.seed": "${seed}", "ensemble.models": [ARCH],
              "recording.epochs": "${epochs}", "recording.batch_size": "${batch_size}",
              "recording.precision": "${precision}", "recording.augment": "${augment}"},
    "train": {"optim.lr": "${lr}"},
}


@dataclass
class MlflowSettings:
    tracking_uri: str = "sqlite:///mlflow.db"  # a SQLite file (made on first use) or an http(s) MLflow server
    experiment: str = "curriculum"               # the MLflow experiment every run is logged under


@dataclass
class RunSettings:
    """What score and train share; each sets seed, epochs and batch_size from the dataclass they feed. The groups
    (data, model, optim, ...) have their own schemas; conf/<command>.yaml lists them before this one, so that they
    come first in --cfg job."""
    data: Any = MISSING
    augment: Any = MISSING
    model: Any = MISSING
    optim: Any = MISSING
    seed: int = MISSING
    device: str = "auto"         # auto (cuda when present) | cpu | cuda
    precision: str = "auto"      # auto (bf16 autocast on GPU, fp32 on CPU) | fp32 | bf16 (GPU only)
    threads: int | None = None   # torch CPU threads (null: torch's default); bitwise identical results per count
    epochs: int = MISSING
    batch_size: int = MISSING    # examples per step
    lr: float = OptimConfig.lr   # peak SGD learning rate


@dataclass
class ScoreSettings(RunSettings):
    seed: int = EnsembleConfig.seed               # member k is initialised and shuffled from seed + k
    epochs: int = RecordingConfig.epochs          # epochs per member
    batch_size: int = RecordingConfig.batch_size
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)   # models: cycled over members, e.g. [cnn,mlp]
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    out_dir: str = OUT_DIR                        # dynamics/, scores.parquet, test_scores.parquet, consensus_hist.png
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)


@dataclass
class TrainSettings(RunSettings):
    sampler: Any = MISSING
    pacing: Any = MISSING
    seed: int = TargetConfig.seed                 # initialisation, random ordering and batches (data.seed: the split)
    epochs: int = TargetConfig.epochs             # training length in epochs (of what: epochs_of)
    epochs_of: str = TargetConfig.epochs_of       # all: epochs of every training example (the same steps for
                                                  # every arm) | kept: of those the run can draw (pruning)
    batch_size: int = TargetConfig.batch_size
    scores: str = LATEST                          # scores.parquet path | score run directory | MLflow run id | latest
    study: str = STUDY                            # label grouping the runs of one comparison (compare study=...)
    resume_dir: str = RESUME_DIR                  # unfinished runs' states, one file per run identity (resume.py)
    eval: EvalConfig = field(default_factory=EvalConfig)
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)


@dataclass
class AnalyzeSettings:
    scores: str = LATEST                          # score run directory | its scores.parquet | MLflow run id | latest
    device: str = "auto"                          # where the members' saved networks run (representations, galleries)
    threads: int | None = None                    # torch CPU threads (null: torch's default)
    out_dir: str = OUT_DIR                        # report.md, agreement.csv, order_stability.csv, agreement.png
    match: MatchConfig = field(default_factory=MatchConfig)   # the members' subspace match (subspace_match.csv)
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)


@dataclass
class CompareSettings:
    study: str = STUDY                            # the study label given to train
    rank_by: str = "test/acc_at_best_val"         # a key of analysis.comparison.METRICS (meanings there)
    out_dir: str = OUT_DIR                        # comparison.csv, comparison.md, learning_curves.png
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)


@dataclass
class StudySettings:
    study: str = MISSING                          # the study plan: conf/studies/<study>.yaml
    seeds: int = 5                                # seeds of each arm (side arms fewer, as the plan says)
    out: str = "outputs/reproduce"                # score-*/, compare-*/, analyze-*/, mlflow.db: what a rerun resumes
    results: str = "docs/results.md"              # the file whose section the study renders ("": none)
    results_only: bool = False                    # render the section from the outputs in `out`, run nothing
    extra_score: list[str] = field(default_factory=list)   # overrides after every score run's, e.g. [epochs=1]
    extra_train: list[str] = field(default_factory=list)   # overrides after every train run's (a quick smoke run)


@dataclass
class ExportSettings:
    data: Any = MISSING                           # the data the scores were made for (checked, as train checks)
    scores: str = LATEST                          # scores.parquet path | score run directory | MLflow run id | latest
    order: str = "consensus"                      # consensus (easy first) | anti | random | stratified (api.ORDERS)
    keep: Any = 1.0                               # share of the ordering written, in (0, 1], or auto (as pacing.end)
    format: str = "csv"                           # csv (rank,index,label[,path]) | npy (indices) | json
    score: str = SamplerConfig.score              # the rest as train's sampler.* keys: the column that orders
    balanced: bool = SamplerConfig.balanced
    ties: str = SamplerConfig.ties
    strata: int = SamplerConfig.strata
    drop_hardest: float = SamplerConfig.drop_hardest
    seed: int = TargetConfig.seed                 # of the random order and the shuffle of remaining ties
    out_dir: str = OUT_DIR                        # ordering.<format> and export.json
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)


def schemas() -> dict:
    """ConfigStore path below the group `schema/` (kept apart from the options a user chooses) -> schema: a dataclass,
    or a ModelConfig per network holding its function's defaults. conf/<group>/*.yaml extend theirs with
    `defaults: [/schema/<path>@_here_]`, conf/<command>.yaml with `schema/<command>@_here_`."""
    return {
        "data": DataConfig,
        "augment": AugmentConfig,
        **{f"model/{name}": ModelConfig(name, default_kwargs(name)) for name in MODELS},
        **{f"model/{source}": ModelConfig("resnet18", source=source) for source in ("torchvision", "timm")},
        "model/custom": ModelConfig("custom", source="custom", _target_=MISSING),
        "optim": OptimConfig,
        "sampler": SamplerConfig,
        "pacing/wu": PacingConfig,
        "pacing/exp_stairs": ExpStairsPacingConfig,
        "pacing/static": StaticPacingConfig,
        "score": ScoreSettings,
        "train": TrainSettings,
        "analyze": AnalyzeSettings,
        "compare": CompareSettings,
        "export": ExportSettings,
        "study": StudySettings,
        "study_plan": StudyPlan,
    }


def register_configs() -> None:
    """Store every schema in Hydra's ConfigStore (again: storing is idempotent)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    OmegaConf.register_new_resolver("model_arch", model_arch, replace=True)
    for path, schema in schemas().items():
        group, _, name = f"schema/{path}".rpartition("/")
        node = writable(OmegaConf.structured(schema))
        for key, value in LINKS.get(path, {}).items():
            OmegaConf.update(node, key, value, merge=False)
        store.store(group=group, name=name, node=node)


def writable(node):
    """`node` with every container writable: a frozen dataclass (nested ones too) makes read-only nodes, which
    overrides cannot set."""
    OmegaConf.set_readonly(node, False)
    for key in node if OmegaConf.is_dict(node) else ():
        if OmegaConf.is_config(node._get_node(key)):
            writable(node._get_node(key))
    return node


def compose_config(command: str, overrides: list[str] | tuple[str, ...] = ()):
    """`command`'s config as the command line composes it, for scripts, tests and the study command: registers the
    schemas first (a bare hydra.compose fails on conf/<command>.yaml, which extends them), and works inside a
    running Hydra app, which it leaves as it was."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    from .cli import CONF_DIR

    register_configs()
    running = get_gh_backup()            # a command's own Hydra app (the study composes train's config inside it)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(command, overrides=with_model_group(list(overrides)))
    finally:
        restore_gh_from_backup(running)
