"""`python -m curriculum train sampler=...`: train one target network on a paced ordering of the scores
(or iid for `standard`) and log it to MLflow for comparison."""

from __future__ import annotations

import json
import time

from omegaconf import DictConfig, OmegaConf

from ..data import load_data
from ..engine import resolve_device, resolve_precision
from ..errors import UserError
from ..ordering import make_ordering
from ..pacing import make_pacing
from ..pruning import estimate_clean_fraction
from ..score_source import resolve_scores
from ..scores import orientation
from ..target import TargetConfig, train_target
from ..runtime import set_threads
from .common import data_config, log_inputs, optim_config, say, tracker


def train(cfg: DictConfig) -> None:
    sampler, column, balanced = str(cfg.sampler.name), str(cfg.sampler.score), bool(cfg.sampler.balanced)
    pacing_params = {k: v for k, v in OmegaConf.to_container(cfg.pacing).items() if k not in ("name", "end", "preset")}
    pacing = make_pacing(str(cfg.pacing.name), **pacing_params) if sampler != "standard" else None
    target = TargetConfig(arch=str(cfg.model.name), model_kwargs=dict(cfg.model.get("kwargs") or {}),
                          epochs=int(cfg.epochs), batch_size=int(cfg.batch_size),
                          evals_per_epoch=float(cfg.eval.per_epoch), eval_batch=int(cfg.eval.batch), seed=int(cfg.seed),
                          precision=resolve_precision(str(cfg.get("precision", "auto")), resolve_device(str(cfg.device))))
    optim = optim_config(cfg)
    end = _parse_end(cfg.pacing.end)
    device = resolve_device(str(cfg.device))
    set_threads(cfg.get("threads"))
    track = tracker(cfg)
    data = load_data(data_config(cfg)).to(device)
    labels = data.train.y.cpu().numpy()

    source = None
    if sampler in ("consensus", "anti") or str(cfg.scores) != "latest" or end == "auto":
        source = resolve_scores(str(cfg.scores), track, data)
    if source is not None and column == "consensus" and column not in source.frame and "score" in source.frame:
        column = "score"  # imported scores: order by the file's own score
    if source is not None and column not in source.frame:
        raise UserError(f"sampler.score={column!r} is not a column of {source.path}; "
                        f"choose one of {', '.join(c for c in source.frame if c not in ('index', 'label'))}")
    oriented = orientation(source.frame[column].to_numpy(), column) if source is not None else None
    if end == "auto":
        end = estimate_clean_fraction(source.frame["consensus"].to_numpy())
        say(f"pacing.end=auto: the consensus scores suggest {end:.3f} of the examples are cleanly labelled")
    ordering = make_ordering(sampler, oriented, labels, int(cfg.seed), balanced)

    pacing_name = str(cfg.pacing.get("preset") or cfg.pacing.name) if sampler != "standard" else "none"
    tags = {"stage": "train", "sampler": sampler, "pacing": pacing_name, "seed": int(cfg.seed),
            "study": str(cfg.study), "dataset": data.name, "fingerprint": data.fingerprint,
            "scores_run_id": source.run_id if source else "none", "pacing_end": f"{end:.4g}",
            "pacing_end_spec": str(cfg.pacing.end),
            "sampler_score": column, "arch": target.arch}
    say(f"train {sampler}/{pacing_name} seed={cfg.seed} on {data.name} ({len(data.train)} examples, "
        f"end={end:.3f}) with scores {source.path if source else 'none'}")
    started = time.monotonic()
    with track.run(f"{sampler}-{pacing_name}-s{cfg.seed}", tags) as run_id:
        log_inputs(track, run_id, cfg)
        if source is not None:
            track.set_tags(run_id, {"scores_sha256": source.sha256, "scores_path": source.path.resolve()})
        label = f"[{sampler}/{pacing_name} seed={cfg.seed}]"
        history, summary = train_target(data, target, optim, ordering, pacing, end, label)
        names = [k for k in history[0] if k != "step"]
        series = {name: [(h["step"], h[name]) for h in history] for name in names}
        series |= {k: [(summary["steps"], float(v))] for k, v in summary.items()}
        series["curriculum/pacing_end"] = [(0, end)]
        series["wall_seconds"] = [(summary["steps"], time.monotonic() - started)]
        track.log_metrics(run_id, series)
        track.client.log_text(run_id, json.dumps(history, indent=1), "history.json")
    say(f"{label} test acc final {summary['test/acc_final']:.4f}, best {summary['test/acc_best']:.4f}"
        + (f", at best val {summary['test/acc_at_best_val']:.4f}" if "test/acc_at_best_val" in summary else "")
        + f"; distinct examples seen {summary['curriculum/distinct_seen']}/{len(data.train)}; MLflow run {run_id}")


def _parse_end(end) -> float | str:
    """pacing.end as a fraction in (0, 1], or "auto" (estimated from the scores once they are loaded)."""
    if str(end) == "auto":
        return "auto"
    try:
        value = float(end)
    except ValueError:
        raise UserError(f"pacing.end={end!r} must be a fraction in (0, 1] or auto") from None
    if not 0 < value <= 1:
        raise UserError(f"pacing.end={value} must be a fraction in (0, 1] or auto")
    return value
