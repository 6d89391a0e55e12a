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

import numpy as np
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


# Data-pruning study (issue 14): clean Fashion-MNIST, the default score run, cnn and training (6 epochs). Each
# selection keeps the first pacing.end of its ordering from the first step (pacing=static).
PRUNE_FRACTIONS = (0.3, 0.5, 0.7, 0.9)
SELECTIONS = {  # row of the table -> the train overrides that make the ordering whose prefix is kept
    "random": ["sampler=random"],
    "easiest (consensus)": ["sampler=consensus"],
    "hardest (consensus)": ["sampler=anti"],
    "hardest (EL2N)": ["sampler=anti", "sampler.score=el2n"],
    "stratified (consensus)": ["sampler=stratified"],
}
SAME_STEPS = 0.5   # the fraction also trained for the steps of all the data


def selection_overrides(selection: str, fraction: float) -> list[str]:
    return [*SELECTIONS[selection], "pacing=static", f"pacing.end={fraction}"]


def pruning_studies(seeds: int, quick: bool) -> list[dict]:
    """Equal epochs over each subset (epochs_of=kept) at every fraction, and equal steps (those of all the data)
    at SAME_STEPS; both against standard training on all the data."""
    shorter = ["epochs=2"] if quick else []

    def arms(fractions):
        return [(selection_overrides(s, f), seeds) for f in fractions for s in SELECTIONS] + [(["sampler=standard"], seeds)]

    return [{"study": "pruning-epochs", "scores": "pruning", "train": ["epochs_of=kept", *shorter],
             "arms": arms(PRUNE_FRACTIONS)},
            {"study": "pruning-steps", "scores": "pruning", "train": shorter, "arms": arms((SAME_STEPS,))}]


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
                        help="curriculum: the curriculum studies and agreement; label-noise: issue 13's study; "
                             "pruning: issue 14's data-pruning study; agreement: issue 15's families and TPA "
                             "against accuracy over every ensemble in --out")
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
        if args.part in ("all", "pruning"):
            run_part(out, store, {"pruning": []}, pruning_studies(max(3, args.seeds), args.quick), args.quick)
        if args.part in ("all", "agreement"):
            run_agreement(out, store, args.quick)
    write_results(out, store, args)


PARTS = ("all", "curriculum", "label-noise", "pruning", "agreement")


def record_command(out: Path, args) -> None:
    """The command line of each part this run makes, for the results' "Command:" lines."""
    line = "python scripts/reproduce.py " + " ".join(sys.argv[1:])
    for part in PARTS[1:]:
        if args.part in ("all", part):
            (out / f"command-{part}.txt").write_text(line + "\n")


def part_command(out: Path, part: str) -> str:
    path = out / f"command-{part}.txt"
    return path.read_text().strip() if path.is_file() else "(not recorded)"


# Agreement part (issue 15): members of three architecture families, then analyze of every score run in --out
# (the families, and every ensemble the other parts scored) for TPA against accuracy.
AGREEMENT_SCORES = {"families": ["ensemble.models=[mlp,cnn,cnn_gap]", "ensemble.size=9", "epochs=4"],
                    # out of distribution: trained on five classes, the other five and 1000 artificial images of each
                    # kind recorded; two families of two members, so that the families' agreement can be compared
                    "ood": ["data.classes=[0,1,2,3,4]", "data.artificial=1000", "ensemble.models=[cnn,mlp]",
                            "ensemble.size=4", "epochs=4"]}


def run_agreement(out: Path, store: str, quick: bool) -> None:
    """Score the families' and the out-of-distribution ensembles, then analyze every score run whose analysis is
    missing or older than its scores (and those two)."""
    run_part(out, store, AGREEMENT_SCORES, [], quick)
    for score_dir in sorted(out.glob("score-*")):
        name = score_dir.name.removeprefix("score-")
        if name in AGREEMENT_SCORES or not analysis_is_current(out, name):
            cli("analyze", f"scores={score_dir}", f"out_dir={out / f'analyze-{name}'}", store=store)


def analysis_is_current(out: Path, name: str) -> bool:
    """analyze-<name> was made from score-<name> as it is now (written after its scores)."""
    analysis, scores = out / f"analyze-{name}" / "agreement.csv", out / f"score-{name}" / "scores.parquet"
    return analysis.is_file() and scores.is_file() and analysis.stat().st_mtime >= scores.stat().st_mtime


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


PART_RUNS = {"label-noise": ("label-noise-", "/score-noise-"), "pruning": ("pruning-", "/score-pruning")}  # part ->
# (prefix of its studies' names, mark of its score runs' out_dir); the curriculum part is every other run


def study_wall_minutes(store: str, part: str) -> float:
    """From the first run's start to the last run's end of one part of the study (its studies' train runs, its
    score runs and their members), as recorded in the MLflow store."""
    import mlflow

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"])

    def made_by(study_prefix: str, score_mark: str) -> pd.Series:
        ours = runs["tags.study"].fillna("").str.startswith(study_prefix)
        if "tags.out_dir" in runs:
            ours |= runs["tags.out_dir"].fillna("").str.contains(score_mark)
        return ours | runs["tags.mlflow.parentRunId"].isin(runs.loc[ours, "run_id"])

    ours = made_by(*PART_RUNS[part]) if part in PART_RUNS else ~np.logical_or.reduce(
        [made_by(*marks) for marks in PART_RUNS.values()])
    part_runs = runs[ours]
    return (part_runs["end_time"].max() - part_runs["start_time"].min()).total_seconds() / 60


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
             f"wall time {study_wall_minutes(store, 'label-noise'):.0f} min.  ",
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
PRUNING_HEADING = "## Data pruning: which examples to keep"
AGREEMENT_HEADING = "## Agreement across architecture families, and against accuracy"
HEADINGS = {"label-noise": NOISE_HEADING, "pruning": PRUNING_HEADING, "agreement": AGREEMENT_HEADING}   # the curriculum part comes first, unheaded


def write_results(out: Path, store: str, args) -> None:
    """docs/results.md, every number taken from the compare and analyze outputs: the section of each part run now
    (--part) from `out` when its outputs are there, every other section kept as the file had it."""
    target = ROOT / "docs" / "results.md"
    def compared(studies):
        return all((out / f"compare-{s['study']}" / "comparison.md").is_file() for s in studies(args.seeds, False))

    parts = {"curriculum": (compared(settings), curriculum_section),
             "label-noise": (compared(noise_studies), label_noise_section),
             "pruning": (compared(pruning_studies), pruning_section),
             "agreement": ((out / "analyze-families" / "families.csv").is_file(), agreement_section)}
    wanted = PARTS[1:] if args.part == "all" else (args.part,)   # a part run alone leaves the others' sections
    sections = {part: section(out, store, args) if made and part in wanted else None
                for part, (made, section) in parts.items()}
    target.write_text(assemble(target.read_text() if target.is_file() else "", sections))
    print(f"wrote {target}")


def assemble(existing: str, sections: dict) -> str:
    """results.md from the sections made now (lists of lines, by part, in PARTS order; None: not made, keep what
    `existing` has under the part's heading, or before every heading for the curriculum part)."""
    found = sorted((existing.find(h), part) for part, h in HEADINGS.items() if h in existing)
    bounds = [0] + [at for at, _ in found] + [len(existing)]
    old = dict(zip(["curriculum"] + [part for _, part in found], (existing[a:b] for a, b in zip(bounds, bounds[1:]))))
    lines = []
    for part in PARTS[1:]:
        section = sections.get(part) or old.get(part, "").rstrip("\n").splitlines()
        lines += ([""] if lines and section else []) + section
    return "\n".join(lines) + "\n"


def selection_arm(selection: str, fraction: float) -> str:
    """The name compare gives the arm of `selection` at `fraction`."""
    from curriculum.analysis.comparison import arm_name
    from curriculum.config import compose_config

    return arm_name(expected_arm(compose_config("train", selection_overrides(selection, fraction))))


def scoring_passes(score_dir: Path) -> dict:
    """What the score run cost, in example passes, from the metadata `score` writes into scores.parquet: n training
    examples; `trained`, the members' training passes; `recorded_train` and `recorded_test`, the forward-only passes
    of the clean (recording.source=eval) recordings at the checkpoints; `levels`, the values consensus can take."""
    from curriculum.io.scorefile import read_scores

    frame, meta = read_scores(score_dir / "scores.parquet")
    test = score_dir / "test_scores.parquet"
    evals = sum(len(meta["checkpoints"]) for m in meta["ensemble"] if m.get("source", "eval") == "eval")
    return {"n": len(frame), "trained": round(len(meta["ensemble"]) * max(meta["checkpoints"]) * len(frame)),
            "recorded_train": evals * len(frame),
            "recorded_test": evals * (len(read_scores(test)[0]) if test.is_file() else 0),
            "levels": len(meta["ensemble"]) * len(meta["checkpoints"]) + 1}


def scoring_cost_line(cost: dict, epochs: int) -> str:
    """The scoring cost against what pruning saves, with a forward-only pass counted as a third of a training pass
    (the backward pass costs about two forwards)."""
    n, trained, recorded = cost["n"], cost["trained"], cost["recorded_train"]
    equivalent = trained + recorded / 3
    saved = epochs * 0.5 * n
    return (f"Cost of the scores: the score run trains {trained:,} example passes ({trained / n:.0f} epochs of the "
            f"training set) and records {recorded:,} forward-only passes of the training split at its checkpoints "
            f"({cost['recorded_test']:,} more of the test split, which pruning does not need: `recording.test=false`); "
            f"at a third of a training pass each, {equivalent:,.0f} training-pass equivalents. One target on all the "
            f"data takes {epochs * n:,} passes; keeping f at equal epochs saves {epochs} x (1 - f) x {n:,} per run, "
            f"so at f = 0.5 the scores pay for themselves after {equivalent / saved:.1f} training runs "
            f"({trained / saved:.1f} with `recording.source=train`, which records from the training pass itself).")


def pruning_cell(table: pd.DataFrame, arm: str, against_random: bool) -> str:
    row = table.loc[arm]
    if not against_random:
        return f"{100 * row['test@best_val_mean']:.2f} ± {100 * row['test@best_val_std']:.2f}"
    if arm.startswith("random/"):
        return "–"
    return f"{100 * row['vs_random']:+.2f} [{100 * row['vs_random_lo']:+.2f}, {100 * row['vs_random_hi']:+.2f}]"


def pruning_section(out: Path, store: str, args) -> list[str]:
    """docs/results.md's section of issue 14's pruning study: each selection at each kept fraction, at equal epochs
    and (SAME_STEPS) at equal steps, against random subsets and all the data; and what the scores cost."""
    from curriculum.schedule.sampler import SamplerConfig

    tables = {s["study"]: pd.read_csv(out / f"compare-{s['study']}" / "comparison.csv").set_index("arm")
              for s in pruning_studies(args.seeds, False)}
    epochs, steps = tables["pruning-epochs"], tables["pruning-steps"]
    cost = scoring_passes(out / "score-pruning")
    target_epochs = int(compose_target_epochs())
    defaults = SamplerConfig(name="stratified")
    lines = [PRUNING_HEADING, "",
             f"Command: `{part_command(out, 'pruning')}`; wall time {study_wall_minutes(store, 'pruning'):.0f} min.  ",
             f"Clean Fashion-MNIST ({cost['n']} training examples, the default split), the default cnn and training "
             f"({target_epochs} epochs), scores from the default score run. Each selection keeps the first fraction "
             "of its ordering, classes in proportion (`sampler.balanced`), and trains on all of it from the first "
             "step (`pacing=static`; each batch drawn uniformly from the subset). Equal epochs: "
             f"{target_epochs} epochs over the subset (`epochs_of=kept`), so a smaller subset also trains for fewer "
             f"steps; equal steps: the steps of {target_epochs} epochs over all the data. Stratified: Zheng et al.'s "
             f"coverage-centric selection (`sampler=stratified`): the hardest {defaults.drop_hardest:g} left out, the "
             f"rest dealt evenly from {defaults.strata} equal-width consensus strata (our fixed choice, not tuned per "
             f"fraction as in the paper; consensus takes {cost['levels']} values here, so at most {cost['levels']} "
             "strata are non-empty; at 0.9 it keeps all but the globally hardest tenth, where the easiest selection "
             "keeps the easiest nine tenths of each class).", ""]
    columns = [f"{f:g}" for f in PRUNE_FRACTIONS] + [f"{SAME_STEPS:g}, equal steps"]
    for against_random, title in ((False, "Test accuracy at the best validation point (%, mean ± std over seeds)"),
                                  (True, "Difference from the random subset of the same size (points, paired over "
                                         "seeds, 95% interval)")):
        lines += [f"{title}, by kept fraction:", "", "| selection | " + " | ".join(columns) + " |",
                  "|---|" + "---|" * len(columns)]
        for selection in SELECTIONS:
            cells = [pruning_cell(epochs, selection_arm(selection, f), against_random) for f in PRUNE_FRACTIONS]
            cells.append(pruning_cell(steps, selection_arm(selection, SAME_STEPS), against_random))
            lines.append(f"| {selection} | " + " | ".join(cells) + " |")
        lines.append("")
    full = epochs.loc["standard"]
    lines += [f"All the data (`standard`): {100 * full['test@best_val_mean']:.2f} ± "
              f"{100 * full['test@best_val_std']:.2f} ({int(full['n'])} seeds).", "",
              scoring_cost_line(cost, target_epochs), ""]
    for study in tables:
        markdown = (out / f"compare-{study}" / "comparison.md").read_text()
        lines += [f"### {study}", "", markdown.strip().split("\n", 2)[2].strip(), ""]
    return lines


def ensembles(out: Path) -> pd.DataFrame:
    """Every analyzed ensemble in `out`: its members' architectures, and at the last checkpoint of the test split
    the members' mean accuracy, TPA and TPA if they erred independently."""
    from curriculum.io.scorefile import read_scores

    rows = []
    for analysis in sorted(out.glob("analyze-*/agreement.csv")):
        name = analysis.parent.name.removeprefix("analyze-")
        test = pd.read_csv(analysis).query("split == 'test'")
        if test.empty or not analysis_is_current(out, name):
            continue
        meta = read_scores(out / f"score-{name}" / "scores.parquet")[1]
        archs = pd.Series([m["arch"] for m in meta["ensemble"]]).value_counts(sort=False)
        last = test.iloc[-1]
        rows.append({"ensemble": name, "members": " + ".join(f"{k} {a}" for a, k in archs.items()),
                     "size": len(meta["ensemble"]), "fingerprint": meta.get("fingerprint", ""),
                     "mean_acc": last["mean_acc"], "tpa": last["tpa"], "tpa_independent": last["tpa_independent"]})
    return same_ensembles_once(pd.DataFrame(rows))


def same_ensembles_once(table: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct ensemble: score runs of the same data with the same figures (two parts scoring the same
    settings) are one, named by all their names."""
    key = ["fingerprint", "members", "mean_acc", "tpa", "tpa_independent"]
    names = table.groupby(key, sort=False)["ensemble"].transform(lambda n: " = ".join(n))
    return table.assign(ensemble=names).drop_duplicates(key).drop(columns="fingerprint").reset_index(drop=True)


def agreement_section(out: Path, store: str, args) -> list[str]:
    """docs/results.md's section of issue 15's agreement study, a subsection per claim, each ending with whether it
    holds here: out-of-distribution agreement, architecture families, representations, and TPA against accuracy;
    and the families' data map and a gallery for the README."""
    families = pd.read_csv(out / "analyze-families" / "families.csv").set_index(["family_a", "family_b"])
    for name, picture in (("data-map-fashion-mnist.png", "data_map.png"), ("gallery-fashion-mnist.png", "gallery-6.png")):
        shutil.copyfile(out / "analyze-families" / picture, ROOT / "docs" / name)
    return ([AGREEMENT_HEADING, "", f"Command: `{part_command(out, 'agreement')}`.", ""] + ood_lines(out)
            + families_lines(families) + representation_lines(families) + tpa_accuracy_lines(ensembles(out)))


def families_lines(families: pd.DataFrame) -> list[str]:
    """Claim 2 (Xiao et al.): cnn without global pooling behaves like an mlp; the families table, mean ± std over
    member pairs."""
    cnn, gap = families.loc[("cnn", "mlp")], families.loc[("cnn_gap", "mlp")]
    measures = [m for m in ("spearman", "kappa", "cka") if m in families]
    closer = {m: cnn[m] > gap[m] for m in measures}
    lines = ["### Architecture families: is a cnn without global pooling closer to an mlp?", "",
             "Families: " + " ".join(AGREEMENT_SCORES["families"]) + " on the default data (3 members each); "
             "Spearman of per-example learning speed on the training split; agreement of correctness at the last "
             "checkpoint on the test split (kappa: beyond what independent members of the same accuracies give); "
             "linear CKA of the penultimate-layer representations of the test split; mean ± std over member pairs "
             "(pairs share members, so they are not independent).", "",
             "| families | pairs | Spearman | agreement | indep. | kappa |" + (" CKA |" if "cka" in families else ""),
             "|---|---|---|---|---|---|" + ("---|" if "cka" in families else "")]
    lines += [f"| {a} – {b} | {r.pairs} | {pm(r, 'spearman')} | {r.agreement:.4f} | {r.agreement_independent:.4f} | "
              f"{pm(r, 'kappa')} |" + (f" {pm(r, 'cka')} |" if "cka" in families else "")
              for (a, b), r in families.iterrows()]
    verdict = ("Holds here" if all(closer.values()) else "Holds only in part here" if any(closer.values())
               else "Does not hold here")
    lines += ["", f"{verdict}: against mlp, `cnn` (max-pooling, no global pooling) is closer than `cnn_gap` (global "
              "average pooling) by " + ", ".join(f"{m} ({pm(cnn, m)} against {pm(gap, m)})" for m in measures if closer[m])
              + ("" if all(closer.values()) else "; not by " + ", ".join(m for m in measures if not closer[m]))
              + ("; the learning-order spreads (± std over pairs) overlap" if spreads_overlap(cnn, gap, "spearman")
                 else "") + ".", ""]
    return lines


def spreads_overlap(a, b, name: str) -> bool:
    """The mean ± std of `name` of two families rows overlap (False without stds)."""
    gap = abs(a[name] - b[name])
    return bool(gap < a.get(f"{name}_std", np.nan) + b.get(f"{name}_std", np.nan))


def representation_lines(families: pd.DataFrame) -> list[str]:
    """Claim 3 (Wang et al. 2018: representations of differently initialised networks are less alike than
    expected): linear CKA of the same pairs beside their output agreement."""
    if "cka" not in families:
        return ["### Representations", "", "No representations: the families' members kept no weights.", ""]
    same = families[families["kind"] == "same family"]
    across = families[families["kind"] == "across families"]
    alike = bool((same["cka"] >= same["kappa"]).all())
    return ["### Representations: do members that agree in their outputs also agree inside?", "",
            "Linear CKA of the penultimate layers on the test split beside the output agreement (kappa) of the same "
            "member pairs, from the table above:", "",
            "| pairs | CKA | kappa |", "|---|---|---|",
            f"| same family | {same['cka'].min():.4f} to {same['cka'].max():.4f} | {same['kappa'].min():.4f} to "
            f"{same['kappa'].max():.4f} |",
            f"| across families | {across['cka'].min():.4f} to {across['cka'].max():.4f} | "
            f"{across['kappa'].min():.4f} to {across['kappa'].max():.4f} |", "",
            ("Does not hold here by linear CKA" if alike else "Holds here by linear CKA")
            + f": differently seeded members of one family have representations with CKA {same['cka'].min():.2f} to "
            f"{same['cka'].max():.2f} (1: equal up to a rotation and a scale), "
            + ("above" if alike else "below") + f" the chance-corrected agreement of their outputs (kappa "
            f"{same['kappa'].min():.2f} to {same['kappa'].max():.2f}); Wang et al. measured neuron-subspace matches, "
            "a stricter test not run here, so this does not contradict them.", ""]


def pm(row, name: str) -> str:
    """`name` of a families row as mean ± std (the std of the pairs, when there are two or more)."""
    std = row.get(f"{name}_std", np.nan)
    return f"{row[name]:.4f}" + ("" if pd.isna(std) else f" ± {std:.4f}")


def ood_lines(out: Path) -> list[str]:
    """Claim 1 (Hacohen et al.: members agree even out of distribution): the out-of-distribution ensemble's
    agreement at its first and last checkpoint, and its families' overlap."""
    agreement = pd.read_csv(out / "analyze-ood" / "ood_agreement.csv")
    ends = agreement[agreement.groupby("split")["checkpoint"].transform(lambda c: c.isin([c.min(), c.max()]))]
    last = ends[ends["checkpoint"] == agreement["checkpoint"].max()]
    lines = ["### Out of distribution: do members agree where no label is right?", "",
             " ".join(AGREEMENT_SCORES["ood"]) + " (trained on T-shirt/top, Trouser, Pullover, Dress and Coat); the "
             "share of images all four members put in the same class, against members predicting independently with "
             "their own class frequencies, at the first and the last checkpoint:", "",
             "| split | epoch | all agree | independent | commonest class |", "|---|---|---|---|---|"]
    lines += [f"| {r.split} | {r.epoch:.3g} | {r.unanimous:.4f} | {r.unanimous_independent:.4f} | "
              f"{r.top_class_share:.4f} |" for r in ends.itertuples()]
    overlap = pd.read_csv(out / "analyze-ood" / "ood_families.csv")
    lines += ["", "Do the two cnns and the two mlps agree on the same images (same class)?", "",
              "| split | epoch | cnns unanimous | mlps unanimous | same class, both | if independent |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {r.split} | {r.epoch:.3g} | {r.unanimous_a} | {r.unanimous_b} | {r.same_class_both} | "
              f"{r.independent:.0f} |" for r in overlap.itertuples()]
    above = bool((last["unanimous"] > last["unanimous_independent"]).all())
    late = overlap[overlap["epoch"] == overlap["epoch"].max()]
    shared = bool((late["same_class_both"] > late["independent"]).all())
    lines += ["", ("Holds here" if above else "Does not hold here") + ": at the end of training the members agree "
              "on " + ", ".join(f"{100 * r.unanimous:.1f}% of {r.split.replace('_', ' ')} images (independent "
              f"{100 * r.unanimous_independent:.1f}%)" for r in last.itertuples()) + "; the two families "
              + ("pick the same images and classes more often than independence on every split" if shared else
                 "do not pick the same images more often than independence on every split") + ".", ""]
    return lines


def tpa_accuracy_lines(table: pd.DataFrame) -> list[str]:
    """Test TPA against test accuracy over the ensembles, with the correlation over all of them and over the
    four-member ten-class ones on true or noisy labels (TPA falls as members are added; random labels sit far from the
    rest; the out-of-distribution ensemble learns five classes)."""
    from curriculum.analysis.plots import tpa_against_accuracy
    from curriculum.analysis.stats import spearman

    figure = ROOT / "docs" / "results-tpa-accuracy.png"
    tpa_against_accuracy(figure, table)
    alike = table[(table["size"] == 4) & ~table["ensemble"].isin(["random_labels", "ood"])]   # ood: a 5-class task

    def correlation(part):
        return (f"Pearson {np.corrcoef(part['mean_acc'], part['tpa'])[0, 1]:.3f}, "
                f"Spearman {spearman(part['mean_acc'], part['tpa']):.3f} ({len(part)} ensembles)")

    lines = ["### Agreement and generalisation: do more accurate ensembles agree more?", "",
             f"Test-split TPA against the members' mean test accuracy, last checkpoint, every distinct ensemble the "
             f"study scored: {correlation(table)}; the four-member ten-class ensembles on true or noisy labels alone: "
             f"{correlation(alike)}. TPA falls as members are added (the families' 9 members), and `ood` learns five "
             "classes, so only ensembles of one size and task compare directly.", "",
             "| ensemble | members | mean test acc | TPA | TPA indep. |", "|---|---|---|---|---|"]
    lines += [f"| {r.ensemble} | {r.members} | {r.mean_acc:.4f} | {r.tpa:.4f} | {r.tpa_independent:.4f} |"
              for r in table.sort_values("mean_acc").itertuples()]
    r = float(np.corrcoef(alike["mean_acc"], alike["tpa"])[0, 1])
    verdict = "Holds here" if r > 0 else "Does not hold here"
    return lines + ["", f"![test TPA against test accuracy]({figure.name})", "",
                    f"{verdict}: among ensembles of one size and task, TPA rises with accuracy (Pearson {r:.3f}); "
                    "across all of them the random-labels control drives most of the correlation."]


def compose_target_epochs() -> int:
    """The default train run's epochs, which the pruning study keeps."""
    from curriculum.config import compose_config

    return int(compose_config("train", []).epochs)


def curriculum_section(out: Path, store: str, args) -> list[str]:
    """The curriculum part: agreement, tie-breaks and every curriculum study's comparison."""
    tables = {s["study"]: (out / f"compare-{s['study']}" / "comparison.md").read_text()
              for s in settings(args.seeds, args.quick)}
    wall = study_wall_minutes(store, 'curriculum')
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
