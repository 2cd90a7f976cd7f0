"""RCAN (Zhang et al., ECCV 2018, "Image super-resolution using very deep residual channel
attention networks"), in 2D and 3D (3D-RCAN style).

``conv 3, F`` (head) → ``groups`` residual groups, each ``blocks`` residual channel-attention
blocks (RCAB: ``conv-ReLU-conv`` then channel attention = global average pool → ``1×1 conv
F → F/r`` → ReLU → ``1×1 conv F/r → F`` → sigmoid, multiplying the features) + ``conv 3`` +
group skip → ``conv 3`` + long skip → sub-pixel upsampler → ``conv 3, C_out``.

Presets: ``"light"`` (default: 3 groups × 4 blocks × 32 features, reduction 8; ≈ 0.34 M
parameters in 2D ×4; 16 features in 3D, ≈ 0.31 M in 3D ×4) and ``"paper"`` (10 × 20 × 64,
reduction 16; ≈ 15.6 M for RGB ×4).

Channel attention pools over the *whole* input, so the receptive field is global: a tiled
prediction equals an untiled one only approximately (see :mod:`geosr.predict`).

>>> import torch
>>> rcan(dims=2, scale=(2, 2), in_channels=1, out_channels=1)(torch.zeros(1, 1, 6, 6)).shape
torch.Size([1, 1, 12, 12])
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from geosr.models.layers import (SRModel, ShuffleUpsampler, check_choice, check_float,
                                 check_int, conv)
from geosr.models.registry import register_model

PRESETS = {
    "light": dict(groups=3, blocks=4, features=32, reduction=8),
    "paper": dict(groups=10, blocks=20, features=64, reduction=16),
}


class ChannelAttention(nn.Module):
    def __init__(self, dims: int, features: int, reduction: int):
        super().__init__()
        hidden = max(1, features // reduction)
        self.pool = (nn.AdaptiveAvgPool2d if dims == 2 else nn.AdaptiveAvgPool3d)(1)
        self.gate = nn.Sequential(conv(dims, features, hidden, 1), nn.ReLU(inplace=True),
                                  conv(dims, hidden, features, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.pool(x))


class RCAB(nn.Module):
    def __init__(self, dims: int, features: int, reduction: int, res_scale: float):
        super().__init__()
        self.body = nn.Sequential(conv(dims, features, features), nn.ReLU(inplace=True),
                                  conv(dims, features, features),
                                  ChannelAttention(dims, features, reduction))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class ResidualGroup(nn.Module):
    def __init__(self, dims: int, features: int, blocks: int, reduction: int, res_scale: float):
        super().__init__()
        self.body = nn.Sequential(*[RCAB(dims, features, reduction, res_scale)
                                    for _ in range(blocks)], conv(dims, features, features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class RCAN(SRModel):
    def __init__(self, dims: int, scale: Sequence[int], in_channels: int, out_channels: int,
                 groups: int, blocks: int, features: int, reduction: int, res_scale: float):
        super().__init__(dims, scale, in_channels, out_channels)
        self.head = conv(dims, in_channels, features)
        self.body = nn.Sequential(*[ResidualGroup(dims, features, blocks, reduction, res_scale)
                                    for _ in range(groups)], conv(dims, features, features))
        self.tail = nn.Sequential(ShuffleUpsampler(dims, features, self.scale),
                                  conv(dims, features, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        return self.tail(x + self.body(x))


@register_model("rcan", narrow={"features": 3, "reduction": 3})
def rcan(*, dims: int, scale: tuple[int, ...], in_channels: int, out_channels: int,
         preset: str = "light", groups: int | None = None, blocks: int | None = None,
         features: int | None = None, reduction: int | None = None,
         res_scale: float = 1.0) -> RCAN:
    """RCAN; ``groups``, ``blocks``, ``features``, ``reduction`` override the ``preset``."""
    base = PRESETS[check_choice("preset", preset, tuple(PRESETS))]
    if preset == "light" and dims == 3:
        base = {**base, "features": 16}
    pick = lambda key, value: base[key] if value is None else value  # noqa: E731
    return RCAN(dims, scale, in_channels, out_channels,
                check_int("groups", pick("groups", groups), minimum=0),
                check_int("blocks", pick("blocks", blocks), minimum=0),
                check_int("features", pick("features", features)),
                check_int("reduction", pick("reduction", reduction)),
                check_float("res_scale", res_scale))
