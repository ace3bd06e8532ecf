"""YAML recipes parsed into dataclasses, with ``--set key.sub=value`` overrides from the CLI.

A recipe file maps one to one onto a dataclass (nested dataclasses for nested mappings), the
way TRL's ``TrlParser`` maps a YAML file onto its config dataclasses. Unknown keys are an error
naming the key and the fields that exist; values are converted to the annotated type. A
``trainer:`` mapping is kept as a plain dict and handed to TRL's own config class
(``SFTConfig``/``GRPOConfig``/``RLOOConfig``), which validates it.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class R:
    ...     k: int = 1
    >>> parse_recipe_dict(R, {"k": "3"}).k
    3
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from exectune_rl.errors import ConfigError

__all__ = ["parse_recipe", "parse_recipe_dict", "apply_overrides", "load_yaml", "recipe_to_dict", "check_fields", "convert_value"]

T = TypeVar("T")


_SCI = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _sci_floats(value: Any) -> Any:
    """YAML 1.1 reads ``1e-5`` (no dot) as a string; recipes mean a float."""
    if isinstance(value, str) and _SCI.match(value):
        return float(value)
    if isinstance(value, dict):
        return {k: _sci_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sci_floats(v) for v in value]
    return value


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path``; an empty file is an empty mapping.

    Raises:
        ConfigError: The file is missing, unparsable or not a mapping.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"recipe file {str(p)!r} does not exist or is not a file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"recipe file {str(p)!r} is not utf-8 text: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"recipe file {str(p)!r} cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe file {str(p)!r} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"recipe file {str(p)!r} must hold a mapping at top level, got {type(data).__name__}")
    return _sci_floats(data)


def _parse_scalar(text: str) -> Any:
    import yaml

    try:
        return _sci_floats(yaml.safe_load(text))
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values parsed as YAML scalars) to a nested dict.

    Args:
        data: The recipe mapping; not modified.
        overrides: Strings like ``"trainer.max_steps=20"`` or ``"k=4"``.

    Returns:
        A new mapping with the overrides applied.

    Example:
        >>> apply_overrides({"a": {"b": 1}}, ["a.b=2", "c=x"])
        {'a': {'b': 2}, 'c': 'x'}
    """
    import copy

    out = copy.deepcopy(dict(data))
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override must look like key.sub=value, got {item!r}")
        parts = key.strip().split(".")
        if not all(part.strip() for part in parts):
            raise ConfigError(f"override {item!r}: empty key segment in {key.strip()!r}")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a mapping")
            node = child
        node[parts[-1]] = _parse_scalar(value)
    return out


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _convert(value: Any, tp: Any, where: str) -> Any:
    tp, optional = _strip_optional(tp)
    if value is None:
        if optional or tp is Any:
            return None
        raise ConfigError(f"{where} may not be null")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return parse_recipe_dict(tp, value, where=where)
    origin = typing.get_origin(tp)
    if origin in (list, tuple, Sequence):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        (inner, *_) = typing.get_args(tp) or (Any,)
        items = [_convert(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        try:
            converted = tp(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigError(f"{where} must be {tp.__name__}, got {value!r}") from exc
        if tp is float and not math.isfinite(converted):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        if tp is int and isinstance(value, float) and value != converted:
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return converted
    if tp is str:
        if isinstance(value, (Mapping, list)):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return str(value)
    return value


def convert_value(value: Any, tp: Any, where: str) -> Any:
    """``value`` converted to the annotated type ``tp`` as a recipe field is (``where`` names it in errors).

    Raises:
        ConfigError: the value does not fit (``learning_rate: fast`` for a float).

    Example:
        >>> convert_value("3", int, "trainer.max_steps")
        3
    """
    return _convert(value, tp, where)


def parse_recipe_dict(cls: type[T], data: Mapping[str, Any], *, where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, converting values to the annotated types.

    Args:
        cls: A dataclass type (fields may be nested dataclasses, lists, dicts, scalars).
        data: The mapping (from YAML).
        where: Key path used in error messages.

    Returns:
        An instance of ``cls``; its ``__post_init__`` validation runs as usual.

    Raises:
        ConfigError: An unknown key, a missing required key or a value of the wrong type,
            with the key path in the message.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields), key=str)  # YAML keys need not be strings
    if unknown:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(value, hints[name], f"{where}.{name}" if where else name)
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where or cls.__name__}: missing required key(s) {', '.join(missing)}")
    return cls(**kwargs)


def check_fields(obj: Any) -> None:
    """Check (and convert, as a recipe file would be) the fields of a recipe built directly.

    ``RLRecipe(model="m", k="3")`` then behaves like the same values read from YAML: ``"3"``
    becomes 3, ``"a"`` is a :class:`ConfigError` naming the field instead of a ``TypeError``
    deep inside a run.

    Args:
        obj: A dataclass instance; its fields are replaced by their converted values.

    Raises:
        ConfigError: A value does not fit its field's annotated type.
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        converted = _convert(value, hints[f.name], f"{type(obj).__name__}.{f.name}")
        if converted is not value:
            object.__setattr__(obj, f.name, converted)


def parse_recipe(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Read a YAML recipe (optional), apply overrides and build dataclass ``cls``.

    Args:
        cls: The recipe dataclass.
        path: YAML file; None starts from the dataclass defaults.
        overrides: ``key.sub=value`` strings applied on top of the file.

    Returns:
        The recipe.

    Example:
        >>> from exectune_rl.training.config import RLRecipe      # doctest: +SKIP
        >>> parse_recipe(RLRecipe, "examples/synthetic_grpo.yaml", ["trainer.max_steps=5"])  # doctest: +SKIP
    """
    data = load_yaml(path) if path is not None else {}
    return parse_recipe_dict(cls, apply_overrides(data, overrides))


def recipe_to_dict(recipe: Any) -> dict[str, Any]:
    """A recipe back as plain data (for saving next to outputs)."""
    return dataclasses.asdict(recipe)
