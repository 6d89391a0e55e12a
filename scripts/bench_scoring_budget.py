"""Cheaper scoring of equal quality: how well does the consensus ranking of a cheap ensemble match that of a
reference budget? Real Fashion-MNIST (the default 20k training subset), in one run:

    .venv/bin/python scripts/bench_scoring_budget.py --out outputs/budget [--reference-epochs 10] [--members 8]

Reference: `--members` cnn members x `--reference-epochs` epochs (seeds 0..). Candidates are trained from other
seeds (100..), so that agreement with the reference is not inflated by shared members:
  cnn and mlp (a cheap proxy for a cnn target) at several epoch budgets, with 1, 2, 4, 8 members,
  each also scored without its first checkpoint (1/8 epoch) and from its epoch-end checkpoints only,
  recording from the training forward pass (recording.source=train) instead of clean passes, with the default
  checkpoints and with epoch ends only (no extra pass at all), and a denser epoch 1 (7 checkpoints in it).
Each row gives the Spearman correlation of its consensus scores with the reference's and its wall time (sum of its
members' training + recording time, measured here; a schedule that leaves checkpoints out is charged its
members' time less the measured recording time of those checkpoints). The reference's own split-half Spearman (half of its members
against the other half) says how stable the target itself is. Members are cached in --out, so a rerun resumes; a cached member is reused only when its identity (data, optimizer,
epochs, checkpoints, recording source...) equals the one this run would train."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curriculum.analysis.stats import spearman
from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import OptimConfig
from curriculum.batches import steps_per_epoch
from curriculum.scoring.dynamics import checkpoint_steps, load_member, save_member
from curriculum.scoring.ensemble import Member, RecordingConfig, member_identity, reusable_member, train_member
from curriculum.scoring.scores import derive_scores


@dataclass(frozen=True)
class Family:
    arch: str
    epochs: int
    seeds: tuple[int, ...]
    source: str = "eval"   # recording.source
    within: tuple[float, ...] = (0.125, 0.25, 0.5)   # recording.within_first_epoch

    def name(self, seed: int) -> str:
        within = "" if self.within == Family.within else "-w" + "_".join(f"{f:g}" for f in self.within)
        return f"{self.arch}-e{self.epochs}-{self.source}{within}-s{seed}"


def train_family(family: Family, data, out: Path, times: dict) -> list:
    """Member dynamics of a family, trained now or loaded from the cache; wall times go to `times`."""
    dyns = []
    rec = RecordingConfig(epochs=family.epochs, source=family.source, within_first_epoch=family.within)
    _, checkpoints = checkpoint_steps(rec.epochs, steps_per_epoch(len(data.train), rec.batch_size),
                                      rec.within_first_epoch)
    for seed in family.seeds:
        path, name = out / f"{family.name(seed)}.npz", family.name(seed)
        identity = member_identity(Member(0, family.arch, seed), data, rec, OptimConfig(), {}, checkpoints)
        if not (reusable_member(path, identity) and name in times):   # a cached file made otherwise stops here
            start = time.perf_counter()
            dyn, history = train_member(Member(0, family.arch, seed), data, rec, OptimConfig(), label=f"[{name}]")
            times[name] = {"total": time.perf_counter() - start, "record": [h["record/seconds"] for h in history]}
            save_member(path, dyn)
            (out / "times.json").write_text(json.dumps(times, indent=1))
        dyns.append(load_member(path))
    return dyns


DENSE = (0.0625, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75)   # a denser epoch 1

SCHEDULES = {  # which recorded checkpoints a schedule keeps
    "all": lambda c: np.ones(len(c), bool),
    "without the first": lambda c: np.arange(len(c)) > 0,   # the checkpoint at 1/8 epoch, by default
    "epoch ends": lambda c: np.isclose(c, np.round(c)),
}


def checkpoint_rows(dyn, schedule: str = "all") -> np.ndarray:
    return SCHEDULES[schedule](dyn.checkpoints)


def consensus_of(dyns: list, schedule: str = "all") -> np.ndarray:
    rows = checkpoint_rows(dyns[0], schedule)
    members = ({name: values[rows] for name, values in d.train.stats.items()} for d in dyns)
    return derive_scores(members, dyns[0].checkpoints[rows])["consensus"]


def wall(times: dict, names: list[str], rows: np.ndarray) -> float:
    """Measured member time, less the measured recording time of the checkpoints a schedule leaves out."""
    return sum(times[n]["total"] - float(np.sum(np.asarray(times[n]["record"])[~rows])) for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/budget"))
    parser.add_argument("--reference-epochs", type=int, default=10)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--cnn-epochs", default="1,2,4,10")
    parser.add_argument("--mlp-epochs", default="2,4,10")
    parser.add_argument("--train-source-epochs", default="2,4", help="cnn budgets also recorded from the training pass")
    parser.add_argument("--dense-epochs", default="2", help="cnn budgets also recorded at 7 checkpoints in epoch 1")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    times = json.loads((args.out / "times.json").read_text()) if (args.out / "times.json").is_file() else {}
    data = load_data(DataConfig(name="fashion_mnist", train_size=20000, val_size=5000, download=False))
    candidates = tuple(range(100, 100 + args.members))
    ints = (lambda s: [int(e) for e in s.split(",") if e])

    reference = train_family(Family("cnn", args.reference_epochs, tuple(range(args.members))), data, args.out, times)
    ref = consensus_of(reference)
    half = args.members // 2
    split_half = spearman(consensus_of(reference[:half]), consensus_of(reference[half:]))
    ref_names = [Family("cnn", args.reference_epochs, ()).name(s) for s in range(args.members)]
    ref_wall = wall(times, ref_names, checkpoint_rows(reference[0]))
    print(f"# reference: {args.members} cnn members x {args.reference_epochs} epochs, {len(ref)} examples, "
          f"{ref_wall:.0f} s; split-half Spearman ({half} vs {half} members): {split_half:.3f}")
    print("| model | epochs | members | recording | checkpoints | wall s | Spearman vs reference |")
    print("|---|---|---|---|---|---|---|")
    families = ([Family("cnn", e, candidates) for e in ints(args.cnn_epochs)]
                + [Family("mlp", e, candidates) for e in ints(args.mlp_epochs)]
                + [Family("cnn", e, candidates, "train", w) for e in ints(args.train_source_epochs)
                   for w in (Family.within, ())]
                + [Family("cnn", e, candidates, within=DENSE) for e in ints(args.dense_epochs)])
    rows = []
    for family in families:
        dyns = train_family(family, data, args.out, times)
        for k in (1, 2, 4, 8):
            if k > len(dyns):
                continue
            for schedule in (["all"] if family.source == "train" or family.within == DENSE else SCHEDULES):
                kept = checkpoint_rows(dyns[0], schedule)
                if schedule != "all" and (kept.all() or kept.sum() < 2):
                    continue  # the same as "all", or a single checkpoint that says nothing about "how early"
                rho = spearman(consensus_of(dyns[:k], schedule), ref)
                seconds = wall(times, [family.name(s) for s in family.seeds[:k]], kept)
                rows.append((family, k, schedule, seconds, rho))
                recording = family.source + {Family.within: "", (): ", epoch ends", DENSE: ", dense epoch 1"}[family.within]
                print(f"| {family.arch} | {family.epochs} | {k} | {recording} | {int(kept.sum())} ({schedule}) | "
                      f"{seconds:.0f} | {rho:.3f} |", flush=True)
    for family in families:  # same seeds, so the same training: the two recordings differ only in how they look
        if family.source == "train" and family.within == Family.within:
            clean = train_family(Family(family.arch, family.epochs, family.seeds), data, args.out, times)
            free = train_family(family, data, args.out, times)
            print(f"training-pass vs clean-pass recording, cnn {family.epochs} epochs, {len(free)} members: Spearman "
                  f"{spearman(consensus_of(free), consensus_of(clean)):.3f}")
    good = [r for r in rows if r[4] >= 0.9]
    if good:
        family, k, label, seconds, rho = min(good, key=lambda r: r[3])
        print(f"cheapest with Spearman >= 0.9: {family.arch}, {k} members x {family.epochs} epochs, {family.source} "
              f"recording, {label} checkpoints: {seconds:.0f} s, rho {rho:.3f} ({ref_wall / seconds:.1f}x cheaper "
              f"than the reference)")
    else:
        print("no candidate reaches Spearman >= 0.9")


if __name__ == "__main__":
    main()
