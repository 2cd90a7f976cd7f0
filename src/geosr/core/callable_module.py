"""Let a stage's subpackage be called like its front-door function.

geosr's public API names some functions after the subpackage that defines them
(``geosr.degrade(...)`` lives in ``geosr/degrade/``). Python binds a subpackage as an attribute
of its parent as soon as anything imports it, which would hide the function
(``geosr.degrade`` becoming the module). Making the module itself callable keeps
``geosr.degrade(...)`` working whichever object the attribute holds, and
``import geosr.degrade as d`` still gives the module.

>>> import types, sys
>>> mod = types.ModuleType("demo_stage")
>>> mod.run = lambda x: x + 1
>>> make_callable(mod, "run")(1)
2
"""

from __future__ import annotations

import types
from typing import Any

__all__ = ["make_callable"]


class _CallableModule(types.ModuleType):
    __front_door__: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, self.__front_door__)(*args, **kwargs)


def make_callable(module: types.ModuleType, function_name: str) -> types.ModuleType:
    """Make ``module(...)`` call ``module.<function_name>(...)``; returns the module."""
    module.__class__ = _CallableModule
    module.__front_door__ = function_name  # type: ignore[attr-defined]
    return module
