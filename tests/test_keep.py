"""sampler.keep: the oracle (only the truly clean examples) and a scores column's kept examples (e.g. cleanlab's),
as positions, as arms compare names, and end to end through `train`."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import run_cli

from curriculum.arms import arm_definition, arm_name, arm_tag
from curriculum.commands.common import data_config
from curriculum.config import compose_config
from curriculum.data.datasets import load_data
from curriculum.errors import UserError
from curriculum.schedule.keep import kept_positions, restrict
from curriculum.schedule.labels import trained_labels
from curriculum.schedule.plan import Scores, kept_examples
from curriculum.schedule.target import iid_batches

LINEAR = {"name": "linear", "end": 1.0, "preset": None, "start": 0.1}


def test_clean_keeps_the_positions_whose_label_was_not_flipped():
    noisy = np.array([False, True, False, True, False])
    assert kept_positions("clean", noisy).tolist() == [0, 2, 4]
    assert kept_positions("all", noisy) is None


def test_clean_without_injected_noise_is_one_line():
    with pytest.raises(UserError, match="no label was flipped"):
        kept_positions("clean", np.zeros(4, bool))


def test_a_column_keeps_its_rows_of_1_and_refuses_a_score_column():
    frame = pd.DataFrame({"index": [10, 11, 12, 13], "cleanlab_keep": [1, 0, 1.0, 0], "ok": [True, False, True, True],
                          "margin": [0.5, -1.0, 2.0, 0.0]})
    assert kept_positions("cleanlab_keep", np.zeros(4, bool), frame).tolist() == [0, 2]
    assert kept_positions("ok", np.zeros(4, bool), frame).tolist() == [0, 2, 3]
    with pytest.raises(UserError, match="1 \\(keep\\) or 0 \\(drop\\).*e.g. 0.5"):
        kept_positions("margin", np.zeros(4, bool), frame)


def test_a_missing_or_unknown_column_value_is_one_line():
    frame = pd.DataFrame({"index": [0, 1], "score": [0.5, 0.1], "kept": [1, None]})
    with pytest.raises(UserError, match="1 missing or non-numeric"):
        kept_positions("kept", np.zeros(2, bool), frame)
    with pytest.raises(UserError, match="they have score, kept"):
        kept_positions("cleanlab", np.zeros(2, bool), frame)


def test_auto_keeps_what_pacing_end_auto_keeps_and_needs_consensus_scores():
    """The histogram of tests/test_pruning.py: 23% of 1000 examples above the floor, so 770 kept. Ties at each
    consensus level are broken by the margin, so within the level the cut falls on, the larger margins stay."""
    meta = {"ensemble": [{}] * 2, "checkpoints": [1, 2, 3, 4]}
    counts = [210, 40, 10, 10, 10, 70, 100, 150, 400]
    consensus = np.repeat(np.arange(9) / 8, counts)
    margin = np.linspace(1, 0, len(consensus))
    frame = pd.DataFrame({"consensus": consensus, "margin": margin, "label": np.zeros(len(consensus), int)})
    kept = kept_examples("auto", Scores(frame, meta), frame["label"].to_numpy(), np.zeros(len(consensus), bool), 0)
    # one class; dropped: the 210 at consensus 0, then of the 40 at 1/8 (positions 210-249) the 20 with the
    # smallest margins (margin falls with the position): 230-249
    assert len(kept) == 770 and set(kept) == set(range(210, 230)) | set(range(250, 1000))
    with pytest.raises(UserError, match="no consensus and margin"):
        frame = pd.DataFrame({"index": [0, 1], "score": [1.0, 0.0]})
        kept_examples("auto", Scores(frame), np.zeros(2), np.zeros(2, bool), 0)


def test_restrict_keeps_the_order_of_the_kept_positions():
    assert restrict(np.array([3, 1, 0, 2]), np.array([0, 3])).tolist() == [3, 0]
    assert restrict(np.array([3, 1]), None).tolist() == [3, 1]


def test_iid_batches_over_kept_positions_cover_each_once_per_epoch():
    kept = np.array([1, 4, 6, 7])
    gen = torch.Generator().manual_seed(0)
    batches = iid_batches(10, kept, 2, gen, 0)
    epoch = torch.cat([next(batches) for _ in range(2)]).tolist()
    assert sorted(epoch) == [1, 4, 6, 7]


def test_compare_names_the_oracle_and_a_kept_column():
    oracle = arm_tag("standard", LINEAR, "consensus", True, "margin", "none", "clean")
    assert arm_definition(oracle) == {"sampler": "standard", "keep": "clean"} and arm_name(oracle) == "oracle"
    peer = arm_tag("standard", LINEAR, "consensus", True, "margin", "abc123", "cleanlab_keep")
    assert arm_definition(peer) == {"sampler": "standard", "keep": "cleanlab_keep", "scores": "abc123"}
    assert arm_name(peer) == "standard[sampler.keep=cleanlab_keep]"
    plain_standard = arm_tag("standard", LINEAR, "consensus", True, "margin", "abc123")
    assert plain_standard == {"sampler": "standard", "keep": "all"} and arm_name(plain_standard) == "standard"
    plain = arm_tag("consensus", LINEAR, "consensus", True, "margin", "abc123")
    assert plain["keep"] == "all" and arm_name(plain) == "consensus/linear"   # every tag names sampler.keep
    curriculum = arm_tag("consensus", LINEAR, "consensus", True, "margin", "abc123", "clean")
    assert arm_name(curriculum) == "consensus/linear[sampler.keep=clean]"
    random = arm_definition(arm_tag("random", LINEAR, "consensus", True, "margin", "abc123", "cleanlab_keep"))
    assert random["scores"] == "abc123"   # random reads the scores when keep names their column
    filtered = arm_tag("standard", LINEAR, "consensus", True, "margin", "abc123", "auto")
    assert arm_definition(filtered)["scores"] == "abc123" and arm_name(filtered) == "standard[sampler.keep=auto]"


def test_compare_names_the_relabel_arm_and_it_reads_its_scores():
    relabel = arm_tag("standard", LINEAR, "consensus", True, "margin", "abc123", labels="suggested_label")
    assert arm_definition(relabel) == {"sampler": "standard", "keep": "all", "labels": "suggested_label",
                                       "scores": "abc123"}
    assert arm_name(relabel) == "standard[sampler.labels=suggested_label]"
    both = arm_tag("standard", LINEAR, "consensus", True, "margin", "abc123", "cl_keep", labels="fixed")
    assert arm_name(both) == "standard[sampler.keep=cl_keep, sampler.labels=fixed]"
    paced = arm_tag("random", LINEAR, "consensus", True, "margin", "abc123", labels="fixed")
    assert arm_definition(paced)["scores"] == "abc123" and arm_name(paced) == "random/linear[sampler.labels=fixed]"
    given = arm_tag("standard", LINEAR, "consensus", True, "margin", "abc123", labels="given")
    assert "labels" not in given and arm_name(given) == "standard"


def test_trained_labels_come_from_a_column_of_class_numbers():
    frame = pd.DataFrame({"index": [0, 1, 2], "fixed": [2, 0, 1], "half": [0.5, 1, 1], "big": [0, 3, 1],
                          "text": ["a", "0", "1"], "consensus": [0, 1, 2]})
    assert trained_labels("given", frame, 3) is None
    assert trained_labels("fixed", frame, 3).tolist() == [2, 0, 1]
    for column, why in (("half", r"e\.g\. 0\.5\)"), ("big", r"e\.g\. 3\)"), ("text", "'a'"), ("nope", "neither"),
                        ("index", "not of labels"), ("consensus", "not of labels")):
        with pytest.raises(UserError, match=why):
            trained_labels(column, frame, 3)


TINY = ["data=synthetic", "device=cpu", "data.label_noise=0.2", "epochs=1"]


@pytest.mark.slow
def test_oracle_and_csv_kept_arms_train_on_their_examples_and_compare_names_them(tmp_path, store):
    """Synthetic: 1600 training examples, 320 flipped. The oracle sees only the 1280 clean ones; a CSV that keeps
    384 examples trains on exactly those; compare lists both beside standard."""
    base = [*TINY, "study=keep", f"mlflow.tracking_uri={store}", "seed=0"]
    run_cli("train", *base, "sampler=standard")
    run_cli("train", *base, "sampler=standard", "sampler.keep=clean")
    csv = tmp_path / "peer.csv"   # keeps 384 training examples: 3 batches, so 12 steps see each of them
    data = load_data(data_config(compose_config("train", TINY)))
    index = data.train.index.numpy()
    pd.DataFrame({"index": index, "peer_keep": np.arange(len(index)) < 384,
                  "fixed": data.true_labels}).astype(int).to_csv(csv, index=False)
    run_cli("train", *base, "sampler=standard", "sampler.keep=peer_keep", f"scores={csv}")
    relabel = run_cli("train", *base, "sampler=standard", "sampler.labels=fixed", f"scores={csv}")
    assert "320 of 1600 training labels changed, 320 of them to the true label" in relabel.stdout + relabel.stderr
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=["curriculum"], filter_string="tags.study = 'keep'")
    by_arm = {arm_name(json.loads(a)): r for a, (_, r) in zip(runs["tags.arm"], runs.iterrows())}
    assert set(by_arm) == {"standard", "oracle", "standard[sampler.keep=peer_keep]",
                           "standard[sampler.labels=fixed]"}
    assert by_arm["standard"]["metrics.curriculum/distinct_seen"] == 12 * 128   # one epoch of full batches
    assert by_arm["oracle"]["metrics.curriculum/distinct_seen"] == 1280
    assert by_arm["oracle"]["metrics.curriculum/data_fraction"] == pytest.approx(0.8)
    assert {r["metrics.steps"] for r in by_arm.values()} == {12}   # every arm takes the steps of all 1600
    assert by_arm["standard[sampler.labels=fixed]"]["metrics.curriculum/distinct_seen"] == 12 * 128
    assert by_arm["standard[sampler.keep=peer_keep]"]["metrics.curriculum/distinct_seen"] == 384
    out = run_cli("compare", "study=keep", f"out_dir={tmp_path / 'cmp'}", f"mlflow.tracking_uri={store}")
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv").set_index("arm")
    assert set(table.index) == set(by_arm) and table.loc["oracle", "vs_standard_pairs"] == 1
    assert "Traceback" not in out.stderr
