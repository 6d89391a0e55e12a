"""Bad input tried as a new user would: one line `error: ...` on stderr naming the key, exit code 2, and no
MLflow run; Ctrl-C: one line, exit code 130, and no half-written file."""

import numpy as np
import pandas as pd
import pytest
from conftest import fresh_store, run_cli

from curriculum.cli import CONF_DIR
from curriculum.errors import UserError
from curriculum.overrides import check_overrides, kind_problem, unknown_key_message


def runs_in(db) -> list:
    """Every run of every experiment in the SQLite store `db` (none when the file was never created)."""
    if not db.exists():
        return []
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{db}")
    ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(ids)) if ids else []


def assert_one_line_and_no_run(proc, db, *words):
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert all(w in errors[0] for w in words), errors[0]
    assert "Traceback" not in proc.stderr
    assert runs_in(db) == [], "a run was created in MLflow"


def cli(tmp_path, command, *overrides):
    """The command on synthetic data against an empty MLflow store (a copy: making its tables takes seconds)."""
    store = fresh_store(tmp_path, "m.db")
    return run_cli(command, "data=synthetic", "device=cpu", f"mlflow.tracking_uri={store}", *overrides,
                   cwd=tmp_path, check=False), tmp_path / "m.db"


# (command, overrides, words the error line must contain); synthetic data: 1600 training examples
SETTINGS = {
    "train epochs=0": ("train", ["sampler=random", "epochs=0"], ["epochs=0"]),
    "train epochs=-1": ("train", ["sampler=random", "epochs=-1"], ["epochs=-1"]),
    "score epochs=0": ("score", ["ensemble.size=1", "epochs=0"], ["epochs=0"]),
    "train batch_size=0": ("train", ["sampler=random", "batch_size=0"], ["batch_size=0"]),
    "score batch_size=0": ("score", ["ensemble.size=1", "batch_size=0"], ["batch_size=0"]),
    "train batch_size above the data": ("train", ["sampler=random", "batch_size=2000"], ["batch_size=2000", "1600"]),
    "score batch_size above the data": ("score", ["ensemble.size=1", "batch_size=2000"], ["batch_size=2000", "1600"]),
    "train seed=-1": ("train", ["sampler=random", "seed=-1"], ["seed=-1"]),
    "train augment.pad as wide as the images": ("train", ["sampler=random", "augment=crop", "augment.pad=12"],
                                                ["augment.pad=12", "12x12"]),
    "score records augmented training passes": ("score", ["ensemble.size=1", "recording.source=train", "augment=crop"],
                                                ["recording.source=train", "augment=crop"]),
    "score seed=-1": ("score", ["ensemble.size=1", "seed=-1"], ["seed=-1"]),
    "eval.batch=0": ("train", ["sampler=standard", "epochs=1", "eval.batch=0"], ["eval.batch=0"]),
    "eval.per_epoch=0": ("train", ["sampler=standard", "epochs=1", "eval.per_epoch=0"], ["eval.per_epoch=0"]),
    "pacing.end below one batch": ("train", ["sampler=random", "pacing.end=0.01"],
                                   ["pacing.end=0.01", "batch_size=128"]),
    "the oracle without injected noise": ("train", ["sampler=standard", "sampler.keep=clean"],
                                          ["sampler.keep=clean", "no label was flipped"]),
    "resume_dir that cannot be made": ("train", ["sampler=random", "resume_dir=/proc/curriculum"],
                                       ["resume_dir='/proc/curriculum' cannot be created"]),
    "recording.quorum=1.5": ("score", ["ensemble.size=1", "recording.quorum=1.5"], ["recording.quorum=1.5"]),
    "recording.quorum=0": ("score", ["ensemble.size=1", "recording.quorum=0"], ["recording.quorum=0"]),
    "recording.within_first_epoch above 1": ("score", ["ensemble.size=1", "epochs=1",
                                                       "recording.within_first_epoch=[0.5,1.5]"],
                                             ["recording.within_first_epoch", "1.5"]),
    "recording.within_first_epoch of 0": ("score", ["ensemble.size=1", "epochs=1", "recording.within_first_epoch=[0]"],
                                          ["recording.within_first_epoch", "0"]),
    "optim.momentum=-1": ("score", ["ensemble.size=1", "epochs=1", "optim.momentum=-1"], ["optim.momentum=-1"]),
    "optim.weight_decay=-1": ("score", ["ensemble.size=1", "epochs=1", "optim.weight_decay=-1"],
                              ["optim.weight_decay=-1"]),
    "nesterov without momentum": ("score", ["ensemble.size=1", "epochs=1", "optim.momentum=0"],
                                  ["optim.nesterov", "optim.momentum"]),
    # Hydra's own errors, checked before Hydra runs the command
    "unknown key foo=1": ("score", ["foo=1"], ["foo"]),
    "misspelt key ensemble.sise=3": ("score", ["ensemble.sise=3"], ["ensemble.sise", "ensemble.size"]),
    "misspelt nested key model.kwargs.widht": ("train", ["model.kwargs.widht=8"], ["model.kwargs.widht",
                                                                                   "model.kwargs.width"]),
    "unknown config data=imagenet": ("score", ["data=imagenet"], ["data=imagenet", "synthetic"]),
    "empty value epochs=": ("score", ["epochs="], ["epochs"]),
    "text for a number epochs=two": ("score", ["epochs=two"], ["epochs=two"]),
    "number for a list": ("score", ["recording.within_first_epoch=0.5"], ["recording.within_first_epoch"]),
    "override without key =3": ("score", ["=3"], ["=3"]),
    "override a=b=c": ("score", ["a=b=c"], ["a=b=c"]),
    "sweep without -m": ("train", ["seed=0,1"], ["seed=0,1", "-m"]),
    "misspelt key in a -m sweep": ("train", ["-m", "sampler=standard,random", "epochs=1", "sede=0,1"],
                                   ["sede", "seed"]),
}


@pytest.mark.parametrize("command, overrides, words", SETTINGS.values(), ids=SETTINGS.keys())
def test_bad_setting_stops_with_one_line_before_any_run(tmp_path, command, overrides, words):
    proc, db = cli(tmp_path, command, *overrides)
    assert_one_line_and_no_run(proc, db, *words)


def test_cscore_file_whose_labels_and_scores_differ_in_length_is_one_line(tmp_path):
    np.savez(tmp_path / "c.npz", labels=np.zeros(2000, dtype=np.int64), scores=np.zeros(1999))
    proc, db = cli(tmp_path, "train", f"scores={tmp_path / 'c.npz'}")
    assert_one_line_and_no_run(proc, db, "c.npz", "2000 labels", "1999 scores")


def test_csv_repeating_an_index_with_another_score_is_one_line_naming_the_index(tmp_path):
    frame = pd.DataFrame({"index": np.arange(2000), "difficulty": np.zeros(2000)})
    conflict = pd.DataFrame({"index": [7], "difficulty": [1.0]})
    pd.concat([frame, conflict]).to_csv(tmp_path / "s.csv", index=False)
    proc, db = cli(tmp_path, "train", f"scores={tmp_path / 's.csv'}")
    assert_one_line_and_no_run(proc, db, "s.csv", "index 7")


@pytest.mark.parametrize("key, default, value, needed", [
    ("epochs", 6, "", "an integer"),
    ("epochs", 6, 1.5, "an integer"),
    ("epochs", 6, True, "an integer"),
    ("lr", 0.05, 1, None),
    ("lr", 0.05, "fast", "a number"),
    ("pacing.end", 1.0, "auto", None),
    ("data.train_size", 20000, None, None),
    ("data.val_size", 5000, None, "an integer"),
    ("optim.nesterov", True, 1, "true or false"),
    ("ensemble.models", ["cnn"], "cnn", "a list"),
    ("model.kwargs", {"width": 16}, 3, "a mapping"),
    ("device", "auto", 3, None),    # text: the command checks it
    ("threads", None, "x", None),   # null default: anything
])
def test_a_value_must_be_of_the_kind_of_its_default(key, default, value, needed):
    assert kind_problem(key, default, value) == needed


TREE = {"seed": 0, "pacing": {"name": "exp_stairs", "start": 0.04, "inc": 1.9}, "ensemble": {"size": 4}}


@pytest.mark.parametrize("key, message", [
    ("ensemble.sise", "did you mean ensemble.size?"),
    ("ensembel.size", "did you mean ensemble.size?"),
    ("pacing.a", "not a setting of `train` with pacing=exp_stairs; the settings under pacing are name, start, inc"),
    ("foo.bar", "the settings are seed, pacing, ensemble"),
])
def test_an_unknown_key_is_named_with_its_closest_key_or_the_keys_beside_it(key, message):
    assert message in unknown_key_message("train", key, TREE, {"pacing": "exp_stairs"})


def test_the_old_pacing_name_exponential_is_one_line_naming_exp_stairs():
    with pytest.raises(UserError, match=r"pacing 'exponential' is now called 'exp_stairs'.*write pacing=exp_stairs"):
        check_overrides(CONF_DIR, "train", ["pacing=exponential"])


def test_sweeps_over_configs_launchers_and_values_pass_the_check():
    check_overrides(CONF_DIR, "train", ["sampler=standard,random", "-m", "pacing=linear,exp_stairs", "seed=0,1,2",
                                        "hydra/launcher=local", "epochs=range(1,3)", "pacing.end=auto"])


@pytest.mark.slow
def test_ctrl_c_during_scoring_is_one_line_exit_130_and_leaves_no_half_file(tmp_path):
    from curriculum.scoring.dynamics import load_member

    out, db = tmp_path / "out", tmp_path / "m.db"
    args = ["score", "data=synthetic", "ensemble.size=4", "epochs=3", "device=cpu", "threads=1", f"out_dir={out}",
            f"mlflow.tracking_uri={fresh_store(tmp_path, 'm.db')}"]
    # Ctrl-C at member 2's 4th step (member 1 has 36): no race with timing. run_cli's process takes Ctrl-C as a
    # terminal delivers it, also when the test runner was started in the background with SIGINT ignored.
    proc = run_cli(*args, cwd=tmp_path, env={"CURRICULUM_DIE_AT": "step:40:INT"}, check=False, timeout=300)
    stderr = proc.stderr
    assert proc.returncode == 130, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == "interrupted" and "Traceback" not in stderr, stderr[-3000:]
    files = sorted(p.name for p in (out / "dynamics").iterdir())
    assert not [f for f in files if f.endswith(".tmp")], files
    assert "member-0.npz" in files and "member-1.npz" not in files, files  # member 1 was interrupted
    load_member(out / "dynamics" / "member-0.npz")  # the file under a final name is complete
    assert not (out / "scores.parquet").exists()
    assert {r.info.status for r in runs_in(db)} == {"KILLED", "FINISHED"}  # score and member 2 killed, member 1 done


def test_every_override_of_the_reproduction_study_passes_the_check():
    """The studies' own settings (e.g. eval.per_epoch=0.5, a fraction where the default is 2.0) are valid input."""
    from curriculum.cli import CONF_DIR
    from curriculum.overrides import check_overrides
    from curriculum.study.plan import arms, load_plan

    plans = [load_plan(CONF_DIR, p.stem) for p in sorted((CONF_DIR / "studies").glob("*.yaml"))]
    assert len(plans) == 5
    for plan in plans:
        for overrides in plan.scores.values():
            check_overrides(CONF_DIR, "score", overrides)
        for _, study, arm, _ in arms(plan, seeds=5):
            check_overrides(CONF_DIR, "train", ["-m", *study.train, *arm, "seed=0,1,2", "scores=x", "study=s"])
