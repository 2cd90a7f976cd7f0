"""The classic SR evaluation protocol of the natural-image literature (Set5, Set14, ...).

As used for the SelfExSR tables (Huang et al., CVPR 2015) in ``shared/data/sr_benchmarks``:

1. Both images are 8-bit. RGB images are reduced to the luma Y of ITU-R BT.601 as MATLAB's
   ``rgb2ycbcr`` computes it for uint8 input:
   ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` (R, G, B in [0, 255]), **rounded to
   uint8** (round half away from zero). Grey images are used as they are.
2. ``scale`` pixels are cropped from every border.
3. PSNR with peak 255 and SSIM (Wang 2004, Gaussian 11/1.5, ``L = 255``, mean over the valid
   region, see :mod:`geosr.assess.structural`) on the Y values as float64.

Keeping Y unrounded, or the bicubic result unrounded, moves the second decimal (Set5 x2 33.66 dB
instead of 33.64 dB); every result names the variant in its convention.

Example
-------
>>> import numpy as np
>>> rgb = np.zeros((2, 2, 3), np.uint8); rgb[..., 0] = 255
>>> rgb_to_y(rgb)[0, 0]   # 16 + 65.481 = 81.481 -> 81
np.uint8(81)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geosr.assess.conventions import MetricResult, shape_mismatch_hint
from geosr.core.errors import ConfigError, InputError
from geosr.core.image import Image

__all__ = ["rgb_to_y", "luma", "classic_sr_metrics", "CLASSIC_CHANNEL", "CLASSIC_DATA_RANGE"]

#: BT.601 luma weights of MATLAB ``rgb2ycbcr`` (for R, G, B in [0, 1]; output in [16, 235]).
BT601_Y = (65.481, 128.553, 24.966)
CLASSIC_DATA_RANGE = 255.0
CLASSIC_CHANNEL = "Y (BT.601, MATLAB rgb2ycbcr, rounded to uint8)"


def rgb_to_y(rgb: np.ndarray, *, channel_axis: int = -1) -> np.ndarray:
    """BT.601 luma of an 8-bit RGB image, as MATLAB ``rgb2ycbcr`` returns it for uint8 input.

    Parameters
    ----------
    rgb:
        uint8 array with 3 channels along ``channel_axis`` (a 4th, alpha, channel is refused).

    Returns
    -------
    numpy.ndarray
        uint8 luma in [16, 235], the spatial shape of ``rgb``.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        raise InputError(f"expected uint8 RGB values, got dtype {rgb.dtype}", where="rgb",
                         hint="the classic protocol is defined on 8-bit images")
    if rgb.shape[channel_axis] != 3:
        raise InputError(f"expected 3 colour channels along axis {channel_axis}, got shape "
                         f"{rgb.shape}", where="rgb")
    r, g, b = (np.take(rgb, i, axis=channel_axis).astype(np.float64) for i in range(3))
    y = 16.0 + (BT601_Y[0] * r + BT601_Y[1] * g + BT601_Y[2] * b) / 255.0
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)


def _channels(x: Any, name: str) -> tuple[np.ndarray, int | None]:
    """The array and its colour axis (None for grey)."""
    if isinstance(x, Image):
        arr = x.numpy()
        if x.has_channels:
            return arr, 0
        if x.dims == 3 and arr.shape[-1] in (3, 4):
            raise InputError(f"a 3D image {arr.shape} in the classic protocol", where=name,
                             hint="load RGB files with channels (axes 'CYX')")
        return arr, None
    arr = np.asarray(x)
    if arr.ndim == 2:
        return arr, None
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        return arr, -1   # (H, W, 3) as read by imageio / PIL
    raise InputError(f"expected a grey (H, W) or colour (H, W, 3) image, got shape {arr.shape}",
                     where=name, hint="the classic protocol is 2D; pass an Image with axes "
                     "'CYX' for channels-first arrays")


def luma(x: Any, *, name: str = "image") -> np.ndarray:
    """The protocol's channel of an 8-bit image: Y (uint8) of an RGB image, or the grey image.

    Accepts ``(H, W)``, ``(H, W, 3)`` (or 4 with a fully opaque alpha channel) arrays and
    :class:`geosr.core.Image` with axes ``YX`` or ``CYX``.
    """
    arr, axis = _channels(x, name)
    if arr.dtype != np.uint8:
        raise InputError(f"has dtype {arr.dtype}, the classic protocol compares 8-bit images",
                         where=name, hint="round and clip the prediction to uint8 as the "
                         "published tables did, or use protocol='microscopy' with a data range")
    if axis is None:
        return arr
    n = arr.shape[axis]
    if n == 4:
        alpha = np.take(arr, 3, axis=axis)
        if (alpha != 255).any():
            raise InputError("has a transparent alpha channel", where=name,
                             hint="save the image without transparency")
        arr = np.take(arr, [0, 1, 2], axis=axis)
    elif n == 1:
        return np.take(arr, 0, axis=axis)
    elif n != 3:
        raise InputError(f"has {n} channels; expected grey or RGB", where=name)
    return rgb_to_y(arr, channel_axis=axis)


def classic_sr_metrics(pred: Any, gt: Any, *, scale: int) -> dict[str, MetricResult]:
    """PSNR and SSIM of an SR result under the classic protocol (Y channel, crop = scale).

    Parameters
    ----------
    pred, gt:
        8-bit grey or RGB images of the same size (the truth mod-cropped to a multiple of
        ``scale``, as in the benchmark folders).
    scale:
        The SR factor; also the border crop in pixels.

    Returns
    -------
    dict
        ``{"PSNR": MetricResult (dB), "SSIM": MetricResult}`` with data range 255 and the
        channel and crop in their conventions; the SSIM result carries its map (on Y, over the
        valid region of the cropped image).

    Example
    -------
    >>> import numpy as np
    >>> hr = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    >>> out = classic_sr_metrics(hr, hr, scale=4)
    >>> out["PSNR"].value, out["SSIM"].value, out["SSIM"].convention.crop
    (inf, 1.0, (4, 4))
    """
    from geosr.assess.conventions import Convention
    from geosr.assess.iqa import psnr
    from geosr.assess.structural import ssim

    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ConfigError(f"must be a positive integer, got {scale!r}", where="scale",
                          hint="the classic protocol crops `scale` pixels from every border")
    p_arr, p_axis = _channels(pred, "prediction")
    g_arr, g_axis = _channels(gt, "truth")
    p_shape = p_arr.shape[:2] if p_axis == -1 else p_arr.shape[-2:]
    g_shape = g_arr.shape[:2] if g_axis == -1 else g_arr.shape[-2:]
    if p_shape != g_shape:
        raise InputError(f"shape mismatch: prediction {p_shape}, truth {g_shape}",
                         where="prediction", hint=shape_mismatch_hint(p_shape, g_shape, scale))
    if (p_axis is None) != (g_axis is None):
        raise InputError("one image is grey and the other colour", where="prediction",
                         hint="compare images of the same kind")
    yp = luma(pred, name="prediction").astype(np.float64)
    yg = luma(gt, name="truth").astype(np.float64)
    channel = "grey" if g_axis is None else CLASSIC_CHANNEL
    crop = int(scale)
    out = {"PSNR": psnr(yp, yg, data_range=CLASSIC_DATA_RANGE, crop=crop),
           "SSIM": ssim(yp, yg, data_range=CLASSIC_DATA_RANGE, crop=crop)}
    for key, res in out.items():
        conv = res.convention
        out[key] = MetricResult(res.name, res.value, res.unit, Convention(
            data_range=conv.data_range, data_range_source="protocol classic", channel=channel,
            crop=conv.crop, fit="none", window=conv.window, dims=2),
            map=res.map, details=res.details)
    return out
