"""FSRCNN (Dong, Loy & Tang, ECCV 2016, "Accelerating the super-resolution convolutional neural
network"), in 2D and 3D.

Layers (on the low-resolution grid): feature extraction ``conv 5, d`` → shrinking
``conv 1, s`` → ``m`` × mapping ``conv 3, s`` → expanding ``conv 1, d`` (each followed by a
per-channel PReLU) → upsampler. Paper configuration FSRCNN(d=56, s=12, m=4), 12 464 weights
in 2D for one channel (``25d + ds + 9ms² + sd + 81d``, biases and PReLU slopes not counted);
FSRCNN-s is ``preset="small"`` (d=32, s=5, m=1).

Presets: ``"paper"`` (the default), ``"small"`` (FSRCNN-s) and ``"fast"``: the paper's
feature extraction and mapping (d=56, s=12, m=4) with no expanding layer and a sub-pixel tail
from the 12 shrunk features (``conv 3, C_out·∏s`` + pixel shuffle; ``expand=False``,
``upsampler="shuffle"``), 9.2 k parameters in 2D ×4 and ~2.5× faster on CPU than the paper's
9×9 transposed convolution (see BENCHMARKS.md, predict_speed) — the default model of
``geosr train``, over bicubic interpolation (:mod:`geosr.models.residual`).

Upsampler (``upsampler``):

- ``"deconv"`` (default, the paper): a transposed convolution with kernel 9 (per axis) and
  stride = scale; padding ``p = ⌈(9 − s)/2⌉`` and output padding ``2p − (9 − s)`` so the
  output is exactly ``s ×`` the input. Needs ``s ≤ 9`` per axis.
- ``"shuffle"``: a ``conv 3, C_out·∏s`` followed by an N-D pixel shuffle (ESPCN style), free of
  the checkerboard pattern of strided deconvolutions.

>>> import torch
>>> model = fsrcnn(dims=2, scale=(4, 4), in_channels=1, out_channels=1)
>>> model(torch.zeros(1, 1, 8, 8)).shape
torch.Size([1, 1, 32, 32])
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from geosr.core.errors import ConfigError
from geosr.models.layers import (SRModel, check_choice, check_int, conv, conv_transpose,
                                 pixel_shuffle)
from geosr.models.registry import register_model

PRESETS = {"paper": dict(d=56, s=12, m=4, upsampler="deconv", expand=True),
           "small": dict(d=32, s=5, m=1, upsampler="deconv", expand=True),
           "fast": dict(d=56, s=12, m=4, upsampler="shuffle", expand=False)}


class FSRCNN(SRModel):
    def __init__(self, dims: int, scale: Sequence[int], in_channels: int, out_channels: int,
                 d: int, s: int, m: int, upsampler: str, deconv_kernel: int,
                 expand: bool = True):
        super().__init__(dims, scale, in_channels, out_channels)
        layers: list[nn.Module] = [conv(dims, in_channels, d, 5), nn.PReLU(d),
                                   conv(dims, d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [conv(dims, s, s, 3), nn.PReLU(s)]
        if expand:
            layers += [conv(dims, s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        d = d if expand else s          # channels reaching the upsampler
        self.upsampler = upsampler
        if upsampler == "deconv":
            k = deconv_kernel
            if any(f > k for f in self.scale):
                raise ConfigError(f"a deconvolution kernel of {k} cannot upsample by "
                                  f"{max(self.scale)}", where="deconv_kernel",
                                  hint=f"use deconv_kernel >= {max(self.scale)} or "
                                       "upsampler='shuffle'")
            pad = tuple(math.ceil((k - f) / 2) for f in self.scale)
            out_pad = tuple(2 * p - (k - f) for p, f in zip(pad, self.scale))
            self.tail = conv_transpose(dims, d, out_channels, k, stride=self.scale,
                                       padding=pad, output_padding=out_pad)
        else:
            self.tail = conv(dims, d, out_channels * math.prod(self.scale), 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tail(self.body(x))
        return y if self.upsampler == "deconv" else pixel_shuffle(y, self.scale)


@register_model("fsrcnn", narrow={"d": 3, "s": 2}, residual_over="bicubic")
def fsrcnn(*, dims: int, scale: tuple[int, ...], in_channels: int, out_channels: int,
           preset: str = "paper", d: int | None = None, s: int | None = None,
           m: int | None = None, upsampler: str | None = None, deconv_kernel: int = 9,
           expand: bool | None = None) -> FSRCNN:
    """FSRCNN. ``preset``: ``"paper"`` (d=56, s=12, m=4; ≈12.8 k parameters in 2D),
    ``"small"`` (FSRCNN-s: 32, 5, 1) or ``"fast"`` (the default model's: paper widths, no
    expanding layer, sub-pixel tail); ``d, s, m``, ``upsampler`` (``"deconv"`` or
    ``"shuffle"``) and ``expand`` (the 1×1 ``s → d`` layer before the upsampler) override
    the preset."""
    base = PRESETS[check_choice("preset", preset, tuple(PRESETS))]
    d = check_int("d", base["d"] if d is None else d)
    s = check_int("s", base["s"] if s is None else s)
    m = check_int("m", base["m"] if m is None else m, minimum=0)
    upsampler = check_choice("upsampler", base["upsampler"] if upsampler is None else upsampler,
                             ("deconv", "shuffle"))
    check_int("deconv_kernel", deconv_kernel)
    expand = base["expand"] if expand is None else expand
    if not isinstance(expand, bool):
        raise ConfigError(f"must be true or false, got {expand!r}", where="expand")
    return FSRCNN(dims, scale, in_channels, out_channels, d, s, m, upsampler, deconv_kernel,
                  expand)
