"""The training algorithms: ``algorithm`` in a training config → its trainer class.

A trainer is a :class:`geosr.train.loop.Trainer` subclass (``Trainer(cfg, resume=...,
show_progress=...).run()`` trains and saves the model). The built-in ones are listed here as
``"module:Class"`` strings and imported only when a config uses them; this module imports no
trainer (so the config can name the algorithms without importing torch code).

A new algorithm is a module ``geosr/train/<name>.py`` with its ``Trainer`` subclass and one
row in :data:`BUILTIN_TRAINERS` (the config's ``algorithm`` field accepts exactly these names).
A plugin trainer, outside geosr, registers with :func:`register_trainer` and is run with
:func:`geosr.train.loop.trainer_class` on a config built for a built-in algorithm.

>>> "cyclegan" in TRAINERS, trainer_class("supervised").__name__
(True, 'Trainer')
"""

from __future__ import annotations

from typing import Any, Callable

from geosr.core.registry import Registry

__all__ = ["BUILTIN_TRAINERS", "TRAINERS", "register_trainer", "trainer_class"]

#: ``algorithm`` → ``"module:Class"`` of its trainer.
BUILTIN_TRAINERS: dict[str, str] = {
    "supervised": "geosr.train.loop:Trainer",
    "pix2pix": "geosr.train.adversarial:Pix2PixTrainer",
    "cyclegan": "geosr.train.cyclegan:CycleGANTrainer",
    "zssr": "geosr.train.zeroshot:ZeroShotTrainer",
    "isotropic": "geosr.train.isotropic:IsotropicTrainer",
}

TRAINERS: Registry[type] = Registry("algorithm", where="algorithm", builtins=BUILTIN_TRAINERS,
                                    sort_names=False)


def register_trainer(name: str, *, replace: bool = False) -> Callable[[type], type]:
    """Class decorator registering a :class:`~geosr.train.loop.Trainer` subclass as
    ``name``."""
    return TRAINERS.register(name, replace=replace)


def trainer_class(algorithm: Any) -> type:
    """The trainer class of a config's ``algorithm`` (imported on first use);
    :class:`~geosr.core.errors.ConfigError` listing the allowed names otherwise."""
    return TRAINERS.get(str(algorithm))
