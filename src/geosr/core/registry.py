"""The one registry style of geosr: a named table of extension objects filled by a decorator,
with the built-in entries imported lazily.

Every extension point (models, losses, trainers, phantom kinds, image formats, degradation steps,
CLI commands, trust evidence, …) is a :class:`Registry`. A new entry is one decorated function or
class in its own module; the registry knows the built-in modules only by name (strings), so
listing or using one entry never imports the others, an optional dependency of one entry never
breaks ``import geosr``, and the registry never imports its entries at module level (no import
cycle between a registry and the modules that register into it).

Built-in entries are found in one of two ways:

- ``builtins``: ``name → "module:attribute"`` (or ``"module"``: the module itself is the
  entry) — only that module is imported, when that name is first used (the model registry:
  building ``espcn`` does not import RCAN);
- ``modules``: modules imported all at once the first time the registry is listed or misses a
  name (cheap entries, several per module: the losses).

Each entry may carry metadata (keyword arguments of :meth:`Registry.register`), e.g. the
``order`` of a trust piece or the ``narrow`` arguments of a model.

Example
-------
>>> shapes = Registry("shape", where="shape")
>>> @shapes.register("square", sides=4)
... def square(side_um):
...     return side_um ** 2
>>> shapes.get("square")(3.0), shapes.meta("square")["sides"], shapes.names()
(9.0, 4, ['square'])
>>> shapes.get("circle")
Traceback (most recent call last):
geosr.core.errors.ConfigError: shape: unknown shape 'circle'; allowed: square
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, Iterable, Iterator, Mapping, TypeVar

from geosr.core.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of extension objects of one kind.

    Parameters
    ----------
    kind:
        What an entry is, in words (``"model"``, ``"loss"``): used in error messages.
    where:
        The config field or argument that names an entry (printed first in errors).
    builtins:
        ``name → "module:attribute"`` of the built-in entries, imported one by one on first use.
    modules:
        Modules whose import registers built-in entries, imported together on first listing.
    case_sensitive:
        ``False``: names are stripped and lower-cased (``"L1"`` is ``"l1"``).
    hint_label:
        The word before the list of names in an unknown-name error (``"allowed"``).
    sort_names:
        ``True``: names are listed sorted; ``False``: built-ins in table order, then the others
        in the order they were registered.
    """

    def __init__(self, kind: str, *, where: str | None = None,
                 builtins: Mapping[str, str] | None = None, modules: Iterable[str] = (),
                 case_sensitive: bool = True, hint_label: str = "allowed",
                 sort_names: bool = True):
        self.kind = kind
        self.where = where if where is not None else kind
        self.builtins = dict(builtins or {})
        self.modules = tuple(modules)
        self.case_sensitive = case_sensitive
        self.hint_label = hint_label
        self.sort_names = sort_names
        self._entries: dict[str, T] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._modules_loaded = not self.modules

    # ------------------------------------------------------------------ registering
    def key(self, name: str) -> str:
        """``name`` as stored (lower-cased and stripped unless case sensitive)."""
        return str(name) if self.case_sensitive else str(name).strip().lower()

    def add(self, name: str, entry: T, *, replace: bool = False, **meta: Any) -> T:
        """Register ``entry`` under ``name``; :class:`ConfigError` if the name is taken by
        another entry (unless ``replace``) or names a built-in defined elsewhere (always)."""
        key = self.key(name)
        if not key:
            raise ConfigError(f"a {self.kind} name must not be empty",
                              where=f"register_{self.kind}")
        target = self.builtins.get(key)
        own = f"{getattr(entry, '__module__', '')}:{getattr(entry, '__name__', '')}"
        if target is not None and target != own:
            raise ConfigError(f"{key!r} is a built-in {self.kind} ({target})",
                              where=f"register_{self.kind}", hint="choose another name")
        if key in self._entries and self._entries[key] is not entry and not replace:
            raise ConfigError(f"a {self.kind} named {key!r} is already registered",
                              where=f"register_{self.kind}",
                              hint="pick another name or replace=True")
        self._entries[key] = entry
        self._meta[key] = dict(meta)
        return entry

    def register(self, name: str, *, replace: bool = False, **meta: Any
                 ) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@registry.register("name", **meta)``."""

        def decorator(entry: T) -> T:
            return self.add(name, entry, replace=replace, **meta)

        return decorator

    def remove(self, name: str) -> None:
        """Forget ``name`` (a test double, a plugin being unloaded); a no-op if absent."""
        key = self.key(name)
        self._entries.pop(key, None)
        self._meta.pop(key, None)

    # ------------------------------------------------------------------ looking up
    def _load_modules(self) -> None:
        if not self._modules_loaded:
            self._modules_loaded = True
            for module in self.modules:
                importlib.import_module(module)   # each registers its entries

    def names(self) -> list[str]:
        """Every registered and built-in name (sorted, or in table order: see ``sort_names``);
        imports the ``modules``, not the ``builtins``."""
        self._load_modules()
        names = list(dict.fromkeys([*self.builtins, *self._entries]))
        return sorted(names) if self.sort_names else names

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.key(name) in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        """The entry registered under ``name``, importing its module on first use;
        :class:`ConfigError` naming the allowed names otherwise."""
        key = self.key(name)
        if key in self._entries:
            return self._entries[key]
        if key in self.builtins:
            module_name, _, attribute = self.builtins[key].partition(":")
            module = importlib.import_module(module_name)   # runs its @register
            if key not in self._entries:
                self._entries[key] = getattr(module, attribute) if attribute else module
                self._meta.setdefault(key, {})
            return self._entries[key]
        self._load_modules()
        if key in self._entries:
            return self._entries[key]
        raise ConfigError(f"unknown {self.kind} {name!r}", where=self.where,
                          hint=f"{self.hint_label}: " + ", ".join(self.names()))

    def meta(self, name: str) -> dict[str, Any]:
        """The metadata ``name`` was registered with (a copy; imports its module)."""
        self.get(name)
        return dict(self._meta.get(self.key(name), {}))

    def items(self) -> list[tuple[str, T]]:
        """``(name, entry)`` for every name (imports every built-in)."""
        return [(name, self.get(name)) for name in self.names()]

    # ------------------------------------------------------------------ read like a table
    # (a registry replaces module-level dicts such as ``STEPS`` or ``TRAINERS``: code that
    # indexed, iterated or assigned into them keeps working)
    def __getitem__(self, name: str) -> T:
        try:
            return self.get(name)
        except ConfigError:
            raise KeyError(name) from None

    def __setitem__(self, name: str, entry: T) -> None:
        self.add(name, entry, replace=True)

    def __len__(self) -> int:
        return len(self.names())

    def keys(self) -> list[str]:
        """The names (as :meth:`names`)."""
        return self.names()

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self.names())} entries)"
