"""MLflow through an explicit client: runs, nested member runs, batched metric logging, provenance."""

from __future__ import annotations

import json
import os
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from ..dicts import flatten
from ..errors import UserError


class Tracker:
    """One tracking store and experiment. Created once per command; cheap to pass around."""

    def __init__(self, tracking_uri: str, experiment: str):
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # before mlflow's first import; the user may override
        import mlflow
        from mlflow.tracking import MlflowClient

        self.uri = tracking_uri
        try:
            _check_local_store(tracking_uri)
            mlflow.set_tracking_uri(tracking_uri)
            with _store_lock(tracking_uri):  # parallel jobs (launchers, shards) must not migrate a new DB twice
                self.client = MlflowClient(tracking_uri)
                found = self.client.get_experiment_by_name(experiment)
                self.experiment_id = (found.experiment_id if found else self.client.create_experiment(
                    experiment, artifact_location=_artifact_root(tracking_uri)))
        except UserError:
            raise
        except Exception as err:  # mlflow raises many types for an unreachable or broken store
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"cannot open the MLflow tracking store mlflow.tracking_uri={tracking_uri!r} ({first[:200]}); "
                            f"check the URI or use the default sqlite:///mlflow.db") from None

    @contextmanager
    def run(self, name: str, tags: dict, parent_id: str | None = None, reopen: str | None = None):
        """A run that ends FINISHED, or FAILED (KILLED on Ctrl-C) if the body raises. `reopen` continues that
        unfinished run (RUNNING again) instead of creating one; its tags stay as they were."""
        tags = {k: str(v) for k, v in tags.items()} | {"mlflow.runName": name}
        if parent_id:
            tags["mlflow.parentRunId"] = parent_id
        if reopen:
            self.client.update_run(reopen, status="RUNNING")
            run_id = reopen
        else:
            run_id = self.client.create_run(self.experiment_id, tags=tags, run_name=name).info.run_id
        try:
            yield run_id
        except KeyboardInterrupt:
            self.client.set_terminated(run_id, "KILLED")
            raise
        except BaseException:
            self.client.set_terminated(run_id, "FAILED")
            raise
        self.client.set_terminated(run_id, "FINISHED")

    def status(self, run_id: str) -> str | None:
        """RUNNING, FINISHED, FAILED or KILLED for a run of this experiment; None if there is none (or it was deleted)."""
        from mlflow.exceptions import MlflowException

        try:
            info = self.client.get_run(run_id).info
        except MlflowException:
            return None
        return info.status if info.lifecycle_stage == "active" and info.experiment_id == self.experiment_id else None

    def logged_steps(self, run_id: str) -> dict[str, set[int]]:
        """The steps each metric of a run already has: what a continued run must not log twice."""
        metrics = self.client.get_run(run_id).data.metrics
        return {name: {m.step for m in self.client.get_metric_history(run_id, name)} for name in metrics}

    def log_params(self, run_id: str, params: dict) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in flatten(params).items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start:start + 100])

    def log_metrics(self, run_id: str, series: dict[str, list[tuple[int, float]]]) -> None:
        """Log whole metric histories {name: [(step, value), ...]} in batches of at most 1000."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(name, float(v), now, int(step)) for name, points in series.items() for step, v in points]
        for start in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[start:start + 1000])

    def log_dataset(self, run_id: str, name: str, fingerprint: str, size: int, source: str = "",
                    context: str = "training") -> None:
        """The training data as an MLflow dataset input (the UI's Dataset column): its name, its fingerprint as the
        digest and its size in the profile, without copying any data."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(name, fingerprint, "local", json.dumps({"uri": source}),
                          profile=json.dumps({"num_rows": size}))
        self.client.log_inputs(run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", context)])])

    def log_artifact(self, run_id: str, path: str | Path, subdir: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), subdir)

    def set_tags(self, run_id: str, tags: dict) -> None:
        for k, v in tags.items():
            self.client.set_tag(run_id, k, str(v))


def _check_local_store(uri: str) -> None:
    """Fail fast, in one line, on stores MLflow would only reject after a long wait or a traceback."""
    if uri.startswith("sqlite:///"):
        parent = Path(uri[len("sqlite:///"):]).expanduser().resolve().parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise UserError(f"cannot open the MLflow store {uri}: folder {parent} does not exist or is not writable")
    elif uri.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        try:  # fail in seconds, not after MLflow's minutes of retries
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5).close()
        except (urllib.error.URLError, OSError) as err:
            raise UserError(f"cannot reach the MLflow server mlflow.tracking_uri={uri} ({getattr(err, 'reason', err)}); "
                            f"start it (mlflow server ...) or use sqlite:///mlflow.db") from None
    elif uri.startswith("file:") or "://" not in uri:
        raise UserError(f"mlflow.tracking_uri={uri!r}: MLflow 3 no longer accepts the file store; "
                        f"use sqlite:///mlflow.db or an http(s):// server")


@contextmanager
def _store_lock(uri: str):
    """An exclusive file lock beside a SQLite store while it is created or opened; no-op for servers."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    lock_path = Path(uri[len("sqlite:///"):]).expanduser().resolve().with_suffix(".lock")
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _artifact_root(uri: str) -> str | None:
    """Artifacts of a SQLite store go to mlartifacts/ beside the database file, not into the working folder."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///"):]).expanduser().resolve().parent / "mlartifacts").as_uri()
    return None


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[2]  # the checkout: curriculum/io/tracking.py
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
