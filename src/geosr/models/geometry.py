"""Geometry-informed models: any registered architecture wrapped with a multi-scale tubeness
input channel and/or an auxiliary segmentation head that shares the whole trunk (2D and 3D).

``geo`` (registered model) builds ``base`` (any other registered name, with
``base_arguments``, a JSON object written as a string so the model file stays flat) and:

- ``tubeness=True``: computes, from the (normalised) LR input, a tubeness map per channel —
  the Sato-style ``σ²·(−λ)`` of the Gaussian Hessian (2D: the most negative eigenvalue; 3D:
  the middle one, so only tubes score, not sheets), rectified by a softplus and combined over
  the scales ``tubeness_sigmas`` (LR pixels) by a smooth maximum — and feeds it to the base
  as an extra input channel. Bright pores (``dark=True``: dark pores).
- ``aux_head=True``: the base gets one more output channel per image channel, the logits of
  the pore mask on the HR grid, trained (see :meth:`GeometryInformed.aux_loss`) against the
  truth mask of the HR target ``[I_HR > threshold]`` (normalised units) with
  ``0.5·BCE + 0.5·(1 − soft Dice)``, weight ``aux_weight`` added by the trainer. The trunk is
  shared completely: both outputs come from the same features up to the last layer.

``forward(x)`` returns the SR image only, so prediction, validation and the model files work
unchanged; :meth:`GeometryInformed.forward_with_aux` returns ``(sr, logits)`` and
:meth:`GeometryInformed.segment` the pore probability.

A base whose ``residual`` defaults to "on when C_in == C_out" (``care``) loses that skip when
the channel counts change, so the wrapper adds the interpolated input itself in that case.

Example
-------
>>> import torch
>>> from geosr.models import build_model
>>> net = build_model("geo", dims=2, scale=4, base="fsrcnn", aux_head=True, tubeness=True)
>>> x = torch.rand(2, 1, 12, 12)
>>> net(x).shape, [t.shape[1] for t in net.forward_with_aux(x)]
(torch.Size([2, 1, 48, 48]), [1, 1])
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from geosr.core.errors import ConfigError
from geosr.models.layers import Interpolate, SRModel, check_float, check_int
from geosr.models.registry import build_wrapped_base, register_model

__all__ = ["GeometryInformed", "Tubeness", "geo", "gaussian_derivatives"]


def gaussian_derivatives(sigma: float, dtype: torch.dtype = torch.float32
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """1D Gaussian kernels of order 0, 1, 2 (radius ``ceil(3σ)``); the order-0 kernel sums to
    1, the derivatives are exact for a quadratic."""
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    g = g / g.sum()
    d1 = -x / sigma ** 2 * g
    d2 = (x * x / sigma ** 4 - 1 / sigma ** 2) * g
    # exact moments on the discrete grid: Σ d1·x = −1... as for the continuous kernel
    d1 = d1 / (-(d1 * x).sum())
    d2 = d2 - d2.mean()
    d2 = d2 / (0.5 * (d2 * x * x).sum())
    return g.to(dtype), d1.to(dtype), d2.to(dtype)


class Tubeness(nn.Module):
    """Multi-scale tubeness of every channel of ``(N, C, *spatial)`` (see the module
    docstring); same shape, ≈ 0 away from bright tubes."""

    def __init__(self, dims: int, sigmas: Sequence[float], dark: bool = False,
                 sharpness: float = 20.0):
        super().__init__()
        self.dims, self.sigmas, self.dark = dims, tuple(float(s) for s in sigmas), bool(dark)
        self.sharpness = float(sharpness)
        self.rectify = nn.Softplus(beta=sharpness)   # a module: the receptive-field probe
        for i, s in enumerate(self.sigmas):          # linearises it
            for order, k in enumerate(gaussian_derivatives(s)):
                self.register_buffer(f"k{i}_{order}", k, persistent=False)

    def _filter(self, x: torch.Tensor, kernels: Sequence[torch.Tensor]) -> torch.Tensor:
        conv = F.conv2d if self.dims == 2 else F.conv3d
        for axis, k in enumerate(kernels):
            shape = [1, 1] + [1] * self.dims
            shape[2 + axis] = k.numel()
            r = k.numel() // 2
            pad = [0, 0] * self.dims
            pad[2 * (self.dims - 1 - axis)] = r
            pad[2 * (self.dims - 1 - axis) + 1] = r
            x = conv(F.pad(x, pad, mode="replicate"), k.to(x.dtype).reshape(shape))
        return x

    def _one_scale(self, x: torch.Tensor, i: int, sigma: float) -> torch.Tensor:
        k = [getattr(self, f"k{i}_{o}") for o in range(3)]
        d = self.dims
        h = {}
        for a in range(d):
            for b in range(a, d):
                orders = [0] * d
                orders[a] += 1
                orders[b] += 1
                h[a, b] = self._filter(x, [k[o] for o in orders])
        if d == 2:
            mean = 0.5 * (h[0, 0] + h[1, 1])
            root = torch.sqrt(0.25 * (h[0, 0] - h[1, 1]) ** 2 + h[0, 1] ** 2 + 1e-12)
            lam = mean - root                          # the most negative eigenvalue
        else:
            rows = [torch.stack([h[min(a, b), max(a, b)] for b in range(3)], dim=-1)
                    for a in range(3)]
            hess = torch.stack(rows, dim=-2)
            lam = torch.linalg.eigvalsh(hess)[..., 1]  # middle eigenvalue
        return sigma * sigma * (-lam)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        flat = x.reshape(n * c, 1, *x.shape[2:])
        if self.dark:
            flat = -flat
        scales = torch.stack([self.rectify(self._one_scale(flat, i, s))
                              for i, s in enumerate(self.sigmas)], dim=0)
        t = torch.logsumexp(self.sharpness * scales, dim=0) / self.sharpness
        # smooth max over scales, shifted so that it is 0 where every scale is 0
        t = t - (math.log(len(self.sigmas)) + math.log(2.0) / 1.0) / self.sharpness
        return t.reshape(n, c, *x.shape[2:])


class GeometryInformed(SRModel):
    """The ``geo`` wrapper (see the module docstring)."""

    def __init__(self, dims: int, scale: Sequence[int], in_channels: int, out_channels: int,
                 base: nn.Module, tubeness: Tubeness | None, aux_head: bool,
                 aux_weight: float, threshold: float, dark: bool, skip: str | None):
        super().__init__(dims, scale, in_channels, out_channels)
        self.base = base
        self.tubeness = tubeness
        self.has_aux = bool(aux_head)
        self.aux_weight = float(aux_weight)
        self.threshold, self.dark = float(threshold), bool(dark)
        self.skip = Interpolate(dims, self.scale, skip) if skip else None
        self.alignment = tuple(getattr(base, "alignment", (1,) * dims))

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        inp = torch.cat([x, self.tubeness(x)], dim=1) if self.tubeness is not None else x
        return self.base(inp)

    def forward_with_aux(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(sr, logits)``: the SR image and the pore-mask logits (None without aux head)."""
        out = self._run(x)
        c = self.out_channels
        sr = out[:, :c]
        if self.skip is not None:
            sr = sr + self.skip(x)
        return sr, (out[:, c:] if self.has_aux else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_aux(x)[0]

    def segment(self, x: torch.Tensor) -> torch.Tensor:
        """The auxiliary head's pore probability on the HR grid."""
        if not self.has_aux:
            raise ConfigError("this model has no auxiliary segmentation head",
                              where="model.arguments.aux_head", hint="train with aux_head: true")
        return torch.sigmoid(self.forward_with_aux(x)[1])

    def aux_loss(self, logits: torch.Tensor, target: torch.Tensor,
                 pred: torch.Tensor | None = None) -> torch.Tensor:
        """``0.5·BCE + 0.5·(1 − soft Dice)`` of the logits against the target's pore mask
        ``[target > threshold]`` (``<`` if dark), in normalised units (``pred``, the SR
        image the trainer passes along, is not used)."""
        with torch.no_grad():
            mask = ((target < self.threshold) if self.dark else
                    (target > self.threshold)).to(logits.dtype)
        bce = F.binary_cross_entropy_with_logits(logits, mask)
        p = torch.sigmoid(logits)
        dice = (2 * (p * mask).sum() + 1.0) / (p.sum() + mask.sum() + 1.0)
        return 0.5 * bce + 0.5 * (1.0 - dice)


@register_model("geo", narrow={"narrow": True})
def geo(*, dims: int, scale: tuple[int, ...], in_channels: int, out_channels: int,
        base: str = "fsrcnn", base_arguments: str = "{}", tubeness: bool = False,
        tubeness_sigmas: Any = (0.75, 1.5, 3.0), aux_head: bool = False,
        aux_weight: float = 0.1, threshold: float = 0.5, dark: bool = False,
        narrow: bool = False) -> GeometryInformed:
    """Geometry-informed wrapper of ``base`` (see the module docstring).

    Parameters
    ----------
    base, base_arguments:
        The wrapped architecture and its arguments as a JSON object string
        (e.g. ``'{"preset": "light"}'``).
    tubeness, tubeness_sigmas:
        Add the tubeness channel; its scales in LR pixels.
    aux_head, aux_weight:
        Add the segmentation head; the weight of its loss in training.
    threshold, dark:
        The truth-mask threshold (normalised HR units) and pore polarity for the aux head
        (dark also flips the tubeness).
    narrow:
        Internal: build the base thin (receptive-field measurement).
    """
    sigmas = tuple(tubeness_sigmas) if isinstance(tubeness_sigmas, (list, tuple)) else (
        tubeness_sigmas,)
    sigmas = tuple(check_float("tubeness_sigmas", s, 0.3, 20.0) for s in sigmas)
    if not sigmas:
        raise ConfigError("give at least one scale", where="tubeness_sigmas")
    aux_weight = check_float("aux_weight", aux_weight, 0.0)
    threshold = float(threshold)
    module, skip = build_wrapped_base(
        "geo", base, base_arguments, dims=dims, scale=scale, in_channels=in_channels,
        out_channels=out_channels, base_in=in_channels * (2 if tubeness else 1),
        base_out=out_channels * (2 if aux_head else 1), narrow=narrow)
    tube = Tubeness(dims, sigmas, dark) if tubeness else None
    check_int("in_channels", in_channels)
    return GeometryInformed(dims, scale, in_channels, out_channels, module, tube,
                            bool(aux_head), aux_weight, threshold, bool(dark), skip)
