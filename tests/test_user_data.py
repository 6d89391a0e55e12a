"""Datasets from a user's files (data=folder, data=arrays) on hand-made images whose pixels say which file they
came from, the decode cache, and the chunked mean and std."""

import os

import numpy as np
import pytest
from PIL import Image

from curriculum.data import folder as folder_module
from curriculum.data.arrays import layout
from curriculum.data.cache import DEFAULT_DIR
from curriculum.data.datasets import DataConfig, channel_mean_std, load_data
from curriculum.data.memory import check_fits
from curriculum.errors import UserError
from curriculum.io.scorefile import check_scores


def write_image(path, value, size=(2, 2), mode="L"):
    """A flat image whose every pixel is `value`: the pixel tells which file an example was decoded from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def folder_data(root, **settings):
    return load_data(DataConfig(name="folder", root=str(root), **{"val_size": 0, **settings}))


def test_index_is_the_position_in_the_sorted_relative_paths_and_labels_the_sorted_class_folders(tmp_path):
    # written out of order; string order puts 10.png before 2.png, and class "ant" before "bee"
    for rel, value in [("train/bee/2.png", 12), ("train/bee/10.png", 110), ("train/ant/x.png", 5),
                       ("train/ant/sub/a.png", 7), ("test/bee/1.png", 201), ("test/ant/9.png", 209)]:
        write_image(tmp_path / rel, value)
    data = folder_data(tmp_path)
    assert data.paths["train"].tolist() == ["train/ant/sub/a.png", "train/ant/x.png", "train/bee/10.png",
                                            "train/bee/2.png"]
    assert data.train.index.tolist() == [0, 1, 2, 3]
    assert data.train.x[:, 0, 0, 0].tolist() == [7, 5, 110, 12]
    assert data.train.y.tolist() == [0, 0, 1, 1] and data.num_classes == 2
    assert data.paths["test"].tolist() == ["test/ant/9.png", "test/bee/1.png"]
    assert data.test.x[:, 0, 0, 0].tolist() == [209, 201] and data.test.y.tolist() == [0, 1]
    assert data.input_shape == (1, 2, 2)


def hold_out_folder(root):
    """40 images of class a, 20 of class b, no test/ folder; pixel = number in its class."""
    for k in range(40):
        write_image(root / f"train/a/{k:02d}.png", k)
    for k in range(20):
        write_image(root / f"train/b/{k:02d}.png", 100 + k)


def test_without_test_folder_a_stratified_seeded_share_is_held_out(tmp_path):
    hold_out_folder(tmp_path)
    data = folder_data(tmp_path, test_size=0.25, seed=3)
    assert len(data.test) == 15 and np.bincount(data.test.y.numpy()).tolist() == [10, 5]  # stratified: 40:20
    every = [f"train/a/{k:02d}.png" for k in range(40)] + [f"train/b/{k:02d}.png" for k in range(20)]
    assert data.paths["train"].tolist() == data.paths["test"].tolist() == every   # by index: train/'s sorted list
    train, test = data.train.index.tolist(), data.test.index.tolist()
    assert train == sorted(train) and test == sorted(test) and not set(train) & set(test)
    assert sorted(train + test) == list(range(60))                               # every image once, at its position
    pixel = [int(x[0, 0, 0]) for x in data.test.x]
    assert pixel == [i if i < 40 else 100 + i - 40 for i in test]                  # images follow their index
    again = folder_data(tmp_path, test_size=0.25, seed=3)
    other = folder_data(tmp_path, test_size=0.25, seed=4)
    assert again.test.index.tolist() == test and other.test.index.tolist() != test
    assert again.fingerprint == data.fingerprint != other.fingerprint
    kept = set(train) & set(other.train.index.tolist())                            # in train under both seeds:
    assert kept and all(data.paths["train"][i] == other.paths["train"][i] for i in kept)  # the same index


def test_colour_images_make_every_image_rgb_and_image_size_resizes(tmp_path):
    write_image(tmp_path / "train/a/gray.png", 50, size=(4, 6))
    write_image(tmp_path / "train/b/red.png", (255, 0, 0), size=(8, 3), mode="RGB")
    data = folder_data(tmp_path, image_size=5, test_size=0.5)
    assert data.input_shape == (3, 5, 5)
    both = {data.paths[split][i]: x for split in ("train", "test")
            for i, x in zip(getattr(data, split).index.tolist(), getattr(data, split).x)}
    assert both["train/a/gray.png"].reshape(3, -1).tolist() == [[50] * 25] * 3
    assert both["train/b/red.png"].reshape(3, -1).tolist() == [[255] * 25, [0] * 25, [0] * 25]
    forced = folder_data(tmp_path, image_size=5, test_size=0.5, channels=1)
    assert forced.input_shape == (1, 5, 5)


def counting_decodes(monkeypatch) -> list:
    calls = []
    decode = folder_module.decode_image

    def counted(path, *args):
        calls.append(path)
        return decode(path, *args)

    monkeypatch.setattr(folder_module, "decode_image", counted)
    return calls


def test_second_load_reads_the_cache_and_a_changed_file_is_decoded_again(tmp_path, monkeypatch):
    root = tmp_path / "images"
    for k in range(6):
        write_image(root / f"train/{'ab'[k % 2]}/{k}.png", 10 * k)
    decodes = counting_decodes(monkeypatch)
    first = folder_data(root, test_size=0.5)
    assert len(decodes) == 6
    second = folder_data(root, test_size=0.5)
    assert len(decodes) == 6, "the second load decoded images instead of reading the cache"
    assert second.fingerprint == first.fingerprint and np.array_equal(second.train.x, first.train.x)
    (cached,) = (root / DEFAULT_DIR).iterdir()

    write_image(root / "train/a/0.png", 99)   # same name and size, other pixels and mtime
    os.utime(root / "train/a/0.png", ns=(1, 1))
    changed = folder_data(root, test_size=0.5)
    assert len(decodes) == 12 and changed.fingerprint != first.fingerprint
    assert 99 in changed.train.x[:, 0, 0, 0].tolist() + changed.test.x[:, 0, 0, 0].tolist()
    assert [p.name for p in (root / DEFAULT_DIR).iterdir()] != [cached.name]  # the stale cache is gone
    assert len(list((root / DEFAULT_DIR).iterdir())) == 1

    resized = folder_data(root, test_size=0.5, image_size=3)   # a decode setting is part of the key
    assert len(decodes) == 18 and resized.input_shape == (1, 3, 3)

    kept = os.stat(root / "train/b/1.png")
    write_image(root / "train/b/1.png", 77)                   # rewritten with its old size and mtime (as cp -p does)
    os.utime(root / "train/b/1.png", ns=(kept.st_atime_ns, kept.st_mtime_ns))
    assert os.stat(root / "train/b/1.png").st_size == kept.st_size
    rewritten = folder_data(root, test_size=0.5, image_size=3)
    assert len(decodes) == 24, "a same-size, same-mtime rewrite was served from the cache"
    assert 77 in rewritten.train.x[:, 0, 0, 0].tolist() + rewritten.test.x[:, 0, 0, 0].tolist()


def test_cache_dir_holds_the_cache_outside_the_data(tmp_path):
    for k in range(4):
        write_image(tmp_path / f"data/train/{'ab'[k % 2]}/{k}.png", k)
    folder_data(tmp_path / "data", test_size=0.5, cache_dir=str(tmp_path / "cache"))
    assert not (tmp_path / "data" / DEFAULT_DIR).exists() and len(list((tmp_path / "cache").iterdir())) == 1


def test_a_renamed_file_is_other_data(tmp_path):
    for k in range(4):
        write_image(tmp_path / f"train/{'ab'[k % 2]}/{k}.png", 7)   # every pixel the same: only names differ
    before = folder_data(tmp_path, test_size=0.5)
    os.rename(tmp_path / "train/a/0.png", tmp_path / "train/a/9.png")
    assert folder_data(tmp_path, test_size=0.5).fingerprint != before.fingerprint


@pytest.mark.parametrize("shape, expected", [
    ((5, 1, 28, 28), "NCHW"), ((5, 28, 28, 1), "NHWC"), ((5, 3, 32, 32), "NCHW"), ((5, 32, 32, 3), "NHWC"),
    ((5, 28, 28), "NHW"), ((5, 1, 3, 7), "NCHW"), ((5, 7, 3, 1), "NHWC"),
])
def test_the_channel_axis_is_the_one_with_1_or_3_entries(shape, expected):
    assert layout(shape, "x_train") == expected


@pytest.mark.parametrize("shape, why", [((5, 3, 3, 3), "both axis 1 and axis 3"), ((5, 4, 8, 8), "no axis"),
                                        ((5, 3, 10, 1), "both"), ((5, 8, 8, 4), "no axis"), ((5, 28), "no axis")])
def test_an_ambiguous_or_unknown_layout_is_refused(shape, why):
    with pytest.raises(UserError, match=why):
        layout(shape, "x_train")


def test_nhwc_arrays_load_as_nchw_with_each_pixel_in_place(tmp_path):
    x = np.arange(4 * 2 * 5 * 3, dtype=np.uint8).reshape(4, 2, 5, 3)   # (N, H, W, C)
    y = np.array([0, 1, 0, 1])
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    data = load_data(DataConfig(name="arrays", path=str(tmp_path / "d.npz")))
    assert data.input_shape == (3, 2, 5)
    train = data.train.x.numpy()
    for n, h, w, c in [(0, 0, 0, 0), (3, 1, 4, 2), (2, 0, 3, 1)]:
        assert train[n, c, h, w] == x[data.train.index[n], h, w, c]
    assert data.paths == {}


def test_val_size_null_holds_out_a_tenth_at_most_5000(tmp_path):
    hold_out_folder(tmp_path)
    data = folder_data(tmp_path, test_size=0.25, val_size=None)
    assert (len(data.train), len(data.val), len(data.test)) == (41, 4, 15)   # 45 after the hold-out: a tenth is 4
    with pytest.raises(UserError, match=r"data.val_size=45 leaves none of the 45 .* data.val_size=4\)"):
        folder_data(tmp_path, test_size=0.25, val_size=45)


def test_mean_and_std_by_chunks_match_numpy_and_a_hand_example():
    x = np.array([[[[0, 255]], [[51, 51]]]], dtype=np.uint8)   # one 1x2 image, 2 channels
    mean, std = channel_mean_std(x)
    assert mean == pytest.approx((0.5, 0.2)) and std == pytest.approx((0.5, 1e-6))   # 1e-6: the floor
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(37, 3, 5, 4), dtype=np.uint8)
    mean, std = channel_mean_std(x, chunk_bytes=100)   # 60-byte images: one per chunk, 37 chunks
    scaled = x / 255.0
    np.testing.assert_allclose(mean, scaled.mean(axis=(0, 2, 3)), rtol=1e-13)
    np.testing.assert_allclose(std, scaled.std(axis=(0, 2, 3)), rtol=1e-12)


def test_a_dataset_larger_than_memory_says_how_much_it_needs():
    check_fits(1_000, "10 images", "use fewer", available=3_000)        # three copies of the pixels fit exactly
    with pytest.raises(UserError, match=r"10 images need about 0.00 GB .*but 0.00 GB are available; use fewer"):
        check_fits(1_001, "10 images", "use fewer", available=3_000)
    with pytest.raises(UserError, match=r"need about 9.00 GB of memory \(3.00 GB of uint8 pixels"):
        check_fits(3_000_000_000, "x", "y", available=1_000_000_000)


def test_scores_naming_other_images_are_refused_with_the_first_difference():
    import pandas as pd

    frame = pd.DataFrame({"index": [0, 1], "label": [0, 1], "path": ["train/a/1.png", "train/b/2.png"]})
    check_scores(frame, {}, "s.parquet", np.array([0, 1]), np.array([0, 1]), np.array(["train/a/1.png",
                                                                                       "train/b/2.png"]))
    with pytest.raises(UserError, match=r"1 of 2 paths differ \(index 1: train/b/2.png in the file, train/b/3.png"):
        check_scores(frame, {}, "s.parquet", np.array([0, 1]), np.array([0, 1]),
                     np.array(["train/a/1.png", "train/b/3.png"]))


@pytest.mark.parametrize("unreadable", ["train", "train/bee"])
def test_a_folder_that_cannot_be_read_is_one_line(tmp_path, monkeypatch, unreadable):
    """A permission error (made by hand: these tests may run as root, whom permissions do not stop)."""
    for rel in ("train/ant/1.png", "train/bee/2.png", "test/ant/3.png", "test/bee/4.png"):
        write_image(tmp_path / rel, 1)
    scandir = os.scandir

    def denied(path):
        if os.fspath(path) == os.fspath(tmp_path / unreadable):
            raise PermissionError(13, "Permission denied")
        return scandir(path)
    monkeypatch.setattr(folder_module.os, "scandir", denied)
    with pytest.raises(UserError, match=f"cannot read the folder .*{unreadable} \\(Permission denied\\)"):
        folder_data(tmp_path)


def test_a_cgroup_limit_counts_inactive_file_cache_as_free(tmp_path):
    """limit 1000, current 900 of which 600 inactive page cache: 1000 - (900 - 600) = 700 bytes left."""
    from curriculum.data.memory import cgroup_left

    (tmp_path / "memory.max").write_text("1000\n")
    (tmp_path / "memory.current").write_text("900\n")
    (tmp_path / "memory.stat").write_text("anon 300\nfile 600\ninactive_file 600\nactive_file 0\n")
    assert cgroup_left(tmp_path) == 700
    (tmp_path / "memory.max").write_text("max\n")
    assert cgroup_left(tmp_path) is None


def test_saving_a_cache_removes_what_killed_writes_left_but_not_a_live_writer(tmp_path):
    from curriculum.data.cache import save_cache

    dead, live = tmp_path / ".abc-old.npz.4194303.tmp", tmp_path / f".abc-other.npz.{os.getppid()}.tmp"
    other = tmp_path / ".xyz-old.npz.4194303.tmp"   # another root's cache: not this one's to clean
    for path in (dead, live, other):
        path.write_bytes(b"half")
    save_cache(tmp_path / "abc-new.npz", {"x": np.zeros(2)})
    assert not dead.exists() and live.exists() and other.exists()


def test_a_cache_too_large_for_the_memory_left_is_one_line_before_it_is_read_or_streamed(tmp_path, monkeypatch):
    from curriculum.data import memory

    for rel in ("train/a/1.png", "train/b/2.png", "test/a/3.png", "test/b/4.png"):
        write_image(tmp_path / rel, 1)
    folder_data(tmp_path)                     # decodes and writes the cache: 4 images of 2x2 = 16 pixels
    monkeypatch.setattr(memory, "available_bytes", lambda: 3 * 16 - 1)   # one byte short of COPIES x 16
    decode = folder_module.decode_folder
    monkeypatch.setattr(folder_module, "decode_folder", lambda *a: pytest.fail("the cache was there to read"))
    with pytest.raises(UserError, match="the cached 16 pixels.*data.stream=true"):
        folder_data(tmp_path, stream=False)
    monkeypatch.setattr(folder_module, "decode_folder", decode)
    streamed = folder_data(tmp_path)          # data.stream=auto: decoded again, into a file read from disk
    assert streamed.train.x.__class__.__name__ == "MappedImages"
