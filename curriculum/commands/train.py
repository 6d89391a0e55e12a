"""`python -m curriculum train sampler=...`: train one target network on a paced ordering of the scores
(or iid for `standard`) and log it to MLflow for comparison. A run killed at any moment and started again with the
same settings continues its MLflow run from its last evaluation (schedule/resume.py)."""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from omegaconf import DictConfig, OmegaConf

from ..arms import arm_definition
from ..batches import steps_per_epoch
from ..checkpoint import discard_state, make_identity, state_path
from ..cost import run_costs
from ..data.datasets import load_data, training_settings
from ..distributed import (Ranks, agreed, barrier, check_batch, from_environment, from_lead, lead_first,
                           process_device, process_group)
from ..engine import resolve_device, resolve_precision
from ..errors import UserError
from ..faults import reach
from ..io.files import exclusive_lock
from ..io.score_source import ScoreSource, resolve_scores
from ..io.tracking import git_commit
from ..runtime import set_threads
from ..schedule.dynamic import train_skipping
from ..schedule.plan import PlanSettings, RunPlan, make_plan, plan_needs_scores
from ..schedule.resume import STATE_FORMAT, Resume, load_state, other_states
from ..schedule.target import TargetConfig, TrainedTarget, train_target
from .common import (arch_of, augment_config, data_config, log_inputs, model_tag, optim_config, plan_settings, say,
                     tracker, writable_dir)


def train(cfg: DictConfig) -> None:
    ranks = from_environment()   # several under torchrun (distributed.py)
    device = process_device(resolve_device(str(cfg.device)), ranks)
    check_batch(int(cfg.batch_size), ranks)
    with process_group(ranks, device):
        train_ranked(cfg, ranks, device)


def train_ranked(cfg: DictConfig, ranks: Ranks, device: torch.device) -> None:
    """train() in one of `ranks`: every rank loads the data and plans the run alike (the lead first, so a folder is
    decoded once); the lead alone logs to MLflow, holds the lock and writes the resume state, which the others
    continue from when it does."""
    settings = plan_settings(cfg)
    target, optim = target_config(cfg, device), optim_config(cfg)
    set_threads(cfg.threads)
    resume_dir = writable_dir(cfg.resume_dir, "resume_dir")
    with lead_first(ranks):
        data, track, plan, source = prepared(cfg, settings, target, device)
    say(opening_line(cfg, plan, data, source, ranks))
    run = target_run(cfg, plan, data, source, target, ranks)
    identity = run_identity(cfg, device, target, data, source, plan.arm, plan.end, ranks)
    agreed(identity, ranks, "the run's identity (settings, code, data and scores)")
    state_file = state_path(resume_dir, run.name, identity)
    for line in other_states(state_file, identity):
        say(line)
    fit = fitter(plan, settings, data, target, optim, run.label, ranks)
    if not ranks.lead:
        fit(follower_resume(state_file, identity, device, ranks))
        barrier(ranks)
        return
    lock = state_file.with_suffix(".lock")
    with exclusive_lock(lock, f"another train process is running exactly these settings (it holds {lock}); "
                              f"wait for it to finish, or change seed or study"):
        state = continuable_state(track, state_file, identity, device)
        from_lead(state["step"] if state else None, ranks)   # the step every other rank continues from
        resume = Resume(state_file, identity, "", state, time.monotonic() - (state["seconds"] if state else 0.0))
        run_id, summary = run_target(track, cfg, run, resume, fit, data)
        discard_state(state_file)  # finished: the same settings start a new run
        barrier(ranks)
    say(closing_line(run, summary, len(data.train), run_id))


def prepared(cfg: DictConfig, settings: PlanSettings, target: TargetConfig, device: torch.device):
    """The run's data (relabelled as the plan says), tracker, plan and scores; bad data stops here, before the
    MLflow store is touched."""
    data = load_data(data_config(cfg)).to(device)
    target.augment.resolved(data.name).check_image(data.input_shape)
    track = tracker(cfg)
    plan, source = planned(cfg, settings, track, data)
    data = relabelled(data, plan)
    _check_batches(len(data.train), plan, target.batch_size, settings.sampler.keep)
    return data, track, plan, source


def follower_resume(state_file: Path, identity: dict, device, ranks: Ranks) -> Resume:
    """A rank other than the lead continues from the state the lead continues from, read from the same file: one
    line when it cannot (resume_dir must be one folder every process reads, shared across machines)."""
    step = from_lead(None, ranks)
    state = load_state(state_file, identity, device) if step is not None else None
    if step is not None and (state is None or state["step"] != step):
        raise UserError(f"rank {ranks.rank} cannot read the resume state rank 0 continues from (step {step}) in "
                        f"{state_file}; give every process the same resume_dir (a shared folder on several machines)")
    return Resume(state_file, identity, "", state, time.monotonic())


def fitter(plan: RunPlan, settings: PlanSettings, data, target: TargetConfig, optim, label: str,
           ranks: Ranks) -> Callable[[Resume], TrainedTarget]:
    """What trains the run, given its resume state: the paced or iid target loop, or dynamic pruning (infobatch),
    which keeps no state (a killed run starts anew) and trains in one process."""
    if plan.sampler != "infobatch":
        return partial(train_target, data, target, optim, plan.ordering, plan.pacing, plan.end, label,
                       kept=plan.kept, ranks=ranks)
    if ranks.several:
        raise UserError("sampler=infobatch trains in one process; run it without torchrun")
    if plan.kept is not None:
        raise UserError(f"sampler=infobatch skips examples itself; drop sampler.keep={settings.sampler.keep}")
    say("sampler=infobatch keeps no resume state: a killed run starts anew")
    return lambda resume: train_skipping(data, target, optim, settings.sampler, plan.learned, label)


def planned(cfg: DictConfig, settings: PlanSettings, track, data) -> tuple[RunPlan, ScoreSource | None]:
    """The run's plan and the scores it reads (those named by `scores`, or none when the settings need none and
    scores=latest), with the lines the plan says."""
    reads_scores = str(cfg.scores) != "latest" or plan_needs_scores(settings)
    source = resolve_scores(str(cfg.scores), track, data) if reads_scores else None
    plan = make_plan(settings, source, data.train.y.cpu().numpy(), data.noisy, int(cfg.seed), data.num_classes)
    for line in plan.notes:
        say(line)
    return plan, source


def relabelled(data, plan: RunPlan):
    """`data` with the training labels the plan trains on (sampler.labels), and a line saying how many changed;
    validation and test labels stay as they are."""
    if plan.labels is None:
        return data
    given = data.train.y.cpu().numpy()
    changed = int((plan.labels != given).sum())
    fixed = int(((plan.labels != given) & (plan.labels == data.true_labels)).sum())
    say(f"sampler.labels: {changed} of {len(given)} training labels changed"
        + (f", {fixed} of them to the true label" if data.noisy.any() else ""))
    y = torch.as_tensor(plan.labels, dtype=data.train.y.dtype, device=data.train.y.device)
    return replace(data, train=replace(data.train, y=y))


def opening_line(cfg: DictConfig, plan: RunPlan, data, source, ranks: Ranks = Ranks()) -> str:
    """The arm, seed and data of the run, what it draws from (those sampler.keep keeps, the end), its scores, and
    the processes sharing each batch."""
    kept = f", {len(plan.kept)} kept by sampler.keep={cfg.sampler.keep}" if plan.kept is not None else ""
    return (f"train {plan.sampler}/{plan.pacing_name} seed={cfg.seed} on {data.name} ({len(data.train)} examples"
            + kept + (f", end={plan.end:.3f}" if plan.paced else "")
            + f") with scores {source.path if source else 'none'}"
            + (f"; {ranks.world} processes, {int(cfg.batch_size) // ranks.world} examples of each batch apiece"
               if ranks.several else ""))


def closing_line(run: TargetRun, summary: dict, n: int, run_id: str) -> str:
    return (f"{run.label} test acc final {summary['test/acc_final']:.4f}, best {summary['test/acc_best']:.4f}"
            + (f", at best val {summary['test/acc_at_best_val']:.4f}" if "test/acc_at_best_val" in summary else "")
            + f"; distinct examples seen {summary['curriculum/distinct_seen']}/{n}; MLflow run {run_id}")


def target_run(cfg: DictConfig, plan: RunPlan, data, source, target: TargetConfig,
               ranks: Ranks = Ranks()) -> TargetRun:
    """The run's MLflow name and tags, and its label in the progress lines."""
    pacing = plan.pacing_name
    name = (f"{plan.sampler}-{pacing}" + (f"-keep-{cfg.sampler.keep}" if plan.kept is not None else "")
            + (f"-labels-{cfg.sampler.labels}" if plan.labels is not None else ""))
    return TargetRun(f"{name}-s{cfg.seed}", run_tags(cfg, plan, data, source, target) | {"processes": ranks.world},
                     f"[{plan.sampler}/{pacing} seed={cfg.seed}]", plan.end if plan.paced else None,
                     model_spec(target, data), scoring_cost(plan, source))


def scoring_cost(plan: RunPlan, source) -> float | None:
    """The example-passes of the score run whose scores the run uses (None: it uses none, or they do not say)."""
    reads = source is not None and "scores" in arm_definition(plan.arm)
    cost = source.meta.get("cost", {}).get("example_passes") if reads else None
    return None if cost is None else float(cost)


@dataclass(frozen=True)
class TargetRun:
    """How a target run appears in MLflow and in the progress lines."""
    name: str
    tags: dict
    label: str
    end: float | None     # pacing.end as used; None for `standard`
    model_spec: dict      # create_model's arguments and the input scaling, logged beside the weights
    scoring_cost: float | None = None   # example-passes of the scores' score run (cost.py); None: no scores, or
                                        # scores that do not say


def run_target(track, cfg: DictConfig, run: TargetRun, resume: Resume, fit: Callable[[Resume], TrainedTarget],
               data) -> tuple[str, dict]:
    """Train the target (fit) on `data` in a new MLflow run, or continue the run of `resume.state`; log it once it
    is done. Returns the run id and the summary."""
    continued = resume.state is not None
    with track.run(run.name, run.tags, reopen=resume.state["run_id"] if continued else None) as run_id:
        resume.run_id = run_id
        if continued:
            earlier = track.client.get_run(run_id).data.tags.get("resumed_at_steps")
            step = resume.state["step"]
            track.set_tags(run_id, {"resumed_at_steps": f"{earlier},{step}" if earlier else step})
        else:
            log_inputs(track, run_id, cfg, data)
        trained = fit(resume)
        summary = trained.summary | run_costs(trained.summary["cost/example_passes"], run.scoring_cost)
        log_run(track, run_id, trained.history, summary, run.end, time.monotonic() - resume.clock, continued)
        reach("logged")
        log_weights(track, run_id, trained.model, run.model_spec)
    return run_id, summary


def run_tags(cfg: DictConfig, plan: RunPlan, data, source, target: TargetConfig) -> dict:
    """What compare and a reader of the MLflow store find a train run by."""
    tags = {"stage": "train", "sampler": plan.sampler, "pacing": plan.pacing_name, "seed": int(cfg.seed),
            "study": str(cfg.study), "dataset": data.name, "fingerprint": data.fingerprint,
            "scores_run_id": source.run_id if source else "none", "sampler_score": plan.column, "arch": target.arch,
            "arm": json.dumps(plan.arm, sort_keys=True),
            "training": json.dumps(training_tag(cfg, target), sort_keys=True)}
    if plan.paced:
        tags |= {"pacing_end": f"{plan.end:.4g}", "pacing_end_spec": str(cfg.pacing.end)}
    if source is not None:
        tags |= {"scores_sha256": source.sha256, "scores_path": source.path.resolve()}
    return tags


def run_identity(cfg: DictConfig, device, target: TargetConfig, data, source, arm: dict, end: float,
                 ranks: Ranks = Ranks()) -> dict:
    """Everything that determines a train run's results and where they are logged, as plain JSON values: a saved
    state is continued only when its identity equals this exactly, and with the same code (its git commit). Left out
    are where files lie (data.root, data.path, data.cache_dir, resume_dir: the data's fingerprint is in),
    data.download, how the scores were named (`scores`: their checksum and run id are in) and which GPU of the
    machine (the device's type is in, with the number of processes)."""
    settings = OmegaConf.to_container(cfg, resolve=True)
    for key in ("scores", "resume_dir"):
        settings.pop(key, None)
    settings["data"] = training_settings(settings["data"])
    return make_identity(STATE_FORMAT, settings=settings, code=git_commit(), device=device.type, processes=ranks.world,
                         precision=target.precision, data=data.fingerprint,
                         scores_sha256=source.sha256 if source else "none",
                         scores_run_id=source.run_id if source else "none", arm=arm, pacing_end=end)


def continuable_state(track, path: Path, identity: dict, device) -> dict | None:
    """The state a killed run with exactly these settings left, if its MLflow run can be continued; None starts a
    new run (with a line saying why, when a state was there)."""
    state = load_state(path, identity, device)
    if state is None:
        return None
    status = track.status(state["run_id"])
    if status in (None, "FINISHED"):  # deleted from the store, or finished but killed before the state was removed
        say(f"[resume] ignoring {path}: its MLflow run {state['run_id']} is "
            f"{'not in this experiment' if status is None else 'already finished'}; starting a new run")
        return None
    say(f"[resume] continuing MLflow run {state['run_id']} ({status}) from step {state['step']} of the state in {path}")
    return state


def model_spec(target: TargetConfig, data) -> dict:
    """What turns model/weights.pt back into the network: create_model's arguments (any init seed: the weights
    replace the initialisation), and how the network's inputs are scaled."""
    return {"arch": target.arch, "kwargs": dict(target.model_kwargs), "input_shape": list(data.input_shape),
            "num_classes": int(data.num_classes), "mean": [float(m) for m in data.mean],
            "std": [float(s) for s in data.std], "inputs": "(uint8 image / 255 - mean) / std, per channel"}


def log_weights(track, run_id: str, model, spec: dict) -> None:
    """The final network as model/weights.pt (a state_dict on the CPU: torch.load(..., weights_only=True) reads it
    and the create_model(...) of model/model.json accepts it) and model/model.json."""
    with tempfile.TemporaryDirectory() as tmp:
        weights, about = Path(tmp) / "weights.pt", Path(tmp) / "model.json"
        torch.save({key: value.detach().cpu() for key, value in model.state_dict().items()}, weights)
        about.write_text(json.dumps(spec, indent=1))
        track.log_artifact(run_id, weights, "model")
        track.log_artifact(run_id, about, "model")


def target_config(cfg: DictConfig, device) -> TargetConfig:
    return TargetConfig(arch=arch_of(cfg), model_kwargs=dict(cfg.model.get("kwargs") or {}),
                        epochs=int(cfg.epochs), epochs_of=str(cfg.epochs_of), batch_size=int(cfg.batch_size),
                        eval=OmegaConf.to_object(cfg.eval), seed=int(cfg.seed),
                        precision=resolve_precision(str(cfg.precision), device),
                        augment=augment_config(cfg))


def training_tag(cfg: DictConfig, target: TargetConfig) -> dict:
    """The settings every arm of a study shares: compare splits arms whose settings differ."""
    data = training_settings(OmegaConf.to_container(cfg.data, resolve=True))
    return {"epochs_of": target.epochs_of, "model": model_tag(cfg),
            "epochs": int(cfg.epochs), "batch_size": int(cfg.batch_size), "lr": float(cfg.lr), "precision": target.precision,
            "augment": asdict(target.augment.resolved(str(cfg.data.name))),
            "optim": OmegaConf.to_container(cfg.optim, resolve=True), "eval": {"per_epoch": float(cfg.eval.per_epoch)},
            "data": data}


def log_run(track, run_id: str, history: list[dict], summary: dict, end: float | None, seconds: float,
            continued: bool = False) -> None:
    """The evaluation history, the summary figures and the history as JSON, in one batch each. A `continued` run
    logs only the points its killed attempts did not: each metric once per step."""
    names = [k for k in history[0] if k != "step"]
    series = {name: [(h["step"], h[name]) for h in history] for name in names}
    series |= {k: [(summary["steps"], float(v))] for k, v in summary.items()}
    if end is not None:
        series["curriculum/pacing_end"] = [(0, end)]
    series["wall_seconds"] = [(summary["steps"], seconds)]
    if continued:
        logged = track.logged_steps(run_id)
        series = {name: [p for p in points if p[0] not in logged.get(name, ())] for name, points in series.items()}
    track.log_metrics(run_id, series)
    track.client.log_text(run_id, json.dumps(history, indent=1), "history.json")


def _check_batches(n: int, plan: RunPlan, batch_size: int, keep: str) -> None:
    """The run takes the steps of all n examples; the sampler draws full batches from the first ceil(end * usable)
    examples of the ordering (all `usable` ones, those sampler.keep keeps, for `standard`): at least one batch must
    fit, said before any MLflow run exists."""
    steps_per_epoch(n, batch_size)
    usable = n if plan.kept is None else len(plan.kept)
    if usable < batch_size:
        raise UserError(f"sampler.keep={keep} keeps {usable} of the {n} training examples, fewer than one batch "
                        f"(batch_size={batch_size}); keep more or lower batch_size")
    if plan.paced and plan.end * usable < batch_size:
        end, least = plan.end, math.ceil(batch_size / usable * 1000) / 1000  # rounded up to 3 decimals
        which = "training examples" if usable == n else f"examples sampler.keep={keep} keeps"
        raise UserError(f"pacing.end={end:g} keeps {int(end * usable)} of the {usable} {which}, fewer than one batch "
                        f"(batch_size={batch_size}); raise pacing.end to at least {least:g} or lower batch_size")
