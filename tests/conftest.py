import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
ROOT = Path(__file__).resolve().parent.parent
# Subprocesses (`python -m curriculum` from a temporary folder) import this checkout's code, not whatever an
# editable install points at (a git worktree beside the installed checkout).
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def run_readme_example(heading: str, folder: Path, page: str = "README.md") -> None:
    """Run the first python block of the section `heading` of `page` (the README or a docs page) as written, in
    `folder`."""
    text = (Path(__file__).resolve().parent.parent / page).read_text()
    section = text[text.index(heading):]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    finally:
        os.chdir(cwd)


def run_cli(*args, cwd=None, check=True, timeout=900, env=None):
    """Run `python -m curriculum ...` as a user would, in its own process (a fork of one that has imported the package:
    tests/forked_cli.py), with `env` added to the environment; returns the CompletedProcess."""
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", PYTHONUNBUFFERED="1", **(env or {}))
    env.pop("CURRICULUM_DEBUG", None)
    cwd = cwd or tempfile.mkdtemp(prefix="curriculum-cli-")
    if os.environ.get("CURRICULUM_TEST_FORK", "1") != "0":
        from forked_cli import run

        proc = run(args, cwd, env, timeout)
    else:
        proc = subprocess.run([sys.executable, "-m", "curriculum", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout, preexec_fn=_default_ctrl_c)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nSTDOUT:\n{proc.stdout[-3000:]}\nSTDERR:\n{proc.stderr[-5000:]}")
    return proc


def _default_ctrl_c():
    """In the child, before it starts: Ctrl-C (SIGINT) as a terminal delivers it. A test runner started in the
    background by a shell without job control inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt, so a Ctrl-C kill point would be a no-op."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


_EMPTY_STORE: list[Path] = []   # the session's empty MLflow store, made on first use


def fresh_store(folder: Path, name: str = "mlflow.db") -> str:
    """The URI of a new SQLite MLflow store `folder/name` with nothing logged: a copy of one empty store whose tables
    are made once per session (making them takes seconds each time)."""
    if not _EMPTY_STORE:
        from mlflow.tracking import MlflowClient

        path = Path(tempfile.mkdtemp(prefix="mlflow-empty-")) / "mlflow.db"
        MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
        _EMPTY_STORE.append(path)
    shutil.copyfile(_EMPTY_STORE[0], Path(folder) / name)
    return f"sqlite:///{Path(folder) / name}"


@pytest.fixture
def store(tmp_path):
    """A fresh SQLite MLflow store in a temporary folder."""
    return fresh_store(tmp_path)


@contextmanager
def ctrl_c_at_step(n: int):
    """The block must end in a Ctrl-C (KeyboardInterrupt) that the training loop raises at its n-th optimizer step
    (the kill point "step" of curriculum/faults.py, in this process); the loop is as before after the block."""
    import curriculum.engine

    steps = {"n": 0}

    def reach(point):
        steps["n"] += point == "step"
        if steps["n"] == n:
            raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(curriculum.engine, "reach", reach)
        with pytest.raises(KeyboardInterrupt):
            yield


def random_stats(rng, checkpoints: int, n: int) -> dict:
    """Random (C, N) values of every statistic of the registry, in its dtype: bools or floats in [0, 1.4)."""
    from curriculum.statistics import STATISTICS

    return {name: rng.random((checkpoints, n)) < 0.5 if s.storage.dtype is bool
            else (rng.random((checkpoints, n)) * 1.4).astype(s.storage.dtype) for name, s in STATISTICS.items()}


def pytest_collection_modifyitems(items):
    """The files that run commands end to end (slow tests, or any use of run_cli) first, each file's tests in their
    order: the suite is spread over processes a file at a time (scripts/test.sh), so the long files start early and
    the short ones fill in at the end, instead of one process finishing a long file alone."""
    long_files = {item.path for item in items
                  if item.get_closest_marker("slow") or hasattr(getattr(item, "module", None), "run_cli")}
    items.sort(key=lambda item: item.path not in long_files)
