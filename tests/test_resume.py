"""A target run's state (curriculum/schedule/resume.py): saved with tensors and plain types only, used only by a run of
exactly the same identity, and continued to the same result as an uninterrupted run."""

import shutil

import numpy as np
import pytest
import torch

from curriculum.data.augment import AugmentConfig
from curriculum.data.datasets import DataConfig, load_data
from curriculum.engine import OptimConfig, make_optimizer
from curriculum.errors import UserError
from curriculum.io.files import exclusive_lock
from curriculum.models import create_model
from curriculum.schedule import target as target_module
from curriculum.schedule.pacing import make_pacing
from curriculum.checkpoint import discard_state, state_path
from curriculum.schedule.resume import Resume, load_state, other_states, restore, save_state
from curriculum.schedule.sampler import make_ordering
from curriculum.schedule.target import TargetConfig, train_target

IDENTITY = {"format": 1, "settings": {"seed": 0, "lr": 0.05, "data": {"name": "synthetic"}}, "data": "abc"}


def _model(width: int = 4):
    return create_model("cnn", (1, 12, 12), 4, 0, width=width, hidden=8)


def _trained_objects():
    """A model and optimizer one step in (so momentum buffers exist), examples seen, a history row."""
    model = _model()
    opt = make_optimizer(model.parameters(), OptimConfig())
    model(torch.randn(2, 1, 12, 12)).sum().backward()
    opt.step()
    seen = torch.tensor([True, False, True])
    return model, opt, seen, [{"step": 6, "epoch": 0.5, "train/loss": 1.25, "val/acc": 0.5}]


def test_a_saved_state_loads_with_weights_only_and_restores_everything(tmp_path):
    model, opt, seen, history = _trained_objects()
    resume = Resume(tmp_path / "run.pt", IDENTITY, "run123")
    save_state(resume, 6, model, opt, seen, history)
    raw = torch.load(resume.path, weights_only=True)
    assert raw["run_id"] == "run123" and raw["step"] == 6 and raw["identity"] == IDENTITY and raw["seconds"] >= 0

    state = load_state(resume.path, IDENTITY)
    fresh, fresh_seen, fresh_history = _model(), torch.zeros(3, dtype=torch.bool), []
    fresh_opt = make_optimizer(fresh.parameters(), OptimConfig())
    assert restore(Resume(resume.path, IDENTITY, "run123", state), fresh, fresh_opt, fresh_seen, fresh_history) == 6
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    momentum = [opt.state[p]["momentum_buffer"] for p in model.parameters()]
    assert all(torch.equal(m, fresh_opt.state[p]["momentum_buffer"]) for m, p in zip(momentum, fresh.parameters()))
    assert fresh_seen.tolist() == [True, False, True] and fresh_history == history


def test_a_state_made_with_other_settings_is_never_used_and_the_line_names_the_difference(tmp_path, capsys):
    model, opt, seen, history = _trained_objects()
    save_state(Resume(tmp_path / "run.pt", IDENTITY, "run123"), 6, model, opt, seen, history)
    other = IDENTITY | {"settings": IDENTITY["settings"] | {"lr": 0.1}}
    assert load_state(tmp_path / "run.pt", other) is None
    assert "made with other settings (settings.lr: 0.05 -> 0.1); starting anew" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"not a torch file", "truncated"])
def test_a_state_that_does_not_load_is_ignored_with_one_line(tmp_path, capsys, content):
    path = tmp_path / "run.pt"
    if content == "truncated":
        model, opt, seen, history = _trained_objects()
        save_state(Resume(path, IDENTITY, "run123"), 6, model, opt, seen, history)
        path.write_bytes(path.read_bytes()[:1000])
    else:
        path.write_bytes(content)
    assert load_state(path, IDENTITY) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"[resume] ignoring {path}: it does not load")


def test_a_state_without_every_part_is_ignored(tmp_path, capsys):
    torch.save({"identity": IDENTITY, "run_id": "run123", "step": 6}, tmp_path / "run.pt")
    assert load_state(tmp_path / "run.pt", IDENTITY) is None
    assert "KeyError: 'no model, optimizer, seen, history, seconds'" in capsys.readouterr().err


def test_no_state_is_none_without_a_word(tmp_path, capsys):
    assert load_state(tmp_path / "absent.pt", IDENTITY) is None and capsys.readouterr().err == ""


def test_state_files_are_named_by_the_identity():
    other = IDENTITY | {"data": "abd"}
    reordered = dict(reversed(list(IDENTITY.items())))
    # pinned: another naming would leave every saved state unfound
    assert state_path("d", "random-linear-s0", reordered).name == "random-linear-s0-a96c6b9def8c05b0.pt"
    assert state_path("d", "random-linear-s0", IDENTITY) != state_path("d", "random-linear-s0", other)
    assert state_path("d", "random-linear-s0", IDENTITY).name.startswith("random-linear-s0-")


def test_an_unfinished_state_made_otherwise_is_named_not_left_unseen(tmp_path):
    model, opt, seen, history = _trained_objects()
    older = IDENTITY | {"settings": IDENTITY["settings"] | {"lr": 0.1}}
    save_state(Resume(state_path(tmp_path, "random-linear-s0", older), older, "run1"), 6, model, opt, seen, history)
    save_state(Resume(state_path(tmp_path, "random-linear-s1", older), older, "run2"), 6, model, opt, seen, history)
    mine = state_path(tmp_path, "random-linear-s0", IDENTITY)
    (line,) = other_states(mine, IDENTITY)   # seed 1 is another run name: not listed
    assert "random-linear-s0-" in line and "settings.lr" in line and "0.1" in line
    save_state(Resume(mine, IDENTITY, "run3"), 6, model, opt, seen, history)
    assert len(other_states(mine, IDENTITY)) == 1   # its own state is not "other"


def test_a_state_that_does_not_fit_the_model_leaves_it_untouched(tmp_path, capsys):
    model, opt, seen, history = _trained_objects()
    save_state(Resume(tmp_path / "run.pt", IDENTITY, "run123"), 6, model, opt, seen, history)
    wider = _model(width=8)
    before = {k: v.clone() for k, v in wider.state_dict().items()}
    rows = []
    resume = Resume(tmp_path / "run.pt", IDENTITY, "run123", load_state(tmp_path / "run.pt", IDENTITY))
    assert restore(resume, wider, make_optimizer(wider.parameters(), OptimConfig()), torch.zeros(3, dtype=bool),
                   rows) == 0
    assert all(torch.equal(before[k], v) for k, v in wider.state_dict().items()) and rows == []
    assert "does not fit this run (RuntimeError" in capsys.readouterr().err


def test_a_second_holder_of_a_run_lock_is_refused_and_the_lock_goes_with_its_holder(tmp_path):
    lock = tmp_path / "run.lock"
    with exclusive_lock(lock, "another train process is running these settings"):
        with pytest.raises(UserError, match="another train process is running these settings"):
            with exclusive_lock(lock, "another train process is running these settings"):
                pass
    assert not lock.exists()
    with exclusive_lock(lock, "busy"):  # free again
        pass


def test_discarding_a_state_removes_what_killed_writes_left(tmp_path):
    path = tmp_path / "run.pt"
    for name in ("run.pt", ".run.pt.123.tmp", ".run.pt.456.tmp", "other.pt"):
        (tmp_path / name).write_bytes(b"x")
    discard_state(path)
    assert [p.name for p in tmp_path.iterdir()] == ["other.pt"]


# ---------------------------------------------------------------------------------------------- continuing a run
@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(name="synthetic", train_size=1600, val_size=200))


def _run(data, sampler, resume, augment="none"):
    """3 epochs of 12 steps, evaluated every 6 steps, on the synthetic data: (history, summary, final weights)."""
    ordering = None if sampler == "standard" else make_ordering("random", None, data.train.y.numpy(), 0)
    cfg = TargetConfig(arch="cnn", model_kwargs={"width": 4, "hidden": 16}, epochs=3, seed=3,
                       augment=AugmentConfig(augment))
    trained = train_target(data, cfg, OptimConfig(), ordering, make_pacing("linear"), 1.0, "[test]", resume)
    return trained.history, trained.summary, trained.model.state_dict()


@pytest.mark.parametrize("sampler, step, augment", [("random", 12, "none"), ("random", 0, "none"),
                                                    ("standard", 18, "none"), ("standard", 36, "none"),
                                                    ("random", 12, "flip_crop"), ("standard", 18, "crop")])
def test_a_run_continued_from_its_state_ends_exactly_as_an_uninterrupted_one(tmp_path, monkeypatch, data,
                                                                               sampler, step, augment):
    kept = tmp_path / "kept.pt"
    original = target_module.save_state

    def save_and_keep(resume, at, *args):  # keep a copy of the state the killed run would have left
        original(resume, at, *args)
        if at == step:
            shutil.copy(resume.path, kept)

    monkeypatch.setattr(target_module, "save_state", save_and_keep)
    history, summary, weights = _run(data, sampler, Resume(tmp_path / "whole.pt", IDENTITY, "run123"), augment)
    monkeypatch.setattr(target_module, "save_state", original)
    state = load_state(kept, IDENTITY)
    assert state["step"] == step and len(state["history"]) == step // 6
    restored, restore = [], target_module.restore   # a run that ignored the state would end the same: check it
    monkeypatch.setattr(target_module, "restore", lambda *a: restored.append(restore(*a)) or restored[-1])
    resumed = _run(data, sampler, Resume(tmp_path / "resumed.pt", IDENTITY, "run123", state), augment)
    assert restored == [step]   # continued from the state's step
    assert resumed[0] == history and resumed[1] == summary
    assert all(torch.equal(weights[k], v) for k, v in resumed[2].items())
    assert np.isclose(summary["test/acc_final"], history[-1]["test/acc"])
