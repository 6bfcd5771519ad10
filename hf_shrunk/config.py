"""Stage configs: dataclasses, filled from a YAML file and then from command-line flags (flags win).

Every stage is ``hf-shrunk <stage> [--config FILE.yaml] [--field value ...]`` (as in trl's CLI): the YAML file
sets defaults for the dataclass fields and any flag overrides them. Parsing uses transformers'
``HfArgumentParser``, so ``--learning_rate`` and ``--learning-rate`` both work and ``--help`` lists every field
with its default. This module must not import torch (``--help`` stays instant); the Trainer-backed stages add
``TrainingArguments`` to the same parser inside their own modules.
"""

import argparse
import dataclasses
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_DIR = PACKAGE_DIR / "configs"


class UserError(Exception):
    """An error caused by input the user can fix; the CLI prints it without a traceback."""


class ConfigError(UserError, ValueError):
    """A config value is wrong; the message says which and how to fix it."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what the stage kept and how to continue: :func:`run_cli` prints the message."""


def field(default: Any = dataclasses.MISSING, help: str = "", **kwargs: Any) -> Any:
    """A dataclass field with ``--help`` text (HfArgumentParser reads ``metadata['help']``)."""
    metadata = {"help": help, **kwargs.pop("metadata", {})}
    if isinstance(default, list | dict):
        value = default
        return dataclasses.field(
            default_factory=lambda: list(value) if isinstance(value, list) else dict(value), metadata=metadata
        )
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def packaged_config(name: str) -> Path:
    """Path of a YAML file shipped in ``hf_shrunk/configs`` (``name`` with or without ``.yaml``)."""
    path = CONFIG_DIR / (name if name.endswith(".yaml") else f"{name}.yaml")
    if not path.is_file():
        available = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
        raise ConfigError(f"no packaged config {name!r}; available: {', '.join(available)}")
    return path


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(e, 'problem', e)})") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of field: value, got {type(data).__name__}")
    return data


def build_parser(
    dataclass_types: Sequence[type],
    prog: str | None = None,
    description: str | None = None,
    positional: str | None = None,
):
    """An ``HfArgumentParser`` for ``dataclass_types`` plus ``--config``; ``positional`` names a field that may
    also be given as the first positional argument (``hf-shrunk glue MODEL``)."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(list(dataclass_types), prog=prog, description=description)
    parser.add_argument(
        "--config", type=str, default=None, help="YAML file with field: value defaults; command-line flags win."
    )
    if positional:
        parser.add_argument(
            f"_{positional}", nargs="?", default=None, metavar=positional.upper(), help=f"same as --{positional}"
        )
    return parser


def parse_config(
    dataclass_types: Sequence[type],
    argv: Sequence[str] | None = None,
    prog: str | None = None,
    description: str | None = None,
    positional: str | None = None,
    default_config: str | os.PathLike | None = None,
    defaults: dict[str, Any] | None = None,
    owned: dict[str, str] | None = None,
) -> tuple[Any, ...]:
    """Parse ``argv`` into instances of ``dataclass_types``: ``defaults``, then the packaged YAML
    (``default_config``), then the user's ``--config`` YAML, then flags — each overriding the previous.

    Unknown YAML keys and invalid values raise :class:`ConfigError` naming the key (and the file). ``owned`` maps
    fields the command sets itself (e.g. TrainingArguments the pretraining recipe derives) to what to use instead:
    setting one by flag or in the user's YAML is refused with that hint rather than silently overwritten.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(dataclass_types, prog=prog, description=description, positional=positional)
    known = {f.name for dt in dataclass_types for f in dataclasses.fields(dt) if f.init}

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    pre_args, _ = pre.parse_known_args(argv)
    # before the YAML is checked against the fields: some owned names (warmup_ratio) are gone from transformers 5
    refuse_owned(argv, pre_args.config, owned or {})
    defaults, origin = _yaml_defaults(parser, [default_config, pre_args.config], known, dict(defaults or {}))
    if defaults:
        parser.set_defaults(**defaults)

    namespace, remaining = parser.parse_known_args(argv)
    if remaining:
        parser.error(f"unrecognized arguments: {' '.join(remaining)}")
    values = vars(namespace)
    values.pop("config", None)
    if positional:
        pos = values.pop(f"_{positional}", None)
        if pos is not None:
            values[positional] = pos
    out = []
    for dtype in dataclass_types:
        names = {f.name for f in dataclasses.fields(dtype) if f.init}
        kwargs = {k: v for k, v in values.items() if k in names}
        try:
            out.append(dtype(**kwargs))
        except (TypeError, ValueError) as e:
            named = [k for k in origin if f"--{k}" in str(e) or f"'{k}'" in str(e)]
            where = "".join(f" ({k} is set in {origin[k]})" for k in named if values.get(k) == defaults.get(k))
            raise ConfigError(f"{e}{where}") from e
    return tuple(out)


def _yaml_defaults(
    parser: Any, sources: list[Any], known: set[str], defaults: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``defaults`` updated from each YAML file of ``sources`` in turn (checked against the parser's fields), and
    which file set each key."""
    origin: dict[str, Any] = {}
    actions = {a.dest: a for a in parser._actions}
    for source in filter(None, sources):
        values = load_yaml(source)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) {', '.join(unknown)}. Valid keys are the flags listed by --help."
            )
        for key, value in values.items():
            defaults[key] = check_yaml_value(actions[key], value, f"{source}: {key}")
            origin[key] = source
    return defaults, origin


def refuse_owned(argv: Sequence[str], config_file: str | None, owned: dict[str, str]) -> None:
    """Raise :class:`ConfigError` if ``argv`` (``--name``, ``--name=v``, dashes or underscores) or the YAML file
    ``config_file`` sets a field of ``owned``, naming what to use instead."""
    given = [arg[2:].split("=", 1)[0].replace("-", "_") for arg in argv if arg.startswith("--")]
    found = [(f"--{name}", owned[name]) for name in given if name in owned]
    if config_file and not found:
        found = [(f"{name} (in {config_file})", owned[name]) for name in load_yaml(config_file) if name in owned]
    if found:
        what, instead = found[0]
        raise ConfigError(f"{what} is set by this command, not by you: {instead}")


def check_yaml_value(action: argparse.Action, value: Any, where: str) -> Any:
    """``value`` from a YAML file for the flag of ``action``, checked against the flag's type (what argparse would
    check on the command line, and what it skips for values that are not strings); ``where`` (``file: key``) starts
    the error. Whole floats for integer flags become ints."""
    many = action.nargs in ("+", "*")
    if isinstance(value, dict) or (isinstance(value, list) and not many):
        raise ConfigError(f"{where}: expected a single value, got a {type(value).__name__} ({value!r})")
    items = value if isinstance(value, list) else [value]
    kind, out = action.type, []
    if getattr(kind, "__name__", "") == "string_to_bool" or isinstance(action.const, bool):
        kind = bool
    for item in items:
        if isinstance(item, (list, dict)):
            raise ConfigError(f"{where}: expected a list of plain values, got {value!r}")
        out.append(_check_item(kind, item, where))
        if action.choices and out[-1] is not None and out[-1] not in action.choices:
            raise ConfigError(f"{where}: expected one of {', '.join(map(str, action.choices))}, got {item!r}")
    return out if isinstance(value, list) else out[0]


_BOOL_WORDS = frozenset("yes no true false t f y n 1 0".split())


def _check_item(kind: Any, item: Any, where: str) -> Any:
    name = {int: "an integer", float: "a number"}.get(kind, "true or false")
    if item is None or kind not in (int, float, bool):
        return item  # strings, paths and library types: argparse and the dataclass judge them
    if isinstance(item, str):
        try:
            ok = item.strip().lower() in _BOOL_WORDS if kind is bool else kind(item) is not None
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"{where}: expected {name}, got {item!r}")
        return item
    if kind in (int, float) and not isinstance(item, bool) and isinstance(item, int | float):
        if kind is int and not float(item).is_integer():
            raise ConfigError(f"{where}: expected an integer, got {item!r}")
        return int(item) if kind is int else item
    if kind not in (int, float) and isinstance(item, bool):
        return item
    raise ConfigError(f"{where}: expected {name}, got {item!r} ({type(item).__name__})")


def to_dict(cfg: Any, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """A JSON-friendly dict of a config dataclass (for manifests)."""
    out = {}
    for f in dataclasses.fields(cfg):
        if f.name in exclude:
            continue
        value = getattr(cfg, f.name)
        if isinstance(value, Path):
            value = str(value)
        out[f.name] = value
    return out


def split_list(value: str | Sequence[str] | None) -> list[str]:
    """``"a,b c"`` or ``["a,b", "c"]`` -> ``["a", "b", "c"]`` (flags accept both forms)."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [part for item in items for part in str(item).replace(",", " ").split() if part]


@dataclasses.dataclass
class CommonArgs:
    root: str | None = field(None, help="Artifact root (default: $HF_SHRUNK_HOME or ~/.cache/hf_shrunk).")
    overwrite: bool = field(False, help="Rebuild the output even if a finished one with the same config exists.")


def lazy_attribute(package: str, table: dict[str, str], name: str) -> Any:
    """A package face's ``__getattr__``: import ``name`` from the module ``table`` names for it, on first use.

    Used by the faces whose modules need torch, so that ``hf-shrunk <stage> --help`` does not import it.
    """
    if name not in table:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return getattr(importlib.import_module(table[name]), name)


def run_cli(main: Callable[..., int | None], command: str, argv: Sequence[str] | None = None) -> int:
    """Run a stage's ``main(argv, prog)`` as a command: a :class:`UserError` prints one line and returns 2, Ctrl-C
    returns 130 with a note that finished work is kept. Exits the process when ``argv`` is ``None`` (``-m`` use).

    Under ``hf-shrunk pretrain`` (``$HF_SHRUNK_EXIT_FILE`` set) the message is also left in that file, so the
    launcher can end with it instead of accelerate's traceback about a failed subprocess."""
    prog = command if command.startswith("python") else f"hf-shrunk {command}"
    message = None
    try:
        code = int(main(sys.argv[1:] if argv is None else list(argv), prog=prog) or 0)
    except UserError as e:
        message, code = f"{prog}: error: {e}", 2
    except Interrupted as e:
        message, code = f"\n{prog}: interrupted. {e}", 130
    except KeyboardInterrupt:
        message, code = f"\n{prog}: interrupted. Finished work is kept; run the same command again to continue.", 130
    except BrokenPipeError:
        # `hf-shrunk sizes | head`: stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    if message:
        print(message, file=sys.stderr)
        if os.environ.get("HF_SHRUNK_EXIT_FILE"):
            Path(os.environ["HF_SHRUNK_EXIT_FILE"]).write_text(f"{code}\n{message.strip()}")
    if argv is None:
        sys.exit(code)
    return code
