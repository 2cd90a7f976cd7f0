"""The public front door: :func:`phantom` and the :class:`Phantom` it returns.

>>> from geosr.phantoms import phantom
>>> ph = phantom("lcn", dims=2, size_um=60, spacing_um=0.2, seed=3)
>>> ph.image.axes, ph.image.spacing, ph.mask.dtype.name
('YX', (0.2, 0.2), 'uint8')
>>> ph.params["porosity"] == float(ph.mask.numpy().mean())
True
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from geosr.core.errors import ConfigError
from geosr.core.files import atomic_path, to_jsonable, write_json
from geosr.core.image import Image
from geosr.core.per_axis import per_axis
from geosr.core.seeding import resolve_seed
from geosr.phantoms.graph import graph_data, summarize_graph
from geosr.phantoms.kinds import KINDS, PHANTOM_KINDS, phantom_kind
from geosr.phantoms.params import ParamSpec, describe, resolve

__all__ = ["Phantom", "phantom", "KINDS", "kind_parameters"]

#: parameters shared by every kind (intensity model)
COMMON: dict[str, ParamSpec] = {
    "matrix_level": ParamSpec(0.15, lo=0.0, hi=1.0,
                              doc="intensity of the matrix (bright=True; mirrored otherwise)"),
    "pore_level": ParamSpec(0.85, lo=0.0, hi=1.0,
                            doc="intensity of a fully occupied pore voxel (bright=True)"),
    "texture_amplitude": ParamSpec(0.03, lo=0.0, hi=0.5,
                                   doc="standard deviation of the smooth matrix texture"),
}

_MAX_VOXELS = 1_000_000_000


@dataclasses.dataclass
class Phantom:
    """A synthetic network with its ground truth.

    Attributes
    ----------
    image:
        float32 intensities in [0, 1] (bright pores on a dim matrix, or the inverse), partial
        volume at edges, mild matrix texture; axes ``YX``/``ZYX``, spacing in µm.
    mask:
        uint8, 1 = pore; same shape and spacing.
    graph:
        The exact network (see :mod:`geosr.phantoms.graph` for the attributes). Positions are
        physical (µm, axis order of the image); pixel ``i`` has its centre at
        ``origin + i·spacing`` with ``origin = spacing / 2``, so the field is the box
        ``[0, shape·spacing]``.
    params:
        Every parameter used (kind, dims, seed, size, spacing, kind parameters) and the derived
        ground truth (porosity and its split, lengths, counts, densities).
    labels:
        uint8 part labels: 0 matrix, 1 large pores (tubules, lacunae, canals), 2 thin branches
        (tubule branches, canaliculi, Volkmann canals).
    """

    image: Image
    mask: Image
    graph: nx.Graph
    params: dict[str, Any]
    labels: Image | None = None

    def save(self, out_dir: str | os.PathLike, *, overwrite: bool = False) -> dict[str, Path]:
        """Write ``image.tif``, ``mask.tif``, ``labels.tif`` (ImageJ TIFFs with spacing, via
        :func:`geosr.io.save`), ``graph.json`` (node-link) and ``params.json`` into ``out_dir``.

        Everything is written to a temporary folder beside ``out_dir`` and renamed into place at
        the end, so an error leaves no partial folder. An existing non-empty ``out_dir`` is
        replaced only with ``overwrite=True``. Returns the paths by name."""
        from geosr.io import save as save_image

        out = Path(out_dir)
        if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
            raise ConfigError("the output folder exists and is not empty", where=str(out),
                              hint="choose a new folder or pass overwrite=True")
        names = {"image": "image.tif", "mask": "mask.tif", "graph": "graph.json",
                 "params": "params.json"}
        if self.labels is not None:
            names["labels"] = "labels.tif"
        with atomic_path(out, is_dir=True) as tmp:
            save_image(self.image, tmp / names["image"])
            save_image(self.mask, tmp / names["mask"])
            if self.labels is not None:
                save_image(self.labels, tmp / names["labels"])
            write_json(tmp / names["graph"], graph_data(self.graph))
            write_json(tmp / names["params"], self.params)
        return {key: out / name for key, name in names.items()}


def kind_parameters(kind: str, dims: int = 2) -> dict[str, dict[str, Any]]:
    """The parameters of a kind with their defaults for ``dims`` and docs (units included),
    plus ``size_um`` and ``spacing_um``.

    >>> kind_parameters("dentin", 3)["spacing_um"]["default"]
    0.2
    """
    mod = phantom_kind(kind)
    table = {"size_um": {"default": mod.DEFAULT_SIZE[dims - 2], "doc": "field size, µm"},
             "spacing_um": {"default": mod.DEFAULT_SPACING[dims - 2],
                            "doc": "pixel/voxel spacing, µm"}}
    table.update(describe({**mod.SPECS, **COMMON}, dims))
    return table


def _seed_sequence(seed: Any) -> tuple[list[np.random.Generator], Any]:
    """Two independent generators (geometry, texture) and the seed to record."""
    value, source = resolve_seed(seed)
    if source == "generator":
        return seed.spawn(2), "generator"
    ss = np.random.SeedSequence(value)
    return [np.random.default_rng(s) for s in ss.spawn(2)], value


def phantom(kind: str, *, dims: int = 2, size_um: float | tuple[float, ...] | None = None,
            spacing_um: float | tuple[float, ...] | None = None,
            seed: int | np.random.Generator | None = 0, bright: bool = True,
            **params: Any) -> Phantom:
    """Generate a synthetic porosity network with exact ground truth.

    Parameters
    ----------
    kind:
        ``"dentin"`` (tubules + sub-micron branches), ``"lcn"`` (lacunae + canaliculi),
        ``"cortical"`` (Haversian canals + Volkmann links) or ``"porous"`` (porespy blobs).
    dims:
        2 (axes ``YX``) or 3 (``ZYX``).
    size_um:
        Field size in µm, one number or one per axis; the shape is
        ``round(size_um / spacing_um)`` pixels. Default per kind (see
        :func:`kind_parameters`): dentin 64 µm (2D) / 32 µm (3D), lcn 160 / 80 µm,
        cortical 1500 / 1000 µm, porous 512 / 200 µm.
    spacing_um:
        Pixel/voxel spacing in µm, one number or one per axis. Default: dentin 0.1 / 0.2,
        lcn 0.1 / 0.5, cortical 5 / 8, porous 2 / 2 µm. A spacing coarser than the smallest
        feature (e.g. the dentin branch diameter) raises :class:`ConfigError` unless
        ``allow_subvoxel=True`` (then the mask keeps the topology through the centreline
        guarantee, but widths are no longer physical, and a warning is issued).
    seed:
        int, numpy Generator or None (fresh entropy; the drawn seed is recorded in ``params``).
        The same int seed gives identical bytes of image and mask and an identical graph.
    bright:
        True: bright pores on a dim matrix (fluorescence); False: dark pores (CT).
    **params:
        Kind parameters (see :func:`kind_parameters`); an unknown name raises
        :class:`ConfigError` listing the allowed ones.

    Returns
    -------
    Phantom
        ``image``, ``mask``, ``labels``, ``graph``, ``params``.

    Example
    -------
    >>> ph = phantom("dentin", dims=2, size_um=20, spacing_um=0.1, seed=0)
    >>> ph.image.shape, ph.image.dtype.name, ph.params["porosity"] > 0
    ((200, 200), 'float32', True)
    """
    mod = phantom_kind(kind)
    kind = PHANTOM_KINDS.key(kind)
    dims, size, spacing, shape = _grid(mod, dims, size_um, spacing_um)
    p = resolve(kind, {**mod.SPECS, **COMMON}, params, dims=dims)
    _check_resolution(mod, p, spacing, shape)
    if not isinstance(bright, (bool, np.bool_)):
        raise ConfigError(f"expected true/false, got {bright!r}", where="bright")
    (rng_geom, rng_tex), seed_used = _seed_sequence(seed)

    occ, mask, labels, graph, derived = mod.generate(shape, spacing, p, rng_geom)

    img = _intensity(occ, rng_tex, p, bright=bool(bright))
    extent = tuple(n * h for n, h in zip(shape, spacing))
    out: dict[str, Any] = {
        "kind": kind, "dims": dims, "seed": seed_used, "bright": bool(bright),
        "axes": "YX" if dims == 2 else "ZYX", "shape": list(shape), "size_um": list(extent),
        "size_um_requested": list(size), "spacing_um": list(spacing),
        "origin_um": [h / 2 for h in spacing], "unit": "um",
        **p, **_truth(occ, mask, labels, graph, extent), **derived,
    }
    out["thin_fraction_of_porosity"] = (out["porosity_thin"] / out["porosity"]
                                        if out["porosity"] > 0 else 0.0)
    return _assemble(img, mask, labels, graph, _plain(out))


def _grid(mod: Any, dims: Any, size_um: Any, spacing_um: Any
          ) -> tuple[int, tuple[float, ...], tuple[float, ...], tuple[int, ...]]:
    """``(dims, size_um, spacing_um, shape)`` checked: kind defaults for what is None, at least
    8 pixels and at most :data:`_MAX_VOXELS` in all."""
    if isinstance(dims, bool) or dims not in (2, 3):
        raise ConfigError(f"dims must be 2 or 3, got {dims!r}", where="dims")
    dims = int(dims)
    size = per_axis(mod.DEFAULT_SIZE[dims - 2] if size_um is None else size_um, dims,
                    where="size_um", positive=True, unit="µm", axes="ZYX"[3 - dims:])
    spacing = per_axis(mod.DEFAULT_SPACING[dims - 2] if spacing_um is None else spacing_um,
                       dims, where="spacing_um", positive=True, unit="µm", axes="ZYX"[3 - dims:])
    shape = tuple(int(round(s / h)) for s, h in zip(size, spacing))
    if min(shape) < 8:
        raise ConfigError(f"size_um/spacing_um gives shape {shape}; need at least 8 pixels per "
                          "axis", where="size_um", hint="increase size_um or decrease spacing_um")
    if int(np.prod(shape, dtype=np.int64)) > _MAX_VOXELS:
        raise ConfigError(f"shape {shape} has more than {_MAX_VOXELS:,} voxels",
                          where="size_um", hint="reduce size_um or increase spacing_um")
    return dims, size, spacing, shape


def _check_resolution(mod: Any, p: dict[str, Any], spacing: tuple[float, ...],
                      shape: tuple[int, ...]) -> None:
    """Refuse a spacing coarser than the kind's smallest feature (warn with
    ``allow_subvoxel``)."""
    feature, size_feature = mod.smallest_feature(
        p, spacing, tuple(n * h for n, h in zip(shape, spacing)))
    if max(spacing) > size_feature:
        message = (f"spacing {max(spacing):g} µm is coarser than the smallest feature "
                   f"({feature} = {size_feature:g} µm)")
        if not p.get("allow_subvoxel", False):
            raise ConfigError(message, where="spacing_um",
                              hint=f"use spacing_um ≤ {size_feature:g}, a scaled mode where "
                                   "offered, or allow_subvoxel=True")
        warnings.warn(message + "; the mask keeps sub-voxel branches one voxel wide",
                      stacklevel=3)


def _truth(occ: np.ndarray, mask: np.ndarray, labels: np.ndarray, graph: nx.Graph,
           extent: tuple[float, ...]) -> dict[str, Any]:
    """The derived ground truth: porosity and its split, occupancy, the graph summary and its
    length density (per µm² in 3D, per µm in 2D)."""
    summary = summarize_graph(graph)
    density = ("length_density_per_um2" if len(extent) == 3 else "length_density_per_um")
    return {
        "porosity": float(mask.mean()),
        "porosity_large": float(np.mean(labels == 1)),
        "porosity_thin": float(np.mean(labels == 2)),
        "occupancy_mean": float(occ.mean(dtype=np.float64)),
        **summary,
        density: summary["total_length_um"] / float(np.prod(extent)),
    }


def _assemble(img: np.ndarray, mask: np.ndarray, labels: np.ndarray, graph: nx.Graph,
              params: dict[str, Any]) -> Phantom:
    """The :class:`Phantom`: image, mask and labels on the grid ``params`` describes."""
    spacing, axes = tuple(params["spacing_um"]), params["axes"]
    origin = tuple(params["origin_um"])
    meta = {"phantom": params["kind"], "seed": params["seed"], "bright": params["bright"]}

    def image(data: np.ndarray, content: str) -> Image:
        return Image(data, axes, spacing=spacing, unit="um", origin=origin,
                     metadata={**meta, "content": content})

    return Phantom(image=image(img, "intensity"), mask=image(mask.astype(np.uint8),
                                                             "mask (1 = pore)"),
                   graph=graph, params=params,
                   labels=image(labels.astype(np.uint8),
                                "labels (0 matrix, 1 large pore, 2 thin)"))


def _intensity(occ: np.ndarray, rng: np.random.Generator, p: dict[str, Any], *, bright: bool
               ) -> np.ndarray:
    from geosr.phantoms.raster import intensity

    return intensity(occ, rng, bright=bright, matrix=p["matrix_level"], pore=p["pore_level"],
                     texture_amplitude=p["texture_amplitude"])


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and tuples to plain Python (JSON-safe, comparable)."""
    return to_jsonable(value)
