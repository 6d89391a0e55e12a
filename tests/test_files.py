"""Dynamics and scores files: exact round trips, and clear failures for other labels or broken files."""

import numpy as np
import pandas as pd
import pytest
from conftest import random_stats

from curriculum.data.datasets import DataConfig, load_data
from curriculum.errors import UserError
from curriculum.io.scorefile import check_scores, read_scores, write_scores
from curriculum.scoring.dynamics import MemberDynamics, SplitDynamics, load_member, save_member
from curriculum.statistics import STATISTICS


@pytest.fixture(scope="module")
def data():
    return load_data(DataConfig(name="synthetic", train_size=300, val_size=50))


def random_member(data, checkpoints=5, seed=0):
    rng = np.random.default_rng(seed)

    def split(s):
        return SplitDynamics(random_stats(rng, checkpoints, len(s)), s.y.numpy(), s.index.numpy())

    return MemberDynamics(np.linspace(0.25, 3, checkpoints), split(data.train), split(data.test), "cnn", 7,
                          data.name, data.fingerprint)


def test_member_file_round_trips_exactly_with_bit_packed_correctness(tmp_path, data):
    dyn = random_member(data)
    assert len(data.train) % 8 != 0  # exercises the padding of the last packed byte
    path = save_member(tmp_path / "member-0.npz", dyn)
    back = load_member(path, data)
    for a, b in ((dyn.train, back.train), (dyn.test, back.test)):
        assert a.stats.keys() == b.stats.keys() == STATISTICS.keys()
        for name in STATISTICS:
            np.testing.assert_array_equal(a.stats[name], b.stats[name])
            assert a.stats[name].dtype == b.stats[name].dtype == STATISTICS[name].storage.dtype
        np.testing.assert_array_equal(a.labels, b.labels)
    assert (back.arch, back.seed, back.dataset) == ("cnn", 7, "synthetic")
    with np.load(path, allow_pickle=False) as z:
        assert z["correct"].dtype == np.uint8 and z["correct"].shape == (5, (len(data.train) + 7) // 8)


def test_member_file_for_other_labels_says_how_many_disagree(tmp_path, data):
    path = save_member(tmp_path / "member-0.npz", random_member(data))
    noisy = load_data(DataConfig(name="synthetic", train_size=300, val_size=50, label_noise=0.1))
    with pytest.raises(UserError, match=r"made for other labels: 30 of 300 labels disagree"):
        load_member(path, noisy)


def test_truncated_member_file_is_reported_not_read(tmp_path, data):
    path = save_member(tmp_path / "member-0.npz", random_member(data))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_member(path, data)


def test_scores_file_keeps_columns_and_metadata(tmp_path, data):
    frame = pd.DataFrame({"index": data.train.index.numpy(), "label": data.train.y.numpy(),
                          "consensus": np.linspace(0, 1, len(data.train))})
    write_scores(tmp_path / "scores.parquet", frame, {"dataset": "synthetic", "fingerprint": data.fingerprint})
    back, meta = read_scores(tmp_path / "scores.parquet")
    pd.testing.assert_frame_equal(back, frame)
    assert meta["fingerprint"] == data.fingerprint
    check_scores(back, meta, "scores.parquet", data.train.index.numpy(), data.train.y.numpy())


def test_scores_file_for_other_labels_fails_with_counts_and_origin(tmp_path, data):
    frame = pd.DataFrame({"index": data.train.index.numpy(), "label": data.train.y.numpy()})
    write_scores(tmp_path / "scores.parquet", frame, {"dataset": "synthetic", "fingerprint": "abc"})
    back, meta = read_scores(tmp_path / "scores.parquet")
    labels = data.train.y.numpy().copy()
    labels[[3, 10]] = (labels[[3, 10]] + 1) % 4
    with pytest.raises(UserError, match=r"made for synthetic, fingerprint abc.*2 of 300 labels disagree"):
        check_scores(back, meta, "scores.parquet", data.train.index.numpy(), labels)
    with pytest.raises(UserError, match="has 300 examples but the training data has 299"):
        check_scores(back, meta, "scores.parquet", data.train.index.numpy()[:-1], labels[:-1])


def test_truncated_scores_file_is_reported(tmp_path):
    path = tmp_path / "scores.parquet"
    write_scores(path, pd.DataFrame({"index": [0, 1], "label": [0, 1]}), {})
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(UserError, match="corrupt or truncated"):
        read_scores(path)


def test_one_pass_over_the_member_files_gives_the_scores_and_summary_of_reading_them_per_split(tmp_path, data):
    from curriculum.scoring.derive import derive_score_run, scores_frame
    from curriculum.scoring.scores import derive_scores

    members = [random_member(data, seed=s) for s in range(3)]
    paths = [save_member(tmp_path / f"member-{k}.npz", m) for k, m in enumerate(members)]
    run = derive_score_run(paths, data, 0.75)
    for split in ("train", "test"):
        parts = [getattr(load_member(p, data), split) for p in paths]
        expected = derive_scores((s.stats for s in parts), members[0].checkpoints, 0.75)
        for column, values in expected.items():
            np.testing.assert_array_equal(run.frames[split][column].to_numpy(), values)
        alone, meta = scores_frame(paths, data, split, 0.75)
        pd.testing.assert_frame_equal(alone, run.frames[split])
        assert meta == run.metas[split]
    votes = sum(m.train.stats["correct"][-1].astype(int) for m in members)
    assert run.member_test_acc == [float(m.test.stats["correct"][-1].mean()) for m in members]
    assert (run.learned_by_all, run.learned_by_none) == (float((votes == 3).mean()), float((votes == 0).mean()))
