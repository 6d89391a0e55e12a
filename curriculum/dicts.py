"""Nested dicts as dotted keys: the names Hydra overrides, MLflow params and identity diffs use."""

from __future__ import annotations


def flatten(tree: dict, prefix: str = "") -> dict:
    """{"model": {"kwargs": {"width": 16}}} -> {"model.kwargs.width": 16}."""
    flat = {}
    for key, value in tree.items():
        flat |= flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value}
    return flat
