"""data=folder and data=arrays through the command line: real Fashion-MNIST images written as PNG score exactly as the
same pixels given as arrays, every score row names its image, and each kind of bad input is one line, exit 2, with
nothing written (no MLflow run, no output file, no cache)."""


import numpy as np
import pandas as pd
import pytest
from conftest import FASHION_MNIST, run_cli
from PIL import Image
from test_bad_input import assert_one_line_and_no_run

from curriculum.data.cache import DEFAULT_DIR
from curriculum.data.datasets import DataConfig
from curriculum.data.export import FASHION_MNIST_CLASSES, debian_fashion_mnist, write_image_folder
from curriculum.errors import UserError

TINY = ["device=cpu", "ensemble.size=2", "epochs=1", "batch_size=32", "data.val_size=30"]
SCORE_COLUMNS = ["index", "label", "true_label", "noisy", "consensus", "learned_epoch", "forgetting", "confidence",
                 "variability", "margin", "rank"]


def write_fashion_mnist(root, n_train=300, n_test=100):
    """The first n images of each real split as PNG under root; split -> (sorted paths, images, labels)."""
    x_train, y_train, x_test, y_test = debian_fashion_mnist()
    splits = {"train": (x_train[:n_train], y_train[:n_train]), "test": (x_test[:n_test], y_test[:n_test])}
    return write_image_folder(root, splits, FASHION_MNIST_CLASSES)


@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_a_folder_of_png_scores_exactly_as_its_arrays_and_trains_on_its_scores(tmp_path, store):
    written = write_fashion_mnist(tmp_path / "images")
    (train_paths, x_train, y_train), (test_paths, x_test, y_test) = written["train"], written["test"]
    np.savez(tmp_path / "same.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)

    run_cli("score", "data=folder", f"data.root={tmp_path / 'images'}", *TINY, f"out_dir={tmp_path / 'folder'}",
            f"mlflow.tracking_uri={store}")
    run_cli("score", "data=arrays", f"data.path={tmp_path / 'same.npz'}", *TINY, f"out_dir={tmp_path / 'arrays'}",
            f"mlflow.tracking_uri={store}")
    for name, paths in (("scores.parquet", train_paths), ("test_scores.parquet", test_paths)):
        folder, arrays = pd.read_parquet(tmp_path / "folder" / name), pd.read_parquet(tmp_path / "arrays" / name)
        assert len(folder) == (270 if name == "scores.parquet" else 100)
        pd.testing.assert_frame_equal(folder[SCORE_COLUMNS], arrays[SCORE_COLUMNS])   # exactly: same pixels
        assert folder["path"].tolist() == [paths[i] for i in folder["index"]] and "path" not in arrays
    assert (tmp_path / "images" / DEFAULT_DIR).is_dir()
    run_cli("export", "data=folder", f"data.root={tmp_path / 'images'}", "data.val_size=30", "keep=0.5",
            f"scores={tmp_path / 'folder'}", f"out_dir={tmp_path / 'export'}", f"mlflow.tracking_uri={store}")
    exported = pd.read_csv(tmp_path / "export" / "ordering.csv")
    assert len(exported) == 135 and exported["path"].tolist() == [train_paths[i] for i in exported["index"]]
    run_cli("analyze", f"scores={tmp_path / 'folder'}", f"out_dir={tmp_path / 'analyze'}", f"mlflow.tracking_uri={store}")
    assert len(list((tmp_path / "analyze").glob("gallery-*.png"))) == 10     # the original files of every class

    trained = run_cli("train", "data=folder", f"data.root={tmp_path / 'images'}", "data.val_size=30", "device=cpu",
                      "epochs=1", "batch_size=32", f"scores={tmp_path / 'folder'}", f"mlflow.tracking_uri={store}")
    assert "distinct examples seen" in trained.stderr
    import mlflow

    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.stage = 'train'")
    assert len(runs) == 1 and runs["status"].iloc[0] == "FINISHED" and runs["tags.dataset"].iloc[0] == "folder"


# ---------------------------------------------------------------------------------------------- bad input

def image(path, size=(4, 4), mode="L", value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def good_folder(root, test=True):
    """Classes a and b, 3 images each in train/ (and 2 each in test/)."""
    for k in range(6):
        image(root / f"train/{'ab'[k % 2]}/{k}.png", value=k)
    if test:
        for k in range(4):
            image(root / f"test/{'ab'[k % 2]}/{k}.png", value=k)


def truncated(root):
    good_folder(root)
    data = (root / "train/a/0.png").read_bytes()
    (root / "train/a/0.png").write_bytes(data[: len(data) // 2])


def arrays(root, **changes):
    x, y = np.zeros((6, 1, 4, 4), np.uint8), np.arange(6) % 2
    found = {"x_train": x, "y_train": y, "x_test": x[:2], "y_test": y[:2], **changes}
    root.mkdir(parents=True, exist_ok=True)
    np.savez(root / "d.npz", **{k: v for k, v in found.items() if v is not None})


FOLDER_CASES = {   # name: (make the folder under root, extra overrides, words of the error line)
    "no folder at data.root": (lambda r: None, [], ["is not a folder"]),
    "no train/": (lambda r: r.mkdir(), [], ["has no train/ folder"]),
    "train/ without class folders": (lambda r: (r / "train").mkdir(parents=True), [], ["train is empty"]),
    "empty test/": (lambda r: (good_folder(r, test=False), (r / "test").mkdir()), [], ["test is empty"]),
    "class folder without images": (lambda r: (good_folder(r), (r / "train/c").mkdir()), [],
                                    ["class folder", "train/c has no images"]),
    "an image outside the class folders": (lambda r: (good_folder(r), image(r / "train/x.png")), [],
                                           ["train/x.png is not in a class folder"]),
    "a file that is no image": (lambda r: (good_folder(r), (r / "train/a/notes.txt").write_text("hi")), [],
                                ["cannot read train/a/notes.txt as an image"]),
    "a truncated image": (truncated, [], ["cannot read train/a/0.png as an image"]),
    "other classes in test/": (lambda r: (good_folder(r), image(r / "test/z/0.png")), [],
                               ["different class folders", "only in test/: z"]),
    "images of different sizes": (lambda r: (good_folder(r), image(r / "train/b/big.png", size=(5, 6))), [],
                                  ["differ in size", "5x6 for train/b/big.png", "data.image_size=N"]),
    "a 16-bit image": (lambda r: (good_folder(r), image(r / "train/a/deep.png", mode="I;16", value=1000)), [],
                       ["train/a/deep.png", "16-bit", "convert it to 8 bits"]),
    "more than memory holds": (good_folder, ["data.image_size=1000000", "data.stream=false"],
                               ["10 images decoded to 1x1000000x1000000 need about", "GB are available",
                                "smaller data.image_size", "data.stream=true"]),
    "more than the disk holds, streamed": (good_folder, ["data.image_size=1000000"],
                                           ["streaming the images needs 10000.00 GB on disk", "GB are free",
                                            "data.cache_dir"]),
    "a test hold-out of no image": (lambda r: good_folder(r, test=False), ["data.test_size=0.01"],
                                    ["data.test_size=0.01", "holds out 0"]),
    "val_size above the images": (good_folder, ["data.val_size=5000"], ["data.val_size=5000 leaves none of the 6",
                                                                        "data.val_size=0"]),
}


@pytest.mark.parametrize("make, overrides, words", FOLDER_CASES.values(), ids=FOLDER_CASES.keys())
def test_bad_folder_is_one_line_and_writes_nothing(tmp_path, make, overrides, words):
    root = tmp_path / "images"
    make(root)
    extra = ["data.val_size=0"] if not any(o.startswith("data.val_size") for o in overrides) else []
    proc, db = score_cli(tmp_path, "data=folder", f"data.root={root}", *extra, *overrides)
    assert_one_line_and_no_run(proc, db, *words)
    assert_nothing_written(tmp_path)


def test_an_unwritable_cache_folder_is_said_before_decoding(tmp_path):
    good_folder(tmp_path / "images")
    (tmp_path / "file").write_text("")
    proc, db = score_cli(tmp_path, "data=folder", f"data.root={tmp_path / 'images'}", "data.val_size=0",
                         f"data.cache_dir={tmp_path / 'file' / 'cache'}")
    assert_one_line_and_no_run(proc, db, "cannot create the image cache folder", "data.cache_dir")
    assert_nothing_written(tmp_path)


ARRAY_CASES = {
    "missing keys": ({"x_test": None, "y_test": None}, ["has no x_test, y_test", "it needs x_train"]),
    "fewer labels than images": ({"y_train": np.arange(5) % 2}, ["x_train has 6 images but y_train 5 labels"]),
    "float pixels": ({"x_train": np.zeros((6, 1, 4, 4), np.float32)}, ["x_train is float32, not uint8"]),
    "an ambiguous layout": ({"x_train": np.zeros((6, 3, 4, 3), np.uint8)}, ["both axis 1 and axis 3"]),
    "a negative label": ({"y_test": np.array([0, -1])}, ["y_test holds the label -1"]),
}


@pytest.mark.parametrize("changes, words", ARRAY_CASES.values(), ids=ARRAY_CASES.keys())
def test_bad_arrays_are_one_line_and_write_nothing(tmp_path, changes, words):
    arrays(tmp_path / "in", **changes)
    proc, db = score_cli(tmp_path, "data=arrays", f"data.path={tmp_path / 'in' / 'd.npz'}", "data.val_size=0")
    assert_one_line_and_no_run(proc, db, "data.path=", *words)
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("make, words", [(lambda p: None, "does not exist"),
                                         (lambda p: p.write_text("x"), "cannot read data.path=")])
def test_a_missing_or_unreadable_npz_is_one_line(tmp_path, make, words):
    make(tmp_path / "d.npz")
    proc, db = score_cli(tmp_path, "data=arrays", f"data.path={tmp_path / 'd.npz'}")
    assert_one_line_and_no_run(proc, db, words)


def test_arrays_without_a_path_is_one_line(tmp_path):
    proc, db = score_cli(tmp_path, "data=arrays")
    assert_one_line_and_no_run(proc, db, "data=arrays needs data.path=FILE.npz")


@pytest.mark.parametrize("settings, message", [
    ({"name": "arrays", "path": "d.npz", "image_size": 8}, "data.image_size=8 is a setting of data=folder"),
    ({"name": "mnist", "path": "d.npz"}, "data.path=d.npz is a setting of data=arrays"),
    ({"name": "folder", "channels": 2}, "data.channels=2 must be 1"),
    ({"name": "folder", "image_size": 0}, "data.image_size=0 must be a positive"),
    ({"name": "folder", "test_size": 1.5}, r"data.test_size=1.5 must be a fraction in \(0, 1\)"),
    ({"name": "folder", "val_size": -1}, "data.val_size=-1 must be at least 0"),
])
def test_user_data_settings_are_checked_before_any_file_is_read(settings, message):
    with pytest.raises(UserError, match=message):
        DataConfig(**settings)


def score_cli(tmp_path, *overrides):
    db = tmp_path / "m.db"
    return run_cli("score", *overrides, "device=cpu", "ensemble.size=1", "batch_size=2", f"out_dir={tmp_path / 'out'}",
                   f"mlflow.tracking_uri=sqlite:///{db}", cwd=tmp_path, check=False), db


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "m.db").exists(), "the MLflow store was created"   # score_cli's store
    out = tmp_path / "out"
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))
    cache = tmp_path / "images" / DEFAULT_DIR
    assert not cache.exists() or not any(cache.iterdir()), sorted(cache.iterdir())
