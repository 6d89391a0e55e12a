"""Streamed folder data (data.stream): images decoded once into a memory-mapped file and read per batch give exactly
the in-memory results, a split is rows of the file (never a copy), and data.stream=auto streams what does not fit."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FASHION_MNIST, run_cli
from test_user_data_commands import good_folder, score_cli, truncated, write_fashion_mnist
from test_bad_input import assert_one_line_and_no_run

import curriculum.data.folder as folder
from curriculum.data.datasets import DataConfig, load_data
from curriculum.data.stream import MappedImages, take
from curriculum.engine import Inputs, predict
from curriculum.errors import UserError


def five_images():
    """Image k is filled with the value 10 k: (5, 1, 2, 2) uint8."""
    return (np.arange(5, dtype=np.uint8)[:, None, None, None] * 10).repeat(2, axis=2).repeat(2, axis=3)


def test_mapped_images_index_like_the_tensor_through_their_rows():
    x = MappedImages(five_images()).take(np.array([4, 2, 0]))          # rows 4, 2, 0 of the file
    assert x.shape == (3, 1, 2, 2) and len(x) == 3
    assert x[torch.tensor([1, 0])][:, 0, 0, 0].tolist() == [20, 40]
    assert x[1:][:, 0, 0, 0].tolist() == [20, 0]
    assert x[torch.tensor([[0, 2], [1, 1]])][:, :, 0, 0, 0].tolist() == [[40, 0], [20, 20]]   # stacked members
    assert x[torch.tensor([2])].dtype == torch.uint8 and x.to("cpu").device == torch.device("cpu")
    assert take(x, np.array([True, False, True]))[:][:, 0, 0, 0].tolist() == [40, 0]
    assert [c[:, 0, 0, 0].tolist() for c in x.chunks(rows=2)] == [[40, 20], [0]]


def test_a_pass_over_a_subset_of_streamed_images_reads_a_batch_at_a_time():
    """What recording.source=train, the held-out folds and instance noise index: a subset, read per batch."""
    reads = []

    class Counting(MappedImages):
        def __getitem__(self, key):
            images = super().__getitem__(key)
            reads.append(len(images))
            return images

    subset = take(Counting(np.zeros((50, 1, 4, 4), dtype=np.uint8)), torch.arange(40))
    assert isinstance(subset, Counting) and reads == []                       # taking reads nothing
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    predict(model, subset, torch.zeros(40, dtype=torch.long), Inputs((0.5,), (0.25,), "cpu"), batch_size=16)
    assert reads == [16, 16, 8]


def test_streamed_folder_loads_the_same_data_from_its_file(tmp_path):
    good_folder(tmp_path / "images")
    settings = dict(name="folder", root=str(tmp_path / "images"), val_size=0)
    held, streamed = load_data(DataConfig(**settings, stream=False)), load_data(DataConfig(**settings, stream=True))
    assert isinstance(streamed.train.x, MappedImages) and isinstance(held.train.x, torch.Tensor)
    assert held.fingerprint == streamed.fingerprint and held.mean == streamed.mean and held.std == streamed.std
    for split in ("train", "test"):
        assert torch.equal(getattr(held, split).x, getattr(streamed, split).x[:])
    files = sorted(p.name.split(".", 1)[1] for p in (tmp_path / "images" / ".curriculum-cache").iterdir())
    assert files == ["images.npy", "labels.npz", "npz"]


def test_stream_auto_streams_only_what_does_not_fit(tmp_path, monkeypatch):
    good_folder(tmp_path / "images")
    settings = DataConfig(name="folder", root=str(tmp_path / "images"), val_size=0)
    assert isinstance(load_data(settings).train.x, torch.Tensor)
    monkeypatch.setattr(folder, "fits", lambda pixels: False)
    assert isinstance(load_data(settings).train.x, MappedImages)   # the cache in memory is too large now: streamed


def test_stream_settings_are_checked():
    with pytest.raises(UserError, match="data.stream='yes' must be auto"):
        DataConfig(name="folder", root="x", stream="yes")
    with pytest.raises(UserError, match="data.stream=true streams data=folder only"):
        DataConfig(name="synthetic", stream=True)


def test_a_streamed_image_that_does_not_decode_is_one_line(tmp_path):
    truncated(tmp_path / "images")
    proc, db = score_cli(tmp_path, "data=folder", f"data.root={tmp_path / 'images'}", "data.val_size=0",
                         "data.stream=true")
    assert_one_line_and_no_run(proc, db, "cannot read train/a/0.png as an image")


@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_streamed_png_folder_scores_and_trains_exactly_as_in_memory(tmp_path, store):
    write_fashion_mnist(tmp_path / "images", n_train=400, n_test=100)
    common = ["data=folder", f"data.root={tmp_path / 'images'}", "data.val_size=40", "device=cpu", "epochs=1",
              "batch_size=32", "threads=1", f"mlflow.tracking_uri={store}"]
    for stream in ("false", "true"):
        run_cli("score", *common, f"data.stream={stream}", "ensemble.size=2", f"out_dir={tmp_path / stream}")
        run_cli("train", *common, f"data.stream={stream}", "sampler=consensus", f"scores={tmp_path / stream}",
                f"study=stream-{stream}")
    for name in ("scores.parquet", "test_scores.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "false" / name),
                                      pd.read_parquet(tmp_path / "true" / name))
    import mlflow

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'train'")
    metrics = [c for c in runs if c.startswith("metrics.") and c != "metrics.wall_seconds"]
    by_stream = runs.set_index("tags.study")[metrics]
    pd.testing.assert_series_equal(by_stream.loc["stream-false"], by_stream.loc["stream-true"], check_names=False)
    assert (runs["tags.fingerprint"].nunique(), len(runs)) == (1, 2)
