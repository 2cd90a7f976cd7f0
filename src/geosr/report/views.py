"""The image sections of a report: the images side by side at one physical size and one
intensity window, the error maps, zoomed regions where the prediction and the interpolation
differ most, and for 3D orthogonal slices through a point, projections and slice steppers.

Positions are in µm from the image corner, so images on different grids (LR, prediction)
show the same place.

>>> import numpy as np
>>> from geosr.core.image import Image
>>> vol = Image(np.zeros((4, 8, 8)), "ZYX", spacing=(2.0, 0.5, 0.5))
>>> data, spacing = plane(vol, 1, (3.0, 1.0, 1.0))
>>> data.shape, spacing
((4, 8), (2.0, 0.5))
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from geosr.core.image import Image
from geosr.report.case import Case
from geosr.report.figures import Panel, display_range, plane_png, rgb_png, signed_rgb
from geosr.report.html import Figure, Section

__all__ = ["plane", "view_sections", "zoom_regions", "PLANES"]

#: 3D planes by the axis they cut: 0 → XY at z, 1 → XZ at y, 2 → YZ at x.
PLANES = {0: "XY", 1: "XZ", 2: "YZ"}
_MAX_FRAMES = 48


def _spatial(image: Image) -> np.ndarray:
    data = np.asarray(image.numpy(), dtype=np.float64)
    return data[0] if image.has_channels else data


def plane(image: Image, axis: int | None, point_um: Sequence[float] | None
          ) -> tuple[np.ndarray, tuple[float, float]]:
    """A 2D plane and its (row, column) spacing in µm: the image itself in 2D; in 3D the plane
    normal to ``axis`` through ``point_um`` ((z, y, x) µm from the corner)."""
    data, sp = _spatial(image), image.spacing_um
    if image.dims == 2 or axis is None:
        return data, (sp[-2], sp[-1])
    index = int(np.clip(np.floor(point_um[axis] / sp[axis]), 0, data.shape[axis] - 1))
    rest = tuple(s for k, s in enumerate(sp) if k != axis)
    return np.take(data, index, axis=axis), (rest[0], rest[1])


def _figure(panel: Panel, caption: str, frames: Sequence[tuple[str, str]] = ()) -> Figure:
    return Figure(panel.src, f"{caption}; scale bar {panel.bar_um:g} µm", panel.bar_um,
                  panel.um_per_px, frames=tuple(frames))


def _panels(case: Case) -> list[tuple[str, Image, str]]:
    """(key, image, caption) of every image shown side by side, in reading order."""
    def describe(image: Image) -> str:
        shape = "x".join(map(str, image.spatial_shape))
        sp = image.spacing_um
        size = f"{sp[0]:g}" if len(set(sp)) == 1 else "x".join(f"{s:g}" for s in sp)
        return f"pixel {size} µm ({shape} px)"

    out = []
    if case.lr is not None:
        out.append(("lr", case.lr, f"low-resolution input, {describe(case.lr)}"))
    for key, image in case.outputs().items():
        out.append((key, image, f"{case.label(key)}, {describe(image)}"))
    if case.truth is not None:
        out.append(("truth", case.truth, f"truth, {describe(case.truth)}"))
    return out


def display_settings(case: Case) -> tuple[tuple[float, float], float]:
    """One intensity window (0.5–99.5 percentiles of the truth, else of the prediction) and
    one display pixel (the prediction's finest in-plane spacing, µm)."""
    ref = case.truth if case.truth is not None else case.prediction
    return display_range(_spatial(ref)), float(min(case.prediction.spacing_um[-2:]))


def default_point(case: Case) -> tuple[float, ...]:
    """The centre of the prediction's field, µm from the corner."""
    return tuple(e / 2 for e in case.prediction.extent_um)


def zoom_regions(a: np.ndarray, b: np.ndarray, spacing: tuple[float, float], n: int = 2,
                 fraction: float = 0.25) -> list[tuple[float, float, float, float]]:
    """``n`` square regions (y0, x0, h, w in µm) of side ``fraction`` of the smaller side
    (at least 16 px), centred where ``|a − b|`` smoothed by a Gaussian of σ = side/4 is
    largest, not overlapping.

    >>> a = np.zeros((64, 64)); b = a.copy(); b[40:48, 8:16] = 1
    >>> zoom_regions(a, b, (1.0, 1.0), n=1)
    [(35.0, 3.0, 16.0, 16.0)]
    """
    from scipy.ndimage import gaussian_filter

    side = int(min(max(16, fraction * min(a.shape)), min(a.shape)))
    local = gaussian_filter(np.abs(np.asarray(a, float) - np.asarray(b, float)), side / 4)
    h = side // 2
    valid = np.full(local.shape, -np.inf)
    valid[h:a.shape[0] - side + h + 1, h:a.shape[1] - side + h + 1] = \
        local[h:a.shape[0] - side + h + 1, h:a.shape[1] - side + h + 1]
    regions = []
    for _ in range(n):
        cy, cx = np.unravel_index(int(np.argmax(valid)), valid.shape)
        if not np.isfinite(valid[cy, cx]):
            break
        y0, x0 = cy - h, cx - h
        regions.append((float(y0 * spacing[0]), float(x0 * spacing[1]), side * spacing[0],
                        side * spacing[1]))
        valid[max(0, y0 - h):y0 + side + h, max(0, x0 - h):x0 + side + h] = -np.inf
    return regions


def _side_by_side(case: Case, window, pixel, axis, point, crop=None) -> list[Figure]:
    figures = []
    for _, image, caption in _panels(case):
        data, sp = plane(image, axis, point)
        figures.append(_figure(plane_png(data, sp, window, pixel, crop), caption))
    return figures


def _error_figures(case: Case, pixel: float, axis, point) -> tuple[list[Figure], str]:
    ref = case.truth if case.truth is not None else case.interpolation
    if ref is None:
        return [], ""
    what = "truth" if case.truth is not None else case.label("interpolation")
    keys = [k for k in case.outputs() if case.truth is not None or k == "prediction"]
    ref_plane, sp = plane(ref, axis, point)
    diffs = {k: plane(case.outputs()[k], axis, point)[0] - ref_plane for k in keys}
    limit = float(np.nanpercentile(np.abs(np.concatenate([d.ravel() for d in diffs.values()])),
                                   99)) or 1.0
    figures = [_figure(rgb_png(signed_rgb(d, limit), sp, pixel),
                       f"{case.label(k)} − {what} (orange +, blue −, saturated at ±{limit:.4g})")
               for k, d in diffs.items()]
    text = (f"<p>Signed difference to the {what}, one colour scale for all panels: orange "
            f"where the image is brighter, blue where darker, black where equal.</p>")
    return figures, text


def view_sections(case: Case, point_um: Sequence[float] | None = None,
                  anchor: str = "") -> list[Section]:
    """The image sections of one case (2D: views, errors, zooms; 3D adds orthoslices,
    projections and slice steppers)."""
    window, pixel = display_settings(case)
    point = tuple(point_um) if point_um is not None else default_point(case)
    axis = 0 if case.prediction.dims == 3 else None
    where = "" if axis is None else f" (XY slice at z = {point[0]:g} µm)"
    intro = ("<p>All panels share one intensity window (0.5–99.5 percentiles of the "
             f"{'truth' if case.truth is not None else 'prediction'}: {window[0]:.4g} to "
             f"{window[1]:.4g}) and one display pixel ({pixel:g} µm); low-resolution pixels "
             "are shown as blocks, never interpolated.</p>")
    sections = [Section(f"{case.name}: Images{where}", _side_by_side(case, window, pixel, axis,
                                                                     point), text=intro,
                        anchor=anchor)]
    if case.prediction.dims == 3:
        sections.extend(volume_sections(case, window, pixel, point))
    errors, text = _error_figures(case, pixel, axis, point)
    if errors:
        sections.append(Section(f"{case.name}: Error map{where}", errors, text=text))
    if case.interpolation is not None:
        a = plane(case.prediction, axis, point)[0]
        b, sp = plane(case.interpolation, axis, point)
        for k, crop in enumerate(zoom_regions(a, b, sp)):
            # enlarged so that a zoom panel is at least ~200 display pixels wide
            fine = pixel / max(1, int(np.ceil(200 * pixel / crop[3])))
            figs = _side_by_side(case, window, fine, axis, point, crop)
            y0, x0, h, w = crop
            sections.append(Section(
                f"{case.name}: Zoom {k + 1}{where}", figs,
                text=f"<p>Region {h:.3g} × {w:.3g} µm at (y, x) = ({y0:.4g}, {x0:.4g}) µm "
                     "from the corner, chosen where the prediction and the interpolation "
                     "differ most (largest smoothed |prediction − interpolation|).</p>"))
    return sections


def volume_sections(case: Case, window, pixel, point) -> list[Section]:
    """3D: orthogonal slices through ``point``, maximum projections along Z, steppers."""
    ortho = []
    for axis in (1, 2):
        for _, image, caption in _panels(case):
            data, sp = plane(image, axis, point)
            ortho.append(_figure(plane_png(data, sp, window, pixel),
                                 f"{PLANES[axis]} slice: {caption}"))
    projections = []
    for _, image, caption in _panels(case):
        data = _spatial(image).max(axis=0)
        projections.append(_figure(plane_png(data, image.spacing_um[1:], window, pixel),
                                   f"maximum along Z: {caption}"))
    steppers = []
    for key, image, caption in _panels(case):
        if key == "lr":
            continue
        frames, zs = _frames(image, window, pixel)
        z = np.clip(np.floor(point[0] / image.spacing_um[0]), 0, image.spatial_shape[0] - 1)
        first = int(np.argmin(np.abs(zs - z)))   # the slice the XY panels show
        steppers.append(Figure(frames[first][0], f"{caption} (drag to step through Z)",
                               frames=frames))
    label = ", ".join(f"{v:.4g}" for v in point)
    return [Section(f"{case.name}: Orthogonal slices through (z, y, x) = ({label}) µm", ortho),
            Section(f"{case.name}: Projections", projections),
            Section(f"{case.name}: Step through slices", steppers,
                    text=f"<p>Up to {_MAX_FRAMES} XY slices evenly spaced along Z.</p>")]


def _frames(image: Image, window, pixel) -> tuple[list[tuple[str, str]], np.ndarray]:
    data, sz = _spatial(image), image.spacing_um[0]
    picks = np.unique(np.linspace(0, data.shape[0] - 1, min(_MAX_FRAMES, data.shape[0]))
                      .round().astype(int))
    frames = []
    for z in picks:
        panel = plane_png(data[z], image.spacing_um[1:], window, pixel)
        frames.append((panel.src, f"slice {z + 1}/{data.shape[0]}, z from "
                                  f"{z * sz:.4g} to {(z + 1) * sz:.4g} µm"))
    return frames, picks
