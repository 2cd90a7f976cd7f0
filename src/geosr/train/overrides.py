"""The keyword front door: a :class:`TrainConfig` from a config (object, mapping, YAML path or
None) plus keyword overrides — sections (``data=``, ``model=``, ``scale=``, ``out=``...),
shortcuts (``steps``, ``lr``, ``batch_size``... see :data:`SHORTCUTS`) and dotted paths
(``**{"train.lr": 1e-3}``).

``data=`` may be a phantom kind (``"dentin"``), a folder holding ``lr/`` and ``hr/`` (paired
files), a folder or file of HR images (degraded on the fly), or a mapping; ``model=`` a name.

Example
-------
>>> cfg = config_from_any(data="dentin", scale=2, model="espcn", steps=500)
>>> cfg.data.source, cfg.scale, cfg.model.name, cfg.train.steps
('phantom', 2, 'espcn', 500)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel

from geosr.core.errors import ConfigError
from geosr.train.config import TrainConfig, load_config, parse_config

__all__ = ["config_from_any", "SHORTCUTS"]

#: Keyword shortcuts of :func:`geosr.train.train` → config paths.
SHORTCUTS = {
    "steps": "train.steps", "batch_size": "train.batch_size", "lr": "train.lr",
    "device": "train.device", "threads": "train.threads", "schedule": "train.schedule",
    "checkpoint_every": "train.checkpoint_every", "patience": "validation.patience",
    "val_every": "validation.every", "progress": "logging.progress",
    "tensorboard": "logging.tensorboard", "patch_size": "patch.size",
}


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif hasattr(child, "model_dump"):
            child = node[part] = child.model_dump()
        elif not isinstance(child, dict):
            raise ConfigError(f"cannot set {dotted}: {part} is not a section", where=dotted)
        node = child
    node[parts[-1]] = value


def _data_shortcut(value: Any) -> Any:
    """``data=`` as a path (folder with lr/ and hr/ → folders; otherwise HR images → degrade)
    or a phantom kind name."""
    if isinstance(value, (dict, BaseModel)):
        return value.model_dump() if isinstance(value, BaseModel) else value
    if isinstance(value, str) and value in ("dentin", "lcn", "cortical", "porous") and not Path(
            value).exists():
        return {"source": "phantom", "kind": value}
    path = Path(value)
    if path.is_dir():
        subs = {p.name.lower(): p for p in path.iterdir() if p.is_dir()}
        if "lr" in subs and "hr" in subs:
            return {"source": "folders", "lr": str(subs["lr"]), "hr": str(subs["hr"])}
    if path.exists():
        return {"source": "degrade", "hr": str(path)}
    raise ConfigError(f"{value!r} is neither a folder, an image file nor a phantom kind",
                      where="data", hint="give a folder with lr/ and hr/, HR images, a phantom "
                                         "kind (dentin, lcn, cortical, porous) or a mapping")


def config_from_any(config: Any = None, **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from a config, a mapping, a YAML path or None, with keyword
    overrides: top-level sections (``data=``, ``model=``, ``scale=``...), shortcuts (``steps``,
    ``lr``, ``batch_size``... see :data:`SHORTCUTS`) and dotted paths (``**{"train.lr": 1e-3}``).
    """
    where = "train()"
    base = None
    if config is None:
        data: dict[str, Any] = {}
    elif isinstance(config, TrainConfig):
        data = config.model_dump()
    elif isinstance(config, Mapping):
        data = copy.deepcopy(dict(config))
    elif isinstance(config, (str, Path)):
        path = Path(config)
        loaded = load_config(path)
        if not overrides:
            return loaded
        data, where, base = loaded.model_dump(), str(path), None
    else:
        raise ConfigError(f"config must be a TrainConfig, a mapping or a YAML path, got "
                          f"{type(config).__name__}", where="config")
    allowed = sorted(set(TrainConfig.model_fields) | set(SHORTCUTS))
    for key, value in overrides.items():
        if key == "model" and isinstance(value, str):
            value = {**(data.get("model") or {}), "name": value}
            if hasattr(value, "model_dump"):
                value = value.model_dump()
        if key == "data":
            value = _data_shortcut(value)
        if key in TrainConfig.model_fields:
            data[key] = value
        elif key in SHORTCUTS:
            _set(data, SHORTCUTS[key], value)
        elif "." in key and key.split(".")[0] in TrainConfig.model_fields:
            _set(data, key, value)
        else:
            raise ConfigError(f"unknown option {key!r}", where=where,
                              hint="allowed: " + ", ".join(allowed)
                              + ", or a dotted path such as train.lr")
    if "data" not in data:
        raise ConfigError("no training data given", where=where,
                          hint="pass data= (a folder, HR images or a phantom kind) or a config")
    return parse_config(data, where=where, base=base)
