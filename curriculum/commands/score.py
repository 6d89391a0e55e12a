"""`python -m curriculum score`: train the scoring ensemble, record dynamics, derive and log scores."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..analysis.plots import consensus_histogram
from ..data.datasets import Data, load_data, reload_settings
from ..distributed import (Ranks, agreed, barrier, from_environment, from_lead, lead_first, process_device,
                           process_group)
from ..engine import OptimConfig, resolve_device, resolve_precision
from ..errors import UserError
from ..io.files import atomic_write
from ..io.scorefile import write_scores
from ..io.tracking import Tracker
from ..runtime import set_threads
from ..scoring.batched import train_members_batched
from ..scoring.confident import check_class_sizes
from ..scoring.derive import derive_score_run
from ..scoring.dynamics import checkpoint_steps, save_member, save_weights
from ..scoring.ensemble import (
    EnsembleConfig,
    RecordingConfig,
    check_clean_recording,
    check_resume_identity,
    ensemble_cost,
    member_identity,
    member_steps_per_epoch,
    reusable_member,
    train_member,
)
from .common import arch_of, data_config, log_inputs, optim_config, say, tracker, writable_dir


def score(cfg: DictConfig) -> None:
    ranks = from_environment()   # several under torchrun: each process trains the members of its rank
    ens, rec, optim, device = score_settings(cfg, ranks)
    with process_group(ranks, device):
        score_members(cfg, ens, rec, optim, device, ranks)


def score_members(cfg: DictConfig, ens: EnsembleConfig, rec: RecordingConfig, optim: OptimConfig,
                  device: torch.device, ranks: Ranks) -> None:
    """Train this shard's members and, once the ensemble is complete, derive and log the scores (under torchrun
    the lead does, after every rank has trained its members)."""
    out_dir = writable_dir(from_lead(str(cfg.out_dir), ranks))   # the default holds the second each rank started
    set_threads(cfg.threads)
    data_cfg = data_config(cfg)
    check_clean_recording(rec, data_cfg.name)
    started = time.monotonic()
    with lead_first(ranks):   # a folder is decoded once, a new MLflow experiment made once
        data = load_data(data_cfg).to(device)   # bad data stops here, before the MLflow store is touched
        rec.augment.resolved(data.name).check_image(data.input_shape)
        track = tracker(cfg)
    agreed(data.fingerprint, ranks, "the data")
    say_data(data, device, out_dir)
    if ens.folds:   # confident learning on the out-of-fold probabilities: refused before training, not after
        check_class_sizes(data.train.y.cpu().numpy(), data.num_classes)

    missing = members_to_train(data, ens, rec, optim, out_dir / "dynamics")
    tags = {"stage": "score", "dataset": data.name, "fingerprint": data.fingerprint, "out_dir": out_dir.resolve(),
            "shard": f"{ens.shard}/{ens.num_shards}"}
    with track.run("score", tags) as run_id:
        log_inputs(track, run_id, cfg, data)
        train_missing_members(track, run_id, data, ens, rec, optim, out_dir / "dynamics", missing)
        barrier(ranks)   # every rank's members are written
        if not ranks.lead:
            return
        paths = [out_dir / "dynamics" / m.filename for m in ens.members()]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            say(f"{len(missing)} of {ens.size} members still missing ({', '.join(missing[:4])}...): "
                f"scores will be derived by the run that completes the ensemble")
            return
        cost = ensemble_cost(ens, rec, data)
        summary = write_score_files(track, run_id, data, paths, rec.quorum, out_dir, reload_settings(data_cfg), cost)
        summary["cost/example_passes"] = cost["example_passes"]
        summary["wall_seconds"] = time.monotonic() - started
        track.log_metrics(run_id, {k: [(0, v)] for k, v in summary.items()})
        track.set_tags(run_id, {"scores": "complete", "scores_path": (out_dir / "scores.parquet").resolve()})
    say_scores(out_dir, run_id, summary)


def score_settings(cfg: DictConfig, ranks: Ranks = Ranks()) -> tuple[EnsembleConfig, RecordingConfig, OptimConfig,
                                                                    torch.device]:
    """The ensemble, recording and optimizer settings and the device, unpacked from the config; under torchrun,
    the shard is the process's rank and the device its GPU."""
    ens = OmegaConf.to_object(cfg.ensemble)   # seed, models: the top-level seed and model's arch (config.LINKS)
    ens = replace(ens, model_kwargs=ens.model_kwargs | {arch_of(cfg): dict(cfg.model.get("kwargs") or {})})
    if ranks.several:
        if ens.num_shards != 1:
            raise UserError(f"ensemble.num_shards={ens.num_shards} with torchrun: each of the {ranks.world} processes "
                            f"trains the members of its rank; drop ensemble.shard and ensemble.num_shards")
        ens = replace(ens, shard=ranks.rank, num_shards=ranks.world)
    device = process_device(resolve_device(str(cfg.device)), ranks)
    rec = OmegaConf.to_object(cfg.recording)  # epochs, batch_size, precision, augment: the top-level keys
    rec = replace(rec, precision=resolve_precision(rec.precision, device))
    return ens, rec, optim_config(cfg), device


def say_data(data: Data, device: torch.device, out_dir: Path) -> None:
    say(f"data {data.name}: {len(data.train)} train, {len(data.val)} val, {len(data.test)} test examples, "
        f"{int(data.noisy.sum())} labels flipped; device {device}; out_dir {out_dir}")
    if data.noise_model:
        say(f"data {data.name}: {data.noise_model}")


def say_scores(out_dir: Path, run_id: str, summary: dict) -> None:
    say(f"scores: {out_dir / 'scores.parquet'} (MLflow run {run_id}); "
        f"learned by all members {summary['learned_by_all']:.1%}, by none {summary['learned_by_none']:.1%}; "
        f"wall time {summary['wall_seconds']:.0f}s")


def members_to_train(data: Data, ens: EnsembleConfig, rec: RecordingConfig, optim, dyn_dir: Path) -> list:
    """This shard's members whose dynamics file is absent or incomplete. Run before any MLflow run exists: a member
    file or resume state made with other settings stops here with one line (check_identity)."""
    missing = []
    for member in ens.my_members():
        per_epoch = member_steps_per_epoch(member, data, rec.batch_size)   # all members' agree, folds or not
        _, checkpoints = checkpoint_steps(rec.epochs, per_epoch, rec.within_first_epoch)
        path = dyn_dir / member.filename
        identity = member_identity(member, data, rec, optim, ens.model_kwargs.get(member.arch), checkpoints)
        if reusable_member(path, identity):
            say(f"[member {member.k}] {path} is complete: skipped")
        else:
            check_resume_identity(resume_path(dyn_dir, member), identity)
            missing.append(member)
    return missing


def resume_path(dyn_dir: Path, member) -> Path:
    return dyn_dir / f".member-{member.k}.resume.pt"


def train_missing_members(track: Tracker, parent_id: str, data: Data, ens: EnsembleConfig, rec: RecordingConfig,
                          optim, dyn_dir: Path, missing: list) -> None:
    """Train the `missing` members (members_to_train); each is a nested MLflow run."""
    if ens.batched and missing:
        kwargs = ens.model_kwargs.get(missing[0].arch)
        trained = train_members_batched(missing, data, rec, optim, kwargs, f"[members {len(missing)} batched]")
        for member, (dyn, history) in zip(missing, trained):
            with track.run(f"member-{member.k}", member_tags(member, data), parent_id=parent_id) as run_id:
                save_weights(dyn_dir / member.filename, dyn, kwargs)   # first: the dynamics file marks it done
                save_member(dyn_dir / member.filename, dyn)
                track.log_dataset(run_id, data.name, data.fingerprint, len(data.train))
                log_history(track, run_id, history)
        return
    for member in missing:
        with track.run(f"member-{member.k}", member_tags(member, data), parent_id=parent_id) as run_id:
            label = f"[member {member.k + 1}/{ens.size} {member.arch} seed={member.seed}]"
            resume = resume_path(dyn_dir, member)
            kwargs = ens.model_kwargs.get(member.arch)
            dyn, history = train_member(member, data, rec, optim, kwargs, label, resume)
            save_weights(dyn_dir / member.filename, dyn, kwargs)   # first: the dynamics file marks it done
            save_member(dyn_dir / member.filename, dyn)
            track.log_dataset(run_id, data.name, data.fingerprint, len(data.train))
            resume.unlink(missing_ok=True)
            log_history(track, run_id, history)


def label_issues_summary(meta: dict) -> dict:
    """What confident learning found in a folds run (said, and returned as metrics); nothing without folds."""
    issues = meta.get("label_issues")
    if issues is None:
        return {}
    say(f"confident learning on the out-of-fold probabilities: {issues['estimated_share']:.3f} of the labels look "
        f"wrong; {issues['flagged']} flagged (label_issue), {issues['relabelled']} relabelled (suggested_label)")
    if issues.get("warning"):
        say(f"confident learning: {issues['warning']}")
    return {"label_issues/estimated_share": issues["estimated_share"], "label_issues/flagged": issues["flagged"],
            "label_issues/relabelled": issues["relabelled"]}


def member_tags(member, data: Data) -> dict:
    return {"stage": "score_member", "member": member.k, "arch": member.arch, "seed": member.seed,
            "dataset": data.name}


def log_history(track: Tracker, run_id: str, history: list[dict]) -> None:
    names = [k for k in history[0] if k not in ("step",)]
    track.log_metrics(run_id, {name: [(h["step"], h[name]) for h in history] for name in names})
    if "test/acc" in history[-1]:
        track.log_metrics(run_id, {"test/acc_final": [(history[-1]["step"], history[-1]["test/acc"])]})


def write_oof_probs(track: Tracker, run_id: str, out_dir: Path, probs: np.ndarray | None) -> dict:
    """The out-of-fold probabilities of an ensemble.folds run (`probs`, (C, N, classes)): oof_probs.npy, the last
    checkpoint's (what cleanlab.filter.find_label_issues(labels, probs) takes), and oof_probs_by_checkpoint.npy, all
    of them; written before scores.parquet, with the meta entries that tie each file to it: the sha256 of the bytes
    written. A run killed between the writes leaves new probabilities beside old scores, which are then refused."""
    if probs is None:
        return {}
    files = {"oof_probs": probs[-1], "oof_probs_by_checkpoint": probs}
    meta = {}
    for name, array in files.items():
        path = atomic_write(out_dir / f"{name}.npy", lambda f, array=array: np.save(f, array))
        track.log_artifact(run_id, path)
        meta[f"{name}_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    checkpoints, n, classes = probs.shape
    say(f"out-of-fold probabilities: {out_dir / 'oof_probs.npy'} ({n} examples x {classes} classes, rows as "
        f"scores.parquet's) and, at each of the {checkpoints} checkpoints, oof_probs_by_checkpoint.npy")
    return meta


def write_score_files(track: Tracker, run_id: str, data: Data, paths: list[Path], quorum: float,
                      out_dir: Path, data_settings: dict, cost: dict | None = None) -> dict:
    """scores.parquet, test_scores.parquet (when the test split was recorded), oof_probs.npy (ensemble.folds) and
    the consensus histogram, logged as artifacts; returns a summary. Reads each member file once. `cost`: the score
    run's example-passes (ensemble_cost), in the train scores' meta, which train runs charge from."""
    run = derive_score_run(paths, data, quorum)
    probs_meta = write_oof_probs(track, run_id, out_dir, run.oof_probs)   # first: the train scores carry its hash
    for split, name in (("train", "scores.parquet"), ("test", "test_scores.parquet")):
        if split in run.frames:
            meta = run.metas[split] | {"data": data_settings}   # analyze reloads the images from it
            meta |= (probs_meta | ({"cost": cost} if cost else {})) if split == "train" else {}
            track.log_artifact(run_id, write_scores(out_dir / name, run.frames[split], meta))
    train_frame, meta = run.frames["train"], run.metas["train"]
    issues = label_issues_summary(meta)
    hist = consensus_histogram(out_dir / "consensus_hist.png", train_frame["consensus"].to_numpy(),
                               len(meta["ensemble"]) * len(meta["checkpoints"]), train_frame["noisy"].to_numpy(),
                               f"{data.name}: {len(paths)} members, {len(train_frame)} examples")
    track.log_artifact(run_id, hist)
    summary = {"learned_by_all": run.learned_by_all, "learned_by_none": run.learned_by_none,
               "consensus_mean": float(train_frame["consensus"].mean())} | issues
    if not run.member_test_acc:
        say("test split not recorded (recording.test=false): no test_scores.parquet")
        return summary
    say("members' test accuracy at the last checkpoint: " + ", ".join(f"{a:.4f}" for a in run.member_test_acc))
    return summary | {"member_test_acc_mean": float(np.mean(run.member_test_acc))}
