"""The model's computation captured once with :func:`torch.export.export`, with dynamic batch
and spatial sizes, for the two exported forms (pure-torch source and ONNX).

Tracing the *loaded* geosr module (rather than re-describing the architecture) means the export
contains whatever the model does — including a fixed interpolation added under the learned
correction (``residual_over``) — and nothing else.

Spatial sizes are dynamic multiples of the model's ``alignment`` (1 for plain convolutional
networks; ``2^depth / gcd(scale, 2^depth)`` for U-Nets), at least ``min_size`` input pixels.

>>> from geosr.models import build_model, save_model, load_model   # doctest: +SKIP
>>> program = trace_model(load_model("runs/m"))                     # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from geosr.core.errors import ConfigError

__all__ = ["trace_model", "input_grid", "example_input"]


def input_grid(loaded: Any, min_size: int | Sequence[int] | None = None
               ) -> tuple[list[int], list[int]]:
    """``(step, minimum)`` per spatial axis, in input pixels: sizes the exported model
    accepts are ``minimum + k·step``. ``minimum`` defaults to the least multiple of the
    alignment that is ≥ 2·halo + 1 and ≥ 4 (and is raised to that multiple when given)."""
    dims = loaded.dims
    align = [int(a) for a in getattr(loaded.module, "alignment", (1,) * dims)]
    halo = [int(h) for h in ((loaded.spec.get("summary") or {}).get("halo") or [0] * dims)]
    if min_size is None:
        wanted = [max(4, 2 * _even(h) + 1) for h in halo]
    else:
        wanted = list(min_size) if isinstance(min_size, (list, tuple)) else [min_size] * dims
    minimum = [max(a, -(-int(w) // a) * a) for w, a in zip(wanted, align)]
    return align, minimum


def _even(n: int) -> int:
    return n + (n % 2)


def example_input(loaded: Any, batch: int = 2) -> Any:
    """A random input of distinct, valid sizes per axis (distinct so the tracer cannot assume
    two axes are equal; ``batch`` 2 so it cannot assume a batch of 1)."""
    import torch

    step, minimum = input_grid(loaded)
    shape = [m + (i + 1) * s for i, (s, m) in enumerate(zip(step, minimum))]
    gen = torch.Generator().manual_seed(0)
    return torch.rand((batch, loaded.in_channels, *shape), generator=gen)


def trace_model(loaded: Any) -> Any:
    """:class:`torch.export.ExportedProgram` of ``loaded.module`` (CPU, float32, eval mode)
    with a dynamic batch and dynamic spatial sizes on the model's grid
    (:func:`input_grid`). Raises :class:`ConfigError` when the module cannot be exported."""
    import torch
    from torch.export import Dim

    module = loaded.module.to("cpu").eval()
    step, minimum = input_grid(loaded)
    x = example_input(loaded)
    spatial = {}
    for axis, (s, m) in enumerate(zip(step, minimum)):
        if s == 1:
            spatial[axis + 2] = Dim(f"n{axis}", min=max(m, 2))
        else:
            spatial[axis + 2] = s * Dim(f"k{axis}", min=max(1, math.ceil(m / s)))
    shapes = ({0: Dim("batch", min=1), **spatial},)
    try:
        with torch.no_grad():
            return torch.export.export(module, (x,), dynamic_shapes=shapes, strict=False)
    except Exception as err:  # torch raises many error types from tracing
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"architecture {loaded.architecture!r} could not be traced with "
                          f"torch.export ({type(err).__name__}: {first[:200]})",
                          where="model", hint="report this model's architecture to the "
                          "geosr maintainers; geosr predict still works") from None
