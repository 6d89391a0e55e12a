"""`python -m curriculum analyze scores=...`: how much the members of a score run agree, against independence;
how stable the per-example learning order is; how alike their representations are (linear CKA, the neuron
activation subspace match); and, with injected noise, how well each score finds it."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from omegaconf import DictConfig, OmegaConf

from ..analysis.agreement import member_agreement
from ..analysis.cka import cka_matrix
from ..analysis.families import family_agreement
from ..analysis.gallery import SHOWN_SCORE, gallery_picks
from ..analysis.noise_detection import noise_auroc
from ..analysis.ood import ood_rows, same_images_across_families
from ..analysis.order_stability import order_stability
from ..analysis.plots import agreement_figure, consensus_by_class, data_map, gallery, match_figure
from ..analysis.report import write_report
from ..analysis.subspace_match import check_samples, match_table
from ..data.datasets import DataConfig, load_data
from ..engine import resolve_device
from ..errors import UserError
from ..io.files import atomic_write
from ..io.score_source import member_paths, score_run_dir
from ..io.scorefile import read_scores
from ..scoring.derive import member_files
from ..scoring.representations import majority_vote, member_outputs
from ..runtime import set_threads
from .common import say, tracker, writable_dir

MAX_GALLERIES = 20   # given labels with a gallery (CIFAR-100's hundred would bury the report's folder)


def analyze(cfg: DictConfig) -> None:
    track = tracker(cfg)
    match = OmegaConf.to_object(cfg.match)   # checked before any work
    score_dir = score_run_dir(str(cfg.scores), track)
    out_dir = writable_dir(cfg.out_dir)
    paths = member_paths(score_dir)
    if len(paths) < 2:
        raise UserError(f"{score_dir}/dynamics holds {len(paths)} member files; agreement needs at least 2")
    set_threads(cfg.threads)
    stats = member_agreement(member_files(paths))
    scores, meta = read_scores(score_dir / "scores.parquet")
    data, notes = reload_data(meta)
    picks, features, layers, majority = member_views(paths, stats["identity"], data, scores,
                                                     resolve_device(str(cfg.device)), match.samples, notes)
    agreement = pd.DataFrame(stats["rows"])
    order = order_stability(stats["speed"], stats["arch"])
    families = family_agreement(stats["speed"], stats["final"], stats["arch"],
                                cka_matrix(features) if features is not None else None)
    subspace = subspace_match(layers, stats["arch"], match, notes)
    noise, ood = noise_auroc(scores), ood_tables(stats)
    tables = {"agreement.csv": agreement.drop(columns=["histogram", "histogram_independent"]),
              "order_stability.csv": order, "families.csv": families, "subspace_match.csv": subspace,
              "noise_auroc.csv": noise, **ood}
    written = [name for name, table in tables.items() if table is not None]
    for name in written:
        atomic_write(out_dir / name, lambda f, table=tables[name]: table.to_csv(f, index=False))
    agreement_figure(out_dir / "agreement.png", agreement, len(paths))
    data_map(out_dir / "data_map.png", scores, f"{stats['dataset']}: {len(paths)} members, {len(scores)} examples")
    consensus_by_class(out_dir / "consensus_by_class.png", scores)
    written += ["agreement.png", "data_map.png", "consensus_by_class.png", "report.md"]
    if subspace is not None:
        match_figure(out_dir / "subspace_match.png", subspace)
        written.append("subspace_match.png")
    written += galleries(out_dir, scores, data, picks, majority, meta["data"]["root"]) if data is not None else []
    report = write_report(out_dir / "report.md", score_dir, stats, agreement, order, noise, families, notes, ood,
                          subspace)
    log_analysis(track, score_dir, stats, agreement, data, [out_dir / name for name in written])
    print(report)
    say(f"wrote {', '.join(written)} in {out_dir}")


def subspace_match(layers: list | None, arch: list[str], match, notes: list[str]) -> pd.DataFrame | None:
    """subspace_match.csv: the maximum match of every member pair's layers of the same name and grid at each of
    match.epsilons, leaving out (with a note) layers the test split has too few samples for; None without any."""
    if layers is None:
        return None
    usable = []
    for member, named in zip(arch, layers):
        if named is None:
            usable.append(None)
            continue
        why = {name: check_samples(f"{member}'s {name}", layer, match.samples) for name, layer in named.items()}
        notes += [note for note in dict.fromkeys(why.values()) if note is not None and note not in notes]
        usable.append({name: layer for name, layer in named.items() if why[name] is None})
    table = match_table(usable, arch, match.epsilons)
    return table if len(table) else None


def member_views(paths: list[Path], identities: list[dict], data, scores: pd.DataFrame, device, samples: int,
                 notes: list[str]):
    """What the members' final weights show: the galleries' picks (given label -> kind -> scores rows), the members'
    representations of the test split and their neuron layers' activation samples (each None without weights) and
    their majority prediction of each pictured example (scores row -> class; empty without weights). Only the
    pictured examples are predicted."""
    if data is None:
        return {}, None, None, {}
    picks = {label: gallery_picks(scores, label) for label in sorted(scores["label"].unique())[:MAX_GALLERIES]}
    rows = np.unique(np.concatenate([r for kinds in picks.values() for r in kinds.values()]))
    position = train_positions(data, scores)
    features, layers, predicted, missing = member_outputs(paths, identities, data, device,
                                                          data.train.x[position[rows]], samples)
    notes += missing
    known = [p for p in predicted if p is not None]
    majority = dict(zip(rows.tolist(), majority_vote(known, data.num_classes).tolist())) if known else {}
    return (picks, (features if any(f is not None for f in features) else None),
            (layers if any(named for named in layers if named is not None) else None), majority)


def train_positions(data, scores: pd.DataFrame) -> np.ndarray:
    """Each scores row's position in data.train (the fingerprint check makes every row found)."""
    position = pd.Index(data.train.index.numpy()).get_indexer(scores["index"])
    assert (position >= 0).all(), "a scores row is not in the reloaded training data"
    return position


def log_analysis(track, score_dir: Path, stats: dict, agreement: pd.DataFrame, data, files: list[Path]) -> None:
    """The analyze run: tags, the final TPA, the data it reloaded as a dataset input, and every file written."""
    with track.run("analyze", {"stage": "analyze", "scores_dir": score_dir.resolve(),
                               "dataset": stats["dataset"]}) as run_id:
        last = agreement[agreement["split"] == "train"].iloc[-1]
        track.log_metrics(run_id, {"tpa_final": [(0, last["tpa"])],
                                   "tpa_independent_final": [(0, last["tpa_independent"])]})
        if data is not None:
            track.log_dataset(run_id, data.name, data.fingerprint, len(data.train), str(score_dir), "evaluation")
        for path in files:
            track.log_artifact(run_id, path)
    say(f"MLflow run {run_id}")


def ood_tables(stats: dict) -> dict:
    """ood_agreement.csv (every out-of-distribution split and checkpoint) and ood_families.csv (families agreeing
    on the same images at the first and the last checkpoint), or nothing when no such split was recorded."""
    if not stats["ood"]:
        return {}
    tables = {"ood_agreement.csv": ood_rows(stats["ood"], stats["checkpoints"])}
    overlap = [same_images_across_families(predicted, stats["arch"], c)
               .assign(split=name, epoch=stats["checkpoints"][c])
               for name, predicted in stats["ood"].items() for c in sorted({0, len(stats["checkpoints"]) - 1})]
    overlap = pd.concat(overlap, ignore_index=True)
    return tables | ({"ood_families.csv": overlap} if len(overlap) else {})


def reload_data(meta: dict):
    """The data the scores were made with, from the settings they keep (None with a line saying why not): for the
    members' representations and the galleries' images."""
    settings = meta.get("data")
    if "recorder" in meta:
        return None, ["no representations or galleries: these scores were recorded by curriculum.ScoreRecorder, "
                      "which keeps neither the images nor the networks"]
    if settings is None:
        return None, ["no representations or galleries: these scores were made before `score` kept the data settings "
                      "and the members' final weights; score again into a new out_dir to get them"]
    known = {f.name for f in fields(DataConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        return None, [f"no representations or galleries: the scores' data settings hold {', '.join(unknown)}, which "
                      f"this curriculum does not know (made by a newer version?)"]
    if settings.get("noise_map") is not None:   # JSON keeps a map's class numbers as strings
        settings = settings | {"noise_map": {int(k): v for k, v in settings["noise_map"].items()}}
    try:
        data = load_data(DataConfig(**settings))
    except UserError as err:
        return None, [f"no representations or galleries: the data the scores were made with cannot be loaded ({err})"]
    if data.fingerprint != meta.get("fingerprint"):
        return None, [f"no representations or galleries: the data at {settings.get('path') or settings['root']} are "
                      f"no longer those the scores were made with (fingerprint {data.fingerprint}, scores "
                      f"{meta.get('fingerprint')})"]
    return data, []


def galleries(out_dir: Path, scores: pd.DataFrame, data, picks: dict, majority: dict, root: str) -> list[str]:
    """gallery-<label>.png for each label of `picks`: the easiest, the hardest and the most likely mislabelled
    examples, each under its given label, the members' majority prediction (from their final weights; '?' without
    them) and its score. Folder datasets show the original files (their paths are below `root`)."""
    position = train_positions(data, scores)
    names = []
    for label, kinds in picks.items():
        rows = {kind: [(example_image(data, scores, r, position[r], root), caption(scores, r, label, majority, kind))
                       for r in picked] for kind, picked in kinds.items()}
        name = f"gallery-{label}.png"
        gallery(out_dir / name, rows, f"{data.name}, given label {label}: given→majority prediction, score")
        names.append(name)
    return names


def caption(scores: pd.DataFrame, row: int, label: int, majority: dict, kind: str) -> str:
    """given→majority prediction ('?' without the members' weights), then the score the gallery row is picked by."""
    shown = SHOWN_SCORE[kind]
    return f"{label}→{majority.get(int(row), '?')}\n{shown} {scores[shown].iloc[row]:.2f}"


def example_image(data, scores: pd.DataFrame, row: int, position: int, root: str) -> np.ndarray:
    """The image of a scores row as (H, W) or (H, W, 3) uint8: the original file for folder datasets."""
    if "path" in scores and data.name == "folder":
        with Image.open(Path(root) / scores["path"].iloc[row]) as image:
            return np.asarray(image.convert("RGB"))
    image = data.train.x[position].cpu().numpy()                            # (C, H, W)
    return image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
