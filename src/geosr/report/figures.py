"""Turning images into display panels: one shared display range, nearest-neighbour enlargement
of low-resolution inputs to the same physical size, a scale bar in µm, PNG encoding.

>>> import numpy as np
>>> to_uint8(np.array([[0.0, 0.5, 1.0]]), (0.0, 1.0)).tolist()
[[0, 128, 255]]
"""

from __future__ import annotations

import base64
import io
from typing import NamedTuple

import numpy as np

from geosr.core.image import Image

__all__ = ["display_range", "to_uint8", "panel_png", "png_data_uri", "verdict_overlay_png",
           "Panel", "plane_png", "rgb_png", "signed_rgb", "scale_bar_length_um"]


def display_range(values: np.ndarray, percentiles: tuple[float, float] = (0.5, 99.5)
                  ) -> tuple[float, float]:
    """Intensity window from percentiles of ``values`` (use the truth's, for every panel)."""
    lo, hi = np.percentile(np.asarray(values, dtype=np.float64), percentiles)
    if hi <= lo:
        hi = lo + 1.0
    return float(lo), float(hi)


def to_uint8(values: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Map ``window`` linearly to 0..255, clipping outside it."""
    lo, hi = window
    scaled = (np.asarray(values, dtype=np.float64) - lo) / (hi - lo)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def _middle_slice(image: Image) -> tuple[np.ndarray, tuple[float, float]]:
    """A 2D view (YX) and its spacing: the first channel, and the middle Z slice in 3D."""
    data = image.numpy()
    if image.has_channels:
        data = data[0]
    spacing = image.spacing_um
    if image.dims == 3:
        data = data[data.shape[0] // 2]
        spacing = spacing[1:]
    return data, (spacing[0], spacing[1])


def scale_bar_length_um(width_px: int, pixel_um: float) -> float:
    """The round length (1, 2, 5, 10, ... µm) closest below a fifth of the panel width."""
    target = width_px * pixel_um / 5.0
    candidates = [m * 10.0 ** e for e in range(-2, 6) for m in (1, 2, 5)]
    return max([c for c in candidates if c <= target] or [candidates[0]])


def _add_scale_bar(rgb: np.ndarray, pixel_um: float) -> tuple[np.ndarray, float]:
    """Draw (in place, on a grey or RGB uint8 image) a white bar with a 1-pixel black outline (visible on bright and dark images) of a
    round length (1, 2, 5, 10, ... µm) near 1/5 of the width, bottom right; returns its length.

    The white part is exactly ``round(length_um / pixel_um)`` pixels long."""
    width = rgb.shape[1]
    length_um = scale_bar_length_um(width, pixel_um)
    length_px = max(1, int(round(length_um / pixel_um)))
    thickness = max(2, rgb.shape[0] // 80)
    margin = max(4, rgb.shape[0] // 30)
    y0 = rgb.shape[0] - margin - thickness
    x0 = max(1, width - margin - length_px)
    rgb[max(0, y0 - 1):y0 + thickness + 1, max(0, x0 - 1):x0 + length_px + 1] = 0
    rgb[y0:y0 + thickness, x0:x0 + length_px] = 255
    return rgb, length_um


def png_data_uri(gray: np.ndarray) -> str:
    """Encode a uint8 2D (grey) or 3D (RGB) array as a ``data:image/png;base64`` URI."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(gray).save(buffer, format="PNG", compress_level=4)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class Panel(NamedTuple):
    """A rendered panel: PNG data URI, scale-bar length (µm) and display pixel size (µm)."""

    src: str
    bar_um: float
    um_per_px: float


def _crop(data: np.ndarray, spacing: tuple[float, float],
          crop_um: tuple[float, float, float, float] | None) -> np.ndarray:
    if crop_um is None:
        return data
    (sy, sx), (y0, x0, h, w) = spacing, crop_um
    return data[int(round(y0 / sy)):int(round((y0 + h) / sy)),
                int(round(x0 / sx)):int(round((x0 + w) / sx))]


def _enlarge(data: np.ndarray, spacing: tuple[float, float], display_pixel_um: float
             ) -> np.ndarray:
    """Nearest-neighbour enlargement of a 2D (or 2D RGB) array to the display pixel size."""
    ry = max(1, int(round(spacing[0] / display_pixel_um)))
    rx = max(1, int(round(spacing[1] / display_pixel_um)))
    return np.repeat(np.repeat(data, ry, axis=0), rx, axis=1)


def plane_png(data: np.ndarray, spacing: tuple[float, float], window: tuple[float, float],
              display_pixel_um: float, crop_um: tuple[float, float, float, float] | None = None
              ) -> Panel:
    """A grey 2D plane with physical ``spacing`` (µm, (y, x)) as a PNG with a scale bar.

    >>> panel = plane_png(np.zeros((40, 40)), (0.5, 0.5), (0.0, 1.0), 0.25)
    >>> panel.bar_um, panel.um_per_px
    (2.0, 0.25)
    """
    data = _enlarge(_crop(np.asarray(data), spacing, crop_um), spacing, display_pixel_um)
    gray, bar_um = _add_scale_bar(to_uint8(data, window), display_pixel_um)
    return Panel(png_data_uri(gray), bar_um, display_pixel_um)


def rgb_png(rgb: np.ndarray, spacing: tuple[float, float], display_pixel_um: float,
            crop_um: tuple[float, float, float, float] | None = None) -> Panel:
    """An RGB uint8 plane (``(Y, X, 3)``, e.g. a network overlay) as a PNG with a scale bar."""
    data = _enlarge(_crop(np.asarray(rgb, np.uint8), spacing, crop_um), spacing,
                    display_pixel_um).copy()
    data, bar_um = _add_scale_bar(data, display_pixel_um)
    return Panel(png_data_uri(data), bar_um, display_pixel_um)


def signed_rgb(values: np.ndarray, limit: float) -> np.ndarray:
    """Signed values on black: positive orange-red, negative blue, ``|v| >= limit`` saturated
    (colour-blind-safe pair; NaN shown grey).

    >>> signed_rgb(np.array([[1.0, -1.0, 0.0]]), 1.0)[0].tolist()
    [[255, 110, 0], [0, 130, 255], [0, 0, 0]]
    """
    v = np.asarray(values, dtype=np.float64)
    t = np.clip(np.nan_to_num(v / max(limit, 1e-30)), -1.0, 1.0)
    pos, neg = np.clip(t, 0, 1)[..., None], np.clip(-t, 0, 1)[..., None]
    rgb = pos * np.array([255.0, 110.0, 0.0]) + neg * np.array([0.0, 130.0, 255.0])
    rgb[np.isnan(v)] = 128.0
    return np.round(rgb).astype(np.uint8)


def panel_png(image: Image, window: tuple[float, float], display_pixel_um: float,
              crop_um: tuple[float, float, float, float] | None = None) -> tuple[str, str]:
    """Render an image as a PNG data URI at a common display pixel size.

    Parameters
    ----------
    image:
        2D or 3D image (3D: the middle Z slice is shown).
    window:
        Display intensity range, shared by the panels being compared.
    display_pixel_um:
        Pixel size of the rendered panel in µm; coarser images are enlarged with nearest
        neighbour (each input pixel becomes a visible block, nothing is interpolated).
    crop_um:
        Optional (y0, x0, height, width) region in µm relative to the image corner.

    Returns the data URI and a caption fragment with the scale bar length.
    """
    data, spacing = _middle_slice(image)
    panel = plane_png(data, spacing, window, display_pixel_um, crop_um)
    return panel.src, f"scale bar {panel.bar_um:g} µm"


#: Tile verdict colours (RGB): 0 green, 1 amber, 2 red.
VERDICT_COLOURS = np.array([[40, 170, 70], [240, 170, 0], [215, 40, 40]], dtype=np.float64)


def verdict_overlay_png(image: Image, verdict: Image, window: tuple[float, float],
                        display_pixel_um: float, opacity: float = 0.35) -> tuple[str, str]:
    """The image in grey with each trust tile tinted by its verdict (green / amber / red).

    ``verdict`` holds one code per tile (0 green, 1 amber, 2 red; geosr.trust) with the tile
    size as its spacing; tiles are placed by physical position, so any grids line up.

    >>> import numpy as np
    >>> img = Image(np.zeros((8, 8)), "YX", spacing=(0.5, 0.5))
    >>> codes = Image(np.array([[0, 2], [1, 0]], dtype=np.uint8), "YX", spacing=(2.0, 2.0))
    >>> verdict_overlay_png(img, codes, (0, 1), 0.5)[1]
    'scale bar 0.5 µm; tiles tinted green / amber / red'
    """
    data, (sy, sx) = _middle_slice(image)
    codes, (ty, tx) = _middle_slice(verdict)
    ry = max(1, int(round(sy / display_pixel_um)))
    rx = max(1, int(round(sx / display_pixel_um)))
    gray = to_uint8(np.repeat(np.repeat(data, ry, axis=0), rx, axis=1), window)
    rows = np.minimum((np.arange(gray.shape[0]) * display_pixel_um // ty).astype(int),
                      codes.shape[0] - 1)
    cols = np.minimum((np.arange(gray.shape[1]) * display_pixel_um // tx).astype(int),
                      codes.shape[1] - 1)
    tint = VERDICT_COLOURS[np.clip(codes, 0, 2).astype(int)[np.ix_(rows, cols)]]
    rgb = (1 - opacity) * gray[..., None].astype(np.float64) + opacity * tint
    rgb, bar_um = _add_scale_bar(np.round(rgb).astype(np.uint8), display_pixel_um)
    return png_data_uri(rgb), f"scale bar {bar_um:g} µm; tiles tinted green / amber / red"
