"""Pydantic validation errors turned into one :class:`geosr.core.ConfigError` that names the
file, the field path (``train.lr``, ``data.degradation.photons``, ``loss[0].name``) and what is
allowed: the allowed fields for an unknown one, the allowed values for a choice, and the value
that was given.

Example
-------
>>> from geosr.train.config import parse_config
>>> try:
...     parse_config({"data": {"source": "phantom"}, "train": {"lrate": 1}}, where="c.yaml")
... except ConfigError as err:
...     print(str(err)[:62])
c.yaml: train.lrate: unknown field; allowed: steps, batch_size
"""

from __future__ import annotations

import re
import typing
from typing import Annotated, Any, Optional, Union

from pydantic import BaseModel, ValidationError

from geosr.core.errors import ConfigError

__all__ = ["error_from_validation"]

_TAGS = {"folders", "degrade", "phantom"}
_TYPE_LABELS = {"float", "int", "str", "bool", "list", "dict"}


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _candidates(annotation: Any) -> list[Any]:
    """The pydantic models an annotation may hold (through Annotated, Optional, Union, list)."""
    origin = typing.get_origin(annotation)
    if _is_model(annotation):
        return [annotation]
    if origin is Annotated:
        return _candidates(typing.get_args(annotation)[0])
    if origin in (Union, list) or str(origin) == "<class 'types.UnionType'>":
        return [m for a in typing.get_args(annotation) for m in _candidates(a)]
    return []


def _pick(models: list[Any], data: Any) -> Optional[type[BaseModel]]:
    if len(models) == 1:
        return models[0]
    tag = data.get("source") if isinstance(data, dict) else None
    for model in models:  # a discriminated union: the member whose 'source' is the tag
        field = model.model_fields.get("source")
        if field is not None and tag in typing.get_args(field.annotation):
            return model
    return None


def _model_at(root: Optional[type[BaseModel]], path: list[Any], data: Any
              ) -> Optional[type[BaseModel]]:
    """The pydantic model class at a field path of ``root`` (a :class:`TrainConfig`), or None."""
    current: Any = root
    for part in path:
        if isinstance(part, int):
            data = data[part] if isinstance(data, list) and part < len(data) else None
            continue
        if not _is_model(current) or part not in current.model_fields:
            return None
        data = data.get(part) if isinstance(data, dict) else None
        current = _pick(_candidates(current.model_fields[part].annotation), data)
    return current if _is_model(current) else None


def _clean_path(loc: tuple[Any, ...]) -> list[Any]:
    """Drop the discriminator tag and the union-member labels that pydantic puts in ``loc``."""
    path: list[Any] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path.append(part)
        elif i == 1 and loc[0] == "data" and part in _TAGS:
            continue
        elif (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(part)) and part not in _TYPE_LABELS
              and not part[:1].isupper()):
            path.append(part)
    return path


def _format_path(path: list[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def error_from_validation(err: ValidationError, where: str, data: Any = None, *,
                          model: Optional[type[BaseModel]] = None) -> ConfigError:
    """One :class:`ConfigError` from a pydantic error: ``field.path: message`` per field, with
    the allowed fields for an unknown one (looked up from ``model``, the validated root class,
    e.g. :class:`geosr.train.config.TrainConfig`) and the offending value."""
    grouped: dict[str, list[str]] = {}
    kinds: dict[str, set[str]] = {}
    for item in err.errors(include_url=False):
        path = _clean_path(tuple(item.get("loc", ())))
        kind = item.get("type", "")
        msg = item.get("msg", "invalid")
        key = _format_path(path)
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
            named = re.match(r"^([A-Za-z_][\w.\[\]]*): (.*)$", msg, re.S)
            if named:  # the validator named the field itself
                inner, msg = named.group(1), named.group(2)
                key = inner if not path or inner == key or inner.startswith(key + ".") \
                    else f"{key}.{inner}"
        elif kind == "extra_forbidden":
            found = _model_at(model, path[:-1], data)
            msg = "unknown field" + (f"; allowed: {', '.join(found.model_fields)}"
                                     if found is not None else "")
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            tag = (item.get("ctx") or {}).get("tag")
            msg = "must be one of 'folders', 'degrade', 'phantom'" + (
                f" (got {_short(tag)})" if kind == "union_tag_invalid" else "")
            key = _format_path(path[:1] + ["source"])
        elif kind != "missing" and "input" in item and not isinstance(item["input"],
                                                                        (dict, list)):
            msg = f"{msg} (got {_short(item['input'])})"
        if msg not in grouped.setdefault(key, []):
            grouped[key].append(msg)
        kinds.setdefault(key, set()).add(kind)
    # a union that failed in one member's sub-field: drop the other members' type errors
    for key in list(grouped):
        deeper = any(k != key and (k.startswith(key + ".") or k.startswith(key + "["))
                     for k in grouped)
        if deeper and all(k.endswith("_type") for k in kinds[key]):
            del grouped[key]
    lines = [f"{key}: " + (" | ".join(msgs[:3]) if len(msgs) > 1 else msgs[0])
             for key, msgs in grouped.items()]
    return ConfigError("; ".join(lines), where=where)
