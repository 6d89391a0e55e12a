"""docs/results.md's section of issue 15's agreement study, a subsection per claim, each ending with its verdict
(curriculum.analysis.verdicts): out-of-distribution agreement, architecture families, representations (linear CKA,
then the neuron activation subspace match), and TPA against accuracy; and the families' data map and a gallery for
docs/findings.md."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd

from ...analysis.stats import spearman
from ...analysis.report import match_table_lines
from ...analysis.subspace_match import match_summary
from ...analysis.verdicts import (Holds, families_verdict, ood_verdict, representation_verdict, subspace_verdict,
                                  tpa_verdict)
from ...io.scorefile import read_scores
from ..runner import analysis_is_current
from .common import Context, command_line, pm

HEADING = "## Agreement across architecture families, and against accuracy"
PICTURES = {"data-map-fashion-mnist.png": "data_map.png", "gallery-fashion-mnist.png": "gallery-6.png"}
MATCH_FIGURE = "results-subspace-match.png"   # analyze-families/subspace_match.png, copied beside results.md


def agreement_section(ctx: Context) -> list[str]:
    families = pd.read_csv(ctx.out / "analyze-families" / "families.csv").set_index(["family_a", "family_b"])
    for name, picture in PICTURES.items():
        shutil.copyfile(ctx.out / "analyze-families" / picture, ctx.docs / name)
    return ([HEADING, "", f"Command: `{command_line(ctx)}`.", ""] + ood_lines(ctx)
            + families_lines(families, ctx.plan.scores["families"]) + representation_lines(families)
            + tpa_accuracy_lines(ensembles(ctx.out), ctx)
            + subspace_lines(ctx, families))   # last: the section ends with the claim by its own measure


def ood_lines(ctx: Context) -> list[str]:
    """Claim 1 (Hacohen et al.: members agree even out of distribution): the out-of-distribution ensemble's
    agreement at its first and last checkpoint, and its families' overlap."""
    agreement = pd.read_csv(ctx.out / "analyze-ood" / "ood_agreement.csv")
    ends = agreement[agreement.groupby("split")["checkpoint"].transform(lambda c: c.isin([c.min(), c.max()]))]
    last = ends[ends["checkpoint"] == agreement["checkpoint"].max()]
    overlap = pd.read_csv(ctx.out / "analyze-ood" / "ood_families.csv")
    verdict = ood_verdict(last, overlap[overlap["epoch"] == overlap["epoch"].max()])
    lines = ["### Out of distribution: do members agree where no label is right?", "",
             " ".join(ctx.plan.scores["ood"]) + " (trained on T-shirt/top, Trouser, Pullover, Dress and Coat); the "
             "share of images all four members put in the same class, against members predicting independently with "
             "their own class frequencies, at the first and the last checkpoint:", "",
             "| split | epoch | all agree | independent | commonest class |", "|---|---|---|---|---|"]
    lines += [f"| {r.split} | {r.epoch:.3g} | {r.unanimous:.4f} | {r.unanimous_independent:.4f} | "
              f"{r.top_class_share:.4f} |" for r in ends.itertuples()]
    lines += ["", "Do the two cnns and the two mlps agree on the same images (same class)?", "",
              "| split | epoch | cnns unanimous | mlps unanimous | same class, both | if independent |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {r.split} | {r.epoch:.3g} | {r.unanimous_a} | {r.unanimous_b} | {r.same_class_both} | "
              f"{r.independent:.0f} |" for r in overlap.itertuples()]
    return lines + ["", f"{verdict.holds.value}: at the end of training the members agree on " + ", ".join(
        f"{100 * r.unanimous:.1f}% of {r.split.replace('_', ' ')} images (independent "
        f"{100 * r.unanimous_independent:.1f}%)" for r in last.itertuples()) + "; the two families "
        + ("pick the same images and classes more often than independence on every split" if "families" in verdict.by
           else "do not pick the same images more often than independence on every split") + ".", ""]


def families_lines(families: pd.DataFrame, scores: list[str]) -> list[str]:
    """Claim 2 (Xiao et al.): cnn without global pooling behaves like an mlp; the families table, mean ± std over
    member pairs."""
    cnn, gap = families.loc[("cnn", "mlp")], families.loc[("cnn_gap", "mlp")]
    verdict = families_verdict(cnn, gap, [m for m in ("spearman", "kappa", "cka") if m in families])
    cka = "cka" in families
    lines = ["### Architecture families: is a cnn without global pooling closer to an mlp?", "",
             "Families: " + " ".join(scores) + " on the default data (3 members each); "
             "Spearman of per-example learning speed on the training split; agreement of correctness at the last "
             "checkpoint on the test split (kappa: beyond what independent members of the same accuracies give); "
             "linear CKA of the penultimate-layer representations of the test split; mean ± std over member pairs "
             "(pairs share members, so they are not independent).", "",
             "| families | pairs | Spearman | agreement | indep. | kappa |" + (" CKA |" if cka else ""),
             "|---|---|---|---|---|---|" + ("---|" if cka else "")]
    lines += [f"| {a} – {b} | {r.pairs} | {pm(r, 'spearman')} | {r.agreement:.4f} | {r.agreement_independent:.4f} | "
              f"{pm(r, 'kappa')} |" + (f" {pm(r, 'cka')} |" if cka else "") for (a, b), r in families.iterrows()]
    return lines + ["", f"{verdict.holds.value}: against mlp, `cnn` (max-pooling, no global pooling) is closer than "
                    "`cnn_gap` (global average pooling) by " + ", ".join(
                        f"{m} ({pm(cnn, m)} against {pm(gap, m)})" for m in verdict.by)
                    + (f"; not by {', '.join(verdict.not_by)}" if verdict.not_by else "")
                    + ("; the learning-order spreads (± std over pairs) overlap"
                       if verdict.evidence["spreads_overlap"] else "") + ".", ""]


def representation_lines(families: pd.DataFrame) -> list[str]:
    """Claim 3 (Wang et al. 2018) by linear CKA: CKA of the same pairs beside their output agreement."""
    if "cka" not in families:
        return ["### Representations", "", "No representations: the families' members kept no weights.", ""]
    same = families[families["kind"] == "same family"]
    across = families[families["kind"] == "across families"]
    verdict = representation_verdict(same)
    e, alike = verdict.evidence, verdict.holds is Holds.DOES_NOT_HOLD
    return ["### Representations: do members that agree in their outputs also agree inside?", "",
            "Linear CKA of the penultimate layers on the test split beside the output agreement (kappa) of the same "
            "member pairs, from the table above:", "",
            "| pairs | CKA | kappa |", "|---|---|---|",
            f"| same family | {e['cka_min']:.4f} to {e['cka_max']:.4f} | {e['kappa_min']:.4f} to {e['kappa_max']:.4f} |",
            f"| across families | {across['cka'].min():.4f} to {across['cka'].max():.4f} | "
            f"{across['kappa'].min():.4f} to {across['kappa'].max():.4f} |", "",
            f"{verdict.holds.value} by linear CKA: differently seeded members of one family have representations with "
            f"CKA {e['cka_min']:.2f} to {e['cka_max']:.2f} (1: equal up to a rotation and a scale), "
            + ("above" if alike else "below") + f" the chance-corrected agreement of their outputs (kappa "
            f"{e['kappa_min']:.2f} to {e['kappa_max']:.2f}). Wang et al. measured the neuron activation subspace "
            "match, a stricter test: below.", ""]


def subspace_lines(ctx: Context, families: pd.DataFrame) -> list[str]:
    """Claim 3 by Wang et al.'s own measure: the maximum match of every layer of the families' member pairs at each
    epsilon (analyze-families/subspace_match.csv), its figure, and the verdict, set against linear CKA."""
    path = ctx.out / "analyze-families" / "subspace_match.csv"
    if not path.is_file():
        return ["No subspace match: analyze-families has no subspace_match.csv (made before analyze computed it, or "
                "its members kept no weights); run the study again.", ""]
    table = pd.read_csv(path)
    summary = match_summary(table)
    shutil.copyfile(ctx.out / "analyze-families" / "subspace_match.png", ctx.docs / MATCH_FIGURE)
    samples = ", ".join(f"{layer} {n}" for layer, n in summary.groupby("layer", sort=False)["samples"].max().items())
    lines = ["### Representations by their own measure: the neuron activation subspace match", "",
             "The maximum match (Wang et al. 2018, their Algorithm 1) of the same layer of two members: a neuron is "
             "its activation vector over the test split (hidden units: one value per test image; conv channels: one "
             "per (test image, position) pair, a fixed draw the same for every member), and the neurons of each "
             "side that lie farther than epsilon of their norm from the span of the other side's are dropped until "
             "none is; the share is (matched neurons of both) / (neurons of both), dead neurons unmatched, mean ± "
             f"std over member pairs. Samples per neuron: {samples}. CKA (penultimate layer only) and kappa of the "
             "same pairs from the families table:", ""]
    lines += match_table_lines(summary, families)
    return lines + ["", f"![subspace match share against epsilon]({MATCH_FIGURE})", ""] + subspace_verdict_lines(
        summary, families)


def subspace_verdict_lines(summary: pd.DataFrame, families: pd.DataFrame) -> list[str]:
    """The verdict of the subspace match, and how it reads beside linear CKA of the same pairs."""
    same = summary[summary["kind"] == "same family"]
    if same.empty:
        return ["No verdict: the families ensemble has no two members of one family.", ""]
    verdict = subspace_verdict(same)
    e = verdict.evidence
    cka = families.loc[families["kind"] == "same family", "cka"] if "cka" in families else pd.Series(dtype=float)
    penultimate = same[(same["layer"] == "penultimate") & (same["epsilon"] == e["epsilon"])]["share"]
    text = (f"{verdict.holds.value} by the subspace match: even at ε={e['epsilon']:g}, the most lenient here, "
            f"differently seeded members of one family match {percent_range(e['share_min'], e['share_max'])} of a "
            f"layer's neurons, {e['layers_below']:.0f} of {e['layers']:.0f} layers below half"
            + (f" ({', '.join(verdict.by)})" if verdict.not_by and verdict.by else ""))
    if len(cka) and len(penultimate):
        far = penultimate.max() < 0.5 <= cka.min()
        text += (f"; their penultimate layers match {percent_range(penultimate.min(), penultimate.max())} where "
                 f"linear CKA gives {cka.min():.2f}" + (f" to {cka.max():.2f}" if cka.max() > cka.min() else "")
                 + ", so "
                 + ("the two measures disagree: CKA, weighted toward the directions of largest variance, finds "
                    "the layers nearly alike, while most of their neurons lie farther than ε from the span of the "
                    "other member's" if far else "the subspace match does not contradict CKA there"))
    return [text + ".", ""]


def percent_range(low: float, high: float) -> str:
    """'12% to 30%', or '12%' when both ends round alike."""
    low, high = f"{100 * low:.0f}%", f"{100 * high:.0f}%"
    return low if low == high else f"{low} to {high}"


def ensembles(out) -> pd.DataFrame:
    """Every analyzed ensemble in `out`: its members' architectures, and at the last checkpoint of the test split
    the members' mean accuracy, TPA and TPA if they erred independently."""
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


def correlation(part: pd.DataFrame) -> str:
    return (f"Pearson {np.corrcoef(part['mean_acc'], part['tpa'])[0, 1]:.3f}, "
            f"Spearman {spearman(part['mean_acc'], part['tpa']):.3f} ({len(part)} ensembles)")


def tpa_accuracy_lines(table: pd.DataFrame, ctx: Context) -> list[str]:
    """Test TPA against test accuracy over the ensembles, with the correlation over all of them and over the
    four-member ten-class ones on true or noisy labels (TPA falls as members are added; random labels sit far from
    the rest; the out-of-distribution ensemble learns five classes)."""
    from ...analysis.plots import tpa_against_accuracy

    figure = ctx.docs / "results-tpa-accuracy.png"
    tpa_against_accuracy(figure, table)
    alike = table[(table["size"] == 4) & ~table["ensemble"].isin(["random_labels", "ood"])]   # ood: a 5-class task
    verdict = tpa_verdict(alike)
    lines = ["### Agreement and generalisation: do more accurate ensembles agree more?", "",
             f"Test-split TPA against the members' mean test accuracy, last checkpoint, every distinct ensemble the "
             f"study scored: {correlation(table)}; the four-member ten-class ensembles on true or noisy labels alone: "
             f"{correlation(alike)}. TPA falls as members are added (the families' 9 members), and `ood` learns five "
             "classes, so only ensembles of one size and task compare directly.", "",
             "| ensemble | members | mean test acc | TPA | TPA indep. |", "|---|---|---|---|---|"]
    lines += [f"| {r.ensemble} | {r.members} | {r.mean_acc:.4f} | {r.tpa:.4f} | {r.tpa_independent:.4f} |"
              for r in table.sort_values("mean_acc").itertuples()]
    return lines + ["", f"![test TPA against test accuracy]({figure.name})", "",
                    f"{verdict.holds.value}: among ensembles of one size and task, TPA rises with accuracy (Pearson "
                    f"{verdict.evidence['pearson']:.3f}); across all of them the random-labels control drives most of "
                    "the correlation."]
