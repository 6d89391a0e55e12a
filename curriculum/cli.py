"""`python -m curriculum <command> [hydra overrides]`: one Hydra app per command over one conf/ directory.
User errors, Hydra's included, become one line on stderr and exit code 2; Ctrl-C one line and exit code 130;
CURRICULUM_DEBUG=1 shows the traceback instead."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from .overrides import check_overrides, with_model_group


def find_conf_dir(package: Path = Path(__file__).resolve().parent) -> Path:
    """The configs of this code: a source checkout's conf/ when the package runs from one (editable installs too),
    the one copy the project edits; otherwise the copy a wheel installs as curriculum/conf. Configs come from where
    the code comes from, so the YAML always matches the schemas in config.py. pyproject.toml marks a checkout
    (site-packages may hold some other distribution's conf/)."""
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "conf").is_dir():
        return checkout / "conf"
    return package / "conf"


CONF_DIR = find_conf_dir()
COMMANDS = {
    "score": ("curriculum.commands.score", "score", "train the scoring ensemble and derive per-example scores"),
    "train": ("curriculum.commands.train", "train", "train a target network under a sampler and pacing"),
    "compare": ("curriculum.commands.compare", "compare", "tabulate a study's train runs from MLflow"),
    "analyze": ("curriculum.commands.analyze", "analyze", "agreement analysis of a score run"),
    "export": ("curriculum.commands.export", "export", "write an ordering or a kept subset for other tools"),
    "study": ("curriculum.commands.study", "study", "run a study plan (conf/studies/) and render its results"),
}
USAGE = "usage: python -m curriculum {" + ",".join(COMMANDS) + "} [key=value ...] [-m for sweeps]\n" + "\n".join(
    f"  {name:8s} {doc}" for name, (_, _, doc) in COMMANDS.items())


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(USAGE if not argv or argv[0] in ("-h", "--help") else
              f"error: unknown command {argv[0]!r}; choose one of {', '.join(COMMANDS)}\n{USAGE}", file=sys.stderr)
        sys.exit(0 if argv and argv[0] in ("-h", "--help") else 2)
    name, overrides = argv[0], with_model_group(argv[1:])
    if not (CONF_DIR / f"{name}.yaml").is_file():
        print(f"error: no config {CONF_DIR / (name + '.yaml')}: this install has no configs (neither a checkout's "
              f"conf/ nor the package's); reinstall with pip install . from the checkout", file=sys.stderr)
        sys.exit(2)
    try:
        from .config import register_configs  # imports the dataclasses (and torch): not for usage errors

        register_configs()  # the schemas the YAML files extend, before anything composes them
        guarded(check_overrides, CONF_DIR, name, overrides)  # before the command's imports: feedback in seconds
        module, func, _ = COMMANDS[name]
        task = getattr(importlib.import_module(module), func)
        run_hydra(name, task, overrides)
    except KeyboardInterrupt:  # runs in progress are marked KILLED and every file is written whole or not at all
        if os.environ.get("CURRICULUM_DEBUG"):
            raise
        print("interrupted", file=sys.stderr, flush=True)
        sys.exit(130)


def run_hydra(name, task, overrides):
    import hydra

    @hydra.main(config_path=str(CONF_DIR), config_name=name, version_base="1.3")
    def app(cfg):
        return guarded(task, cfg)

    multirun = [a for a in overrides if a in ("-m", "--multirun")]  # Hydra's argparse wants it before the overrides
    sys.argv = [f"curriculum-{name}", *multirun, *[a for a in overrides if a not in multirun]]
    app()


def guarded(task, *args):
    """task(*args), with a UserError turned into one line on stderr and exit code 2."""
    from .errors import UserError

    try:
        return task(*args)
    except UserError as err:
        if os.environ.get("CURRICULUM_DEBUG"):
            raise
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
