"""Training: the paired loop, its config, checkpoints, schedules and logs.

- :func:`train` — ``train(config=None, *, resume=False, **overrides) -> Path`` (the model
  folder); a YAML path, a mapping, a :class:`TrainConfig` or keywords only
  (``train(data="dentin", scale=4, model="fsrcnn", steps=500, out="runs/d4")``).
- :class:`TrainConfig`, :func:`load_config`, :func:`parse_config`.
- Checkpoints: :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`latest_checkpoint`.

Importing this package does not import torch; the loop does, on first use. The package itself
is callable (``geosr.train(data=..., scale=4)`` calls :func:`train`), because once the
subpackage is imported, ``geosr.train`` names this module rather than the function.
"""

from __future__ import annotations

import sys

from geosr.core.lazy import lazy_exports

_EXPORTS = {
    "train": "geosr.train.loop",
    "Trainer": "geosr.train.loop",
    "TrainConfig": "geosr.train.config",
    "load_config": "geosr.train.config",
    "parse_config": "geosr.train.config",
    "config_from_any": "geosr.train.overrides",
    "save_checkpoint": "geosr.train.checkpoint",
    "load_checkpoint": "geosr.train.checkpoint",
    "latest_checkpoint": "geosr.train.checkpoint",
    "Schedule": "geosr.train.schedule",
    "read_log": "geosr.train.log",
    "TRAINERS": "geosr.train.trainers",
    "register_trainer": "geosr.train.trainers",
    "trainer_class": "geosr.train.trainers",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


from geosr.core.callable_module import make_callable as _make_callable  # noqa: E402

_make_callable(sys.modules[__name__], "train")
