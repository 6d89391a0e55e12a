"""report.md of the analyze command: agreement per checkpoint, order stability, the families' agreement and
representations (CKA, subspace match), out-of-distribution agreement and noise AUROC as tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io.files import atomic_write
from .subspace_match import match_summary


def write_report(path: Path, score_dir: Path, stats: dict, agreement: pd.DataFrame, order: pd.DataFrame,
                 noise: pd.DataFrame | None, families: pd.DataFrame | None = None, notes: list[str] = (),
                 ood: dict | None = None, subspace: pd.DataFrame | None = None) -> str:
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
    if families is not None:
        lines += families_lines(families, stats["final_split"], notes)
    if subspace is not None:
        lines += match_lines(match_summary(subspace), families)
    if ood:
        lines += ood_lines(ood["ood_agreement.csv"], ood.get("ood_families.csv"))
    if noise is not None:
        lines += ["", "AUROC of each score (hardness) for finding the flipped labels:", "",
                  "| score | AUROC |", "|---|---|"] + [f"| {r.score} | {r.auroc:.4f} |" for r in noise.itertuples()]
    text = "\n".join(lines) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))
    return text


def families_lines(families: pd.DataFrame, split: str, notes: list[str]) -> list[str]:
    """Member pairs by architecture family: learning order, final correctness and, where the members' weights were
    kept, the linear CKA of their penultimate representations of the test split."""
    cka = "cka" in families
    lines = ["", f"Member pairs by architecture family: learning order (Spearman of learning speed on the training "
                 f"split), correctness at the last checkpoint ({split} split: both right or both wrong; independent = "
                 f"members of the same accuracies erring independently; kappa = agreement beyond independence)"
                 + (" and representations (linear CKA of the penultimate layer on the test split, Kornblith et al. "
                    "2019)" if cka else "") + ", averaged over the member pairs:", "",
             "| families | pairs | Spearman | agreement | indep. | kappa |" + (" CKA |" if cka else ""),
             "|---|---|---|---|---|---|" + ("---|" if cka else "")]
    lines += [f"| {r.family_a} – {r.family_b} | {r.pairs} | {r.spearman:.4f} | {r.agreement:.4f} | "
              f"{r.agreement_independent:.4f} | {r.kappa:.4f} |" + (f" {r.cka:.4f} |" if cka else "")
              for r in families.itertuples()]
    return lines + ([""] + [f"- {note}" for note in notes] if notes else [])


def match_lines(summary: pd.DataFrame, families: pd.DataFrame | None) -> list[str]:
    """The maximum match per family pair and layer at each epsilon, beside the pairs' CKA (penultimate layer) and
    output agreement (kappa) from the families table."""
    return (["", "Neuron activation subspace match (Wang et al. 2018): the maximum match of the same layer of two "
                 "members, as (matched neurons of both) / (neurons of both), mean ± std over the member pairs. A "
                 "neuron is its activation vector over the samples (test images; for conv channels (image, position) "
                 "pairs) and matches when it lies within epsilon of its norm from the span of the other member's "
                 "matched neurons; dead neurons (never active) never match. CKA (penultimate layer only) and kappa "
                 "(output agreement) of the same pairs from the families table:", ""]
            + match_table_lines(summary, None if families is None else families.set_index(["family_a", "family_b"])))


def match_table_lines(summary: pd.DataFrame, families: pd.DataFrame | None) -> list[str]:
    """A row per family pair and layer of match_summary: widths, samples, pairs, the share of dead neurons and the
    share matched at each epsilon; with `families` (indexed by family_a, family_b) the pair's CKA on its penultimate
    row and its kappa."""
    epsilons = list(dict.fromkeys(summary["epsilon"]))
    lines = ["| families | layer | neurons | samples | pairs | dead | " + " | ".join(f"ε={e:g}" for e in epsilons)
             + " | CKA | kappa |", "|---|---|---|---|---|---|" + "---|" * (len(epsilons) + 2)]
    for (a, b, layer), g in summary.groupby(["family_a", "family_b", "layer"], sort=False):
        r = g.iloc[0]
        width = f"{r.width_a}" if r.width_a == r.width_b else f"{r.width_a} / {r.width_b}"
        row = families.loc[(a, b)] if families is not None and (a, b) in families.index else pd.Series()
        cka = f"{row['cka']:.4f}" if layer == "penultimate" and "cka" in row else "–"
        kappa = f"{row['kappa']:.4f}" if "kappa" in row else "–"
        shares = " | ".join(f"{m:.4f}" + ("" if pd.isna(sd) else f" ± {sd:.4f}")
                            for m, sd in zip(g["share"], g["share_std"]))
        lines.append(f"| {a} – {b} | {layer} | {width} | {r.samples} | {r.pairs} | {r.dead:.3f} | {shares} | "
                     f"{cka} | {kappa} |")
    return lines


def ood_lines(agreement: pd.DataFrame, families: pd.DataFrame | None) -> list[str]:
    """Out-of-distribution agreement: per split and checkpoint, the share of images all members put in one class
    against independent members; and whether families agree on the same images."""
    lines = ["", "Out-of-distribution agreement: the share of images every member puts in the same class, against "
                 "members predicting independently with their own predicted-class frequencies, and the commonest "
                 "class's share of all predictions:", "",
             "| split | epoch | all agree | independent | commonest class |", "|---|---|---|---|---|"]
    lines += [f"| {r.split} | {r.epoch:.3g} | {r.unanimous:.4f} | {r.unanimous_independent:.4f} | "
              f"{r.top_class_share:.4f} |" for r in agreement.itertuples()]
    if families is not None:
        lines += ["", "Do architecture families agree on the same out-of-distribution images? Images each family's "
                      "members all put in one class, and those both families put in the same class, against "
                      "independence:", "",
                  "| split | epoch | families | unanimous a | unanimous b | same class, both | independent |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r.split} | {r.epoch:.3g} | {r.family_a} – {r.family_b} | {r.unanimous_a} | {r.unanimous_b} | "
                  f"{r.same_class_both} | {r.independent:.1f} |" for r in families.itertuples()]
    return lines
