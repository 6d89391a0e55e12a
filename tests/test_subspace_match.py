"""The neuron activation subspace match (Wang et al. 2018) on hand-made layers whose answers are known."""

import re

import numpy as np
import pytest

from curriculum.analysis.subspace_match import (MatchConfig, check_samples, match_share, match_summary, match_table,
                                                maximum_matches, span_distances)
from curriculum.errors import UserError
from curriculum.scoring.representations import NeuronLayer

EPSILONS = [0.2, 0.3, 0.4, 0.5]
X = np.random.default_rng(0).normal(size=(500, 20))                      # 20 neurons over 500 samples


def shares(x, y, epsilons=EPSILONS):
    return [match_share(mx, my) for mx, my in maximum_matches(x, y, epsilons)]


def test_the_distance_from_a_span_by_hand():
    # (1, 1) is 1 from the line of (1, 0): relative 1 / sqrt(2); (0, 2) lies on the line of (0, 1): 0
    a = np.array([[1.0, 0.0], [1.0, 2.0]])
    assert span_distances(a, np.array([[1.0], [0.0]]))[0] == pytest.approx(1 / np.sqrt(2))
    assert span_distances(a, np.array([[0.0], [1.0]]))[1] == pytest.approx(0)
    assert span_distances(a, np.zeros((2, 0))).tolist() == [1.0, 1.0]     # an empty span: the whole vector
    assert np.isnan(span_distances(np.zeros((2, 1)), a)[0])              # a dead neuron has no direction


def test_a_layer_matches_itself_fully():
    assert shares(X, X) == [1.0] * 4


def test_an_invertible_mixing_of_a_layer_spans_the_same_subspace_and_matches_fully():
    mixing = np.random.default_rng(1).normal(size=(20, 20)) + 3 * np.eye(20)
    assert np.linalg.cond(mixing) < 100                                   # well conditioned
    assert shares(X, X @ mixing) == [1.0] * 4


def test_a_rank_deficient_layer_is_its_span():
    # the other layer repeats three neurons and adds a sum of two: the same span, a rank-deficient basis of it
    y = np.concatenate([X, X[:, :3], X[:, [4]] + X[:, [5]]], axis=1)
    assert shares(X, y) == [1.0] * 4


def test_independent_random_layers_match_nothing():
    # A random vector of R^d lies sqrt(1 - k/d) of its norm from a random k-dim subspace: here k = 20 neurons, d =
    # 2000 samples, sqrt(0.99) = 0.995, far above every epsilon, so the first round drops every neuron of both.
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2000, 20)), rng.normal(size=(2000, 20))
    assert span_distances(x, y).mean() == pytest.approx(np.sqrt(1 - 20 / 2000), abs=0.01)
    assert shares(x, y) == [0.0] * 4


def test_a_worked_three_neuron_example_where_a_drop_on_one_side_unmatches_the_other():
    # In R^4: X = {x1, x2, x3} = {e1, e2, e3}; Y = {y1, y2, y3} = {e1, e2 + e4, e4}. Every distance below is 0,
    # 1/sqrt(2) = 0.707 or 1 of the neuron's norm.
    # Round 1, X against span(Y) = span(e1, e2, e4): x1 = y1 (0) and x2 = y2 - y3 (0) match, x3 = e3 does not (1).
    # Round 1, Y against span(x1, x2) = span(e1, e2): y1 (0) matches; y2 = e2 + e4 is 0.707 away, y3 = e4 is 1.
    # Round 2, X against span(y1) = span(e1): x2 = e2 lost its match with y2 and y3 (1): dropped.
    # Round 3 changes nothing: the maximum match is {x1} and {y1}, a share of 2/6. (Each side against the whole
    # other side once would have kept x2, a share of 3/6: the iteration matters.)
    e = np.eye(4)
    x = np.stack([e[0], e[1], e[2]], axis=1)                              # (4 samples, 3 neurons)
    y = np.stack([e[0], e[1] + e[3], e[3]], axis=1)
    (mx, my), = maximum_matches(x, y, [0.2])
    assert mx.tolist() == [True, False, False] and my.tolist() == [True, False, False]
    assert match_share(mx, my) == pytest.approx(2 / 6)
    # At epsilon 0.75 the 0.707s match: y2 against span(e1, e2) and then x2 against span(e1, e2 + e4) (its
    # projection on (e2 + e4)/sqrt(2) leaves 1/sqrt(2)); x3 and y3 (distance 1) still drop: 4/6.
    assert shares(x, y, [0.75, 0.2]) == pytest.approx([4 / 6, 2 / 6])


def test_the_epsilons_come_back_in_the_order_given_and_grow_the_match():
    rng = np.random.default_rng(3)
    shared = rng.normal(size=(400, 6))
    x = np.concatenate([shared @ rng.normal(size=(6, 6)), rng.normal(size=(400, 6))], axis=1)
    y = np.concatenate([shared + 0.3 * rng.normal(size=(400, 6)), rng.normal(size=(400, 6))], axis=1)
    up = shares(x, y, [0.1, 0.3, 0.5, 0.9])
    assert up == sorted(up) and up[0] < up[-1]
    assert shares(x, y, [0.9, 0.5, 0.3, 0.1]) == up[::-1]
    for eps, share in zip([0.1, 0.3, 0.5, 0.9], up):                       # each alone, from the whole layers
        assert shares(x, y, [eps]) == [share]


def test_dead_neurons_never_match_and_stay_in_the_denominator():
    dead = X.copy()
    dead[:, [3, 7]] = 0                                                   # two ReLUs that never fire
    (mx, my), = maximum_matches(dead, dead, [0.2])
    assert mx.sum() == my.sum() == 18 and not mx[[3, 7]].any()
    assert match_share(mx, my) == pytest.approx(36 / 40)


def test_layers_of_different_samples_are_refused():
    with pytest.raises(ValueError, match=r"same samples"):
        maximum_matches(X, X[:100], [0.2])


@pytest.mark.parametrize("epsilons", [[0.0, 0.3], [0.2, 1.0], [1.5], []])
def test_an_epsilon_outside_zero_one_is_one_line(epsilons):
    with pytest.raises(UserError, match=r"match.epsilons=.*must lie in \(0, 1\)"):
        MatchConfig(epsilons=epsilons)


def test_too_few_samples_is_an_error_when_the_setting_is_why_and_a_note_when_the_data_is():
    layer = NeuronLayer(np.ones((100, 20), np.float32), (), available=5000)
    with pytest.raises(UserError, match=r"match.samples=100 is too few for mlp's fc1's 20 neurons.*"
                                        r"match.samples=200 or more"):
        check_samples("mlp's fc1", layer, 100)
    small = NeuronLayer(np.ones((100, 20), np.float32), (), available=100)
    assert "the test split gives 100 test images, fewer than the 200" in check_samples("mlp's fc1", small, 10000)
    assert check_samples("mlp's fc1", NeuronLayer(np.ones((200, 20)), (), 5000), 200) is None
    with pytest.raises(UserError, match=r"match.samples=0 must be at least 1"):
        MatchConfig(samples=0)


def test_the_table_pairs_layers_of_the_same_name_and_grid_and_orders_families():
    # members: cnn, mlp, mlp. Member 1's penultimate is member 2's: mlp-mlp matches it fully; the cnn's conv1 has
    # no partner (the mlps have none), its penultimate is independent of the mlps'.
    rng = np.random.default_rng(4)
    flat = rng.normal(size=(300, 8))
    cnn = {"conv1": NeuronLayer(rng.normal(size=(300, 4)), (6, 6), 300 * 36),
           "penultimate": NeuronLayer(rng.normal(size=(300, 8)), (), 300)}
    mlp = {"penultimate": NeuronLayer(flat, (), 300)}
    table = match_table([cnn, mlp, dict(mlp)], ["cnn", "mlp", "mlp"], [0.2, 0.5])
    assert table["layer"].unique().tolist() == ["penultimate"]
    assert list(zip(table["family_a"], table["family_b"], table["epsilon"])) == [
        ("cnn", "mlp", 0.2), ("cnn", "mlp", 0.5), ("cnn", "mlp", 0.2), ("cnn", "mlp", 0.5), ("mlp", "mlp", 0.2),
        ("mlp", "mlp", 0.5)]
    assert table["share"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    summary = match_summary(table)
    assert summary[["family_a", "kind", "pairs"]].values.tolist() == [["mlp", "same family", 1]] * 2 + [
        ["cnn", "across families", 2]] * 2                                # same family first
    assert match_table([cnn, None, mlp], ["cnn", "mlp", "mlp"], [0.2])["member_b"].tolist() == [2]


def test_the_members_layers_are_their_activation_outputs_sampled_alike():
    import torch

    from curriculum.engine import Inputs
    from curriculum.models import create_model
    from curriculum.scoring.representations import representations, sample_rows

    x = torch.randint(0, 256, (7, 1, 8, 8), dtype=torch.uint8)
    inputs = Inputs((0.5,), (0.25,), "cpu")
    cnn = create_model("cnn", (1, 8, 8), 3, 0, width=2, hidden=5)
    features, layers = representations(cnn, x, inputs, samples=40, batch=3)    # three batches: 3 + 3 + 1
    assert list(layers) == ["conv1", "conv2", "penultimate"]                     # fc1 is what the classifier reads
    with torch.no_grad():
        conv1 = cnn[:3](inputs(x))                                               # conv, pool, ReLU: (7, 2, 4, 4)
    rows = sample_rows(7, (4, 4), 40)                                            # 40 of the 7 x 16 pairs
    assert len(rows) == 40 and layers["conv1"].grid == (4, 4) and layers["conv1"].available == 112
    assert np.allclose(layers["conv1"].activations, conv1.permute(0, 2, 3, 1).reshape(-1, 2).numpy()[rows])
    assert layers["conv2"].activations.shape == (28, 4)                          # 7 x 2 x 2 pairs: all of them
    assert np.array_equal(layers["penultimate"].activations, features) and features.shape == (7, 5)

    mlp = create_model("mlp", (1, 8, 8), 3, 0, width=4, depth=2)
    features, layers = representations(mlp, x, inputs, samples=5)
    assert list(layers) == ["fc1", "penultimate"] and layers["fc1"].grid == ()
    with torch.no_grad():
        fc1 = mlp[:3](inputs(x)).numpy()
    assert np.allclose(layers["fc1"].activations, fc1[sample_rows(7, (), 5)])
    assert np.array_equal(layers["penultimate"].activations, features[sample_rows(7, (), 5)])

    gap = create_model("cnn_gap", (1, 8, 8), 3, 0, width=2)
    features, layers = representations(gap, x, inputs, samples=1000)
    assert list(layers) == ["conv1", "conv2", "conv3", "penultimate"]           # the pooled conv3 is read
    assert layers["conv3"].activations.shape == (7 * 4, 8) and features.shape == (7, 8)
    assert representations(gap, x, inputs, samples=0)[1] == {}                  # CKA's representation only


@pytest.mark.slow
def test_analyze_writes_the_match_of_every_layer_beside_cka(tmp_path, store):
    # two cnns and two mlps with narrow dense layers (32 units: the 500 test images are 10 per unit and more)
    import pandas as pd
    from conftest import run_cli

    run_cli("score", "data=synthetic", "device=cpu", "epochs=1", "ensemble.size=4", "ensemble.models=[cnn,mlp]",
            "model.kwargs.hidden=32", "+ensemble.model_kwargs={mlp:{width:32}}", f"out_dir={tmp_path / 'score'}",
            f"mlflow.tracking_uri={store}")
    report = run_cli("analyze", f"scores={tmp_path / 'score'}", f"out_dir={tmp_path / 'an'}", "match.samples=2000",
                     f"mlflow.tracking_uri={store}").stdout
    table = pd.read_csv(tmp_path / "an" / "subspace_match.csv")
    layers = table.groupby(["family_a", "family_b"], sort=False)["layer"].unique().map(list).to_dict()
    assert layers == {("cnn", "cnn"): ["conv1", "conv2", "penultimate"], ("cnn", "mlp"): ["penultimate"],
                      ("mlp", "mlp"): ["fc1", "penultimate"]}
    assert table.groupby(["member_a", "member_b", "layer"]).size().eq(4).all()   # the four epsilons each
    assert table["share"].between(0, 1).all()
    conv1 = table[table["layer"] == "conv1"].iloc[0]
    assert (conv1["width_a"], conv1["samples"]) == (16, 2000)                    # 2000 of 500 x 6 x 6 pairs
    assert table.loc[table["layer"] == "penultimate", "samples"].eq(500).all()   # every test image
    assert "| cnn – mlp | penultimate | 32 | 500 | 4 |" in report and "ε=0.2 | ε=0.3 | ε=0.4 | ε=0.5 | CKA | kappa |" in report
    assert (tmp_path / "an" / "subspace_match.png").read_bytes()[:4] == b"\x89PNG"

    failed = run_cli("analyze", f"scores={tmp_path / 'score'}", f"out_dir={tmp_path / 'bad'}",
                     "match.epsilons=[0.2,1]", f"mlflow.tracking_uri={store}", check=False)   # too few samples: above
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert re.search(r"match.epsilons=\[0.2, 1.0\]: each epsilon must lie in \(0, 1\)", failed.stderr)
