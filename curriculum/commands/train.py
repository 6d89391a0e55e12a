"""`python -m curriculum train sampler=...`: train one target network on a paced ordering of the scores
(or iid for `standard`) and log it to MLflow for comparison."""

from __future__ import annotations

import json
import math
import time

from omegaconf import DictConfig, OmegaConf

from ..analysis.comparison import arm_tag
from ..batches import steps_per_epoch
from ..data.datasets import load_data, training_settings
from ..engine import resolve_device, resolve_precision
from ..errors import UserError
from ..io.score_source import resolve_scores
from ..runtime import set_threads
from ..schedule.pacing import pacing_config
from ..schedule.pruning import estimate_clean_fraction
from ..schedule.sampler import SamplerConfig, make_ordering
from ..schedule.target import TargetConfig, train_target
from ..scoring.scores import orientation
from .common import data_config, log_inputs, optim_config, say, tracker


def train(cfg: DictConfig) -> None:
    ordering_cfg = SamplerConfig(**OmegaConf.to_container(cfg.sampler, resolve=True))
    sampler, column = ordering_cfg.name, ordering_cfg.score
    pacing_dict = OmegaConf.to_container(cfg.pacing, resolve=True)
    paced = pacing_config(pacing_dict) if sampler != "standard" else None  # standard has no pacing, so no end
    pacing = paced.function() if paced else None
    device = resolve_device(str(cfg.device))
    target = target_config(cfg, device)
    optim = optim_config(cfg)
    end = paced.end if paced else 1.0
    set_threads(cfg.get("threads"))
    data_cfg = data_config(cfg)  # checked before anything is written
    track = tracker(cfg)
    data = load_data(data_cfg).to(device)

    source = None
    if sampler in ("consensus", "anti") or str(cfg.scores) != "latest" or end == "auto":
        source = resolve_scores(str(cfg.scores), track, data)
    column = score_column(source, column)
    oriented = orientation(source.frame[column].to_numpy(), column) if source is not None else None
    if end == "auto":
        end = auto_end(source, column)
    ordering = make_ordering(sampler, oriented, data.train.y.cpu().numpy(), int(cfg.seed),
                             ordering_cfg.balanced, tie_break(source, column, cfg))
    _check_batches(len(data.train), target.batch_size, end if sampler != "standard" else None)

    arm = arm_tag(sampler, pacing_dict, column, ordering_cfg.balanced, ordering_cfg.ties,
                  source.sha256 if source else "none")
    pacing_name = arm.get("pacing", "none")
    tags = {"stage": "train", "sampler": sampler, "pacing": pacing_name, "seed": int(cfg.seed),
            "study": str(cfg.study), "dataset": data.name, "fingerprint": data.fingerprint,
            "scores_run_id": source.run_id if source else "none", "sampler_score": column, "arch": target.arch,
            "arm": json.dumps(arm, sort_keys=True), "training": json.dumps(training_tag(cfg, target), sort_keys=True)}
    if sampler != "standard":
        tags |= {"pacing_end": f"{end:.4g}", "pacing_end_spec": str(cfg.pacing.end)}
    say(f"train {sampler}/{pacing_name} seed={cfg.seed} on {data.name} ({len(data.train)} examples"
        + (f", end={end:.3f}" if sampler != "standard" else "") + f") with scores {source.path if source else 'none'}")
    started = time.monotonic()
    with track.run(f"{sampler}-{pacing_name}-s{cfg.seed}", tags) as run_id:
        log_inputs(track, run_id, cfg)
        if source is not None:
            track.set_tags(run_id, {"scores_sha256": source.sha256, "scores_path": source.path.resolve()})
        label = f"[{sampler}/{pacing_name} seed={cfg.seed}]"
        history, summary = train_target(data, target, optim, ordering, pacing, end, label)
        log_run(track, run_id, history, summary, end if sampler != "standard" else None, time.monotonic() - started)
    say(f"{label} test acc final {summary['test/acc_final']:.4f}, best {summary['test/acc_best']:.4f}"
        + (f", at best val {summary['test/acc_at_best_val']:.4f}" if "test/acc_at_best_val" in summary else "")
        + f"; distinct examples seen {summary['curriculum/distinct_seen']}/{len(data.train)}; MLflow run {run_id}")


def target_config(cfg: DictConfig, device) -> TargetConfig:
    return TargetConfig(arch=str(cfg.model.name), model_kwargs=dict(cfg.model.get("kwargs") or {}),
                        epochs=int(cfg.epochs), batch_size=int(cfg.batch_size),
                        evals_per_epoch=float(cfg.eval.per_epoch), eval_batch=int(cfg.eval.batch), seed=int(cfg.seed),
                        precision=resolve_precision(str(cfg.get("precision", "auto")), device))


def training_tag(cfg: DictConfig, target: TargetConfig) -> dict:
    """The settings every arm of a study shares: compare splits arms whose settings differ."""
    data = training_settings(OmegaConf.to_container(cfg.data, resolve=True))
    return {"model": OmegaConf.to_container(cfg.model, resolve=True), "epochs": int(cfg.epochs),
            "batch_size": int(cfg.batch_size), "lr": float(cfg.lr), "precision": target.precision,
            "optim": OmegaConf.to_container(cfg.optim, resolve=True), "eval": {"per_epoch": float(cfg.eval.per_epoch)},
            "data": data}


def score_column(source, column: str) -> str:
    """The scores column that orders the examples: imported files order by their own `score` by default."""
    if source is None:
        return column
    if column == "consensus" and column not in source.frame and "score" in source.frame:
        column = "score"
    if column not in source.frame:
        raise UserError(f"sampler.score={column!r} is not a column of {source.path}; "
                        f"choose one of {', '.join(c for c in source.frame if c not in ('index', 'label', 'path'))}")
    return column


def auto_end(source, column: str) -> float:
    """pacing.end=auto: keep the share of examples that the consensus histogram says are correctly labelled."""
    if column != "consensus":
        raise UserError(f"pacing.end=auto estimates the clean share from consensus scores, but the ordering uses "
                        f"{column!r} from {source.path}; use scores from `python -m curriculum score` with "
                        f"sampler.score=consensus, or set pacing.end to a fraction")
    end = estimate_clean_fraction(source.frame["consensus"].to_numpy(), source.meta)
    say(f"pacing.end=auto: the consensus histogram suggests {1 - end:.3f} of the labels are wrong; the ordering's "
        f"first {end:.3f} is used")
    return end


def log_run(track, run_id: str, history: list[dict], summary: dict, end: float | None, seconds: float) -> None:
    """The evaluation history, the summary figures and the history as JSON, in one batch each."""
    names = [k for k in history[0] if k != "step"]
    series = {name: [(h["step"], h[name]) for h in history] for name in names}
    series |= {k: [(summary["steps"], float(v))] for k, v in summary.items()}
    if end is not None:
        series["curriculum/pacing_end"] = [(0, end)]
    series["wall_seconds"] = [(summary["steps"], seconds)]
    track.log_metrics(run_id, series)
    track.client.log_text(run_id, json.dumps(history, indent=1), "history.json")


def tie_break(source, column: str, cfg: DictConfig):
    """The margin column that breaks ties of the ordering score (sampler.ties=margin, as the `rank` column does),
    or None for a seeded shuffle (sampler.ties=random, or scores without a margin). SamplerConfig checked ties."""
    ties = str(cfg.sampler.get("ties", "margin"))
    if source is None or ties == "random" or column == "margin":
        return None
    if "margin" not in source.frame:
        say(f"sampler.ties=margin: {source.path} has no margin column; ties are broken by a seeded shuffle")
        return None
    return source.frame["margin"].to_numpy()


def _check_batches(n: int, batch_size: int, end: float | None) -> None:
    """The sampler draws full batches from the first ceil(end * n) examples of the ordering (all n for
    `standard`, end=None): at least one batch must fit, said before any MLflow run exists."""
    steps_per_epoch(n, batch_size)
    if end is not None and end * n < batch_size:
        least = math.ceil(batch_size / n * 1000) / 1000  # rounded up to 3 decimals
        raise UserError(f"pacing.end={end:g} keeps {int(end * n)} of the {n} training examples, fewer than one batch "
                        f"(batch_size={batch_size}); raise pacing.end to at least {least:g} or lower batch_size")

