"""Residual over interpolation: a model's output is a fixed interpolation of its input to the
HR grid plus a learned correction whose last layer starts at zero, so that an untrained model
*is* the interpolation and training can only move away from it where the data say so.

Any registered architecture gets it with ``build_model(name, ..., residual_over=METHOD)``
(``"bicubic"``, ``"linear"``, ``"nearest"``, ``"lanczos"``: the kernels of
:mod:`geosr.resample`; ``"none"``: off). ``None`` (the default) takes the architecture's
registered default: ``"bicubic"`` for ``fsrcnn`` (the default model), ``"none"`` otherwise.
A model file records it as the top-level ``"residual_over"`` field of ``model.json``; a file
without it (written before this option) is rebuilt without the residual, as it was trained.

The interpolation (:class:`Interpolation`) is exactly :func:`geosr.resample.upscale` with the
same method (MATLAB ``imresize``: pixel centres aligned, ``u = (x + 0.5)/s − 0.5`` in input
pixels, end pixels replicated), i.e. the area-binning forward model's LR pixel centred on the
``s`` HR pixels it averages, and the validation baseline of :mod:`geosr.train.validate`. It is
written in plain torch for export (ONNX, bioimage.io): per spatial axis with a factor > 1, an
edge-replicating pad, a fixed convolution with ``s`` output channels (one polyphase filter per
output phase, taken from :func:`geosr.resample.weight_matrix`) and a pixel shuffle along that
axis. The filters are non-persistent buffers: ``weights.safetensors`` holds the learned
weights only (under ``body.``), and the filters are rebuilt from ``residual_over``.

Example
-------
>>> import numpy as np, torch
>>> from geosr.resample import upscale
>>> lr = np.random.default_rng(0).random((6, 7))
>>> up = Interpolation(2, (2, 2), "bicubic")(torch.from_numpy(lr)[None, None])[0, 0]
>>> bool(np.allclose(up.numpy(), upscale(lr, 2, "bicubic")))
True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geosr.core.errors import ConfigError
from geosr.models.layers import SRModel, pixel_shuffle

__all__ = ["RESIDUAL_METHODS", "Interpolation", "ResidualOverInterpolation",
           "polyphase_filters", "check_residual_method", "output_layer", "wrap_residual"]

#: Values of ``residual_over``: the geosr.resample kernels, or ``"none"``.
RESIDUAL_METHODS = ("bicubic", "linear", "nearest", "lanczos", "none")


def check_residual_method(value: Any) -> str:
    """The canonical name of a ``residual_over`` value (MATLAB spellings accepted)."""
    from geosr.resample import get_kernel

    if value == "none" or value is False:
        return "none"
    if not isinstance(value, str):
        raise ConfigError(f"got {value!r}", where="residual_over",
                          hint="allowed values: " + ", ".join(map(repr, RESIDUAL_METHODS)))
    try:
        return get_kernel(value).name
    except ConfigError:
        raise ConfigError(f"got {value!r}", where="residual_over",
                          hint="allowed values: " + ", ".join(map(repr, RESIDUAL_METHODS))
                          ) from None


def polyphase_filters(factor: int, method: str) -> np.ndarray:
    """The ``(factor, 2R + 1)`` filters of an integer upscaling along one axis: row ``p``
    holds the weights of input pixels ``i − R … i + R`` for output pixel ``factor·i + p``
    (float64, each row sums to 1), read from the interior of
    :func:`geosr.resample.weight_matrix` so they are MATLAB ``imresize``'s weights exactly.

    >>> polyphase_filters(2, "linear")
    array([[0.25, 0.75, 0.  ],
           [0.  , 0.75, 0.25]])
    """
    from geosr.resample import get_kernel, weight_matrix

    kernel = get_kernel(method)
    r = int(math.ceil(kernel.width / 2)) + 2
    n = 2 * r + 1
    w = weight_matrix(n, n * factor, float(factor), kernel, dense=True)
    rows = w[factor * r: factor * r + factor]                  # the centre pixel's phases
    offsets = np.nonzero(np.any(np.abs(rows) > 0, axis=0))[0] - r
    radius = int(np.abs(offsets).max()) if len(offsets) else 0
    return rows[:, r - radius: r + radius + 1]


class Interpolation(nn.Module):
    """Fixed upsampling of ``(N, C, [D,] H, W)`` by integer per-axis factors, equal to
    :func:`geosr.resample.upscale` with ``method`` (see the module docstring). Separable: one
    pad + convolution + pixel shuffle per axis whose factor is > 1."""

    def __init__(self, dims: int, scale: Sequence[int], method: str = "bicubic"):
        super().__init__()
        self.dims, self.scale = dims, tuple(int(s) for s in scale)
        self.method = check_residual_method(method)
        if self.method == "none":
            raise ConfigError("an interpolation needs a method", where="residual_over")
        self.axes: list[int] = []
        self.radius: list[int] = []
        for axis, f in enumerate(self.scale):
            if f == 1:
                continue
            taps = polyphase_filters(f, self.method)
            shape = [f, 1] + [1] * dims
            shape[2 + axis] = taps.shape[1]
            self.register_buffer(f"taps{axis}", torch.tensor(taps, dtype=torch.float64)
                                 .reshape(shape), persistent=False)
            self.axes.append(axis)
            self.radius.append(taps.shape[1] // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, *spatial = x.shape
        y = x.reshape(n * c, 1, *spatial)
        conv = F.conv2d if self.dims == 2 else F.conv3d
        for axis, r in zip(self.axes, self.radius):
            pad = [0] * (2 * self.dims)
            pad[2 * (self.dims - 1 - axis)] = pad[2 * (self.dims - 1 - axis) + 1] = r
            taps = getattr(self, f"taps{axis}").to(y.dtype)
            y = conv(F.pad(y, pad, mode="replicate") if r else y, taps)
            factors = [1] * self.dims
            factors[axis] = self.scale[axis]
            y = pixel_shuffle(y, factors)
        return y.reshape(n, c, *y.shape[2:])

    def extra_repr(self) -> str:
        return f"scale={self.scale}, method={self.method!r}"


_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
          nn.ConvTranspose3d)


def output_layer(module: nn.Module) -> nn.Module:
    """The layer that produces ``module``'s output: its ``output_layer()`` if it defines one,
    else the last (transposed) convolution in registration order (true of every built-in
    architecture: FSRCNN's tail, ESPCN's last convolution, EDSR/RCAN's final convolution,
    CARE's 1×1 convolution, pix2pix's outermost transposed convolution)."""
    own = getattr(module, "output_layer", None)
    if callable(own):
        return own()
    convs = [m for m in module.modules() if isinstance(m, _CONVS)]
    if not convs:
        raise ConfigError(f"{type(module).__name__} has no convolution to start at zero",
                          where="residual_over", hint="set residual_over: none")
    return convs[-1]


class ResidualOverInterpolation(SRModel):
    """``body(x) + interpolation(x)`` (see the module docstring). The body's output layer is
    zeroed at construction. Attributes the trainer or the trust layer look for on the body
    (``has_aux``, ``aux_loss``, ``predict_std``, ``segment``…) are read through; the
    auxiliary outputs of :meth:`forward_with_aux` are the body's, unchanged."""

    residual = True     # the isotropic trainer's "starts from its interpolation"

    def __init__(self, body: nn.Module, method: str):
        dims = int(body.dims)
        super().__init__(dims, tuple(body.scale), int(body.in_channels),
                         int(body.out_channels))
        if self.in_channels != self.out_channels:
            raise ConfigError(f"a residual over the interpolated input needs in_channels == "
                              f"out_channels ({self.in_channels} != {self.out_channels})",
                              where="residual_over", hint="set residual_over: none")
        self.body = body
        self.interpolation = Interpolation(dims, self.scale, method)
        self.alignment = tuple(getattr(body, "alignment", (1,) * dims))
        last = output_layer(body)
        with torch.no_grad():
            last.weight.zero_()
            if last.bias is not None:
                last.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.interpolation(x)

    def forward_with_aux(self, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        out, aux = self.body.forward_with_aux(x)
        return out + self.interpolation(x), aux

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            body = self.__dict__.get("_modules", {}).get("body")
            if body is None or name.startswith("__"):
                raise
            return getattr(body, name)


def wrap_residual(module: nn.Module, method: str) -> nn.Module:
    """``module`` with a residual over ``method`` interpolation (``"none"``: unchanged).
    A wrapper model's own interpolation skip (``geo``/``hetero`` over a ``care`` base) is
    dropped: the residual replaces it."""
    method = check_residual_method(method)
    if method == "none":
        return module
    if getattr(module, "skip", None) is not None and isinstance(module.skip, nn.Module):
        module.skip = None
    return ResidualOverInterpolation(module, method)
