"""An explicit, lazily imported model registry.

Built-in architectures are listed here as ``name → "module:function"`` strings; a module is
imported only when one of its models is built, so neither ``import geosr.models`` nor an
optional dependency of one architecture can make the package fail to import (this module does
not import torch). :func:`register_model` adds a builder (a plugin, a test double), and is also
applied to the built-in builders in their own modules.

A builder is a function ``f(*, dims, scale, in_channels, out_channels, **arguments)`` returning
a :class:`torch.nn.Module` mapping ``(N, C_in, [D,] H, W)`` to
``(N, C_out, [D·s,] H·s, W·s)``. Its extra keyword arguments are the architecture's
arguments; :func:`build_model` refuses any other name and any value that is not a JSON
primitive (so a model can always be saved to and rebuilt from ``model.json``).

>>> "rcan" in available_models()
True
>>> model = build_model("espcn", dims=2, scale=3)
>>> model.geosr_config["scale"], sum(p.numel() for p in model.parameters())
(3, 22729)
>>> build_model("espcn", dims=2, scale=3, depth=9)  # doctest: +ELLIPSIS
Traceback (most recent call last):
geosr.core.errors.ConfigError: depth: unknown argument of model 'espcn'; allowed: features, ...
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from geosr.core.errors import ConfigError
from geosr.core.registry import Registry

__all__ = ["register_model", "available_models", "build_model", "get_builder", "narrow_arguments",
           "MODELS",
           "build_wrapped_base",
           "model_arguments", "check_json_primitive"]

#: Built-in architectures: name → "module:function", imported on demand.
_BUILTIN: dict[str, str] = {
    "fsrcnn": "geosr.models.fsrcnn:fsrcnn",
    "espcn": "geosr.models.espcn:espcn",
    "edsr": "geosr.models.edsr:edsr",
    "rcan": "geosr.models.rcan:rcan",
    "unet_pix2pix": "geosr.models.unet:unet_pix2pix",
    "care": "geosr.models.unet:care",
    "geo": "geosr.models.geometry:geo",
    "hetero": "geosr.models.heteroscedastic:hetero",
}
#: Every architecture: name → builder, with its metadata ``narrow`` (width arguments that
#: leave the receptive field unchanged) and ``residual_over`` (the interpolation it corrects by
#: default, see :mod:`geosr.models.residual`).
MODELS: Registry[Callable[..., Any]] = Registry("model", where="model", builtins=_BUILTIN,
                                                hint_label="available")

#: Arguments every builder receives from :func:`build_model`.
COMMON = ("dims", "scale", "in_channels", "out_channels")


def register_model(name: str, *, narrow: dict[str, Any] | None = None,
                   residual_over: str = "none"
                   ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering ``builder`` under ``name``.

    ``narrow``: arguments that make the network thin without changing its receptive field
    (e.g. ``{"features": 4}``), used to measure the field cheaply. ``residual_over``: the
    interpolation the model corrects by default (:mod:`geosr.models.residual`; ``"none"``).

    >>> @register_model("my_net", narrow={"width": 2})          # doctest: +SKIP
    ... def my_net(*, dims, scale, in_channels, out_channels, width=8): ...
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"model names are identifiers, got {name!r}", where="register_model")

    def decorator(builder: Callable[..., Any]) -> Callable[..., Any]:
        params = inspect.signature(builder).parameters
        missing = [p for p in COMMON if p not in params]
        if missing:
            raise ConfigError(f"builder {builder.__qualname__} lacks keyword(s) {missing}",
                              where=f"register_model({name!r})")
        return MODELS.add(name, builder, replace=True, narrow=dict(narrow or {}),
                          residual_over=residual_over)

    return decorator


def narrow_arguments(name: str) -> dict[str, Any]:
    """The ``narrow`` arguments registered with ``name`` (imports its module)."""
    return dict(MODELS.meta(name).get("narrow", {}))


def available_models() -> list[str]:
    """Names of every registered architecture, sorted (imports nothing)."""
    return MODELS.names()


def get_builder(name: str) -> Callable[..., Any]:
    """The builder function of ``name`` (imports its module on first use)."""
    return MODELS.get(name)


def model_arguments(name: str) -> dict[str, Any]:
    """The architecture-specific arguments of ``name`` with their defaults (``None`` = taken
    from the preset)."""
    params = inspect.signature(get_builder(name)).parameters
    return {k: (None if p.default is inspect.Parameter.empty else p.default)
            for k, p in params.items() if k not in COMMON}


def check_json_primitive(key: str, value: Any) -> Any:
    """``value`` if it is a JSON primitive (str, int, float, bool, None) or a flat list/tuple of
    them (returned as a tuple); :class:`ConfigError` otherwise."""
    primitive = (str, int, float, bool, type(None))
    if isinstance(value, primitive):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, primitive) for v in value):
        return tuple(value)
    raise ConfigError(f"must be a JSON primitive (str, number, bool, null) or a flat list of "
                      f"them, got {type(value).__name__}", where=key)


def build_model(name: str, *, dims: int, scale: int | tuple[int, ...], in_channels: int = 1,
                out_channels: int | None = None, residual_over: str | None = None,
                **arguments: Any) -> Any:
    """Build the registered architecture ``name`` (a :class:`torch.nn.Module`).

    Parameters
    ----------
    name:
        One of :func:`available_models`.
    dims:
        2 or 3 spatial dimensions.
    scale:
        Integer upsampling factor, or one per spatial axis (e.g. ``(1, 4, 4)``).
    in_channels, out_channels:
        Channels of the input and output (``out_channels`` defaults to ``in_channels``).
    residual_over:
        Output = this interpolation of the input (``"bicubic"``, ``"linear"``, ``"nearest"``,
        ``"lanczos"``) + the network, whose last layer starts at zero; ``"none"``: the network
        alone; ``None``: the architecture's default (``"bicubic"`` for ``fsrcnn`` when
        ``C_in == C_out``, else ``"none"``). See :mod:`geosr.models.residual`.
    **arguments:
        Architecture arguments (see :func:`model_arguments`); unknown names → ConfigError.

    The module gets a ``geosr_config`` attribute (name, dims, scale, channels, arguments,
    residual_over) that :func:`geosr.models.save_model` records.
    """
    from geosr.models.layers import check_int, normalize_scale

    builder = get_builder(name)
    allowed = model_arguments(name)
    for key in arguments:
        if key not in allowed:
            raise ConfigError(f"unknown argument of model {name!r}", where=key,
                              hint="allowed: " + (", ".join([*allowed, "residual_over"])))
    arguments = {k: check_json_primitive(k, v) for k, v in arguments.items()}
    scale_t = normalize_scale(list(scale) if isinstance(scale, tuple) else scale, dims)
    in_channels = check_int("in_channels", in_channels)
    out_channels = check_int("out_channels",
                             in_channels if out_channels is None else out_channels)
    residual = _residual_method(name, residual_over, in_channels == out_channels)
    if residual != "none" and "residual" in allowed:
        # the architecture's own interpolation skip (care, pix2pix) gives way to this one
        if arguments.get("residual"):
            raise ConfigError(f"model {name!r} cannot add its own interpolation and a "
                              f"residual_over {residual!r} too", where="residual",
                              hint="drop residual, or set residual_over: none")
        arguments["residual"] = False
    module = builder(dims=dims, scale=scale_t, in_channels=in_channels,
                     out_channels=out_channels, **arguments)
    if residual != "none":
        from geosr.models.residual import wrap_residual

        module = wrap_residual(module, residual)
    module.geosr_config = {
        "architecture": name, "dims": dims,
        "scale": scale_t[0] if len(set(scale_t)) == 1 else list(scale_t),
        "in_channels": in_channels, "out_channels": out_channels,
        "arguments": {k: list(v) if isinstance(v, tuple) else v for k, v in arguments.items()},
        "residual_over": residual,
    }
    return module


def _residual_method(name: str, value: Any, same_channels: bool) -> str:
    """``residual_over`` resolved: the registered default when ``value`` is None (``"none"``
    if the channel counts differ)."""
    from geosr.models.residual import check_residual_method

    if value is None:
        return MODELS.meta(name).get("residual_over", "none") if same_channels else "none"
    return check_residual_method(value)


def build_wrapped_base(wrapper: str, base: Any, base_arguments: str, *, dims: int,
                       scale: tuple[int, ...], in_channels: int, out_channels: int,
                       base_in: int, base_out: int, narrow: bool = False
                       ) -> tuple[Any, str | None]:
    """Build the base architecture of a wrapper model (``geo``, ``hetero``).

    ``base`` is another registered name; ``base_arguments`` its arguments as a JSON object
    string (model files keep arguments flat). The base gets ``base_in``/``base_out`` channels
    instead of ``in_channels``/``out_channels``. A base whose residual defaults to "on when
    C_in == C_out" (``care``) would lose it when the channel counts change: it is then built
    without, and the interpolation mode the wrapper must add back is returned (else None).

    Returns ``(module, skip)``.
    """
    import json

    if base == wrapper or not isinstance(base, str):
        raise ConfigError(f"must be another registered model name, got {base!r}",
                          where="base")
    get_builder(base)
    try:
        base_args = json.loads(base_arguments) if base_arguments else {}
    except (TypeError, json.JSONDecodeError) as err:
        raise ConfigError(f"not a JSON object: {err}", where="base_arguments",
                          hint='e.g. \'{"preset": "light"}\'') from None
    if not isinstance(base_args, dict):
        raise ConfigError("must be a JSON object", where="base_arguments")
    skip = None
    allowed = model_arguments(base)
    if (base_in != in_channels or base_out != out_channels) and "residual" in allowed and \
            allowed["residual"] is None and base_args.get("residual") is None \
            and in_channels == out_channels:
        base_args["residual"] = False
        skip = base_args.get("upsample", "linear")
    if narrow:
        base_args.update(narrow_arguments(base))
    base_args.setdefault("residual_over", "none")   # the wrapper holds any residual
    module = build_model(base, dims=dims, scale=tuple(scale), in_channels=base_in,
                         out_channels=base_out, **base_args)
    return module, skip
