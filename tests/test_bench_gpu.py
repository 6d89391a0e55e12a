"""scripts/bench_gpu.py at its quick sizes on CPU: the output's shape (every row, figures positive and finite, the
JSON, the bf16 rows skipped), not its figures, which are for a GPU (docs/performance.md, "On a GPU")."""

import importlib
import json
import math

import pytest
import torch
from conftest import ROOT

ROWS = ("score fp32", "score bf16", "score batched fp32", "train fp32", "train bf16", "preset cifar10_resnet18")
KEYS = {"device", "device_type", "torch", "date", "commit", "sizes", "workers", "data", "rows", "preset", "wall_s"}


@pytest.fixture
def bench_gpu(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))   # it imports the recipe from bench_throughput.py beside it
    return importlib.import_module("bench_gpu")


@pytest.fixture
def one_thread():
    """The shape check on one thread: on a shared 2-core machine two threads wait on each other (measured: 8 to 16 s
    for the quick run, against 1.3 s on one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_quick_cpu_run_prints_every_row_and_writes_the_same_figures_as_json(bench_gpu, one_thread, tmp_path,
                                                                                 capsys):
    report = bench_gpu.main(["--device", "cpu", "--quick", "--json", str(tmp_path / "bench.json")])
    out = capsys.readouterr().out
    assert json.loads((tmp_path / "bench.json").read_text()) == report
    assert set(report) == KEYS and report["device_type"] == "cpu" and report["torch"] == torch.__version__
    assert report["sizes"] == {"steps": 2, "repeats": 1, "batch": 2, "members": 2, "quick": True}
    assert tuple(report["rows"]) == ROWS
    for name, row in report["rows"].items():
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        if "bf16" in name:
            assert row == {"skipped": bench_gpu.GPU_BF16_ONLY} and "skipped: bf16 autocast is GPU-only" in line
            continue
        assert set(row) == {"ours", "recipe", "ratio", "unit"}
        assert all(math.isfinite(row[k]) and row[k] > 0 for k in ("ours", "recipe", "ratio")), row
        assert row["ratio"] == pytest.approx(row["ours"] / row["recipe"])
        assert line.rstrip().endswith(f"{row['ratio']:.2f}x")
    epoch = report["preset"]
    assert (epoch["images"], epoch["steps"], epoch["batch"], epoch["precision"], epoch["augment"]) == \
        (45000, 22500, 2, "fp32", "flip_crop")    # precision auto is fp32 on CPU
    assert all(math.isfinite(epoch[k]) and epoch[k] > 0 for k in ("ours_s", "recipe_s"))
    assert f"torch {torch.__version__}" in out and report["date"] in out and report["device"] in out
    assert "no CIFAR files exist here" in out and "quick sizes: a check of the output's shape" in out
    assert "preset cifar10_resnet18: one epoch of 45000 images (22500 steps x 2, fp32, augment flip_crop)" in out


@pytest.mark.parametrize("argv, message", [
    (["--device", "cpu", "--steps", "1"], r"--steps=1 must be at least 2 \(the score rows cut"),
    (["--device", "cpu", "--members", "0"], "--members=0 must be at least 1"),
    (["--device", "cpu", "--workers", "-1"], "--workers=-1 must be at least 0"),
    (["--device", "tpu"], "device='tpu' is not one of auto, cpu, cuda"),
])
def test_bad_options_stop_with_one_line_before_anything_runs(bench_gpu, argv, message):
    with pytest.raises(SystemExit, match=message):
        bench_gpu.main(argv)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_asking_for_cuda_without_a_gpu_says_so(bench_gpu):
    with pytest.raises(SystemExit, match="no CUDA GPU is visible; use device=cpu or device=auto"):
        bench_gpu.main(["--device", "cuda"])
