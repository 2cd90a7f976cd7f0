"""Lazy re-exports for package ``__init__`` files.

A stage's package names its public functions without importing the modules that define them
(and their heavy dependencies, torch included) until first use:

>>> import types
>>> mod = types.ModuleType("pkg")
>>> mod.__getattr__, mod.__dir__ = lazy_exports("pkg", {"sqrt": "math"}, vars(mod))
>>> mod.sqrt(9.0)
3.0
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, MutableMapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str], namespace: MutableMapping[str, Any]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` that import ``exports[name]`` (a module
    path) on first access of ``name`` and cache the value in ``namespace`` (the package's
    ``globals()``)."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
