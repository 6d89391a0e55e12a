"""`python -m curriculum analyze scores=...`: how much the members of a score run agree, against independence;
how stable the per-example learning order is; and, with injected noise, how well each score finds it."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from ..analysis.agreement import agreement_rows
from ..analysis.plots import agreement_figure
from ..analysis.stats import auroc, spearman
from ..commands.common import say, tracker, writable_dir
from ..errors import UserError
from ..io.files import atomic_write
from ..io.score_source import RUN_ID
from ..io.scorefile import read_scores
from ..io.tracking import Tracker
from ..scoring.dynamics import load_member
from ..scoring.scores import DIRECTIONS, SCORE_COLUMNS, orientation


def analyze(cfg: DictConfig) -> None:
    track = tracker(cfg)
    score_dir = locate_score_dir(str(cfg.scores), track)
    out_dir = writable_dir(cfg.out_dir)
    paths = sorted((score_dir / "dynamics").glob("member-*.npz"), key=lambda p: int(p.stem.split("-")[1]))
    if len(paths) < 2:
        raise UserError(f"{score_dir}/dynamics holds {len(paths)} member files; agreement needs at least 2")
    stats = stream_members(paths)
    scores, _ = read_scores(score_dir / "scores.parquet")
    agreement = pd.DataFrame(stats["rows"])
    order = order_stability(stats["speed"], stats["arch"])
    noise = noise_auroc(scores)
    table = agreement.drop(columns=["histogram", "histogram_independent"])
    atomic_write(out_dir / "agreement.csv", lambda f: table.to_csv(f, index=False))
    atomic_write(out_dir / "order_stability.csv", lambda f: order.to_csv(f, index=False))
    if noise is not None:
        atomic_write(out_dir / "noise_auroc.csv", lambda f: noise.to_csv(f, index=False))
    agreement_figure(out_dir / "agreement.png", agreement, len(paths))
    report = write_report(out_dir / "report.md", score_dir, stats, agreement, order, noise)
    with track.run("analyze", {"stage": "analyze", "scores_dir": score_dir.resolve(),
                               "dataset": stats["dataset"]}) as run_id:
        last = agreement[agreement["split"] == "train"].iloc[-1]
        track.log_metrics(run_id, {"tpa_final": [(0, last["tpa"])], "tpa_independent_final": [(0, last["tpa_independent"])]})
        for name in ("agreement.csv", "order_stability.csv", "agreement.png", "report.md") + (
                ("noise_auroc.csv",) if noise is not None else ()):
            track.log_artifact(run_id, out_dir / name)
    print(report)
    say(f"wrote {out_dir}/report.md, agreement.csv, order_stability.csv, agreement.png (MLflow run {run_id})")


def locate_score_dir(spec: str, track: Tracker) -> Path:
    """A score run directory from a directory, a scores.parquet path, an MLflow run id, or `latest`."""
    if spec == "latest" or RUN_ID.match(spec):
        if spec == "latest":
            runs = track.client.search_runs([track.experiment_id], "tags.stage = 'score' and tags.scores = 'complete'",
                                            order_by=["attributes.start_time DESC"], max_results=1)
            if not runs:
                raise UserError(f"scores=latest: no complete score run in {track.uri}; run `python -m curriculum score`")
            run = runs[0]
        else:
            try:
                run = track.client.get_run(spec)
            except Exception:
                raise UserError(f"scores={spec}: no such MLflow run in {track.uri}") from None
        spec = run.data.tags.get("out_dir", "")
    path = Path(spec).expanduser()
    path = path.parent if path.suffix == ".parquet" else path
    if not (path / "dynamics").is_dir() or not (path / "scores.parquet").is_file():
        raise UserError(f"{path} is not a finished score run directory (no dynamics/ and scores.parquet); "
                        f"give scores=<score out_dir>, an MLflow score run id, or latest")
    return path


def stream_members(paths: list[Path]) -> dict:
    """Per split: members-right counts (C, N) and member accuracies (K, C); per member: learning speed on the
    training set (share of checkpoints at which it is right, (N,)). One member file in memory at a time."""
    count, accuracy, speed, arch = {}, {"train": [], "test": []}, [], []
    for path in paths:
        dyn = load_member(path)
        for split, part in (("train", dyn.train), ("test", dyn.test)):
            count[split] = count.get(split, 0) + part.correct.astype(np.int32)
            accuracy[split].append(part.correct.mean(axis=1))
        speed.append(dyn.train.correct.mean(axis=0))
        arch.append(dyn.arch)
    rows = [row for split in ("train", "test")
            for row in agreement_rows(count[split], np.array(accuracy[split]), dyn.checkpoints, split)]
    return {"rows": rows, "speed": np.array(speed), "arch": arch, "dataset": dyn.dataset,
            "checkpoints": dyn.checkpoints}


def order_stability(speed: np.ndarray, arch: list[str]) -> pd.DataFrame:
    """Spearman correlations of per-example learning speed (speed: (members, N)) between disjoint sets of
    members, never a part against a whole that contains it: member pairs (same and different architectures),
    split-half, and two disjoint m-member ensembles (m = 1 .. members // 2: how reproducible the order of an
    m-member ensemble is). Halves alternate members within each architecture, so with ensemble.models=[cnn,mlp]
    both halves hold both architectures and split-half measures reliability, not cross-architecture agreement."""
    rows = []
    for i, j in combinations(range(len(arch)), 2):
        kind = "same_arch" if arch[i] == arch[j] else "cross_arch"
        rows.append({"kind": kind, "a": f"{i}:{arch[i]}", "b": f"{j}:{arch[j]}", "spearman": spearman(speed[i], speed[j])})
    half_a, half_b = halves(arch)
    if half_b:
        rows.append({"kind": "split_half", "a": members_label(half_a), "b": members_label(half_b),
                     "spearman": spearman(speed[half_a].mean(0), speed[half_b].mean(0))})
    for m in range(1, len(half_b) + 1):
        a, b = half_a[:m], half_b[:m]
        rows.append({"kind": "m_vs_m", "a": members_label(a), "b": members_label(b),
                     "spearman": spearman(speed[a].mean(0), speed[b].mean(0))})
    return pd.DataFrame(rows)


def halves(arch: list[str]) -> tuple[list[int], list[int]]:
    """Members split in two, alternating within each architecture, in member order (the first half takes the extra
    member of an odd count)."""
    seen: dict[str, int] = {}
    a, b = [], []
    for k, name in enumerate(arch):
        (a if seen.get(name, 0) % 2 == 0 else b).append(k)
        seen[name] = seen.get(name, 0) + 1
    return a, b


def members_label(members: list[int]) -> str:
    return ("member " if len(members) == 1 else "members ") + ",".join(map(str, members))


def noise_auroc(scores: pd.DataFrame) -> pd.DataFrame | None:
    """AUROC of each score (turned to hardness) for finding the flipped labels; None without noise."""
    if "noisy" not in scores or not scores["noisy"].any():
        return None
    return pd.DataFrame([{"score": c, "auroc": auroc(-orientation(scores[c].to_numpy(), c), scores["noisy"].to_numpy())}
                         for c in SCORE_COLUMNS if c in scores and DIRECTIONS[c]])


def write_report(path: Path, score_dir: Path, stats: dict, agreement: pd.DataFrame, order: pd.DataFrame,
                 noise: pd.DataFrame | None) -> str:
    members = len(stats["arch"])
    lines = [f"# Agreement analysis of {score_dir}", "",
             f"{stats['dataset']}, {members} members ({', '.join(sorted(set(stats['arch'])))}), "
             f"{len(stats['checkpoints'])} checkpoints. Independence = members with the same accuracies erring "
             f"independently.", "",
             "| split | epoch | mean acc | TPA | TPA indep. | right in all | indep. | right in none | indep. |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in agreement.iterrows():
        lines.append(f"| {r['split']} | {r['epoch']:.3g} | {r['mean_acc']:.4f} | {r['tpa']:.4f} | "
                     f"{r['tpa_independent']:.4f} | {r['all_right']:.4f} | {r['all_right_independent']:.4f} | "
                     f"{r['none_right']:.4f} | {r['none_right_independent']:.4f} |")
    lines += ["", "Spearman correlation of per-example learning speed (share of checkpoints right):", "",
              "| comparison | n | mean | min | max |", "|---|---|---|---|---|"]
    for kind, g in order.groupby("kind", sort=False):
        lines.append(f"| {kind} | {len(g)} | {g['spearman'].mean():.4f} | {g['spearman'].min():.4f} | "
                     f"{g['spearman'].max():.4f} |")
    if noise is not None:
        lines += ["", "AUROC of each score (hardness) for finding the flipped labels:", "",
                  "| score | AUROC |", "|---|---|"] + [f"| {r.score} | {r.auroc:.4f} |" for r in noise.itertuples()]
    text = "\n".join(lines) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))
    return text
