"""curriculum.ScoreRecorder: scores from the user's own training loop, worked out by hand; its file read back by the
API and by `train`; its one-line errors; and two ranks of torch.distributed combining into the one-process result."""

import re

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import run_cli, run_readme_example

import curriculum
from curriculum import ScoreRecorder
from curriculum.errors import UserError
from curriculum.io.scorefile import read_scores

LABELS = torch.tensor([0, 0, 1])
# logits of examples 0, 1, 2 (labels 0, 0, 1) at checkpoints 1 and 2 of member 0:
#   example 0: [2, 0] right (margin 2), [2, 0] right (2)        -> consensus 1,   margin 2,   learned at 1, forgot 0
#   example 1: [0, 1] wrong (margin -1), [3, 0] right (3)       -> consensus 0.5, margin 1,   learned at 2, forgot 0
#   example 2: [0, 3] right (margin 3), [2, 0] wrong (-2)       -> consensus 0.5, margin 0.5, never,        forgot 1
HAND = [torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 3.0]]), torch.tensor([[2.0, 0.0], [3.0, 0.0], [2.0, 0.0]])]


def hand_recorder(members: int = 1) -> ScoreRecorder:
    rec = ScoreRecorder(3, members=members)
    for epoch, logits in enumerate(HAND, start=1):
        rec.observe([1], torch.tensor([[9.0, 0.0]]), [0])   # drawn earlier in the epoch: the later batch wins
        rec.observe([2, 0], logits[[2, 0]], LABELS[[2, 0]])
        rec.observe(torch.tensor([1]), logits[[1]], LABELS[[1]])
        rec.checkpoint(epoch)
    return rec


def test_the_scores_of_a_hand_made_loop_are_those_worked_out_by_hand():
    frame = hand_recorder().scores()
    assert frame["index"].tolist() == [0, 1, 2] and frame["label"].tolist() == [0, 0, 1]
    np.testing.assert_allclose(frame["consensus"], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(frame["margin"], [2.0, 1.0, 0.5])
    np.testing.assert_allclose(frame["learned_epoch"], [1.0, 2.0, np.nan])
    np.testing.assert_allclose(frame["forgetting"], [0, 0, 1])
    assert frame["rank"].tolist() == [0, 1, 2]   # consensus first, then the larger margin
    assert frame.attrs["meta"]["checkpoints"] == [1.0, 2.0] and len(frame.attrs["meta"]["ensemble"]) == 1


def test_members_are_pooled_as_score_pools_them():
    rec = ScoreRecorder(3, members=["a", "b"])
    for epoch, logits in enumerate(HAND, start=1):
        rec.observe([0, 1, 2], logits, LABELS, member=0)
        rec.observe([0, 1, 2], torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), LABELS, member=1)   # all right
    rec.checkpoint(1.0)   # both members at once... once: a second call at the same epoch is refused below
    frame = rec.scores()
    # one checkpoint, at which member a has the logits of HAND[1] (the later observe): right, right, wrong
    np.testing.assert_allclose(frame["consensus"], [1.0, 1.0, 0.5])
    assert [m["arch"] for m in frame.attrs["meta"]["ensemble"]] == ["a", "b"]
    with pytest.raises(UserError, match="epoch 1 of a does not follow its last checkpoint, 1"):
        rec.checkpoint(1.0)


def test_the_saved_file_is_a_score_file_the_api_reads_and_orders(tmp_path):
    path = hand_recorder().save(tmp_path / "mine" / "scores.parquet")
    frame, meta = read_scores(path)
    assert meta["recorder"] == {"source": "train"} and meta["size"] == 3 and len(meta["fingerprint"]) == 16
    loaded = curriculum.load_scores(path, labels=[0, 0, 1])
    np.testing.assert_allclose(loaded["consensus"], [1.0, 0.5, 0.5])
    assert list(curriculum.ordering(loaded, "consensus", balanced=False)) == [0, 1, 2]   # ties: larger margin
    with pytest.raises(UserError, match="other labels"):
        curriculum.load_scores(path, labels=[0, 1, 1])


@pytest.mark.parametrize("call, message", [
    (lambda r: r.observe([3], torch.zeros(1, 2), [0]), r"index 3 is outside 0\.\.2"),
    (lambda r: r.observe([0, 1], torch.zeros(3, 2), [0, 0]), r"logits of shape \(3, 2\) for 2 indices"),
    (lambda r: r.observe([0], torch.zeros(1, 2), [0], member=2), r"member=2 is outside 0\.\.1"),
    (lambda r: (r.observe([0, 1], torch.zeros(2, 2), [0, 0]), r.checkpoint(member=0)),
     r"1 of 3 examples were never observed by member-0 \(first index 2\)"),
    (lambda r: (r.observe([0, 1, 2], torch.zeros(3, 2), [0, 0, 1]), r.observe([2], torch.zeros(1, 2), [0]),
                r.checkpoint(member=0)), "observed an example with two different labels"),
    (lambda r: r.checkpoint(), "member-0 has observed no batch yet"),
    (lambda r: r.observe([0, 1], torch.zeros(2, 2), [0]), r"labels of shape \(1,\) and dtype torch.int64 for 2"),
    (lambda r: r.observe([0], torch.zeros(1, 2), torch.tensor([[1.0, 0.0]])), "not one-hot or soft labels"),
    (lambda r: r.observe([0], torch.zeros(1, 2), [2]), "label 2 is outside the logits' 2 classes"),
    (lambda r: (r.observe([0, 1, 2], torch.zeros(3, 2), [0, 0, 1]), r.checkpoint(member=0), r.scores()),
     "member-1 has no checkpoint yet"),
])
def test_bad_input_is_one_line(call, message):
    with pytest.raises(UserError, match=message):
        call(ScoreRecorder(3, members=2))


def test_members_with_other_checkpoints_are_refused():
    rec = ScoreRecorder(3, members=2)
    for member, epoch in ((0, 1.0), (1, 2.0)):
        rec.observe([0, 1, 2], torch.zeros(3, 2), [0, 0, 1], member=member)
        rec.checkpoint(epoch, member=member)
    with pytest.raises(UserError, match=r"member-1 has checkpoints \[2\.0\], member-0 \[1\.0\]"):
        rec.scores()


def _record_on_rank(rank: int, world: int, init: str, out: str) -> None:
    """One rank of a two-process gloo group: every rank observes its share of each epoch's batches of HAND, reshuffled
    between epochs (epoch 1: rank 0 has 0, 2, rank 1 has 1 and 0 again, as DistributedSampler pads; epoch 2: rank 0
    has 1, rank 1 has 2 and 0), each rank first seeing epoch 2's logits a step early, as its first batch; the later
    batch holds the epoch's values. Rank 0 saves."""
    torch.distributed.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    rec = ScoreRecorder(3)
    shares = {(1, 0): [0, 2], (1, 1): [1, 0], (2, 0): [1], (2, 1): [2, 0]}
    for epoch, logits in enumerate(HAND, start=1):
        if epoch == 2:   # a stale value on the other rank, overwritten below on its owner's later call
            other = [0, 2] if rank == 0 else [1]
            rec.observe(other, torch.full((len(other), 2), 5.0), LABELS[other])
        mine = shares[epoch, rank]
        rec.observe(mine, logits[mine], LABELS[mine])
        rec.checkpoint(epoch)
    saved = rec.save(out)
    assert (saved is None) == (rank != 0)
    torch.distributed.destroy_process_group()


def test_two_ranks_combine_into_the_scores_of_one_process(tmp_path):
    init = f"file://{tmp_path / 'rendezvous'}"
    torch.multiprocessing.spawn(_record_on_rank, args=(2, init, str(tmp_path / "scores.parquet")), nprocs=2)
    frame, _ = read_scores(tmp_path / "scores.parquet")
    np.testing.assert_allclose(frame["consensus"], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(frame["margin"], [2.0, 1.0, 0.5])


def test_the_readme_example_runs_as_written_and_puts_the_wrong_labels_last(tmp_path, capsys):
    run_readme_example("## Scores from your own training loop", tmp_path, "docs/your-data.md")
    out = capsys.readouterr().out
    right, wrong = map(float, re.search(r"right labels ([\d.]+), wrong ones ([\d.]+)", out).groups())
    assert right > 0.8 and wrong < 0.2
    assert "consensus" in out.splitlines()[0] and (tmp_path / "my_scores.parquet").is_file()


def test_the_lightning_callback_reads_indices_from_the_batch_or_the_step_and_says_what_it_needs(tmp_path):
    pytest.importorskip("lightning", reason="the optional lightning extra is not installed")
    from types import SimpleNamespace

    from curriculum.integrations.lightning import RecordScores

    callback = RecordScores(3, tmp_path / "scores.parquet")
    for epoch, logits in enumerate(HAND):
        callback.on_train_batch_end(None, None, {"loss": 0, "logits": logits[:2]}, ([0, 1], None, LABELS[:2]), 0)
        callback.on_train_batch_end(None, None, {"loss": 0, "logits": logits[2:], "indices": [2], "labels": [1]},
                                    "a batch of another shape", 1)
        callback.on_train_epoch_end(SimpleNamespace(current_epoch=epoch), None)
    callback.on_fit_end(None, None)
    np.testing.assert_allclose(read_scores(tmp_path / "scores.parquet")[0]["consensus"], [1.0, 0.5, 0.5])
    with pytest.raises(UserError, match="return a dict with 'loss' and the batch's 'logits'"):
        callback.on_train_batch_end(None, None, {"loss": 0}, ([0], None, [0]), 0)
    with pytest.raises(UserError, match="cannot find the batch's dataset indices"):
        callback.on_train_batch_end(None, None, {"loss": 0, "logits": HAND[0]}, (None, [0]), 0)


def test_a_folder_is_saved_as_a_score_run_that_analyze_reads(tmp_path, store):
    rec = ScoreRecorder(3, members=2)
    for epoch, logits in enumerate(HAND, start=1):
        for member in range(2):
            rec.observe([0, 1, 2], logits, LABELS, member=member)
        rec.checkpoint(epoch)
    path = rec.save(tmp_path / "run")
    assert path == tmp_path / "run" / "scores.parquet"
    assert sorted(p.name for p in (tmp_path / "run" / "dynamics").iterdir()) == ["member-0.npz", "member-1.npz"]
    proc = run_cli("analyze", f"scores={tmp_path / 'run'}", f"out_dir={tmp_path / 'analysis'}",
                   f"mlflow.tracking_uri={store}")
    assert "recorded by curriculum.ScoreRecorder" in proc.stdout + proc.stderr
    assert (tmp_path / "analysis" / "agreement.csv").is_file()


@pytest.mark.slow
def test_train_and_export_read_a_recorded_file_on_the_users_arrays(tmp_path, store):
    """Recorded over all of x_train; `data=arrays` trains on 9 of its 10 examples (one is the validation split), so
    the file's rows are matched to them by index, as an imported file's are."""
    x = np.zeros((10, 1, 4, 4), dtype=np.uint8)
    labels = np.array([0, 1] * 5)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=labels, x_test=x[:2], y_test=labels[:2])
    rec = ScoreRecorder(10)
    rec.observe(np.arange(10), torch.tensor(np.eye(2)[labels] * np.arange(10)[:, None], dtype=torch.float32), labels)
    rec.checkpoint()
    path = rec.save(tmp_path / "recorded.parquet")
    data = ["data=arrays", f"data.path={tmp_path / 'd.npz'}", "data.val_size=1", f"scores={path}",
            f"mlflow.tracking_uri={store}"]
    trained = run_cli("train", *data, "sampler=consensus", "sampler.score=margin", "epochs=1", "batch_size=3",
                      "device=cpu", cwd=tmp_path)
    assert "distinct examples seen" in trained.stdout + trained.stderr
    run_cli("export", *data, "score=margin", "balanced=false", "format=csv", f"out_dir={tmp_path / 'export'}")
    exported = pd.read_csv(tmp_path / "export" / "ordering.csv")["index"].tolist()
    assert len(exported) == 9 and exported == sorted(exported, reverse=True)   # margin = index: higher is easier
