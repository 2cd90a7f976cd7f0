"""The loss registry: ``register_loss(name)`` / ``build_loss(spec)`` / ``available_losses()``.

A loss is an ``torch.nn.Module`` whose ``forward(pred, target)`` takes two tensors of shape
``(N, C, [D,] H, W)`` (normalised intensities, data range 1 by convention) and returns a scalar
tensor to minimise. A *factory* (a class or a function returning such a module) is registered
under a lower-case name; its keyword arguments are the loss options a config may set.

Other stages (the geometry-aware losses) extend the registry with the same decorator::

    @register_loss("my_loss")
    class MyLoss(torch.nn.Module):
        def __init__(self, strength: float = 1.0): ...
        def forward(self, pred, target): ...

A ``spec`` for :func:`build_loss` is a name (``"l1"``), a mapping
(``{"name": "ssim", "weight": 0.2, "sigma": 1.5}``) or a list of mappings — the weighted sum
``Σ weight_i · loss_i`` (see :class:`geosr.losses.combined.WeightedSum`).

Example
-------
>>> import torch
>>> from geosr.losses import build_loss
>>> loss = build_loss([{"name": "l1", "weight": 1.0}, {"name": "mse", "weight": 0.5}])
>>> float(loss(torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)))
1.5
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterable, Mapping, TypeVar

from geosr.core.errors import ConfigError
from geosr.core.registry import Registry

__all__ = ["register_loss", "build_loss", "available_losses", "loss_factory", "LOSSES"]

F = TypeVar("F", bound=Callable[..., Any])

#: The losses: name (lower case) → factory. The built-in modules register theirs when imported,
#: the first time the losses are listed or a name is looked up.
LOSSES: Registry[Callable[..., Any]] = Registry(
    "loss", where="loss", case_sensitive=False,
    modules=("geosr.losses.pixel",        # l1, mse, charbonnier
             "geosr.losses.structural",   # ssim
             "geosr.losses.topology",     # cldice, skeleton_recall
             "geosr.losses.geometry",     # porosity, gradient, fourier
             "geosr.losses.persistence",   # persistence (needs cripser when built)
             "geosr.losses.euler"))        # euler (soft Euler characteristic)


def register_loss(name: str, *, replace: bool = False) -> Callable[[F], F]:
    """Decorator registering a loss factory under ``name`` (case-insensitive).

    Registering a name twice raises :class:`ConfigError` unless ``replace=True``.
    """
    key = str(name).strip().lower()
    if not key:
        raise ConfigError("a loss name must not be empty", where="register_loss")

    def decorator(factory: F) -> F:
        return LOSSES.add(key, factory, replace=replace)

    return decorator


def available_losses() -> list[str]:
    """The registered loss names, sorted."""
    return LOSSES.names()


def loss_factory(name: str) -> Callable[..., Any]:
    """The factory registered under ``name``; :class:`ConfigError` listing the allowed names
    otherwise."""
    return LOSSES.get(name)


def _check_arguments(name: str, factory: Callable[..., Any], arguments: Mapping[str, Any],
                     where: str) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    params = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = [n for n, p in params.items() if n != "self" and p.kind in
               (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(set(arguments) - set(allowed))
    if unknown:
        raise ConfigError(f"loss {name!r} has no option(s) {', '.join(unknown)}", where=where,
                          hint="allowed: " + (", ".join(allowed) if allowed else "none"))


def build_loss(spec: str | Mapping[str, Any] | Iterable[Mapping[str, Any]],
               **arguments: Any) -> Any:
    """Build a loss module from a name (plus keyword options), a mapping
    ``{"name", "weight", **options}`` or a list of such mappings (a weighted sum).

    Unknown names or options raise :class:`ConfigError` naming the allowed ones.
    """
    from geosr.losses.combined import WeightedSum

    if isinstance(spec, str):
        factory = loss_factory(spec)
        _check_arguments(spec, factory, arguments, where=f"loss.{spec}")
        try:
            return factory(**arguments)
        except ConfigError:
            raise
        except (TypeError, ValueError) as err:
            raise ConfigError(f"bad option for loss {spec!r}: {err}", where=f"loss.{spec}") from None
    if arguments:
        raise ConfigError("keyword options go with a loss name, not with a mapping or list",
                          where="loss", hint="put the options inside each {name, ...} term")
    if isinstance(spec, Mapping):
        spec = [spec]
    terms, schedules = [], []
    for i, item in enumerate(spec):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping) or "name" not in item:
            raise ConfigError(f"term {i} must be a mapping with a 'name' (and optional "
                              f"'weight'), got {item!r}", where=f"loss[{i}]")
        item = dict(item)
        name = item.pop("name")
        weight = float(item.pop("weight", 1.0))
        schedule = {k: item.pop(k) for k in ("warmup", "start") if k in item}
        options = dict(item.pop("arguments", {}) or {})
        options.update(item)
        terms.append((str(name).lower(), weight, build_loss(str(name), **options)))
        schedules.append(schedule)
    if not terms:
        raise ConfigError("the loss list is empty", where="loss",
                          hint="give at least one {name, weight}")
    return WeightedSum(terms, schedules=schedules)

