"""Building blocks written once for 2D and 3D: layer pickers, an N-D pixel shuffle, a learned
sub-pixel upsampler, interpolation, and argument checks.

The dimensionality ``dims`` (2 or 3) is a parameter everywhere; ``scale`` is a per-axis tuple
of positive integers (``(4, 4)``, ``(4, 4, 4)``, or anisotropic ``(1, 4, 4)`` for lateral-only
3D super-resolution). Tensors are ``(N, C, [D,] H, W)``.

>>> import torch
>>> x = torch.arange(8.0).reshape(1, 8, 1, 1, 1)
>>> pixel_shuffle(x, (2, 2, 2)).shape
torch.Size([1, 1, 2, 2, 2])
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from geosr.core.errors import ConfigError
from geosr.core.per_axis import per_axis

__all__ = [
    "SRModel", "conv", "conv_transpose", "max_pool", "batch_norm", "instance_norm",
    "normalize_scale", "pixel_shuffle", "PixelShuffle", "ShuffleUpsampler", "Interpolate",
    "pad_to_multiple", "check_int", "check_float", "check_choice", "prime_stages",
]


# ----------------------------------------------------------------------------- checks
def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum``, else :class:`ConfigError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"must be an integer >= {minimum}, got {value!r}", where=name)
    return int(value)


def check_float(name: str, value: Any, minimum: float = 0.0, maximum: float = math.inf) -> float:
    """``value`` as a float in ``[minimum, maximum]``, else :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            minimum <= value <= maximum):
        raise ConfigError(f"must be a number in [{minimum}, {maximum}], got {value!r}",
                          where=name)
    return float(value)


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``, else :class:`ConfigError` listing them."""
    if value not in allowed:
        raise ConfigError(f"got {value!r}", where=name,
                          hint="allowed values: " + ", ".join(map(repr, allowed)))
    return value


def normalize_scale(scale: Any, dims: int) -> tuple[int, ...]:
    """A per-axis tuple of positive integer factors from an int or a sequence.

    >>> normalize_scale(4, 3), normalize_scale([1, 4, 4], 3)
    ((4, 4, 4), (1, 4, 4))
    """
    if dims not in (2, 3):
        raise ConfigError(f"must be 2 or 3, got {dims!r}", where="dims")
    return per_axis(scale, dims, where="scale", kind=int, minimum=1)


def prime_stages(scale: Sequence[int]) -> list[tuple[int, ...]]:
    """Split a per-axis scale into stages of prime factors (×4 → ×2, ×2; ×6 → ×3, ×2).

    >>> prime_stages((1, 4, 4))
    [(1, 2, 2), (1, 2, 2)]
    >>> prime_stages((3, 3))
    [(3, 3)]
    """
    def factors(n: int) -> list[int]:
        out, p = [], 2
        while n > 1:
            while n % p == 0:
                out.append(p)
                n //= p
            p += 1
        return sorted(out, reverse=True)

    per_axis = [factors(s) for s in scale]
    n = max((len(f) for f in per_axis), default=0)
    return [tuple(f[i] if i < len(f) else 1 for f in per_axis) for i in range(n)]


# ----------------------------------------------------------------------------- layers
def conv(dims: int, c_in: int, c_out: int, kernel: int = 3, *, stride: int = 1,
         padding: int | None = None, bias: bool = True) -> nn.Module:
    """``Conv2d``/``Conv3d`` with "same" zero padding (``kernel // 2``) by default."""
    cls = nn.Conv2d if dims == 2 else nn.Conv3d
    return cls(c_in, c_out, kernel, stride=stride,
               padding=kernel // 2 if padding is None else padding, bias=bias)


def conv_transpose(dims: int, c_in: int, c_out: int, kernel: Any, *, stride: Any,
                   padding: Any = 0, output_padding: Any = 0, bias: bool = True) -> nn.Module:
    """``ConvTranspose2d``/``ConvTranspose3d``."""
    cls = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d
    return cls(c_in, c_out, kernel, stride=stride, padding=padding,
               output_padding=output_padding, bias=bias)


def max_pool(dims: int, size: int = 2) -> nn.Module:
    return (nn.MaxPool2d if dims == 2 else nn.MaxPool3d)(size)


def batch_norm(dims: int, channels: int) -> nn.Module:
    return (nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d)(channels)


def instance_norm(dims: int, channels: int) -> nn.Module:
    return (nn.InstanceNorm2d if dims == 2 else nn.InstanceNorm3d)(channels, affine=True)


def pixel_shuffle(x: torch.Tensor, scale: Sequence[int]) -> torch.Tensor:
    """N-D sub-pixel rearrangement ``(N, C·∏s, *S) → (N, C, *(S·s))``.

    Channel ``c·∏s + offset`` goes to sub-position ``offset`` (C-order over the axes), the
    same ordering as :class:`torch.nn.PixelShuffle` in 2D, which it reproduces exactly.
    """
    scale = tuple(int(s) for s in scale)
    d = len(scale)
    n, c_total, *spatial = x.shape
    p = math.prod(scale)
    if c_total % p:
        raise ValueError(f"{c_total} channels are not divisible by prod(scale) = {p}")
    x = x.reshape(n, c_total // p, *scale, *spatial)
    order = [0, 1] + [k for i in range(d) for k in (2 + d + i, 2 + i)]
    x = x.permute(order)
    return x.reshape(n, c_total // p, *(a * b for a, b in zip(spatial, scale)))


class PixelShuffle(nn.Module):
    """Module form of :func:`pixel_shuffle` (2D or 3D, per-axis factors)."""

    def __init__(self, scale: Sequence[int]):
        super().__init__()
        self.scale = tuple(int(s) for s in scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_shuffle(x, self.scale)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class ShuffleUpsampler(nn.Sequential):
    """EDSR/RCAN learned upsampler: for each prime stage, ``conv(F → F·∏stage)`` + pixel
    shuffle (×4 = two ×2 stages, ×8 = three, ×3 = one ×3 stage). An axis with factor 1 is left
    unchanged. An identity when the scale is 1 everywhere."""

    def __init__(self, dims: int, features: int, scale: Sequence[int], kernel: int = 3):
        layers: list[nn.Module] = []
        for stage in prime_stages(scale):
            layers += [conv(dims, features, features * math.prod(stage), kernel),
                       PixelShuffle(stage)]
        super().__init__(*layers)


class Interpolate(nn.Module):
    """Fixed (non-learned) upsampling by integer per-axis factors with
    :func:`torch.nn.functional.interpolate` (``align_corners=False``: pixel centres aligned as
    in the degradation model, translation-equivariant with period ``scale``).

    ``mode``: ``"nearest"``, ``"linear"`` (bi-/trilinear) or ``"cubic"`` (bicubic, 2D only)."""

    MODES = ("nearest", "linear", "cubic")

    def __init__(self, dims: int, scale: Sequence[int], mode: str = "linear"):
        super().__init__()
        check_choice("upsample", mode, self.MODES)
        if mode == "cubic" and dims == 3:
            raise ConfigError("'cubic' interpolation exists in 2D only", where="upsample",
                              hint="use 'linear' or 'nearest' for 3D models")
        self.scale = tuple(int(s) for s in scale)
        self.mode = mode
        self.torch_mode = {"nearest": "nearest", "linear": "bilinear" if dims == 2 else
                           "trilinear", "cubic": "bicubic"}[mode]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if all(s == 1 for s in self.scale):
            return x
        kwargs = {} if self.mode == "nearest" else {"align_corners": False}
        return F.interpolate(x, scale_factor=tuple(float(s) for s in self.scale),
                             mode=self.torch_mode, **kwargs)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, mode={self.mode!r}"


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Pad the trailing end of each spatial axis (replicating the edge) so every size is a
    multiple of ``multiple``; returns the padded tensor and the original spatial shape."""
    shape = tuple(x.shape[2:])
    extra = [(-n) % multiple for n in shape]
    if any(extra):
        pad: list[int] = []
        for e in reversed(extra):
            pad += [0, e]
        x = F.pad(x, pad, mode="replicate")
    return x, shape


# ----------------------------------------------------------------------------- base
class SRModel(nn.Module):
    """Base of the geosr architectures: records ``dims``, per-axis ``scale``, channels and the
    input ``alignment`` (per axis, in input pixels) a tile origin must be a multiple of for the
    output to be translation-equivariant (1 for plain convolutional networks; larger for U-Nets
    whose pooling grid must line up)."""

    def __init__(self, dims: int, scale: Sequence[int], in_channels: int, out_channels: int):
        super().__init__()
        self.dims = dims
        self.scale = tuple(scale)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.alignment: tuple[int, ...] = (1,) * dims
