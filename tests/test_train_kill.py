"""A train run killed at any moment and started again with the same settings continues into the same MLflow run and
ends FINISHED with exactly the metrics of an uninterrupted run, each once per step; its final weights are an artifact
that loads into a fresh model. Kill points are deterministic (curriculum/faults.py)."""

import json
import signal

import pytest
import torch
from conftest import fresh_store, run_cli

from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import Inputs, predict
from curriculum.models import create_model

ARGS = ["train", "data=synthetic", "device=cpu", "epochs=3", "threads=1"]
# synthetic: 1600 examples / 128 = 12 steps per epoch, 36 in all; an evaluation every 6 steps. The state is written at
# step 0 (the run exists) and at every evaluation: writes 1 (step 0), 2 (step 6), 3 (step 12), ..., 7 (step 36), the
# only atomic writes of a train run on synthetic data.
KILL_POINTS = {  # (sampler, CURRICULUM_DIE_AT): the step the started-again run continues from
    ("random", "step:16"): 12,      # between evaluations, 4 steps after the state of step 12
    ("random", "write:3"): 6,       # while writing the state of step 12: the state of step 6 is what is there
    ("random", "saved:3"): 12,      # right after the state of step 12 is written
    ("standard", "step:20"): 18,    # iid batches: the state of step 18 is half way through epoch 2
    ("random", "logged:1"): 36,     # metrics logged, weights not, the run not yet finished
    ("random", "step:16:INT"): 12,  # Ctrl-C: the run is marked KILLED, and continued all the same
}


def _store(folder):
    return fresh_store(folder, "m.db") if not (folder / "m.db").exists() else f"sqlite:///{folder / 'm.db'}"


def _runs(folder):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(_store(folder))
    experiment = client.get_experiment_by_name("curriculum")
    return client, client.search_runs([experiment.experiment_id]) if experiment else []


def _metrics(client, run_id) -> dict:
    """{metric: [(step, value), ...]} by step, wall_seconds left out (it is the only one a clock makes)."""
    names = sorted(set(client.get_run(run_id).data.metrics) - {"wall_seconds"})
    return {name: sorted((m.step, m.value) for m in client.get_metric_history(run_id, name)) for name in names}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run of each sampler: (folder, run id, metrics)."""
    made = {}

    def run(sampler):
        if sampler not in made:
            tmp = tmp_path_factory.mktemp(f"reference-{sampler}")
            run_cli(*ARGS, f"sampler={sampler}", f"mlflow.tracking_uri={_store(tmp)}", cwd=tmp)
            client, (only,) = _runs(tmp)
            made[sampler] = tmp, only.info.run_id, _metrics(client, only.info.run_id)
        return made[sampler]
    return run


@pytest.mark.slow
@pytest.mark.parametrize("sampler, point", list(KILL_POINTS))
def test_a_killed_train_run_continues_into_the_same_mlflow_run_with_the_same_metrics(tmp_path, reference,
                                                                                       sampler, point):
    args = [*ARGS, f"sampler={sampler}", f"mlflow.tracking_uri={_store(tmp_path)}"]
    # run_cli's process takes Ctrl-C as a terminal delivers it (SIGINT raises KeyboardInterrupt), also when the test
    # runner was started in the background with SIGINT ignored
    killed = run_cli(*args, cwd=tmp_path, env={"CURRICULUM_DIE_AT": point}, check=False, timeout=600)
    ctrl_c = point.endswith(":INT")
    assert killed.returncode == (130 if ctrl_c else -signal.SIGKILL), killed.stderr[-2000:]
    client, (attempt,) = _runs(tmp_path)
    assert attempt.info.status == ("KILLED" if ctrl_c else "RUNNING")
    assert list((tmp_path / "outputs" / "train" / "resume").glob("*.pt"))  # the state it continues from

    resumed = run_cli(*args, cwd=tmp_path)
    run_id = attempt.info.run_id
    assert f"[resume] continuing MLflow run {run_id}" in resumed.stderr
    assert f"from step {KILL_POINTS[sampler, point]} of the state" in resumed.stderr
    assert f"(resumed at step {KILL_POINTS[sampler, point]})" in resumed.stderr   # trained only from there
    client, (run,) = _runs(tmp_path)  # still one run: the killed attempt's, finished
    assert run.info.run_id == run_id and run.info.status == "FINISHED"
    assert run.data.tags["resumed_at_steps"] == str(KILL_POINTS[sampler, point])
    metrics = _metrics(client, run_id)
    for name, points in metrics.items():
        steps = [step for step, _ in points]
        assert len(steps) == len(set(steps)), f"{name} logged twice at a step: {steps}"
    _, _, uninterrupted = reference(sampler)
    assert metrics == uninterrupted
    assert len(metrics["test/acc"]) == 6
    assert list((tmp_path / "outputs" / "train" / "resume").iterdir()) == []  # state, lock and leftovers removed


@pytest.mark.slow
def test_the_final_weights_are_an_artifact_that_reproduces_the_logged_test_accuracy(reference, tmp_path):
    import mlflow

    folder, run_id, metrics = reference("random")
    files = {name: mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=f"model/{name}",
                                                       tracking_uri=_store(folder), dst_path=str(tmp_path))
             for name in ("weights.pt", "model.json")}
    spec = json.loads(open(files["model.json"]).read())
    assert spec["arch"] == "cnn" and spec["input_shape"] == [1, 12, 12] and spec["num_classes"] == 4
    model = create_model(spec["arch"], tuple(spec["input_shape"]), spec["num_classes"], 0, **spec["kwargs"])
    model.load_state_dict(torch.load(files["weights.pt"], weights_only=True))
    data = load_data(DataConfig(name="synthetic", train_size=1600, val_size=200))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the run (threads=1): the same sums, the same argmax
    try:
        correct = predict(model, data.test.x, data.test.y, Inputs(spec["mean"], spec["std"], "cpu"))["correct"]
    finally:
        torch.set_num_threads(threads)
    assert correct.float().mean().item() == metrics["test/acc_final"][0][1]


@pytest.mark.slow
def test_an_identical_finished_run_started_again_is_a_new_run(reference):
    folder, run_id, metrics = reference("standard")
    run_cli(*ARGS, "sampler=standard", f"mlflow.tracking_uri={_store(folder)}", cwd=folder)
    client, runs = _runs(folder)
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    again = next(r.info.run_id for r in runs if r.info.run_id != run_id)
    assert _metrics(client, again) == metrics
