"""EDSR (Lim et al., CVPRW 2017, "Enhanced deep residual networks for single image
super-resolution"), in 2D and 3D.

``conv 3, F`` (head) → ``n`` residual blocks (``conv-ReLU-conv``, output × ``res_scale``, no
batch norm) → ``conv 3, F`` → + head (global skip) → learned sub-pixel upsampler (a
``conv F → F·∏stage`` + pixel shuffle per prime stage: ×4 = 2 × ×2) → ``conv 3, C_out``.
The RGB mean shift of the paper is omitted (inputs are percentile-normalised).

Presets: ``"light"`` (default: F=32, n=8, ≈ 0.23 M parameters in 2D ×4; F=16 in 3D,
≈ 0.23 M in 3D ×4), ``"baseline"``
(EDSR-baseline: F=64, n=16, res_scale 1; 1.37 M in 2D ×2 for RGB) and ``"paper"`` (the large
EDSR: F=256, n=32, res_scale 0.1).

>>> import torch
>>> edsr(dims=2, scale=(3, 3), in_channels=1, out_channels=1)(torch.zeros(1, 1, 5, 5)).shape
torch.Size([1, 1, 15, 15])
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from geosr.models.layers import (SRModel, ShuffleUpsampler, check_choice, check_float,
                                 check_int, conv)
from geosr.models.registry import register_model

PRESETS = {
    "light": dict(features=32, blocks=8, res_scale=1.0),
    "baseline": dict(features=64, blocks=16, res_scale=1.0),
    "paper": dict(features=256, blocks=32, res_scale=0.1),
}


class ResBlock(nn.Module):
    """``x + res_scale · conv(ReLU(conv(x)))``."""

    def __init__(self, dims: int, features: int, res_scale: float, kernel: int = 3):
        super().__init__()
        self.body = nn.Sequential(conv(dims, features, features, kernel), nn.ReLU(inplace=True),
                                  conv(dims, features, features, kernel))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class EDSR(SRModel):
    def __init__(self, dims: int, scale: Sequence[int], in_channels: int, out_channels: int,
                 features: int, blocks: int, res_scale: float):
        super().__init__(dims, scale, in_channels, out_channels)
        self.head = conv(dims, in_channels, features)
        self.body = nn.Sequential(*[ResBlock(dims, features, res_scale) for _ in range(blocks)],
                                  conv(dims, features, features))
        self.tail = nn.Sequential(ShuffleUpsampler(dims, features, self.scale),
                                  conv(dims, features, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        return self.tail(x + self.body(x))


@register_model("edsr", narrow={"features": 3})
def edsr(*, dims: int, scale: tuple[int, ...], in_channels: int, out_channels: int,
         preset: str = "light", features: int | None = None, blocks: int | None = None,
         res_scale: float | None = None) -> EDSR:
    """EDSR; ``features``, ``blocks``, ``res_scale`` override the ``preset``."""
    base = PRESETS[check_choice("preset", preset, tuple(PRESETS))]
    if preset == "light" and dims == 3:
        base = {**base, "features": 16}
    return EDSR(dims, scale, in_channels, out_channels,
                check_int("features", base["features"] if features is None else features),
                check_int("blocks", base["blocks"] if blocks is None else blocks, minimum=0),
                check_float("res_scale", base["res_scale"] if res_scale is None else res_scale))
