"""Structural similarity (SSIM) with a Gaussian window, 2D and 3D, differentiable; the
``ssim`` loss is ``1 − SSIM``.

Convention (the scikit-image one with ``gaussian_weights=True, use_sample_covariance=False``,
Wang et al. 2004): local means, variances and covariance by a separable Gaussian window of
standard deviation ``sigma`` pixels truncated at ``truncate·sigma`` (radius
``int(truncate·sigma + 0.5)``; 11 pixels wide for the defaults 1.5 and 3.5), population
covariances, ``C1 = (k1·L)²``, ``C2 = (k2·L)²`` with ``L = data_range`` (1 for normalised
images — never inferred), and the SSIM map averaged over the *valid* positions only (the
window never leaves the image; scikit-image computes the same by cropping ``radius`` pixels
from its reflect-padded map). Channels and batch items are averaged with equal weight.

Example
-------
>>> import torch
>>> x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
>>> float(ssim(x, x))
1.0
>>> float(SSIMLoss()(x, x))
0.0
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from geosr.core.errors import ConfigError, InputError
from geosr.losses.pixel import check_shapes
from geosr.losses.registry import register_loss

__all__ = ["ssim", "ssim_map", "gaussian_window1d", "SSIMLoss"]


def gaussian_window1d(sigma: float, truncate: float = 3.5, *,
                      dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The normalised 1D Gaussian weights used by :func:`scipy.ndimage.gaussian_filter`
    (radius ``int(truncate·sigma + 0.5)``)."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return (w / w.sum()).to(dtype)


def _filter(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' correlation of every channel of ``x`` (N, C, *spatial) with
    ``window`` along each spatial axis."""
    dims = x.dim() - 2
    conv = F.conv2d if dims == 2 else F.conv3d
    channels = x.shape[1]
    k = window.numel()
    for axis in range(dims):
        shape = [1, 1] + [1] * dims
        shape[2 + axis] = k
        weight = window.reshape(shape).expand([channels] + shape[1:])
        x = conv(x, weight, groups=channels)
    return x


def ssim_map(pred: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0,
             sigma: float = 1.5, truncate: float = 3.5, k1: float = 0.01,
             k2: float = 0.03) -> torch.Tensor:
    """The local SSIM map over the valid positions, shape ``(N, C, *(n − 2·radius))``.

    ``pred`` and ``target``: ``(N, C, H, W)`` or ``(N, C, D, H, W)`` tensors of equal shape.
    """
    check_shapes(pred, target, "ssim")
    if pred.dim() not in (4, 5):
        raise InputError(f"SSIM needs (N, C, H, W) or (N, C, D, H, W) tensors, got shape "
                         f"{tuple(pred.shape)}", where="ssim")
    if not data_range > 0:
        raise ConfigError(f"data_range must be > 0, got {data_range}", where="ssim.data_range")
    window = gaussian_window1d(sigma, truncate, dtype=pred.dtype).to(pred.device)
    k = window.numel()
    if min(pred.shape[2:]) < k:
        raise InputError(f"the SSIM window ({k} pixels for sigma={sigma}) is larger than the "
                         f"image {tuple(pred.shape[2:])}", where="ssim",
                         hint="use larger patches or a smaller sigma")
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    n_ch = pred.shape[1]
    # shift both images by a common constant (their mean, no gradient) so the second moments
    # cancel less in float32; variances and covariance do not change with the shift
    spatial = tuple(range(2, pred.dim()))
    shift = (0.5 * (pred + target)).detach().mean(dim=spatial, keepdim=True)
    x, y = pred - shift, target - shift
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    m_x, m_y, e_xx, e_yy, e_xy = torch.split(_filter(stacked, window), n_ch, dim=1)
    var_x = e_xx - m_x * m_x
    var_y = e_yy - m_y * m_y
    cov = e_xy - m_x * m_y
    mu_x, mu_y = m_x + shift, m_y + shift
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)
            / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)))


def ssim(pred: torch.Tensor, target: torch.Tensor, **options: float) -> torch.Tensor:
    """Mean SSIM (a scalar tensor; see :func:`ssim_map` for the options)."""
    return ssim_map(pred, target, **options).mean()


@register_loss("ssim")
class SSIMLoss(torch.nn.Module):
    """``1 − SSIM(pred, target)`` with a Gaussian window (2D or 3D from the tensor rank).

    Parameters
    ----------
    data_range:
        Intensity range L of the images (1 for normalised images).
    sigma:
        Window standard deviation in pixels (1.5).
    truncate:
        Window radius in units of sigma (3.5, so 11 pixels wide).
    k1, k2:
        Stabilising constants (0.01, 0.03).
    """

    def __init__(self, data_range: float = 1.0, sigma: float = 1.5, truncate: float = 3.5,
                 k1: float = 0.01, k2: float = 0.03):
        super().__init__()
        for name, value in (("data_range", data_range), ("sigma", sigma),
                            ("truncate", truncate)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number, got {value!r}",
                                  where=f"loss.ssim.{name}")
        self.options = dict(data_range=float(data_range), sigma=float(sigma),
                            truncate=float(truncate), k1=float(k1), k2=float(k2))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 1.0 - ssim(pred, target, **self.options)
