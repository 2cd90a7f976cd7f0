"""U-Nets applied after pre-upsampling, in 2D and 3D: the CARE network and the pix2pix
generator.

Both first upsample the low-resolution input by a fixed interpolation (``upsample``:
``"linear"`` = bi-/trilinear by default, ``"nearest"``, or ``"cubic"`` in 2D), then restore
it with a U-Net on the high-resolution grid ("upsample then restore", as CSBDeep's
``UpsamplingCARE``). Inputs whose upsampled size is not a multiple of ``2^depth`` are padded
at their trailing end (edge replication) and the output is cropped back, so any size works.
A tile origin must be a multiple of ``2^depth / gcd(scale, 2^depth)`` input pixels for the
pooling grid to line up (``alignment``; :mod:`geosr.predict` honours it).

- ``care`` (Weigert et al., Nat Methods 2018; CSBDeep ``unet_block``): per level ``convs``
  convolutions ``kernel``, ReLU, ``features·2^level`` channels, 2× max pooling; nearest
  upsampling and concatenation on the way up; a final ``1×1`` convolution, linear, added to
  the pre-upsampled input when ``residual`` (default when ``C_in == C_out``). Presets
  ``"light"`` (default: 32 features, depth 2, kernel 3; ≈ 0.33 M parameters in 2D; 16
  features in 3D, ≈ 0.25 M) and
  ``"csbdeep"`` (CSBDeep defaults: kernel 5 in 2D, 3 in 3D).
- ``unet_pix2pix`` (Isola et al., CVPR 2017, ``UnetGenerator``): ``depth`` levels of
  4×4 stride-2 convolutions (LeakyReLU 0.2, norm) down and 4×4 stride-2 transposed
  convolutions (ReLU, norm, dropout in the deep 8·ngf levels) up, skip connections by
  concatenation, channels ``ngf·min(2^level, 8)``. Presets ``"light"`` (default: ngf 16,
  depth 4, no output activation, ≈ 0.39 M parameters in 2D; ngf 8 in 3D, ≈ 0.39 M) and
  ``"paper"`` (ngf 64, depth 8, dropout 0.5, tanh output). ``final="none"`` by default
  because inputs are percentile-normalised (not scaled to [−1, 1]) and bright structures
  may exceed 1. No learned upsampler: the generator always follows the interpolation.
  ``norm="batch"`` (the paper) uses running statistics in eval mode, so tiles are
  independent; ``"instance"`` normalises each tile by its own statistics (global context:
  tiled ≠ untiled); ``"none"`` has no normalisation.

>>> import torch
>>> net = care(dims=2, scale=(2, 2), in_channels=1, out_channels=1).eval()
>>> net(torch.zeros(1, 1, 5, 7)).shape
torch.Size([1, 1, 10, 14])
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from geosr.core.errors import ConfigError
from geosr.models.layers import (Interpolate, SRModel, batch_norm, check_choice, check_float,
                                 check_int, conv, conv_transpose, instance_norm, max_pool,
                                 pad_to_multiple)
from geosr.models.registry import register_model

CARE_PRESETS = {"light": dict(features=32, depth=2, kernel=3, convs=2),
                "csbdeep": dict(features=32, depth=2, kernel=None, convs=2)}
PIX2PIX_PRESETS = {"light": dict(ngf=16, depth=4, dropout=0.0, final="none"),
                   "paper": dict(ngf=64, depth=8, dropout=0.5, final="tanh")}


class _PreUpsampledUNet(SRModel):
    """Interpolate, pad to a multiple of ``2^depth``, run ``self.net``, crop, add residual."""

    net: nn.Module

    def __init__(self, dims: int, scale: Sequence[int], in_channels: int, out_channels: int,
                 depth: int, upsample: str, residual: bool):
        super().__init__(dims, scale, in_channels, out_channels)
        self.upsample = Interpolate(dims, self.scale, upsample)
        self.multiple = 2 ** depth
        self.residual = residual
        self.alignment = tuple(self.multiple // math.gcd(s, self.multiple) for s in self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = self.upsample(x)
        padded, shape = pad_to_multiple(up, self.multiple)
        y = self.net(padded)[(..., *(slice(0, n) for n in shape))]
        return y + up if self.residual else y


# --------------------------------------------------------------------------- CARE
def _stack(dims: int, c_in: int, widths: list[int], kernel: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for w in widths:
        layers += [conv(dims, c_in, w, kernel), nn.ReLU(inplace=True)]
        c_in = w
    return nn.Sequential(*layers)


class _CareLevel(nn.Module):
    """One CSBDeep U-Net level: convs, then (above the bottom) pool → inner level → nearest
    upsample → concatenate → convs. Returns ``base·2^max(0, level−1)`` channels."""

    def __init__(self, dims: int, c_in: int, level: int, depth: int, base: int, kernel: int,
                 convs: int):
        super().__init__()
        f = base * 2 ** level
        out = base * 2 ** max(0, level - 1)
        if level == depth:
            self.down = _stack(dims, c_in, [f] * (convs - 1) + [out], kernel)
            self.inner = None
            return
        self.down = _stack(dims, c_in, [f] * convs, kernel)
        self.pool = max_pool(dims)
        self.inner = _CareLevel(dims, f, level + 1, depth, base, kernel, convs)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.merge = _stack(dims, 2 * f, [f] * (convs - 1) + [out], kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        if self.inner is None:
            return x
        return self.merge(torch.cat([x, self.up(self.inner(self.pool(x)))], dim=1))


class CARE(_PreUpsampledUNet):
    def __init__(self, dims: int, scale: Sequence[int], in_channels: int, out_channels: int,
                 features: int, depth: int, kernel: int, convs: int, upsample: str,
                 residual: bool):
        super().__init__(dims, scale, in_channels, out_channels, depth, upsample, residual)
        self.net = nn.Sequential(_CareLevel(dims, in_channels, 0, depth, features, kernel,
                                            convs),
                                 conv(dims, features, out_channels, 1))


@register_model("care", narrow={"features": 2})
def care(*, dims: int, scale: tuple[int, ...], in_channels: int, out_channels: int,
         preset: str = "light", features: int | None = None, depth: int | None = None,
         kernel: int | None = None, convs: int | None = None, upsample: str = "linear",
         residual: bool | None = None) -> CARE:
    """CARE-style U-Net after pre-upsampling (see the module docstring)."""
    base = CARE_PRESETS[check_choice("preset", preset, tuple(CARE_PRESETS))]
    if preset == "light" and dims == 3:
        base = {**base, "features": 16}
    default_kernel = base["kernel"] or (5 if dims == 2 else 3)
    if residual is None:
        residual = in_channels == out_channels
    if residual and in_channels != out_channels:
        raise ConfigError(f"a residual CARE needs in_channels == out_channels "
                          f"({in_channels} != {out_channels})", where="residual",
                          hint="set residual=False")
    kernel = check_int("kernel", default_kernel if kernel is None else kernel)
    if kernel % 2 == 0:
        raise ConfigError(f"must be odd, got {kernel}", where="kernel")
    return CARE(dims, scale, in_channels, out_channels,
                check_int("features", base["features"] if features is None else features),
                check_int("depth", base["depth"] if depth is None else depth, minimum=0),
                kernel,
                check_int("convs", base["convs"] if convs is None else convs),
                upsample, bool(residual))


# --------------------------------------------------------------------------- pix2pix
class _Pix2PixBlock(nn.Module):
    """pix2pix ``UnetSkipConnectionBlock``: ``[x, up(inner(down(x)))]`` (outermost: no cat)."""

    def __init__(self, dims: int, outer: int, inner: int, c_in: int, sub: nn.Module | None,
                 norm: str, dropout: float, outermost: bool = False, final: str = "none"):
        super().__init__()
        use_bias = norm != "batch"
        make_norm = {"batch": batch_norm, "instance": instance_norm,
                     "none": lambda d, c: nn.Identity()}[norm]
        down_conv = conv(dims, c_in, inner, 4, stride=2, padding=1, bias=use_bias)
        self.outermost = outermost
        if outermost:
            up_conv = conv_transpose(dims, 2 * inner, outer, 4, stride=2, padding=1)
            down = [down_conv]
            up = [nn.ReLU(True), up_conv] + ([nn.Tanh()] if final == "tanh" else [])
        elif sub is None:  # innermost
            up_conv = conv_transpose(dims, inner, outer, 4, stride=2, padding=1, bias=use_bias)
            down = [nn.LeakyReLU(0.2, True), down_conv]
            up = [nn.ReLU(True), up_conv, make_norm(dims, outer)]
        else:
            up_conv = conv_transpose(dims, 2 * inner, outer, 4, stride=2, padding=1,
                                     bias=use_bias)
            down = [nn.LeakyReLU(0.2, True), down_conv, make_norm(dims, inner)]
            up = [nn.ReLU(True), up_conv, make_norm(dims, outer)]
            if dropout > 0:
                up.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*down, *([sub] if sub is not None else []), *up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class Pix2PixUNet(_PreUpsampledUNet):
    def __init__(self, dims: int, scale: Sequence[int], in_channels: int, out_channels: int,
                 ngf: int, depth: int, norm: str, dropout: float, final: str, upsample: str,
                 residual: bool):
        super().__init__(dims, scale, in_channels, out_channels, depth, upsample, residual)
        width = [ngf * min(2 ** level, 8) for level in range(depth)]
        block: nn.Module | None = None
        for level in range(depth - 1, 0, -1):
            deep = width[level - 1] == width[level] == 8 * ngf and block is not None
            block = _Pix2PixBlock(dims, width[level - 1], width[level], width[level - 1],
                                  block, norm, dropout if deep else 0.0)
        self.net = _Pix2PixBlock(dims, out_channels, width[0], in_channels, block, norm,
                                 0.0, outermost=True, final=final)


@register_model("unet_pix2pix", narrow={"ngf": 2})
def unet_pix2pix(*, dims: int, scale: tuple[int, ...], in_channels: int, out_channels: int,
                 preset: str = "light", ngf: int | None = None, depth: int | None = None,
                 norm: str = "batch", dropout: float | None = None, final: str | None = None,
                 upsample: str = "linear", residual: bool = False) -> Pix2PixUNet:
    """pix2pix U-Net generator after pre-upsampling (see the module docstring)."""
    base = PIX2PIX_PRESETS[check_choice("preset", preset, tuple(PIX2PIX_PRESETS))]
    if preset == "light" and dims == 3:
        base = {**base, "ngf": 8}
    if residual and in_channels != out_channels:
        raise ConfigError("a residual generator needs in_channels == out_channels",
                          where="residual", hint="set residual=False")
    return Pix2PixUNet(
        dims, scale, in_channels, out_channels,
        check_int("ngf", base["ngf"] if ngf is None else ngf),
        check_int("depth", base["depth"] if depth is None else depth, minimum=2),
        check_choice("norm", norm, ("batch", "instance", "none")),
        check_float("dropout", base["dropout"] if dropout is None else dropout, 0.0, 1.0),
        check_choice("final", base["final"] if final is None else final, ("none", "tanh")),
        upsample, bool(residual))
