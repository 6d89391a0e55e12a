"""`python -m curriculum study study=NAME`: run the study plan conf/studies/NAME.yaml, resumably (runs the store
already has are skipped), then render its section of results.md from the outputs."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from ..cli import CONF_DIR
from ..study.plan import load_plan
from ..study.runner import run_plan, store_runs
from ..study.sections import Context, assemble, check_section, outputs_ready, render
from ..errors import UserError
from .common import say


def study(cfg: DictConfig) -> None:
    name = str(cfg.study)
    plan = load_plan(CONF_DIR, name)
    check_section(plan.section)
    results = Path(str(cfg.results)) if str(cfg.results) else None
    if results is not None and not results.parent.is_dir():   # said before the study runs, not after it
        raise UserError(f"results={results}: its folder does not exist; give results= a file in an existing folder, "
                        f"or results='' to write no results file")
    out = Path(str(cfg.out)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{out / 'mlflow.db'}"
    if not cfg.results_only:
        record_command(out, name)
        run_plan(plan, out, store, int(cfg.seeds), list(cfg.extra_score), list(cfg.extra_train))
    if results is not None:
        write_results(results, Context(name, plan, out, store_runs(store), results.parent))


def record_command(out: Path, name: str) -> None:
    """The command line as given, for the section's "Command:" line (<out>/command-<name>.txt)."""
    from hydra.core.hydra_config import HydraConfig

    line = " ".join(["python -m curriculum study", *HydraConfig.get().overrides.task])
    (out / f"command-{name}.txt").write_text(line + "\n")


def write_results(target: Path, ctx: Context) -> None:
    """The study's section of `target` rendered from its outputs (when they are all there); every other section
    kept as the file has it."""
    if not outputs_ready(ctx):
        say(f"{target} left as it is: {ctx.out} lacks some of the study's comparisons or analyses")
        return
    existing = target.read_text() if target.is_file() else ""
    target.write_text(assemble(existing, {ctx.plan.section: render(ctx)}))
    say(f"wrote the {ctx.plan.section} section of {target}")
