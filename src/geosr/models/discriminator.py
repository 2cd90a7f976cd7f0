"""PatchGAN discriminators in 2D and 3D (Isola et al., CVPR 2017, ``NLayerDiscriminator``).

A PatchGAN classifies every overlapping patch of its input as real or fake: ``layers``
stride-2 4×4 convolutions (LeakyReLU 0.2, normalisation from the second on; channels
``ndf·min(2^k, 8)``), one stride-1 4×4 convolution and a 1-channel 4×4 output convolution.
Its receptive field (``receptive_field``, in input pixels) is 70 for ``layers=3`` (the
paper's 70×70 PatchGAN), 34 for 2, 16 for 1; pick it with :func:`layers_for_field`.

``spectral_norm=True`` wraps every convolution in :func:`torch.nn.utils.parametrizations.
spectral_norm` (Miyato et al. 2018) and drops the normalisation layers — a Lipschitz bound
that stabilises GAN training without a gradient penalty.

The discriminator is not part of a saved geosr model (only the generator is); its weights
live in the training checkpoints.

>>> import torch
>>> d = PatchDiscriminator(dims=2, in_channels=1, ndf=8, layers=2)
>>> d.receptive_field, tuple(d(torch.zeros(1, 1, 64, 64)).shape)
(34, (1, 1, 14, 14))
"""

from __future__ import annotations

import torch
from torch import nn

from geosr.core.errors import ConfigError
from geosr.models.layers import batch_norm, conv, instance_norm

__all__ = ["PatchDiscriminator", "patch_receptive_field", "layers_for_field"]


def patch_receptive_field(layers: int) -> int:
    """Receptive field (input pixels per axis) of a PatchGAN with ``layers`` stride-2 layers:
    ``layers`` 4×4 stride-2 convolutions, then two 4×4 stride-1 convolutions."""
    field = 1
    for stride in [1, 1] + [2] * layers:   # walk back from the output
        field = (field - 1) * stride + 4
    return field


def layers_for_field(field: int) -> int:
    """The number of stride-2 layers whose receptive field is closest to ``field`` pixels
    (at least 1): 16 → 1, 34 → 2, 70 → 3, 142 → 4."""
    if field < 1:
        raise ConfigError(f"must be positive, got {field}", where="adversarial.receptive_field")
    return min(range(1, 7), key=lambda n: (abs(patch_receptive_field(n) - field), n))


class PatchDiscriminator(nn.Module):
    """PatchGAN on ``(N, C, [D,] H, W)`` returning logits ``(N, 1, ...)`` (one per patch).

    Parameters
    ----------
    dims: 2 or 3. in_channels: channels of the judged image (pix2pix conditions on the
    input: pass LR-upsampled + HR channels). ndf: width of the first layer. layers: stride-2
    layers (receptive field :func:`patch_receptive_field`). norm: ``batch``, ``instance`` or
    ``none``. spectral_norm: spectral normalisation of every convolution (then no norm layers).
    """

    def __init__(self, dims: int, in_channels: int = 1, ndf: int = 32, layers: int = 3,
                 norm: str = "instance", spectral_norm: bool = False):
        super().__init__()
        if dims not in (2, 3):
            raise ConfigError(f"dims must be 2 or 3, got {dims}", where="dims")
        if norm not in ("batch", "instance", "none"):
            raise ConfigError(f"unknown norm {norm!r}", where="adversarial.norm",
                              hint="batch, instance or none")
        if layers < 1:
            raise ConfigError(f"must be >= 1, got {layers}", where="adversarial.layers")
        self.dims, self.layers = dims, layers
        self.receptive_field = patch_receptive_field(layers)
        make_norm = {"batch": batch_norm, "instance": instance_norm,
                     "none": None}[norm if not spectral_norm else "none"]

        def c(c_in: int, c_out: int, stride: int, bias: bool = True) -> nn.Module:
            layer = conv(dims, c_in, c_out, 4, stride=stride, padding=1, bias=bias)
            if spectral_norm:
                layer = nn.utils.parametrizations.spectral_norm(layer)
            return layer

        seq: list[nn.Module] = [c(in_channels, ndf, 2), nn.LeakyReLU(0.2, True)]
        width = ndf
        for k in range(1, layers + 1):
            nxt = ndf * min(2 ** k, 8)
            seq.append(c(width, nxt, 2 if k < layers else 1, bias=make_norm is None))
            if make_norm is not None:
                seq.append(make_norm(dims, nxt))
            seq.append(nn.LeakyReLU(0.2, True))
            width = nxt
        seq.append(c(width, 1, 1))
        self.net = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
