"""Reproduction study on real Fashion-MNIST, in one command, resumable (finished runs are skipped):

    .venv/bin/python scripts/reproduce.py [--out outputs/reproduce] [--seeds 5] [--quick] [--part all]

Settings: (a) clean data, standard budget; (b) a limited budget (1/4 of the steps); (c) 40% label noise, scored
and trained on the same noisy labels, with a budget long enough for standard training to start fitting the
noise. Arms: consensus, random, anti, standard (the headline rows, --seeds seeds), a steep and a gentle pacing,
and in (c) pruning curricula (pacing.end=auto and fixed fractions, with a random control). Agreement side:
analyze of the clean ensemble, of a mixed cnn+mlp ensemble (cross-architecture Spearman) and of a random-labels
control. Label-noise part (issue 13; alone with --part label-noise, needs the `bench` extra for cleanlab): 20% and
40% symmetric and pairwise noise, standard training against consensus pruning with pacing.end=auto, the oracle
(sampler.keep=clean) and training on cleanlab's kept examples. Writes docs/results.md from the compare and analyze
outputs, each part's command as it was run (<out>/command-<part>.txt)."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
# Noisy setting: a small training set, 40% flipped labels, and a wider CNN without weight decay trained long
# enough to memorise the noise (standard training's validation accuracy peaks, then falls).
NOISY_DATA = ["data.train_size=4000", "data.val_size=2000", "data.label_noise=0.4"]
NOISY_TARGET = ["model.kwargs.width=32", "model.kwargs.hidden=256", "optim.weight_decay=0", "eval.per_epoch=0.5"]
SCORES = {  # name -> score overrides
    "clean": ["epochs=4"],   # the study was run when scoring defaulted to 4 epochs; kept so it reproduces
    "noisy": NOISY_DATA + ["epochs=8"],
    "mixed": ["ensemble.models=[cnn,mlp]", "epochs=4"],
    "random_labels": ["data.random_labels=true", "epochs=4"],
}


# Label-noise study (issue 13): each kind and level of noise on the noisy setting's data and target.
NOISE_SETTINGS = {"symmetric-0.2": ("symmetric", 0.2), "symmetric-0.4": ("symmetric", 0.4),
                  "pairwise-0.2": ("pairwise", 0.2), "pairwise-0.4": ("pairwise", 0.4)}
PEER_KEEP = "cleanlab_keep"   # the column of the CSV of cleanlab's verdicts (cross_validation.kept_csv)
NOISE_ARMS = {  # arm name in compare's table -> train overrides
    "standard": ["sampler=standard"],
    "consensus/linear@end=auto": ["sampler=consensus", "pacing.end=auto"],
    "standard[sampler.keep=auto]": ["sampler=standard", "sampler.keep=auto"],   # the same filter, no curriculum
    "oracle": ["sampler=standard", "sampler.keep=clean"],
    f"standard[sampler.keep={PEER_KEEP}]": ["sampler=standard", f"sampler.keep={PEER_KEEP}"],
}


FILTERS = [a for a in NOISE_ARMS if a not in ("standard", "oracle")]   # the arms whose share of the oracle's gain


def noise_data(setting: str) -> list[str]:
    kind, fraction = NOISE_SETTINGS[setting]
    return NOISY_DATA[:2] + [f"data.noise={kind}", f"data.label_noise={fraction}"]


def noise_scores() -> dict:
    """The score run of each label-noise setting, made as the noisy study's (8 epochs)."""
    return {f"noise-{name}": noise_data(name) + ["epochs=8"] for name in NOISE_SETTINGS}


def noise_studies(seeds: int, quick: bool) -> list[dict]:
    """Per noise setting: standard training against consensus pruning with the end the tool estimates (as a
    curriculum, and iid over the same kept examples), the oracle (only the truly clean examples) and cleanlab-filtered
    training (only the examples cleanlab does not flag)."""
    epochs = "epochs=4" if quick else "epochs=20"
    return [{"study": f"label-noise-{name}", "scores": f"noise-{name}", "peer": f"cv-noise-{name}.csv",
             "train": noise_data(name) + NOISY_TARGET + [epochs], "arms": [(o, seeds) for o in NOISE_ARMS.values()]}
            for name in NOISE_SETTINGS]


def arm_scores(out: Path, setting: dict, overrides: list[str]) -> Path:
    """The scores an arm trains with: cleanlab's verdicts for the peer arm, else the study's score run."""
    if f"sampler.keep={PEER_KEEP}" in overrides:
        return out / setting["peer"]
    return out / f"score-{setting['scores']}"


def settings(seeds: int, quick: bool) -> list[dict]:
    """Each study: its scores, its train overrides, and arms as (overrides, number of seeds)."""
    few = min(3, seeds)
    main = [(["sampler=consensus"], seeds), (["sampler=random"], seeds), (["sampler=anti"], seeds),
            (["sampler=standard"], seeds)]
    pacings = [(["sampler=consensus", "pacing=steep"], few), (["sampler=consensus", "pacing=gentle"], few)]
    random_ties = [(["sampler=consensus", "sampler.ties=random"], few)]   # what breaking ties by margin changes
    pruning = [(["sampler=consensus", "pacing.end=auto"], few), (["sampler=random", "pacing.end=auto"], few)] + [
        (["sampler=consensus", f"pacing.end={f}"], few) for f in (0.5, 0.7)]
    return [
        # the README's first comparison: default train settings (6 epochs), 3 seeds
        {"study": "fmnist-default", "scores": "clean", "train": [], "arms": [(o, few) for o, _ in main]},
        {"study": "repro-clean", "scores": "clean", "train": ["epochs=2" if quick else "epochs=4", "eval.per_epoch=1"],
         "arms": main + pacings + random_ties},
        {"study": "repro-limited", "scores": "clean", "train": ["epochs=1", "eval.per_epoch=4"], "arms": main},
        {"study": "repro-noisy", "scores": "noisy", "train": NOISY_DATA + NOISY_TARGET + ["epochs=4" if quick else "epochs=20"],
         "arms": main + pacings + random_ties + pruning},
    ]


def cli(*args: str, store: str) -> str:
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    device = ["device=auto"] if args[0] in ("score", "train") else []
    cmd = [sys.executable, "-m", "curriculum", *args, f"mlflow.tracking_uri={store}", *device]
    print("$", " ".join(cmd[1:]), flush=True)
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def expected_arm(cfg) -> dict:
    """The `arm` tag `train` gives a run of this train config (without the scores' checksum)."""
    from omegaconf import OmegaConf

    from curriculum.analysis.comparison import arm_tag

    return arm_tag(str(cfg.sampler.name), OmegaConf.to_container(cfg.pacing, resolve=True), str(cfg.sampler.score),
                   bool(cfg.sampler.balanced), str(cfg.sampler.ties), "", str(cfg.sampler.keep),
                   int(cfg.sampler.strata), float(cfg.sampler.drop_hardest))


def done_seeds(store: str, study: str, overrides: list[str]) -> set[int]:
    """Seeds of this arm that already have a finished run (so an interrupted study resumes): runs whose `arm`
    tag (read as compare reads it, whatever scores) and `training` tag are what `train` with these overrides
    (the study's training settings and the arm's) would tag."""
    import json

    import mlflow

    from curriculum.analysis.comparison import arm_definition
    from curriculum.commands.train import target_config, training_tag
    from curriculum.config import compose_config
    from curriculum.engine import resolve_device

    cfg = compose_config("train", [*overrides, "device=auto"])
    want = expected_arm(cfg)
    training = json.dumps(training_tag(cfg, target_config(cfg, resolve_device("auto"))), sort_keys=True)

    def without_scores(arm: dict) -> dict:
        return {k: v for k, v in arm_definition(arm).items() if k != "scores"}

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"],
                              filter_string=f"tags.study = '{study}' and attributes.status = 'FINISHED'")
    if runs.empty or "tags.arm" not in runs:
        return set()
    mask = runs["tags.arm"].map(lambda tag: isinstance(tag, str)
                                and without_scores(json.loads(tag)) == without_scores(want))
    mask &= runs["tags.training"] == training
    return set(runs.loc[mask, "tags.seed"].astype(int))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/reproduce")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="shorter budgets, for a smoke test")
    parser.add_argument("--part", choices=PARTS, default="all",
                        help="curriculum: the curriculum studies and agreement; label-noise: issue 13's study")
    parser.add_argument("--results-only", action="store_true", help="rewrite docs/results.md from existing outputs")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{out / 'mlflow.db'}"
    if not args.results_only:
        record_command(out, args)
        if args.part in ("all", "curriculum"):
            run_part(out, store, SCORES, settings(args.seeds, args.quick), args.quick)
            for name in SCORES:
                cli("analyze", f"scores={out / f'score-{name}'}", f"out_dir={out / f'analyze-{name}'}", store=store)
        if args.part in ("all", "label-noise"):
            run_label_noise(out, store, args)
    write_results(out, store, args)


PARTS = ("all", "curriculum", "label-noise")


def record_command(out: Path, args) -> None:
    """The command line of each part this run makes, for the results' "Command:" lines."""
    line = "python scripts/reproduce.py " + " ".join(sys.argv[1:])
    for part in PARTS[1:]:
        if args.part in ("all", part):
            (out / f"command-{part}.txt").write_text(line + "\n")


def part_command(out: Path, part: str) -> str:
    path = out / f"command-{part}.txt"
    return path.read_text().strip() if path.is_file() else "(not recorded)"


def run_part(out: Path, store: str, scores: dict, studies: list[dict], quick: bool) -> None:
    """Score runs, then every study's missing seeds, then each study's comparison."""
    for name, overrides in scores.items():
        shorter = ["epochs=2"] if quick and not any(o.startswith("epochs=") for o in overrides) else []
        # always through `score`: it skips members made with exactly these settings and stops on any other
        cli("score", *overrides, *shorter, f"out_dir={out / f'score-{name}'}", store=store)
    for setting in studies:
        for overrides, n in setting["arms"]:
            missing = sorted(set(range(n)) - done_seeds(store, setting["study"], [*setting["train"], *overrides]))
            if missing:
                cli("train", "-m", *setting["train"], *overrides, f"study={setting['study']}",
                    f"scores={arm_scores(out, setting, overrides)}", "seed=" + ",".join(map(str, missing)),
                    store=store)
    for s in studies:
        cli("compare", f"study={s['study']}", f"out_dir={out / ('compare-' + s['study'])}", store=store)


def run_label_noise(out: Path, store: str, args) -> None:
    """Issue 13's study: score each noise setting, make cleanlab's verdicts with scripts/cross_validation.py (the
    same training as the score run's ensemble; out-of-fold probabilities cached beside them), then train and compare
    the arms."""
    from cross_validation import require_cleanlab

    require_cleanlab()   # before the first score run, not after it
    scores, studies = noise_scores(), noise_studies(max(3, args.seeds), args.quick)
    for name, overrides in scores.items():
        cli("score", *overrides, f"out_dir={out / f'score-{name}'}", store=store)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "cross_validation.py"), str(out / f"cv-{name}.npz"),
                        *overrides], check=True, env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true"))
    run_part(out, store, {}, studies, args.quick)   # scored above


def study_wall_minutes(store: str, label_noise: bool) -> float:
    """From the first run's start to the last run's end of one part of the study (the label-noise part's runs:
    its studies' train runs, its score runs and their members), as recorded in the MLflow store."""
    import mlflow

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"])
    scored = runs["tags.out_dir"].fillna("").str.contains("/score-noise-") if "tags.out_dir" in runs else False
    ours = runs["tags.study"].fillna("").str.startswith("label-noise-") | scored
    ours |= runs["tags.mlflow.parentRunId"].isin(runs.loc[ours, "run_id"])
    part = runs[ours if label_noise else ~ours]
    return (part["end_time"].max() - part["start_time"].min()).total_seconds() / 60


def arm_metric(out: Path, store: str, study: str, arm: str, metric: str = "test/acc_at_best_val") -> pd.Series:
    """`metric` of each run (by seed) that compare counted in `arm` of `study`."""
    import mlflow

    table = pd.read_csv(out / f"compare-{study}" / "comparison.csv").set_index("arm")
    ids = table.loc[arm, "run_ids"].split(",")
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string=f"tags.study = '{study}'")
    runs = runs[runs["run_id"].isin(ids)]
    return pd.Series(runs[f"metrics.{metric}"].to_numpy(), index=runs["tags.seed"].astype(int).to_numpy())


def tie_effect(out: Path, store: str, study: str) -> str:
    """Consensus ties broken by margin against a seeded shuffle, paired over the seeds both arms have."""
    from curriculum.analysis.comparison import paired_difference

    margin = arm_metric(out, store, study, "consensus/linear")
    shuffle = arm_metric(out, store, study, "consensus/linear[sampler.ties=random]")
    mean, low, high, pairs = paired_difference(margin, shuffle)
    return (f"- {study}: margin − random ties {100 * mean:+.2f} points [{100 * low:+.2f}, {100 * high:+.2f}] "
            f"(test accuracy at best validation, paired over {pairs} seeds)")


def oracle_share(out: Path, store: str, study: str, arm: str, metric: str) -> str:
    """The share of the oracle's gain over standard that `arm` captures: the mean paired gain of the arm over
    standard divided by the oracle's, over the seeds all three have."""
    standard, oracle, other = (arm_metric(out, store, study, a, metric) for a in ("standard", "oracle", arm))
    seeds = standard.index.intersection(oracle.index).intersection(other.index)
    gain = float((oracle[seeds] - standard[seeds]).mean())
    if not gain > 0:
        return f"– (the oracle gains {100 * gain:+.2f} points)"
    return f"{100 * float((other[seeds] - standard[seeds]).mean()) / gain:.0f}%"


def label_noise_row(out: Path, store: str, study: str, metric: str) -> str:
    """One setting: mean ± std of each arm, and the share of the oracle's gain each filter captures."""
    cells = []
    for arm in NOISE_ARMS:
        values = arm_metric(out, store, study, arm, metric)
        cells.append(f"{100 * values.mean():.2f} ± {100 * values.std(ddof=1):.2f}")
    shares = [oracle_share(out, store, study, a, metric) for a in FILTERS]
    return f"| {study.removeprefix('label-noise-')} | " + " | ".join(cells + shares) + " |"


def label_noise_section(out: Path, store: str, args) -> list[str]:
    """docs/results.md's section of issue 13's study, every number from the compare outputs and the store."""
    studies = noise_studies(args.seeds, False)
    lines = [NOISE_HEADING, "",
             f"Command: `{part_command(out, 'label-noise')}`; "
             f"wall time {study_wall_minutes(store, label_noise=True):.0f} min.  ",
             "Data: " + " ".join(NOISY_DATA[:2]) + " with each setting's noise (validation labels stay clean); "
             "scores: the default ensemble, 8 epochs; cleanlab: `find_label_issues` (defaults) on 4-fold "
             "out-of-fold probabilities from the same cnn and total training as the ensemble "
             "(`scripts/cross_validation.py`), its kept examples trained on through the CSV importer "
             f"(`sampler.keep={PEER_KEEP}`); target: " + " ".join(NOISY_TARGET) + ", epochs=20. Every arm takes "
             "the same steps. Share = the arm's mean paired gain over standard / the oracle's (seeds all three "
             "have).", ""]
    header = "| setting | " + " | ".join(NOISE_ARMS) + " | " + " | ".join(f"share: {a}" for a in FILTERS) + " |"
    for metric, meaning in (("test/acc_at_best_val", "test accuracy at the best validation point"),
                            ("test/acc_final", "test accuracy at the end of training")):
        lines += [f"{meaning.capitalize()} (%, mean ± std over seeds):", "", header,
                  "|" + "---|" * (len(NOISE_ARMS) + len(FILTERS) + 1)]
        lines += [label_noise_row(out, store, s["study"], metric) for s in studies] + [""]
    for s in studies:
        table = (out / f"compare-{s['study']}" / "comparison.md").read_text()
        lines += [f"### {s['study']}", "", table.strip().split("\n", 2)[2].strip(), ""]
    return lines


NOISE_HEADING = "## Label noise: consensus pruning against the oracle and cleanlab"


def write_results(out: Path, store: str, args) -> None:
    """docs/results.md, every number taken from the compare and analyze outputs: each part's section from `out` when
    its outputs are there, else kept as the file had it (so a part run alone does not lose the other's)."""
    target = ROOT / "docs" / "results.md"
    made = {"curriculum": all((out / f"compare-{s['study']}" / "comparison.md").is_file()
                              for s in settings(args.seeds, args.quick)),
            "label-noise": all((out / f"compare-{s['study']}" / "comparison.md").is_file()
                               for s in noise_studies(args.seeds, False))}
    sections = {"curriculum": curriculum_section(out, store, args) if made["curriculum"] else None,
                "label-noise": label_noise_section(out, store, args) if made["label-noise"] else None}
    target.write_text(assemble(target.read_text() if target.is_file() else "", sections))
    print(f"wrote {target}")


def assemble(existing: str, sections: dict) -> str:
    """results.md from the sections made now (lists of lines; None: not made, keep what `existing` has)."""
    old_curriculum, _, old_noise = existing.partition(NOISE_HEADING)
    curriculum = sections["curriculum"] or old_curriculum.rstrip("\n").splitlines()
    noise = sections["label-noise"] or ((NOISE_HEADING + old_noise).rstrip("\n").splitlines() if old_noise else [])
    return "\n".join(curriculum + ([""] if noise else []) + noise) + "\n"


def curriculum_section(out: Path, store: str, args) -> list[str]:
    """The curriculum part: agreement, tie-breaks and every curriculum study's comparison."""
    tables = {s["study"]: (out / f"compare-{s['study']}" / "comparison.md").read_text()
              for s in settings(args.seeds, args.quick)}
    wall = study_wall_minutes(store, label_noise=False)
    def final(name):
        a = pd.read_csv(out / f"analyze-{name}" / "agreement.csv")
        return a[a["split"] == "train"].iloc[-1], a[a["split"] == "test"].iloc[-1]

    lines = ["# Reproduction study: Fashion-MNIST", "",
             f"Command: `{part_command(out, 'curriculum')}`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
             f"CPU only; wall time from the first run's start to the last one's end {wall:.0f} min.", "",
             "## Agreement (last checkpoint, members' own training labels)", "",
             "| ensemble | split | mean acc | TPA | TPA indep. | right in all | indep. | right in none | indep. |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in SCORES:
        for row in final(name):
            lines.append(f"| {name} | {row['split']} | {row['mean_acc']:.4f} | {row['tpa']:.4f} | "
                         f"{row['tpa_independent']:.4f} | {row['all_right']:.4f} | {row['all_right_independent']:.4f} | "
                         f"{row['none_right']:.4f} | {row['none_right_independent']:.4f} |")
    order = pd.read_csv(out / "analyze-mixed" / "order_stability.csv")
    lines += ["", "Spearman correlation of per-example learning speed between members (mixed cnn+mlp ensemble):", ""]
    for kind, g in order.groupby("kind", sort=False):
        lines.append(f"- {kind}: mean {g['spearman'].mean():.4f} over {len(g)} pair(s)")
    noise = pd.read_csv(out / "analyze-noisy" / "noise_auroc.csv")
    lines += ["", "AUROC of each score for finding the 40% flipped labels (noisy ensemble):", "",
              "| score | AUROC |", "|---|---|"] + [f"| {r.score} | {r.auroc:.4f} |" for r in noise.itertuples()]
    lines += ["", "Breaking consensus ties by margin (`sampler.ties=margin`, the default) against a seeded shuffle "
              "(`sampler.ties=random`):", ""]
    lines += [tie_effect(out, store, study) for study in ("repro-clean", "repro-noisy")]
    for study, table in tables.items():
        lines += ["", f"## {study}", "", table.strip().split("\n", 2)[2].strip()]
        figure = ROOT / "docs" / f"results-{study}.png"
        shutil.copyfile(out / f"compare-{study}" / "learning_curves.png", figure)
        lines += ["", f"![learning curves of {study}]({figure.name})"]
    return lines


if __name__ == "__main__":
    main()
