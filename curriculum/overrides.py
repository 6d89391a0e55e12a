"""Command-line overrides checked before Hydra runs a command, so that what Hydra would reject in several
lines (an unknown or misspelt key, an unknown config, a malformed override, a sweep without -m) and what the
command could not read (`epochs=`, `epochs=two`) is one `UserError` naming the key. Uses Hydra's own parser
and compose API; sweeps (-m) are expanded value by value, as Hydra's basic sweeper would."""

from __future__ import annotations

import difflib
from pathlib import Path

from .errors import UserError
from .schedule.pacing import RENAMED as RENAMED_PACINGS, renamed_message

# Numeric settings that also take a word (or null); every other numeric setting takes only numbers.
ALSO_ALLOWED = {"pacing.end": ("auto",), "keep": ("auto",), "data.train_size": (None,)}   # keep: export's
_ABSENT = object()


def with_model_group(args: list[str]) -> list[str]:
    """`model._target_=pkg.Net` without a `model=` choice means model=custom (the group for your own nn.Module):
    the default model's schema would otherwise keep its own name and keyword arguments beside the target."""
    chosen = any(a.split("=", 1)[0].lstrip("+~") == "model" for a in args)
    if chosen or not any(a.split("=", 1)[0].lstrip("+") == "model._target_" for a in args):
        return args
    return ["model=custom", *args]


def check_overrides(config_dir: Path, command: str, args: list[str]) -> None:
    """Raise UserError for the first override Hydra would reject or `command` could not read."""
    flags = [a for a in args if a.startswith("-")]
    if any(f not in ("-m", "--multirun") for f in flags):
        return  # --help, --cfg job, -cn ...: Hydra's own options, left to Hydra
    from hydra import compose, initialize_config_dir

    from .config import register_configs

    register_configs()  # the YAML files extend the schemas (also when a test or script calls this directly)

    overrides = [parse(line) for line in args if not line.startswith("-")]
    sweep = next((o for o in overrides if o.is_sweep_override()), None)
    multirun = flags or any(o.key_or_group == "hydra.mode" and str(o.value()) == "MULTIRUN" for o in overrides)
    if sweep is not None and not multirun:
        raise UserError(f"{sweep.input_line} is a sweep: add -m to run one job per value "
                        f"(or write a list as {sweep.key_or_group}=[...])")
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3", job_name=f"curriculum-{command}"):
        groups = set(compose(command, [], return_hydra_config=True).hydra.runtime.choices)
        for job in jobs(overrides, groups):
            config = compose_or_explain(command, [line for o, values in job if o.key_or_group in groups
                                                  for line, _ in values])
            for o, values in job:
                if o.key_or_group not in groups and _is_setting(o):
                    for line, value in values:
                        check_setting(config, command, o.key_or_group, line, value)
            compose_or_explain(command, [values[0][0] for _, values in job])


def parse(line: str):
    """One override through Hydra's grammar; a malformed one is a UserError quoting it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        override = OverridesParser.create().parse_override(line)
    except HydraException as err:
        raise UserError(f"cannot read the override {line!r} ({_one_line(err)}); write key=value, "
                        f"like epochs=3") from None
    if not override.key_or_group:
        raise UserError(f"the override {line!r} has no key; write key=value, like epochs=3")
    return override


def jobs(overrides: list, groups: set[str]) -> list[list]:
    """The jobs to check: each override's first value, then one job per further value of a config group
    sweep (a group's choice changes which settings exist). Each job is [(override, [(line, value), ...])]:
    a setting's sweep keeps all its values (checked against one composed config), a group one value."""
    from hydra.core.override_parser.types import Glob, Transformer

    choices = []
    for o in overrides:
        if not o.is_sweep_override():
            choices.append((o, [(o.input_line, o.value())]))
        elif o.is_hydra_override():
            raise UserError(f"{o.input_line}: Hydra's own settings cannot be swept; give one value")
        elif not isinstance(o.value(), Glob):  # a glob over configs is left to Hydra
            lines = [f"{o.get_key_element()}={s}" for s in o.sweep_iterator(Transformer.encode)]
            choices.append((o, list(zip(lines, o.sweep_iterator()))))
    first = [(o, values[:1] if o.key_or_group in groups else values) for o, values in choices]
    more = [first[:i] + [(o, [value])] + first[i + 1:] for i, (o, values) in enumerate(choices)
            if o.key_or_group in groups for value in values[1:]]
    return [first, *more]


def _is_setting(override) -> bool:
    """An override that sets an existing key of the config (not +add, ~delete or Hydra's own)."""
    return not (override.is_add() or override.is_force_add() or override.is_delete() or override.is_hydra_override())


def compose_or_explain(command: str, lines: list[str]):
    """The config composed from these overrides; Hydra's error as one line (an unknown config choice: the
    valid ones)."""
    from hydra import compose
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    try:
        return compose(command, lines, return_hydra_config=True)
    except MissingConfigException as err:
        group, _, name = str(err.missing_cfg_file).rpartition("/")  # data/imagenet
        if group == "pacing" and name in RENAMED_PACINGS:
            raise UserError(renamed_message(name)) from None
        options = f"; choose one of {', '.join(err.options)}" if err.options else ""
        raise UserError(f"{group}={name} is not one of the {group} configs{options}") from None
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        raise UserError(f"Hydra cannot compose the {command} config: {_one_line(err)}") from None


def check_setting(config, command: str, key: str, line: str, value) -> None:
    """`key` must exist in the composed `config` and `value` must have the kind of its default."""
    from omegaconf import OmegaConf

    tree = OmegaConf.to_container(config, resolve=False)
    tree.pop("hydra", None)
    default = lookup(tree, key)
    if default is _ABSENT:
        raise UserError(unknown_key_message(command, key, tree, dict(config.hydra.runtime.choices)))
    problem = kind_problem(key, default, value)
    if problem:
        text = line.split("=", 1)[1]
        shown = f"{key}= has no value" if text == "" else f"{key}={text} is not {problem}"
        raise UserError(f"{shown}; give {problem}, like {key}={encode(_resolved(config, key, default))}")


def _resolved(config, key: str, raw):
    """The default with its interpolations resolved (`${model.name}` -> cnn), for the example in a message."""
    from omegaconf import OmegaConf

    try:
        value = OmegaConf.select(config, key)
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    except Exception:  # a resolver that needs a running Hydra app (${hydra:...}): show the default as written
        return raw


def lookup(tree, key: str):
    """The value at dotted `key` of a nested dict/list, or _ABSENT."""
    node = tree
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _ABSENT
    return node


def kind_problem(key: str, default, value) -> str | None:
    """What kind of value `key` needs when `value` cannot stand in for `default` (None when it can).
    Text and null defaults take anything: the command checks those values itself."""
    if default is None or isinstance(default, str) or value in ALSO_ALLOWED.get(key, ()):
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(default, int):
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if isinstance(default, float):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "a number"
    if isinstance(default, list):
        return None if isinstance(value, list) else "a list"
    if isinstance(default, dict):
        return None if isinstance(value, dict) else "a mapping"
    return None


def unknown_key_message(command: str, key: str, tree: dict, choices: dict) -> str:
    """Names the closest existing key below the deepest part of `key` that exists, or the keys there.
    `choices`: the config group choices ({"pacing": "exp_stairs"}); a group's config decides its keys."""
    head = key.split(".")[0]
    where = f"`{command}`" + (f" with {head}={choices[head]}" if head in choices and "." in key else "")
    if key.startswith("model.kwargs.") and choices.get("model") in ("torchvision", "timm", "custom"):
        return (f"{key} is not set by model={choices['model']}, whose keyword arguments are your own: add it as "
                f"+{key}=...")
    parent, node = "", tree
    for part in key.split(".")[:-1]:
        if not isinstance(node.get(part), dict):
            break
        parent, node = f"{parent}{part}.", node[part]
    close = difflib.get_close_matches(key[len(parent):], list(_dotted(node)), n=1, cutoff=0.6)
    if close:
        return f"{key} is not a setting of {where}; did you mean {parent}{close[0]}?"
    under = f"under {parent[:-1]} " if parent else ""
    return f"{key} is not a setting of {where}; the settings {under}are {', '.join(node)}"


def _dotted(tree: dict, prefix: str = ""):
    for k, v in tree.items():
        yield f"{prefix}{k}"
        if isinstance(v, dict):
            yield from _dotted(v, f"{prefix}{k}.")


def encode(value) -> str:
    """A value as an override would write it: true, [0.125,0.25], {width:16}."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{encode(v)}" for k, v in value.items()) + "}"
    return "null" if value is None else str(value)


def _one_line(err: Exception) -> str:
    return "; ".join(line.strip() for line in str(err).splitlines() if line.strip())
