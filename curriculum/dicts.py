"""Nested dicts as dotted keys: the names Hydra overrides, MLflow params and identity diffs use."""

from __future__ import annotations


def flatten(tree: dict, prefix: str = "") -> dict:
    """{"model": {"kwargs": {"width": 16}}} -> {"model.kwargs.width": 16}."""
    flat = {}
    for key, value in tree.items():
        flat |= flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value}
    return flat


def identity_differences(found: dict, expected: dict) -> list[str]:
    """`key: found -> expected` for every (dotted) key whose value differs."""
    a, b = flatten(found), flatten(expected)
    return [f"{k}: {a.get(k, 'missing')!r} -> {b.get(k, 'missing')!r}" for k in sorted(a.keys() | b.keys())
            if a.get(k) != b.get(k)]
