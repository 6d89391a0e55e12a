"""An arm of a study: every setting a study varies (sampler, pacing and its parameters, end, score column, balance,
tie-break, which examples are kept, the scores), as the JSON `arm` tag `train` gives a run and compare groups runs
by, and the short name a table shows. Shared by schedule/ (the run plan makes the tag) and analysis/ (compare reads
it): plain dicts, no stage imported."""

from __future__ import annotations

import json

# Values an arm's name leaves out: SamplerConfig's defaults (tests/test_compare.py checks)
DEFAULTS = {"score": ("consensus", "score"), "balanced": (True,), "ties": ("margin",), "keep": ("all",),
            "strata": (50,), "drop_hardest": (0.1,), "labels": ("given",)}
# arm setting -> its override, as an arm's name shows it
SHOWN = {"function": "pacing.name", "end": "pacing.end", "score": "sampler.score", "balanced": "sampler.balanced",
         "strata": "sampler.strata", "drop_hardest": "sampler.drop_hardest",
         "ties": "sampler.ties", "keep": "sampler.keep", "labels": "sampler.labels", "scores": "scores"}
SKIPPING = {"prune": 0.5, "anneal": 0.875, "well_learned": "loss"}   # infobatch's settings and SamplerConfig's defaults
KEEP_KEYWORDS = ("all", "clean")   # sampler.keep values that read no scores (the others name a scores column or auto)


def arm_tag(sampler: str, pacing: dict, score: str, balanced: bool, ties: str, scores: str | None,
            keep: str = "all", strata: int | None = None, drop_hardest: float | None = None,
            labels: str = "given", skipping: dict | None = None) -> dict:
    """What defines an arm, as `train` tags it and compare keys it: standard has no pacing, so no pacing.end
    either, and uses the scores only when sampler.keep names one of their columns. `pacing` is the resolved pacing
    config (name, preset, end and the family's parameters); `scores` the checksum of the scores file, None to leave
    it out (an arm known from its settings alone). strata and drop_hardest (SamplerConfig's) are there for
    `stratified` only, which must give them. `labels` (sampler.labels) is in the tag only when not the given ones.
    `infobatch` has no pacing either, and is defined by `skipping` (prune, anneal and well_learned)."""
    kept = {"keep": keep} | ({} if labels == "given" else {"labels": labels})
    if sampler == "stratified":
        if strata is None or drop_hardest is None:
            raise ValueError("a stratified arm is defined by its strata and drop_hardest")
        kept |= {"strata": strata, "drop_hardest": drop_hardest}
    checksum = {} if scores is None else {"scores": scores}
    if sampler == "standard":
        return {"sampler": "standard"} | kept | (checksum if reads_scores(keep, labels) else {})
    if sampler == "infobatch":
        if skipping is None:
            raise ValueError("an infobatch arm is defined by its prune, anneal and well_learned")
        scored = skipping["well_learned"] != "loss" or reads_scores(keep, labels)
        return {"sampler": "infobatch"} | skipping | kept | (checksum if scored else {})
    return {"sampler": sampler, "pacing": str(pacing.get("preset") or pacing["name"]), "function": str(pacing["name"]),
            "params": {k: v for k, v in pacing.items() if k not in ("name", "end", "preset")},
            "end": str(pacing["end"]), "score": score, "balanced": balanced, "ties": ties} | checksum | kept


def reads_scores(keep: str, labels: str = "given") -> bool:
    """Whether sampler.keep or sampler.labels read the scores (of an arm that needs them for nothing else)."""
    return keep not in KEEP_KEYWORDS or labels != "given"


def arm_definition(raw: dict) -> dict:
    """The settings that make runs one arm, from a run's `arm` tag, keeping only what its sampler uses:
    `standard` uses none but sampler.keep (not even pacing.end); `random` ignores the score column and the
    tie-break, and the scores themselves unless pacing.end=auto or sampler.keep reads them."""
    if raw["sampler"] == "standard":
        return {k: v for k, v in raw.items() if k in ("sampler", "keep", "labels", "scores")}
    if raw["sampler"] == "infobatch":
        return dict(raw)
    arm = dict(raw)
    arm["end"] = "auto" if str(arm["end"]) == "auto" else f"{float(arm['end']):.4g}"
    if arm["sampler"] == "random":
        scored = arm["end"] == "auto" or reads_scores(arm["keep"], arm.get("labels", "given"))
        unused = {"score", "ties", "strata", "drop_hardest"} | (set() if scored else {"scores"})
        arm = {k: v for k, v in arm.items() if k not in unused}
    return arm


def tags_are_current(arm: dict, training: dict) -> bool:
    """Whether a run's arm and training tags (as dicts) carry every setting this version tags (sampler.keep in the
    arm, epochs_of and augment in the training): runs logged before do not group with newer ones."""
    return "keep" in arm and {"epochs_of", "augment"} <= set(training)


def old_runs_message(count: int, study: str, where: str, run_id: str) -> str:
    return (f"{count} train runs of study={study!r} in {where} were logged by an earlier version of curriculum "
            f"(their arm or training tags lack settings every run now carries, e.g. run {run_id}); rerun the study "
            f"into a new MLflow store or under another study name")


def arm_key(raw: dict) -> str:
    return json.dumps(arm_definition(raw), sort_keys=True)


def arm_name(raw: dict) -> str:
    """`standard`, `consensus/linear`, `consensus/linear@end=0.7`, `consensus/steep`; sampler settings off
    their defaults follow in brackets, as in `consensus/linear[sampler.score=margin]`. `oracle` is standard
    training on the truly clean examples only (sampler.keep=clean); `standard[sampler.labels=suggested_label]`
    trains on corrected labels (the relabel arm)."""
    arm = arm_definition(raw)
    if arm["sampler"] == "infobatch":
        return with_settings("infobatch", [f"sampler.{k}={show(arm[k])}" for k, default in SKIPPING.items()
                                           if arm[k] != default] + [f"{SHOWN[k]}={show(arm[k])}" for k in
                                                                    ("keep", "labels") if k in arm and
                                                                    arm[k] not in DEFAULTS[k]])
    if arm["sampler"] == "standard":
        keep, labels = arm["keep"], arm.get("labels", "given")
        name = {"all": "standard", "clean": "oracle"}.get(keep, f"standard[sampler.keep={keep}]")
        return with_settings(name, [] if labels == "given" else [f"sampler.labels={labels}"])
    end = arm["end"]
    name = f"{arm['sampler']}/{arm['pacing']}" + ("" if end == "1" else "@end=" + (
        end if end == "auto" else f"{float(end):.3g}"))
    return with_settings(name, [f"{SHOWN[k]}={show(arm[k])}" for k, defaults in DEFAULTS.items()
                                if k in arm and arm[k] not in defaults])


def show(value) -> str:
    return str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)


def with_settings(name: str, settings: list[str]) -> str:
    if not settings:
        return name
    return f"{name[:-1]}, {', '.join(settings)}]" if name.endswith("]") else f"{name}[{', '.join(settings)}]"
