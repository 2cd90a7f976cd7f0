"""Experimentally paired data: registration of LR/HR acquisitions, pair quality control and the
instrument's forward model estimated from the pairs (the ``pairs`` stage: after ``degrade``,
before ``data``).

- :func:`register_pair` — one pair, 2D or 3D: sub-pixel shift (+ rotation, zoom), PSF and
  intensity map fitted through the forward model (blur, area binning); the HR resampled once
  onto ``scale`` × the cropped LR grid.
- :func:`register_folders` — two folders into ``lr/``, ``hr/``, ``pairs.csv``,
  ``forward_model.json`` and ``report.html`` (``geosr pairs register``), resumable.
- :func:`estimate_forward_model` / :func:`load_forward_model` — the forward model as a
  :mod:`geosr.degrade` record (PSF, intensity map, Poisson–Gaussian noise, with errors).
- :func:`simulate_acquisition` — a known misaligned LR acquisition of a real HR image.

Submodules are imported on first use.
"""

from __future__ import annotations

from geosr.core.lazy import lazy_exports

# name -> module that defines it
_EXPORTS = {
    "register_pair": "geosr.pairs.register", "PairRegistration": "geosr.pairs.register",
    "PairTransform": "geosr.pairs.transform", "register_folders": "geosr.pairs.folders",
    "estimate_forward_model": "geosr.pairs.forward", "load_forward_model": "geosr.pairs.forward",
    "simulate_acquisition": "geosr.pairs.simulate", "random_transform": "geosr.pairs.simulate",
    "fit_noise": "geosr.pairs.noise",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
