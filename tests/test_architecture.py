"""The package layout is the pipeline (docs/architecture.md): a module never imports a later stage, the engine and
the data know no MLflow, score math knows no engine. Imports are read from the source (ast), function-level ones
included, so nothing needs importing to check."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "curriculum"

# The modules at the top that every stage may use: they import no stage.
CORE = ["curriculum.arms", "curriculum.atomic", "curriculum.batches", "curriculum.checkpoint", "curriculum.dicts",
        "curriculum.engine", "curriculum.errors", "curriculum.faults", "curriculum.models", "curriculum.progress",
        "curriculum.runtime", "curriculum.seeding", "curriculum.statistics"]
STAGES = ["curriculum.data", "curriculum.scoring", "curriculum.schedule", "curriculum.analysis", "curriculum.io"]
APP = ["curriculum.commands", "curriculum.cli", "curriculum.config", "curriculum.overrides", "curriculum.study"]
TRACKING = ["curriculum.io.tracking", "curriculum.io.score_source", "mlflow"]
HYDRA = ["hydra", "omegaconf"]

# (modules, imports they must never make, why): the same list as docs/architecture.md.
FORBIDDEN = [
    (CORE, STAGES + APP + TRACKING + HYDRA, "the engine, models and runtime helpers know no stage, MLflow or Hydra"),
    (["curriculum.data"], ["curriculum.scoring", "curriculum.schedule", "curriculum.analysis", "curriculum.io",
                           "curriculum.engine", "curriculum.models"] + APP, "data knows no model and no later stage"),
    (["curriculum.scoring"], ["curriculum.schedule", "curriculum.analysis"] + APP + TRACKING,
     "scoring comes before the curriculum and its analysis, and logs nothing to MLflow itself"),
    (["curriculum.scoring.scores"], ["curriculum.engine", "curriculum.models", "torch"],
     "score math is pure numpy: (dynamics) -> array"),
    (["curriculum.schedule"], ["curriculum.analysis"] + APP + TRACKING,
     "the curriculum comes before its analysis, and logs nothing to MLflow itself"),
    (["curriculum.analysis"], ["curriculum.schedule", "curriculum.engine", "curriculum.models"] + APP,
     "analysis reads results; it trains nothing"),
    (["curriculum.io"], ["curriculum.scoring", "curriculum.schedule", "curriculum.analysis", "curriculum.engine",
                         "curriculum.models"] + APP, "files and records know no stage that writes them"),
    (CORE + STAGES, HYDRA, "only the commands read the Hydra config (library functions take plain arguments)"),
    (CORE + STAGES + ["curriculum.cli", "curriculum.overrides"], ["mlflow"],
     "MLflow only behind curriculum.io.tracking, used by the commands"),
]
ALLOWED_MLFLOW = ["curriculum.io.tracking"]


def module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Absolute names of every module `path` imports, relative imports resolved."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}  # `from . import data` imports a module
    return found


def within(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(modules: dict[str, set[str]]) -> list[str]:
    out = []
    for importers, forbidden, why in FORBIDDEN:
        for module, imported in sorted(modules.items()):
            if not within(module, importers) or within(module, ALLOWED_MLFLOW):
                continue
            out += [f"{module} imports {name}: {why}" for name in sorted(imported)
                    if within(name, forbidden) and not within(name, [module])]
    return out


MODULES = {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_no_module_makes_a_forbidden_import():
    assert violations(MODULES) == []


def test_every_package_named_in_the_rules_exists():
    for prefix in CORE + STAGES + APP + ["curriculum.scoring.scores"]:
        assert any(within(m, [prefix]) for m in MODULES), f"{prefix} names no module; update FORBIDDEN"


@pytest.mark.parametrize("module, source, bad", [
    ("curriculum.engine", "import mlflow", "mlflow"),
    ("curriculum.data.datasets", "from ..models import cnn", "curriculum.models.cnn"),
    ("curriculum.scoring.scores", "def f():\n    from ..engine import train", "curriculum.engine.train"),
    ("curriculum.scoring.ensemble", "from ..io import tracking", "curriculum.io.tracking"),
])
def test_a_forbidden_import_is_found_even_inside_a_function(tmp_path, module, source, bad):
    path = tmp_path.joinpath("curriculum", *module.split(".")[1:]).with_suffix(".py")
    path.parent.mkdir(parents=True)
    path.write_text(source + "\n")
    found = violations({module: imports(path, tmp_path)})
    assert any(f"imports {bad}:" in line for line in found), found


def test_no_function_in_the_package_is_longer_than_60_lines():
    long = [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})"
            for path in PACKAGE.rglob("*.py") for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60]
    assert not long, f"functions over 60 lines: {long}"


def test_the_one_training_loop_takes_grouped_arguments():
    import inspect

    from curriculum.engine import train

    assert len(inspect.signature(train).parameters) <= 6
