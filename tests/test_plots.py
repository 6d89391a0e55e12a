"""The analyze figures drawn from a hand-made scores frame: each point lands where its scores put it."""

import numpy as np
import pandas as pd
import pytest

from curriculum.analysis import plots


@pytest.fixture
def drawn(monkeypatch):
    """Every figure the plots draw, kept open for inspection instead of closed."""
    figures = []
    plt = plots._pyplot()
    monkeypatch.setattr(plt, "close", figures.append)
    return figures


FRAME = pd.DataFrame({"label": [0, 0, 1, 1], "consensus": [1.0, 0.75, 0.25, 0.0],
                      "confidence": [0.9, 0.6, 0.3, 0.1], "variability": [0.05, 0.3, 0.2, 0.02],
                      "noisy": [False, False, False, True]})


def test_the_data_map_puts_each_example_at_its_variability_and_confidence(tmp_path, drawn):
    plots.data_map(tmp_path / "map.png", FRAME)
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
    given, flipped = drawn[0].axes[0].collections[:2]
    assert given.get_offsets().tolist() == [[0.05, 0.9], [0.3, 0.6], [0.2, 0.3]]
    assert flipped.get_offsets().tolist() == [[0.02, 0.1]]                  # the flipped label, as a cross
    assert given.get_array().tolist() == [1.0, 0.75, 0.25]                  # coloured by consensus


def test_consensus_by_class_draws_one_violin_per_class_at_its_mean(tmp_path, drawn):
    plots.consensus_by_class(tmp_path / "classes.png", FRAME)
    ax = drawn[0].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    means = ax.collections[-1].get_segments()                               # the mean marks, one per class
    assert [segment[0][1] for segment in means] == pytest.approx([0.875, 0.125])


def test_tpa_against_accuracy_puts_each_ensemble_at_its_accuracy(tmp_path, drawn):
    table = pd.DataFrame({"ensemble": ["a", "b"], "mean_acc": [0.8, 0.1], "tpa": [0.7, 0.02],
                          "tpa_independent": [0.5, 0.01]})
    plots.tpa_against_accuracy(tmp_path / "tpa.png", table)
    observed, independent = drawn[0].axes[0].collections[:2]
    assert observed.get_offsets().tolist() == [[0.8, 0.7], [0.1, 0.02]]
    assert independent.get_offsets().tolist() == [[0.8, 0.5], [0.1, 0.01]]


def test_gallery_picks_the_easiest_hardest_and_likely_mislabelled_of_a_class_by_hand():
    from curriculum.analysis.gallery import gallery_picks

    frame = pd.DataFrame({"label": [0, 1, 0, 0, 0], "rank": [3, 0, 1, 4, 2], "margin": [0.5, 9.0, -2.0, 1.0, 3.0]})
    picks = gallery_picks(frame, label=0, per_kind=2)                      # class 0: rows 0, 2, 3, 4
    assert picks["easiest"].tolist() == [2, 4]                             # ranks 1, 2
    assert picks["hardest"].tolist() == [3, 0]                             # ranks 4, 3
    assert picks["likely mislabelled"].tolist() == [2, 0]                  # margins -2.0, 0.5


def test_gallery_draws_each_image_under_its_caption(tmp_path, drawn):
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    plots.gallery(tmp_path / "g.png", {"easiest": [(image, "0→0\n1.00")], "hardest": [(image, "a"), (image, "b")]})
    axes = drawn[0].axes
    assert [ax.get_title() for ax in axes] == ["0→0\n1.00", "", "a", "b"]
    assert (axes[0].images[0].get_array() == image).all() and not axes[1].images


def test_the_match_figure_draws_a_line_per_family_pair_and_layer_in_its_panel(tmp_path, drawn):
    rows = [("cnn", "cnn", "conv1", [0.1, 0.3]), ("cnn", "cnn", "penultimate", [0.2, 0.4]),
            ("cnn", "mlp", "penultimate", [0.0, 0.1])]
    table = pd.DataFrame([{"family_a": a, "family_b": b, "kind": "same family" if a == b else "across families",
                           "layer": layer, "epsilon": eps, "share": share, "width_a": 4, "width_b": 4,
                           "samples": 100, "dead_a": 0, "dead_b": 0}
                          for a, b, layer, shares in rows for eps, share in zip((0.2, 0.5), shares)])
    plots.match_figure(tmp_path / "match.png", table)
    same, across = drawn[0].axes
    assert [line.get_label() for line in same.lines] == ["cnn conv1 (n=1)", "cnn penultimate (n=1)"]
    assert same.lines[1].get_ydata().tolist() == [0.2, 0.4] and same.lines[1].get_xdata().tolist() == [0.2, 0.5]
    assert [line.get_label() for line in across.lines] == ["cnn–mlp penultimate (n=1)"]
