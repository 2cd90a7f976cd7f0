"""What the trust layer knows about how the low-resolution (LR) input was acquired: the linear
forward operator (PSF blur + area-integrating binning, from :mod:`geosr.degrade`), the noise
model in the LR image's own intensity units, and the optics (for the physics report).

Units convention: a geosr prediction is in the intensity units of its LR input (``geosr
predict`` undoes its normalisation), so the expected LR image of a prediction ``f`` is ``D f``
and its noise variance, in LR units, is the Poisson–Gaussian model (Foi et al., IEEE TIP 2008)

    ``var = gain · max(D f − offset, 0) + read_noise² + quantization_var``

For an LR image made by :func:`geosr.degrade.degrade` with ``photons`` p, ``read_noise`` r,
``offset`` o and no quantisation: ``gain = 1/p``. With quantisation to levels of
``intensity_per_level`` q above ``black_level`` b: ``gain = 1/(p q)``, ``offset = (o − b)/q``,
``read_noise = r/q`` and ``quantization_var = 1/12`` (all in levels).

X-ray CT (a record with a :class:`geosr.degrade.ct.CTScan` step, ``modality == "ct"``): the
linear operator is the step's ``linear_equivalent`` (detector blur + binning), and the noise
is not white: it is made in the projections and shaped by the reconstruction. ``ct_steps``
keeps the CT chain (the scan and what follows it, e.g. quantisation) so that the consistency
test re-acquires a prediction through the same physics (:mod:`geosr.trust.ct_consistency`).

>>> import numpy as np
>>> acq = Acquisition.from_arguments(scale=4, fwhm_um=0.4, photons=100.0, read_noise=0.01)
>>> op = acq.operator((32, 32), spacing_um=0.1)
>>> op.out_shape, acq.gain
((8, 8), 0.01)
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np

from geosr.core.errors import ConfigError, InputError
from geosr.core.per_axis import per_axis

__all__ = ["Acquisition", "resolve_acquisition"]


@dataclasses.dataclass(frozen=True)
class Acquisition:
    """The LR acquisition: linear steps (records of :mod:`geosr.degrade.steps`), the noise
    model in LR units, and optional optics metadata.

    Build it with :meth:`from_arguments` (the keywords of :func:`geosr.degrade.degrade`),
    :meth:`from_record` (a degradation record, e.g. ``lr.metadata["degradation"]``) or
    :meth:`from_image`.
    """

    linear_steps: tuple[Mapping[str, Any], ...]
    scale: tuple[int, ...] | int
    gain: float | None = None
    offset: float = 0.0
    read_noise: float = 0.0
    quantization_var: float = 0.0
    saturation_value: float | None = None
    wavelength_nm: float | None = None
    na: float | None = None
    microscope: str = "widefield"
    refractive_index: float = 1.518
    fwhm_um: tuple[float, ...] | float | None = None
    source: str = "arguments"
    ct_steps: tuple[Mapping[str, Any], ...] = ()

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_arguments(cls, *, scale: int | Sequence[int], fwhm_um: Any = None,
                       wavelength_nm: float | None = None, na: float | None = None,
                       microscope: str = "widefield", photons: float | None = None,
                       read_noise: float = 0.0, offset: float = 0.0,
                       refractive_index: float = 1.518, pinhole_au: float | None = None,
                       intensity_per_level: float | None = None, black_level: float = 0.0,
                       saturation_value: float | None = None) -> "Acquisition":
        """From the keywords of :func:`geosr.degrade.degrade` (``fwhm_um`` in µm,
        ``wavelength_nm`` in nm; ``photons`` photo-electrons per intensity unit; ``read_noise``
        and ``offset`` in intensity units). ``intensity_per_level`` is given for integer
        (quantised) LR images."""
        from geosr.degrade import degradation_model

        model = degradation_model(scale=scale, fwhm_um=fwhm_um, wavelength_nm=wavelength_nm,
                                  na=na, microscope=microscope,
                                  refractive_index=refractive_index, pinhole_au=pinhole_au)
        steps = tuple(s.params() for s in model.linear_steps())
        gain, off, read, qvar = _noise_in_lr_units(photons, read_noise, offset,
                                                   intensity_per_level, black_level)
        return cls(linear_steps=steps, scale=_scale_value(scale), gain=gain, offset=off,
                   read_noise=read, quantization_var=qvar, saturation_value=saturation_value,
                   wavelength_nm=wavelength_nm, na=na, microscope=microscope,
                   refractive_index=refractive_index,
                   fwhm_um=None if fwhm_um is None else _scale_value(fwhm_um, float),
                   source="arguments")

    @classmethod
    def from_record(cls, record: Mapping[str, Any], source: str = "degradation record"
                    ) -> "Acquisition":
        """From a :mod:`geosr.degrade` parameter record (``{"steps": [...], ...}``)."""
        steps = record.get("steps") if isinstance(record, Mapping) else None
        if not isinstance(steps, (list, tuple)) or not steps:
            raise InputError("the degradation record has no steps", where=source,
                             hint="give the acquisition (scale, fwhm_um, photons, read_noise) "
                                  "explicitly")
        ct = next((i for i, s in enumerate(steps) if s.get("name") == "ct_scan"), None)
        if ct is not None:
            return cls._from_ct_record(record, steps, ct, source)
        linear = tuple(s for s in steps if s.get("name") in ("gaussian_blur", "microscope_psf",
                                                            "downsample"))
        noise = next((s for s in steps if s.get("name") == "poisson_gaussian_noise"), None)
        quant = next((s for s in steps if s.get("name") == "quantize"), None)
        photons = read = off = None
        if noise is not None:
            photons, read, off = (noise.get("photons_per_unit"), noise.get("read_noise", 0.0),
                                  noise.get("offset", 0.0))
        ipl = black = None
        sat_value = None
        if quant is not None:
            ipl = quant.get("intensity_per_level")
            black = quant.get("black_level", 0.0)
            if ipl is None:
                raise InputError("the quantisation step does not record its intensity per "
                                 "level", where=source)
            sat_value = float(quant.get("levels", 2 ** int(quant["bit_depth"]) - 1))
        gain, offset, read_lr, qvar = _noise_in_lr_units(photons, read or 0.0, off or 0.0,
                                                         ipl, black or 0.0)
        psf = next((s for s in linear if s.get("name") == "microscope_psf"), None)
        scale = record.get("scale")
        if scale is None:
            down = [s for s in linear if s.get("name") == "downsample"]
            scale = down[0].get("factors_per_axis", down[0].get("factors")) if down else 1
        return cls(linear_steps=linear, scale=_scale_value(scale), gain=gain, offset=offset,
                   read_noise=read_lr, quantization_var=qvar, saturation_value=sat_value,
                   wavelength_nm=None if psf is None else psf.get("wavelength_nm"),
                   na=None if psf is None else psf.get("na"),
                   microscope="widefield" if psf is None else psf.get("kind", "widefield"),
                   refractive_index=1.518 if psf is None else psf.get("refractive_index", 1.518),
                   fwhm_um=None if record.get("fwhm_um") is None
                   else _scale_value(record["fwhm_um"], float), source=source)

    @classmethod
    def _from_ct_record(cls, record: Mapping[str, Any], steps: Sequence[Mapping[str, Any]],
                        index: int, source: str) -> "Acquisition":
        """A CT acquisition: the scan's linear equivalent as the operator, the CT chain
        (the scan with its resolved intensity range, and the steps after it) kept whole."""
        scan = dict(steps[index])
        used = scan.get("intensity_range_used") or scan.get("intensity_range")
        if used is None:
            raise InputError("the CT step does not record the intensity range it mapped to "
                             "attenuation", where=source,
                             hint="degrade with an explicit intensity_range, or record the "
                                  "step with the image (CTScan.params(image))")
        scan["intensity_range"] = list(used)
        after = [dict(s) for s in steps[index + 1:]]
        unknown = [s.get("name") for s in after if s.get("name") != "quantize"]
        if unknown:
            raise InputError(f"steps after the CT scan are not supported: {unknown}",
                             where=source, hint="a CT record may end with a quantize step")
        from geosr.degrade.steps import Downsample, GaussianBlur

        linear = scan.get("linear_equivalent") or [
            GaussianBlur(fwhm_um=float(scan.get("detector_fwhm_um", 0.0))).params(),
            Downsample(int(scan["scale"])).params()]
        quant = after[0] if after else None
        sat = None
        if quant is not None:
            sat = float(quant["saturation"]) if quant.get("as_float") else \
                float(quant.get("levels", 2 ** int(quant["bit_depth"]) - 1))
        fwhm = float(scan.get("detector_fwhm_um", 0.0))
        return cls(linear_steps=tuple(dict(s) for s in linear),
                   scale=_scale_value(record.get("scale") or scan["scale"]),
                   saturation_value=sat, fwhm_um=fwhm if fwhm > 0 else None,
                   source=source, ct_steps=(scan, *after))

    @classmethod
    def from_image(cls, lr: Any, where: str = "LR image") -> "Acquisition":
        """From ``lr.metadata["degradation"]`` (images made by :func:`geosr.degrade.degrade`
        keep it in their TIFF metadata)."""
        record = getattr(lr, "metadata", {}).get("degradation")
        if not isinstance(record, Mapping):
            raise InputError("the LR image records no degradation", where=where,
                             hint="give the acquisition explicitly (--fwhm-um, --photons, "
                                  "--read-noise, or --wavelength-nm and --na)")
        return cls.from_record(record, source=f"{where} metadata")

    # ------------------------------------------------------------------ use
    def scale_per_axis(self, dims: int) -> tuple[int, ...]:
        """The scale, one integer per axis (a per-axis scale is returned as recorded)."""
        s = self.scale
        return per_axis(s, len(s) if isinstance(s, tuple) else dims, where="scale", kind=int)

    def forward_model(self):
        """The linear part as a :class:`geosr.degrade.ForwardModel`."""
        from geosr.degrade import ForwardModel

        return ForwardModel.from_record({"steps": [dict(s) for s in self.linear_steps]})

    def operator(self, sr_shape: Sequence[int], spacing_um: Any):
        """The operator ``D`` (blur + binning) for a prediction of spatial shape ``sr_shape``
        with pixels of ``spacing_um`` µm (a :class:`geosr.degrade.SeparableOperator`)."""
        return self.forward_model().linear_operator(tuple(int(n) for n in sr_shape),
                                                     spacing_um)

    @property
    def modality(self) -> str:
        """``"ct"`` for an X-ray CT acquisition (``ct_steps``), else ``"image"``."""
        return "ct" if self.ct_steps else "image"

    def ct_model(self):
        """The CT chain (scan, then e.g. quantisation) as a :class:`geosr.degrade.ForwardModel`
        that re-acquires a prediction through the recorded physics."""
        from geosr.degrade import ForwardModel

        if not self.ct_steps:
            raise ConfigError("not a CT acquisition", where="acquisition")
        return ForwardModel.from_record({"steps": [dict(s) for s in self.ct_steps]})

    def noise_variance(self, expected_lr: np.ndarray) -> np.ndarray:
        """Per-pixel noise variance (LR units²) of an LR image whose noise-free value is
        ``expected_lr``; raises :class:`ConfigError` when no noise model is known (and for CT,
        whose noise is correlated: see :mod:`geosr.trust.ct_consistency`)."""
        if self.ct_steps:
            raise ConfigError("CT noise is correlated (made in the projections, shaped by the "
                              "reconstruction): no per-pixel image-domain noise model",
                              where="acquisition", hint="use the CT consistency test, which "
                              "re-acquires the prediction through the CT model")
        if not self.has_noise_model:
            raise ConfigError("no noise model: the χ² test needs photons and/or read noise",
                              where="acquisition",
                              hint="give photons= / read_noise= (--photons, --read-noise)")
        var = np.full(np.shape(expected_lr), self.read_noise ** 2 + self.quantization_var)
        if self.gain is not None:
            var = var + self.gain * np.maximum(np.asarray(expected_lr) - self.offset, 0.0)
        return var

    @property
    def has_noise_model(self) -> bool:
        if self.ct_steps:
            return self.ct_steps[0].get("i0") is not None
        return (self.gain is not None or self.read_noise > 0) and (
            self.gain is not None or self.read_noise ** 2 + self.quantization_var > 0)

    def signature(self) -> dict[str, Any]:
        """The settings a calibration card is bound to (JSON-serialisable)."""
        from geosr.core.files import to_jsonable

        return to_jsonable({
            "scale": self.scale, "linear_steps": [dict(s) for s in self.linear_steps],
            "gain": self.gain, "offset": self.offset, "read_noise": self.read_noise,
            "quantization_var": self.quantization_var, "wavelength_nm": self.wavelength_nm,
            "na": self.na, "microscope": self.microscope,
            **({"ct_steps": [dict(s) for s in self.ct_steps]} if self.ct_steps else {}),
        })

    def to_dict(self) -> dict[str, Any]:
        from geosr.core.files import to_jsonable

        return to_jsonable({**dataclasses.asdict(self),
                            "linear_steps": [dict(s) for s in self.linear_steps],
                            "ct_steps": [dict(s) for s in self.ct_steps],
                            "noise_model": "CT: re-acquisition through ct_steps (correlated)"
                            if self.ct_steps else
                            "var = gain*max(D f - offset, 0) + read_noise^2 "
                            "+ quantization_var (LR units)"})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Acquisition":
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in data.items() if k in fields}
        kw["linear_steps"] = tuple(kw.get("linear_steps") or ())
        kw["ct_steps"] = tuple(kw.get("ct_steps") or ())
        for key in ("scale", "fwhm_um"):
            if isinstance(kw.get(key), list):
                kw[key] = tuple(kw[key])
        return cls(**kw)


def _scale_value(value: Any, kind: type = int) -> Any:
    if np.ndim(value) == 0:
        return kind(value)
    return tuple(kind(v) for v in value)


def _noise_in_lr_units(photons: float | None, read_noise: float, offset: float,
                       intensity_per_level: float | None, black_level: float
                       ) -> tuple[float | None, float, float, float]:
    if photons is not None and not (isinstance(photons, (int, float)) and photons > 0):
        raise ConfigError(f"photons must be positive, got {photons!r}", where="photons")
    if read_noise < 0:
        raise ConfigError(f"read noise must be >= 0, got {read_noise}", where="read_noise")
    q = 1.0 if intensity_per_level is None else float(intensity_per_level)
    if not (q > 0 and math.isfinite(q)):
        raise ConfigError(f"intensity per level must be positive, got {q}",
                          where="intensity_per_level")
    gain = None if photons is None else 1.0 / (float(photons) * q)
    return (gain, (float(offset) - float(black_level)) / q, float(read_noise) / q,
            0.0 if intensity_per_level is None else 1.0 / 12.0)


def _from_object(value: Any, where: str) -> "Acquisition":
    """An Acquisition from an explicit description (see :func:`resolve_acquisition`)."""
    if isinstance(value, Acquisition):
        return value
    if isinstance(value, (str, os.PathLike)):
        from geosr.core.files import read_json

        data = read_json(value)
        if not isinstance(data, Mapping):
            raise InputError("is not an acquisition or forward-model description (JSON object)",
                             where=str(value))
        return _from_object(data, str(value))
    if isinstance(value, Mapping):
        if "linear_steps" in value:
            return Acquisition.from_dict(value)
        record = value.get("forward_model", value)
        if isinstance(record, Mapping) and "steps" in record:
            return Acquisition.from_record(record, source=where)
        raise InputError("describes no acquisition: expected 'linear_steps' (an Acquisition) "
                         "or 'steps' (a degradation / forward-model record)", where=where)
    if callable(getattr(value, "params", None)) and hasattr(value, "steps"):
        return Acquisition.from_record(value.params(), source=where)   # a ForwardModel
    raise InputError(f"cannot describe an acquisition with a {type(value).__name__}",
                     where=where, hint="give an Acquisition, a ForwardModel, a record with "
                                       "'steps' or a JSON file holding one")


def resolve_acquisition(acquisition: Any = None, *, lr: Any = None, card: Any = None
                        ) -> tuple["Acquisition | None", str | None]:
    """The acquisition of an LR input and where it came from, resolved once at the edge.

    Order: ``acquisition`` given explicitly (an :class:`Acquisition`, a
    :class:`geosr.degrade.ForwardModel` — e.g. one fitted from experimental pairs —, a
    degradation record ``{"steps": [...]}``, an ``Acquisition.to_dict()`` mapping, or a JSON
    file of either) > the LR image's degradation metadata > the calibration card's
    description (``card``: a :class:`~geosr.trust.card.CalibrationCard` or dict). Returns
    ``(None, None)`` when none is known.

    >>> acq, source = resolve_acquisition({"steps": [{"name": "downsample", "factors": 2}]})
    >>> acq.scale, source
    (2, 'acquisition')
    """
    if acquisition is not None:
        acq = _from_object(acquisition, "acquisition")
        return acq, acq.source
    if lr is not None and isinstance(getattr(lr, "metadata", {}).get("degradation"), Mapping):
        acq = Acquisition.from_image(lr)
        return acq, acq.source
    data = getattr(card, "data", card)
    description = ((data or {}).get("acquisition") or {}).get("description") \
        if isinstance(data, Mapping) else None
    if description:
        return Acquisition.from_dict(description), "calibration card"
    return None, None
