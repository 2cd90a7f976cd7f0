"""The instrument's forward model estimated from registered pairs: ``forward_model.json``.

The file *is* a :mod:`geosr.degrade` parameter record — ``{"model":
"geosr.degrade.ForwardModel", "steps": [gaussian_blur, downsample, intensity_map,
poisson_gaussian_noise], "scale", "fwhm_um", ...}`` — so the project's own objects load it:
:meth:`geosr.degrade.ForwardModel.from_record` (``geosr degrade --forward``, training sources)
and :meth:`geosr.trust.acquisition.Acquisition.from_record` (``geosr trust/calibrate
--forward``). The ``"estimate"`` section holds every fitted number with its standard error:

- PSF FWHM per axis (µm): mean over pairs of the per-pair Gauss–Newton fits, standard error
  the larger of (spread / √n) and (mean per-pair standard error / √n);
- intensity map ``a``, ``gamma`` (and the per-pair offsets ``b``): median over pairs, standard
  error ``1.2533 · sd / √n``;
- noise: ``gain`` (LR units per photo-electron; ``photons_per_unit = 1/gain``) and
  ``read_noise`` (sd, LR units) from one weighted fit over the residual bins of *all* pairs
  (:func:`geosr.pairs.noise.fit_noise`), each pair's signal measured above its own offset.

>>> import numpy as np
>>> from geosr.degrade import ForwardModel
>>> pair = {"fwhm_um": [0.4, 0.4], "sigma_hr_px": [1.7, 1.7], "scale": [4, 4],
...         "se_sigma_yx": 0.01, "intensity_kind": "affine", "intensity_a": 1.0,
...         "intensity_b": 0.0, "intensity_gamma": 1.0, "intensity_m_ref": None,
...         "lr_spacing_um": [0.4, 0.4], "hr_spacing_um": [0.1, 0.1], "dims": 2,
...         "noise_bins": [{"signal": s, "var": 0.01 * s + 1e-4, "n": 1000}
...                        for s in (0.1, 0.5, 1.0, 2.0)]}
>>> record = estimate_forward_model([pair, pair])
>>> [s["name"] for s in record["steps"]]
['gaussian_blur', 'downsample', 'intensity_map', 'poisson_gaussian_noise']
>>> ForwardModel.from_record(record).steps[0].fwhm_um
(0.4, 0.4)
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from geosr.core.errors import InputError
from geosr.core.files import read_json, to_jsonable
from geosr.degrade.steps import Downsample, GaussianBlur, IntensityMap, PoissonGaussianNoise
from geosr.pairs.noise import fit_noise

__all__ = ["estimate_forward_model", "load_forward_model", "forward_record", "degrade_with_forward",
           "FORWARD_KIND"]

FORWARD_KIND = "geosr.pairs.forward_model"


def _mean_se(values: Sequence[float], ses: Sequence[float] | None = None) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    spread = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    own = float(np.sqrt(np.mean(np.square(ses))) / math.sqrt(n)) if ses else 0.0
    return float(v.mean()), max(spread, own)


def _median_se(values: Sequence[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    return float(np.median(v)), (float(1.2533 * v.std(ddof=1) / math.sqrt(n)) if n > 1
                                 else 0.0)


def _psf(pairs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    dims = int(pairs[0]["dims"])
    fwhm, fwhm_se = [], []
    for axis in range(dims):
        per_pair = [float(p["fwhm_um"][axis]) for p in pairs]
        key = "se_sigma_z" if (dims == 3 and axis == 0) else "se_sigma_yx"
        ses = [float(p.get(key, 0.0)) / float(p["sigma_hr_px"][axis]) * float(p["fwhm_um"][axis])
               for p in pairs if p.get(key) is not None and float(p["sigma_hr_px"][axis]) > 0]
        mean, se = _mean_se(per_pair, ses or None)
        fwhm.append(mean)
        fwhm_se.append(se)
    return {"fwhm_um": fwhm, "fwhm_um_se": fwhm_se,
            "fwhm_um_per_pair": [list(p["fwhm_um"]) for p in pairs]}


def estimate_forward_model(pairs: Sequence[Mapping[str, Any]],
                           names: Sequence[str] | None = None) -> dict[str, Any]:
    """Pool per-pair registration summaries (:meth:`PairRegistration.summary`, only pairs
    judged good) into a forward-model record; see the module docstring."""
    pairs = list(pairs)
    if not pairs:
        raise InputError("no good pairs to estimate the forward model from", where="pairs",
                         hint="check the rejected pairs in the report")
    scales = {tuple(p["scale"]) for p in pairs}
    if len(scales) != 1:
        raise InputError(f"the pairs have different scales {sorted(scales)}", where="pairs")
    scale = list(scales.pop())
    psf = _psf(pairs)
    a, a_se = _median_se([p["intensity_a"] for p in pairs])
    gamma, gamma_se = _median_se([p.get("intensity_gamma", 1.0) for p in pairs])
    b, b_se = _median_se([p["intensity_b"] for p in pairs])
    kind = pairs[0].get("intensity_kind", "affine")
    m_ref = pairs[0].get("intensity_m_ref") if kind == "gamma" else None
    noise = fit_noise([bin_ for p in pairs for bin_ in p["noise_bins"]])
    steps = [GaussianBlur(fwhm_um=tuple(psf["fwhm_um"])),
             Downsample(tuple(scale) if len(set(scale)) > 1 else scale[0]),
             IntensityMap(a=a, gamma=gamma if kind == "gamma" else 1.0,
                          m_ref=m_ref if kind == "gamma" else None),
             PoissonGaussianNoise(photons_per_unit=noise["photons_per_unit"],
                                  read_noise=noise["read_noise"], offset=b)]
    estimate = {
        **psf, "sigma_hr_px": np.mean([p["sigma_hr_px"] for p in pairs], axis=0).tolist(),
        "lr_spacing_um": list(pairs[0]["lr_spacing_um"]),
        "hr_spacing_um": list(pairs[0]["hr_spacing_um"]),
        "intensity": {"kind": kind, "a": a, "a_se": a_se, "b": b, "b_se": b_se,
                      "gamma": gamma, "gamma_se": gamma_se, "m_ref": m_ref,
                      "note": "HR units -> LR units after blur and binning; the offset b is "
                              "the noise step's offset (the median over pairs)"},
        "noise": {**noise, "offset": b,
                  "units": "LR intensity units (gain: LR units per photo-electron)"},
        "n_pairs": len(pairs), "pairs": list(names) if names is not None else None,
        "method": "per-pair Gauss-Newton fit of shift/rotation/PSF/intensity through blur + "
                  "area binning; PSF and intensity pooled over pairs; noise from one "
                  "weighted Poisson-Gaussian fit to the residual variance of all pairs",
    }
    return forward_record(steps, scale, psf["fwhm_um"], estimate)


def forward_record(steps: Sequence[Any], scale: Sequence[int], fwhm_um: Sequence[float],
                   estimate: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON record: degradation-record keys plus ``kind`` and ``estimate``."""
    return to_jsonable({
        "model": "geosr.degrade.ForwardModel", "version": 1, "kind": FORWARD_KIND,
        "steps": [s.params() for s in steps], "scale": list(scale),
        "fwhm_um": list(fwhm_um), "sigma_px": None, "estimate": dict(estimate)})


def load_forward_model(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a ``forward_model.json`` (or any degradation record with steps);
    raises :class:`InputError` naming the file when it is not one. Returns the record: pass
    it to ``ForwardModel.from_record`` or ``Acquisition.from_record``."""
    record = read_json(path)
    where = str(Path(path))
    if not isinstance(record, dict) or not isinstance(record.get("steps"), list) or \
            not record["steps"]:
        raise InputError("not a forward model (no list of degradation steps)", where=where,
                         hint="use the forward_model.json written by `geosr pairs register`")
    from geosr.core.errors import ConfigError
    from geosr.degrade import ForwardModel

    try:
        ForwardModel.from_record(record)
    except ConfigError as err:
        raise InputError(f"invalid forward model: {err}", where=where) from None
    return record


def degrade_with_forward(image: Any, forward: str | os.PathLike | Mapping[str, Any], *,
                         seed: int | np.random.Generator | None = 0, crop: bool = False):
    """Simulate the measured instrument's LR acquisition of ``image`` with a
    ``forward_model.json`` (path or record): the project's own
    :class:`geosr.degrade.ForwardModel` rebuilt from it. ``crop`` drops trailing pixels that
    do not fill a block. Returns the LR :class:`Image` with ``metadata["degradation"]`` (the
    record, plus ``forward_model``: the file).

    >>> import numpy as np
    >>> from geosr.core.image import Image
    >>> record = forward_record([GaussianBlur(fwhm_um=0.4), Downsample(4)], [4, 4], [0.4, 0.4], {})
    >>> degrade_with_forward(Image(np.ones((16, 16)), "YX", spacing=(0.1, 0.1)), record).shape
    (4, 4)
    """
    from geosr.degrade import ForwardModel

    record = dict(forward) if isinstance(forward, Mapping) else load_forward_model(forward)
    model = ForwardModel.from_record(record)
    if crop:
        model = ForwardModel(tuple(Downsample(s.factors, crop=True) if isinstance(s, Downsample)
                                   else s for s in model.steps))
    out, rec = model.apply(image, seed)
    rec["forward_model"] = (str(forward) if not isinstance(forward, Mapping)
                            else "record")
    return out.with_metadata(degradation=rec)
