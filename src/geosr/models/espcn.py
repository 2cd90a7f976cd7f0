"""ESPCN (Shi et al., CVPR 2016, "Real-time single image and video super-resolution using an
efficient sub-pixel convolutional neural network"), in 2D and 3D.

``conv 5, 64`` → tanh → ``conv 3, 32`` → tanh → ``conv 3, C_out·∏s`` → pixel shuffle (the
N-D shuffle of :mod:`geosr.models.layers` in 3D). All convolutions run on the low-resolution
grid. The paper configuration is already light (24.8 k parameters in 2D ×4, one channel).

>>> import torch
>>> espcn(dims=3, scale=(2, 2, 2), in_channels=1, out_channels=1)(torch.zeros(1, 1, 4, 4, 4)).shape
torch.Size([1, 1, 8, 8, 8])
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from geosr.models.layers import SRModel, check_choice, check_int, conv, pixel_shuffle
from geosr.models.registry import register_model


class ESPCN(SRModel):
    def __init__(self, dims: int, scale: Sequence[int], in_channels: int, out_channels: int,
                 features: int, features2: int, activation: str):
        super().__init__(dims, scale, in_channels, out_channels)
        act = nn.Tanh if activation == "tanh" else nn.ReLU
        self.body = nn.Sequential(
            conv(dims, in_channels, features, 5), act(),
            conv(dims, features, features2, 3), act(),
            conv(dims, features2, out_channels * math.prod(self.scale), 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(self.body(x), self.scale)


@register_model("espcn", narrow={"features": 3, "features2": 2})
def espcn(*, dims: int, scale: tuple[int, ...], in_channels: int, out_channels: int,
          features: int = 64, features2: int = 32, activation: str = "tanh") -> ESPCN:
    """ESPCN with the paper's widths (64, 32) and tanh activations by default."""
    return ESPCN(dims, scale, in_channels, out_channels, check_int("features", features),
                 check_int("features2", features2),
                 check_choice("activation", activation, ("tanh", "relu")))
